/**
 * The SM2 line of a gm log's checkpoints (evidence-format.md §17.9): its key ID computed independently, its
 * signature checked by sm-crypto (an independent GB/T 32918 implementation), and the line ignored as an unknown key
 * by everything that reads the Ed25519 line: our checkpoint reader, sigstore-js's checkpoint verifier and a witness,
 * whose cosigned note keeps it. Attacks: a changed text, another SM2 key under the log's name, a damaged signature.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { sm2 as ref2 } from 'sm-crypto';
import { NoteSigner, formatNote, hasValidSignature, parseNote, type Note } from '../../src/tlog/note.js';
import { checkCosignatures, formatCheckpoint, openCheckpoint, signCheckpoint } from '../../src/tlog/checkpoint.js';
import { SM2_NOTE_IDENTIFIER, Sm2NoteSigner, checkSm2Signature, sm2NoteKeyId } from '../../src/tlog/sm2-note.js';
import { generateSm2KeyPair, sm2PrivateKeyToPem } from '../../src/crypto/gm/sm2-keys.js';
import { EMPTY_ROOT } from '../../src/tlog/merkle.js';
import { WITNESS_FILES, Witness, initWitness } from '../../src/witness/witness.js';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';

const require = createRequire(import.meta.url);
const { verifyCheckpoint } = require('@sigstore/verify/dist/tlog/checkpoint.js') as {
  verifyCheckpoint(entry: { inclusionProof: { checkpoint: { envelope: string } } }, tlogs: { logID: Buffer; baseURL: string; publicKey: unknown }[]): { logSize: bigint; logHash: Buffer };
};

const ORIGIN = 'recgw-log/0123456789abcdef';
const ed = generateKeyPairSync('ed25519');
const pair = generateSm2KeyPair();
const sm2Key = createPrivateKey(sm2PrivateKeyToPem(pair));
const edSigner = new NoteSigner(ORIGIN, ed.privateKey);
const sm2Signer = new Sm2NoteSigner(ORIGIN, sm2Key);

const parsed = (s: string): Note => {
  const n = parseNote(s);
  if ('why' in n) throw new Error(n.why);
  return n;
};

afterAll(cleanupTmp);

describe('the SM2 line of a checkpoint', () => {
  const text = formatCheckpoint(signCheckpoint({ origin: ORIGIN, size: 42, root: Buffer.alloc(32, 9) }, edSigner, sm2Signer));

  it('follows the Ed25519 line under the same name, with the key ID of type 0xff and the identifier', () => {
    const n = parsed(text);
    expect(n.sigs.map((s) => s.name)).toEqual([ORIGIN, ORIGIN]);
    const spki = createPublicKey(sm2Key).export({ format: 'der', type: 'spki' });
    // Computed here from the definition, not with the module's function.
    const want = createHash('sha256').update(Buffer.concat([Buffer.from(`${ORIGIN}\n`), Buffer.of(0xff), Buffer.from('recgw/sm2-sm3', 'ascii'), spki])).digest().readUInt32BE(0);
    expect(SM2_NOTE_IDENTIFIER).toBe('recgw/sm2-sm3');
    expect(n.sigs[1]!.keyId).toBe(want);
    expect(sm2NoteKeyId(ORIGIN, createPublicKey(sm2Key))).toBe(want);
    expect(n.sigs[1]!.keyId).not.toBe(edSigner.keyId);
    expect(checkSm2Signature(n, ORIGIN, createPublicKey(sm2Key))).toEqual({ state: 'valid', keyId: want });
  });

  it('is an SM2 signature (GB/T 32918.2, SM3, default ID) over the note text that sm-crypto verifies', () => {
    const n = parsed(text);
    const der = n.sigs[1]!.sig.toString('hex');
    const msg = [...Buffer.from(n.text, 'utf8')];
    expect(ref2.doVerifySignature(msg, der, pair.publicKey, { der: true, hash: true, userId: '1234567812345678' })).toBe(true);
    expect(ref2.doVerifySignature([...Buffer.from(n.text.replace('42', '43'))], der, pair.publicKey, { der: true, hash: true, userId: '1234567812345678' })).toBe(false);
    expect(ref2.doVerifySignature(msg, der, pair.publicKey, { der: true, hash: true, userId: '1234567812345679' })).toBe(false);
  });

  it('is ignored as an unknown key by the Ed25519 readers: openCheckpoint and sigstore-js', () => {
    const cp = openCheckpoint(text, ORIGIN, ed.publicKey);
    if ('why' in cp) throw new Error(cp.why);
    expect(cp.size).toBe(42);
    expect(cp.note.sigs).toHaveLength(2);
    const logID = Buffer.alloc(32);
    logID.writeUInt32BE(edSigner.keyId);
    expect(verifyCheckpoint({ inclusionProof: { checkpoint: { envelope: text } } }, [{ logID, baseURL: `https://${ORIGIN}`, publicKey: ed.publicKey }]).logSize).toBe(42n);
  });

  it('a witness cosigns a checkpoint that carries it, and the merged cosigned note keeps it valid', () => {
    const dir = tmp('recgw-sm2-note-witness-');
    initWitness(dir, 'sfj.example/w1', [edSigner.vkey]);
    const w = new Witness(dir);
    const empty = formatCheckpoint(signCheckpoint({ origin: ORIGIN, size: 0, root: EMPTY_ROOT }, edSigner, sm2Signer));
    const answer = w.addCheckpoint(`old 0\n\n${empty}`);
    expect(answer.status, answer.body).toBe(200);
    // As the receiver writes log/witnessed: the log's own lines, then the cosignatures.
    const own = parsed(empty);
    const cos = parsed(empty + answer.body);
    const merged = parsed(formatNote({ text: own.text, sigs: [...own.sigs, ...cos.sigs.filter((s) => s.name === 'sfj.example/w1')] }));
    expect(merged.sigs).toHaveLength(3);
    expect(checkSm2Signature(merged, ORIGIN, createPublicKey(sm2Key)).state).toBe('valid');
    expect(hasValidSignature(merged, ORIGIN, ed.publicKey)).toBe(true);
    const wkey = createPublicKey(createPrivateKey(readFileSync(join(dir, WITNESS_FILES.key), 'utf8')));
    expect(checkCosignatures(merged, [{ name: 'sfj.example/w1', key: wkey }]).ok).toHaveLength(1);
  });
});

describe('attacks on the SM2 line', () => {
  const edOnly = (size: number): string => formatCheckpoint(signCheckpoint({ origin: ORIGIN, size, root: Buffer.alloc(32, 3) }, edSigner));
  const pub = createPublicKey(sm2Key);

  it('stripped: missing', () => {
    expect(checkSm2Signature(parsed(edOnly(7)), ORIGIN, pub).state).toBe('missing');
  });

  it('the text changed and re-signed with the Ed25519 key, the old SM2 line kept: bad (Ed25519 alone still verifies)', () => {
    const good = parsed(formatCheckpoint(signCheckpoint({ origin: ORIGIN, size: 7, root: Buffer.alloc(32, 3) }, edSigner, sm2Signer)));
    const forged = parsed(edOnly(8));
    const mixed = { text: forged.text, sigs: [forged.sigs[0]!, good.sigs[1]!] };
    expect(hasValidSignature(mixed, ORIGIN, ed.publicKey)).toBe(true);
    expect(checkSm2Signature(mixed, ORIGIN, pub).state).toBe('bad');
  });

  it("signed by another SM2 key (a device's) under the log's name: not the log's key, so missing", () => {
    const other = createPrivateKey(sm2PrivateKeyToPem(generateSm2KeyPair()));
    const n = parsed(formatCheckpoint(signCheckpoint({ origin: ORIGIN, size: 7, root: Buffer.alloc(32, 3) }, edSigner, new Sm2NoteSigner(ORIGIN, other))));
    expect(checkSm2Signature(n, ORIGIN, pub).state).toBe('missing');
    expect(checkSm2Signature(n, ORIGIN, createPublicKey(other)).state).toBe('valid');
  });

  it('a damaged signature under the right key ID, or a second failing line beside a good one: bad', () => {
    const n = parsed(formatCheckpoint(signCheckpoint({ origin: ORIGIN, size: 7, root: Buffer.alloc(32, 3) }, edSigner, sm2Signer)));
    const s = n.sigs[1]!;
    const flipped = Buffer.from(s.sig);
    flipped[flipped.length - 1]! ^= 1;
    expect(checkSm2Signature({ ...n, sigs: [n.sigs[0]!, { ...s, sig: flipped }] }, ORIGIN, pub).state).toBe('bad');
    expect(checkSm2Signature({ ...n, sigs: [...n.sigs, { ...s, sig: flipped }] }, ORIGIN, pub).state).toBe('bad');
    expect(checkSm2Signature({ ...n, sigs: [n.sigs[0]!, { ...s, sig: Buffer.alloc(3) }] }, ORIGIN, pub).state).toBe('bad');
  });
});
