/**
 * Signed notes and checkpoints against what others wrote: the C2SP signed-note specification's own example (a
 * verifier key and a note it signs), sigstore-js's checkpoint verifier, and the tlog-proof and tile path examples
 * of the C2SP specifications.
 */
import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { generateKeyPairSync } from 'node:crypto';
import { NoteSigner, formatNote, hasValidSignature, parseNote, parseVkey, type Vkey } from '../../src/tlog/note.js';
import { checkpointText, cosign, checkCosignatures, formatCheckpoint, openCheckpoint, signCheckpoint } from '../../src/tlog/checkpoint.js';
import { formatProof, parseProof } from '../../src/tlog/proof-text.js';
import { decodeBundle, encodeBundle, tileIndexPath, tilePath } from '../../src/tlog/tiles.js';

const require = createRequire(import.meta.url);
// CommonJS without an exports map: the module path is the only way in.
const { verifyCheckpoint } = require('@sigstore/verify/dist/tlog/checkpoint.js') as {
  verifyCheckpoint(entry: { inclusionProof: { checkpoint: { envelope: string } } }, tlogs: { logID: Buffer; baseURL: string; publicKey: unknown }[]): { logSize: bigint; logHash: Buffer };
};

describe('signed notes', () => {
  it("verify the C2SP specification's example note with its example verifier key", () => {
    const v = parseVkey('example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k') as Vkey;
    expect(v.name).toBe('example.com/foo');
    const note = parseNote('This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n');
    if ('why' in note) throw new Error(note.why);
    expect(hasValidSignature(note, v.name, v.key)).toBe(true);
    expect(hasValidSignature({ ...note, text: 'This is an example message!\n' }, v.name, v.key)).toBe(false);
  });

  it('refuse what is not a note, with the reason', () => {
    expect(parseNote('no blank line\n— a b\n')).toEqual({ why: expect.stringMatching(/blank line/) });
    expect(parseNote('text\n\n— a AAAA\n')).toEqual({ why: expect.stringMatching(/shorter than a key ID/) });
    expect(parseNote('text\n\n')).toEqual({ why: expect.stringMatching(/not a signature line|no signature/) });
    expect(parseNote('te\u0001xt\n\n— a AAAAAAA=\n')).toEqual({ why: expect.stringMatching(/control/) });
    expect(parseVkey('a+00000000+AQ==')).toEqual({ why: expect.stringMatching(/32 key bytes/) });
  });

  it('a checkpoint our log signs verifies with sigstore-js, and one changed line fails it', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const signer = new NoteSigner('recgw-log/0123456789abcdef', privateKey);
    const cp = signCheckpoint({ origin: signer.name, size: 20852163, root: Buffer.alloc(32, 7) }, signer);
    const text = formatCheckpoint(cp);
    expect(text.split('\n').slice(0, 3)).toEqual(['recgw-log/0123456789abcdef', '20852163', Buffer.alloc(32, 7).toString('base64')]);
    const logID = Buffer.alloc(32);
    logID.writeUInt32BE(signer.keyId);
    const tlogs = [{ logID, baseURL: 'https://recgw-log/0123456789abcdef', publicKey }];
    expect(verifyCheckpoint({ inclusionProof: { checkpoint: { envelope: text } } }, tlogs).logSize).toBe(20852163n);
    expect(() => verifyCheckpoint({ inclusionProof: { checkpoint: { envelope: text.replace('20852163', '20852162') } } }, tlogs)).toThrow();
    expect('why' in openCheckpoint(text, signer.name, publicKey)).toBe(false);
    expect(openCheckpoint(text.replace('20852163', '20852162'), signer.name, publicKey)).toEqual({ why: expect.stringMatching(/no valid signature/) });
  });

  it('cosignatures verify for the witness that made them and time, and for no other', () => {
    const w1 = generateKeyPairSync('ed25519');
    const w2 = generateKeyPairSync('ed25519');
    const text = checkpointText({ origin: 'o', size: 5, root: Buffer.alloc(32, 1) });
    const logSig = new NoteSigner('o', generateKeyPairSync('ed25519').privateKey).sign(text);
    const n = { text, sigs: [logSig, cosign(text, 'w1.example', w1.privateKey, 1679315147)] };
    const again = parseNote(formatNote(n));
    if ('why' in again) throw new Error(again.why);
    expect(checkCosignatures(again, [{ name: 'w1.example', key: w1.publicKey }]).ok).toEqual([{ name: 'w1.example', time: 1679315147 }]);
    expect(checkCosignatures(again, [{ name: 'w1.example', key: w2.publicKey }]).ok).toEqual([]);
    const tampered = { ...again, sigs: again.sigs.map((s) => (s.name === 'w1.example' ? { ...s, sig: Buffer.concat([Buffer.alloc(8), s.sig.subarray(8)]) } : s)) };
    expect(checkCosignatures(tampered, [{ name: 'w1.example', key: w1.publicKey }]).bad).toEqual(['w1.example']);
  });
});

describe('tlog-proof texts and tile paths', () => {
  it('a proof text round-trips, and the C2SP example parses', () => {
    const p = { index: 73894, hashes: [Buffer.alloc(32, 1), Buffer.alloc(32, 2)], checkpoint: 'example.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n\n— example.com/fancylog hI2DJw==\n' };
    expect(parseProof(formatProof(p))).toEqual(p);
    const spec = 'c2sp.org/tlog-proof@v1\nextra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\nindex 73894\ngSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\nB95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n\nexample.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n';
    const q = parseProof(spec);
    if ('why' in q) throw new Error(q.why);
    expect(q.index).toBe(73894);
    expect(q.hashes).toHaveLength(2);
    expect(parseProof('c2sp.org/tlog-proof@v1\nindex 01\n\nx')).toEqual({ why: expect.stringMatching(/index/) });
  });

  it('tile paths as tlog-tiles spells them (x001/x234/067), and bundles of length-prefixed entries', () => {
    expect(tileIndexPath(1234067)).toBe('x001/x234/067');
    expect(tileIndexPath(7)).toBe('007');
    expect(tilePath(0, 273, 112)).toBe('tile/0/273.p/112');
    expect(tilePath('entries', 1000)).toBe('tile/entries/x001/000');
    const leaves = [Buffer.from('a'), Buffer.alloc(0), Buffer.alloc(300, 9)];
    expect(decodeBundle(encodeBundle(leaves))).toEqual(leaves);
    expect(decodeBundle(Buffer.from([0, 5, 1]))).toEqual({ why: expect.stringMatching(/past the end/) });
  });
});
