/**
 * Acceptance: every kind of tampering with a verified device folder is caught by the verifier with the right
 * finding. The pristine store is made once through the real code (enrolled gateway, evidence core, ffmpeg
 * segments sealed by the Sealer, export); each test tampers with its own copy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, cpSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { cleanupTmp, makeCa, makeGateway } from '../helpers/fixtures.js';
import {
  buildStore,
  copyStore,
  flipByte,
  kinds,
  makeSamples,
  readLines,
  verify,
  writeLines,
  type BuiltStore,
  type Samples,
} from '../helpers/store-fixture.js';
import { attachSignature, encodeUnsigned, lineHash, type LedgerEntry } from '../../src/evidence/entry.js';
import { ENTRY } from '../../src/evidence/types.js';
import { KeySigner, type Signer } from '../../src/evidence/signer.js';
import { identityPaths, loadDeviceIdentity } from '../../src/pki/identity.js';
import type { VerifyReport } from '../../src/verify/findings.js';

let caDir: string;
let samples: Samples;
let pristine: BuiltStore;

beforeAll(async () => {
  caDir = makeCa().dir;
  samples = await makeSamples();
  pristine = await buildStore({ caDir, samples });
}, 120_000);
afterAll(cleanupTmp);

const LEDGER = 'ledger.jsonl';
const parse = (line: string): LedgerEntry => JSON.parse(line) as LedgerEntry;
/** 1-based line number of the nth entry of a type. */
const lineOf = (lines: string[], type: string, nth = 0): number => {
  const hits = lines.flatMap((l, i) => (parse(l).type === type ? [i + 1] : []));
  if (hits[nth] === undefined) throw new Error(`no ${type} #${nth}`);
  return hits[nth];
};
/** Byte offset in ledger.jsonl of character `at` of line `n` (lines hold UTF-8 Chinese names, so chars are not bytes). */
const byteOffset = (lines: string[], n: number, at: number): number =>
  Buffer.byteLength(lines.slice(0, n - 1).map((l) => l + '\n').join('')) + Buffer.byteLength(lines[n - 1]!.slice(0, at));
const details = (r: VerifyReport, kind: string): string[] => r.findings.filter((f) => f.kind === kind).map((f) => f.detail);
const hasFinding = (r: VerifyReport, kind: string, re: RegExp): boolean => details(r, kind).some((d) => re.test(d));

/** Sign a ledger line as some other key would: correct format, whatever chain position it claims. */
function forgeLine(signer: Signer, e: Omit<LedgerEntry, 'sig'>): string {
  const text = encodeUnsigned(e);
  return attachSignature(text, signer.sign(Buffer.from(text, 'utf8')).toString('base64'));
}

describe('the pristine store', () => {
  it('verifies, with and without the agency key, and reports its session', async () => {
    for (const withKey of [false, true]) {
      const r = await verify(pristine.storeDir, pristine, withKey);
      expect(r.findings).toEqual([]);
      expect(r.ok).toBe(true);
      const lines = readLines(pristine.deviceDir);
      expect(r.devices).toHaveLength(1);
      const d = r.devices[0]!;
      expect(d.deviceId).toBe(pristine.deviceId);
      expect(d.entries).toBe(lines.length);
      expect(d.segments).toBe(samples.cam1.length + samples.mic1.length);
      expect(d.sessions).toHaveLength(1);
      expect(d.sessions[0]!.gaps).toEqual([]);
      expect(d.sessions[0]!.recordedSeconds).toBeGreaterThan(2.9);
    }
  });
});

describe('tampering with sealed segments', () => {
  it('one byte flipped in a sealed segment is an altered segment, with or without the agency key', async () => {
    const c = copyStore(pristine);
    const name = `${pristine.session.sessionId}_cam1_000001.seg`;
    flipByte(join(c.deviceDir, 'segments', name), 1000, 0x40);
    for (const withKey of [false, true]) {
      const r = await verify(c.storeDir, pristine, withKey);
      expect(r.ok).toBe(false);
      expect(kinds(r)).toEqual(['altered-segment']);
      expect(details(r, 'altered-segment')).toEqual([expect.stringContaining(name)]);
    }
  });

  it('a sealed file replaced by another sealed file of the same store is altered (both places)', async () => {
    const c = copyStore(pristine);
    const a = join(c.deviceDir, 'segments', `${pristine.session.sessionId}_mic1_000001.seg`);
    const b = join(c.deviceDir, 'segments', `${pristine.session.sessionId}_mic1_000002.seg`);
    const tmpA = readFileSync(a);
    cpSync(b, a);
    writeFileSync(b, tmpA);
    const r = await verify(c.storeDir, pristine, true);
    expect(kinds(r)).toEqual(['altered-segment']);
    expect(details(r, 'altered-segment')).toHaveLength(2);
  });

  it('a deleted segment file is a missing segment', async () => {
    const c = copyStore(pristine);
    const name = `${pristine.session.sessionId}_mic1_000000.seg`;
    rmSync(join(c.deviceDir, 'segments', name));
    const r = await verify(c.storeDir, pristine);
    expect(kinds(r)).toEqual(['missing-segment']);
    expect(details(r, 'missing-segment')).toEqual([expect.stringContaining(name)]);
  });
});

describe('tampering with ledger bytes', () => {
  it('a byte flipped inside a string value is a bad signature on that line, and the chain breaks after it', async () => {
    const c = copyStore(pristine);
    const lines = readLines(c.deviceDir);
    const n = lineOf(lines, ENTRY.sessionOpened);
    const offset = byteOffset(lines, n, lines[n - 1]!.indexOf('"caseRef":"CASE') + '"caseRef":"'.length);
    expect(String.fromCharCode(readFileSync(join(c.deviceDir, LEDGER))[offset]!)).toBe('C');
    flipByte(join(c.deviceDir, LEDGER), offset); // C -> B: still valid, canonical JSON
    const r = await verify(c.storeDir, pristine);
    expect(r.ok).toBe(false);
    // And the session's segments now name another case than it: each manifest contradicts it.
    expect(kinds(r)).toEqual(['bad-signature', 'broken-chain', 'malformed']);
    expect(details(r, 'malformed').every((d) => /gives another case reference than its session/.test(d))).toBe(true);
    expect(details(r, 'bad-signature')).toEqual([expect.stringMatching(new RegExp(`^line ${n}: the signature of entry seq ${n - 1} `))]);
    expect(details(r, 'broken-chain')).toEqual([`line ${n + 1}: entry seq ${n} does not link to the line before it (prev hash differs)`]);
  });

  it('a byte flipped in the JSON structure is a malformed line, and the chain breaks after it', async () => {
    const c = copyStore(pristine);
    const lines = readLines(c.deviceDir);
    const n = lineOf(lines, ENTRY.sessionOpened);
    flipByte(join(c.deviceDir, LEDGER), byteOffset(lines, n, 0)); // the opening brace becomes 'z'
    const r = await verify(c.storeDir, pristine);
    expect(kinds(r)).toEqual(['broken-chain', 'malformed']);
    expect(details(r, 'malformed')).toEqual([expect.stringMatching(new RegExp(`^line ${n}: not valid JSON`))]);
    expect(details(r, 'broken-chain')).toContain(`line ${n + 1}: entry seq ${n} does not link to the line before it (prev hash differs)`);
    // Without its session.opened, nothing after it may count as part of a session.
    expect(hasFinding(r, 'broken-chain', /which was never opened/)).toBe(true);
    expect(details(r, 'bad-signature')).toEqual([]);
  });

  it('a byte flipped in the signature is a bad signature', async () => {
    const c = copyStore(pristine);
    const lines = readLines(c.deviceDir);
    const n = lineOf(lines, ENTRY.segmentSealed, 2);
    const sigAt = lines[n - 1]!.indexOf(',"sig":"') + ',"sig":"'.length + 10;
    const ch = lines[n - 1]!.charCodeAt(sigAt);
    flipByte(join(c.deviceDir, LEDGER), byteOffset(lines, n, sigAt), ch ^ (ch === 0x41 ? 0x42 : 0x41)); // another base64 letter
    const r = await verify(c.storeDir, pristine);
    expect(details(r, 'bad-signature')).toEqual([expect.stringMatching(new RegExp(`^line ${n}: `))]);
    expect(details(r, 'broken-chain')).toEqual([expect.stringMatching(new RegExp(`^line ${n + 1}: .*does not link`))]);
  });

  it('a byte flipped in a segment hash of a manifest is a bad signature (and the file no longer matches)', async () => {
    const c = copyStore(pristine);
    const lines = readLines(c.deviceDir);
    const n = lineOf(lines, ENTRY.segmentSealed, 0);
    const m = /"stored":\{"sha256":"|"stored":\{"size":\d+,"sha256":"/.exec(lines[n - 1]!)!;
    const at = m.index + m[0].length;
    const ch = lines[n - 1]![at]!;
    flipByte(join(c.deviceDir, LEDGER), byteOffset(lines, n, at), /[0-9]/.test(ch) ? 0x01 : 0x07); // stays a lowercase hex digit
    const r = await verify(c.storeDir, pristine);
    expect(kinds(r)).toEqual(['altered-segment', 'bad-signature', 'broken-chain']);
    expect(details(r, 'bad-signature')).toEqual([expect.stringMatching(new RegExp(`^line ${n}: `))]);
  });
});

describe('tampering with ledger lines', () => {
  it('a deleted line breaks the chain (and every remaining signature is still good)', async () => {
    const c = copyStore(pristine);
    const lines = readLines(c.deviceDir);
    const n = lineOf(lines, ENTRY.segmentSealed, 1);
    writeLines(c.deviceDir, lines.filter((_, i) => i !== n - 1));
    const r = await verify(c.storeDir, pristine);
    expect(r.ok).toBe(false);
    expect(details(r, 'broken-chain')).toEqual(
      expect.arrayContaining([
        `line ${n}: entry has seq ${n} where ${n - 1} was expected (entries missing, reordered or duplicated)`,
        `line ${n}: entry seq ${n} does not link to the line before it (prev hash differs)`,
      ]),
    );
    // The removed manifest leaves its sealed file undescribed.
    expect(hasFinding(r, 'broken-chain', /is in the folder but no ledger entry describes it/)).toBe(true);
    expect(details(r, 'bad-signature')).toEqual([]);
    expect(details(r, 'malformed')).toEqual([]);
  });

  it('two swapped lines break the chain', async () => {
    const c = copyStore(pristine);
    const lines = readLines(c.deviceDir);
    const n = lineOf(lines, ENTRY.segmentSealed, 2);
    [lines[n - 1], lines[n]] = [lines[n]!, lines[n - 1]!];
    writeLines(c.deviceDir, lines);
    const r = await verify(c.storeDir, pristine);
    expect(kinds(r)).toEqual(['broken-chain']);
    expect(details(r, 'broken-chain')).toEqual(
      expect.arrayContaining([
        `line ${n}: entry has seq ${n} where ${n - 1} was expected (entries missing, reordered or duplicated)`,
        `line ${n + 1}: entry has seq ${n - 1} where ${n + 1} was expected (entries missing, reordered or duplicated)`,
      ]),
    );
  });

  it('a duplicated line breaks the chain', async () => {
    const c = copyStore(pristine);
    const lines = readLines(c.deviceDir);
    const n = lineOf(lines, ENTRY.segmentSealed, 3);
    lines.splice(n, 0, lines[n - 1]!);
    writeLines(c.deviceDir, lines);
    const r = await verify(c.storeDir, pristine);
    expect(kinds(r)).toEqual(['broken-chain']);
    expect(details(r, 'broken-chain')).toContain(`line ${n + 1}: entry seq ${n - 1} is a duplicate of an earlier line`);
  });

  it('the ledger cut short at a line boundary is caught by head.json', async () => {
    const c = copyStore(pristine);
    const lines = readLines(c.deviceDir);
    writeLines(c.deviceDir, lines.slice(0, -1));
    const r = await verify(c.storeDir, pristine);
    expect(details(r, 'broken-chain')).toEqual([
      `the ledger ends at seq ${lines.length - 2} but head.json says it has entries up to seq ${lines.length - 1}: the ledger was cut short`,
    ]);
    // What was cut was the session.closed entry.
    expect(kinds(r)).toEqual(['broken-chain', 'unclosed-session']);
  });

  it('the ledger cut short with head.json removed too is still caught', async () => {
    const c = copyStore(pristine);
    const lines = readLines(c.deviceDir);
    writeLines(c.deviceDir, lines.slice(0, -3));
    rmSync(join(c.deviceDir, 'head.json'));
    const r = await verify(c.storeDir, pristine);
    expect(hasFinding(r, 'broken-chain', /head\.json is missing/)).toBe(true);
    expect(hasFinding(r, 'broken-chain', /no ledger entry describes it/)).toBe(true);
  });

  it('the ledger cut in the middle of a line is malformed', async () => {
    const c = copyStore(pristine);
    const path = join(c.deviceDir, LEDGER);
    const lines = readLines(c.deviceDir);
    const size = readFileSync(path).length;
    truncateSync(path, size - Math.floor(lines.at(-1)!.length / 2));
    const r = await verify(c.storeDir, pristine);
    expect(details(r, 'malformed')).toEqual([expect.stringMatching(new RegExp(`^line ${lines.length}: not valid JSON`))]);
    expect(hasFinding(r, 'broken-chain', /cut short/)).toBe(true);
  });

  it('an empty line is malformed, with its line number', async () => {
    const c = copyStore(pristine);
    const lines = readLines(c.deviceDir);
    lines.splice(3, 0, '');
    writeLines(c.deviceDir, lines);
    const r = await verify(c.storeDir, pristine);
    expect(r.findings.map((f) => [f.kind, f.detail])).toEqual([['malformed', 'line 4: empty line']]);
  });

  it('garbage appended after the last line is malformed', async () => {
    const c = copyStore(pristine);
    appendFileSync(join(c.deviceDir, LEDGER), 'garbage\n');
    const r = await verify(c.storeDir, pristine);
    const n = readLines(pristine.deviceDir).length + 1;
    expect(details(r, 'malformed')).toEqual([expect.stringMatching(new RegExp(`^line ${n}: not valid JSON`))]);
  });
});

describe('forged entries', () => {
  let otherSigner: Signer;
  beforeAll(() => {
    // A second gateway enrolled with the same agency CA: a genuine key and certificate, but not this device's.
    const other = makeGateway(caDir, { deviceId: 'room-2' });
    otherSigner = loadDeviceIdentity('room-2', identityPaths(other.config.stateDir), other.config.agency.caCert).signer;
  });

  const forgedStatement = (lines: string[], at: number, signer: Signer): string => {
    const before = parse(lines[at - 1]!);
    return forgeLine(signer, {
      v: 1,
      device: pristine.deviceId,
      seq: before.seq + 1,
      prev: lineHash(lines[at - 1]!),
      time: before.time,
      type: ENTRY.sessionStatement,
      body: { sessionId: pristine.session.sessionId, text: 'nothing happened here', officers: pristine.session.officers },
    });
  };

  it('an entry inserted with a correct link but signed by another enrolled device is a bad signature', async () => {
    const c = copyStore(pristine);
    const lines = readLines(c.deviceDir);
    const at = 4; // after line 4
    lines.splice(at, 0, forgedStatement(lines, at, otherSigner));
    writeLines(c.deviceDir, lines);
    const r = await verify(c.storeDir, pristine);
    expect(details(r, 'bad-signature')).toEqual([expect.stringMatching(new RegExp(`^line ${at + 1}: the signature of entry seq ${at} \\(session.statement\\)`))]);
    // The original entry that follows now repeats seq `at` and links to the line before the forgery.
    expect(details(r, 'broken-chain')).toEqual(
      expect.arrayContaining([
        `line ${at + 2}: entry has seq ${at} where ${at + 1} was expected (entries missing, reordered or duplicated)`,
        `line ${at + 2}: entry seq ${at} does not link to the line before it (prev hash differs)`,
      ]),
    );
    expect(kinds(r)).toEqual(['bad-signature', 'broken-chain']);
  });

  it('a forged entry signed with a self-made key is a bad signature', async () => {
    const c = copyStore(pristine);
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const lines = readLines(c.deviceDir);
    lines.splice(2, 0, forgedStatement(lines, 2, new KeySigner(privateKey, '')));
    writeLines(c.deviceDir, lines);
    const r = await verify(c.storeDir, pristine);
    expect(details(r, 'bad-signature')).toEqual([expect.stringMatching(/^line 3: /)]);
    expect(kinds(r)).toEqual(['bad-signature', 'broken-chain']);
  });

  it('a forged tail, renumbered and re-chained with another key, is a bad signature on every forged line', async () => {
    const c = copyStore(pristine);
    const lines = readLines(c.deviceDir);
    const at = 3;
    const out = lines.slice(0, at);
    out.push(forgedStatement(out, at, otherSigner));
    for (const l of lines.slice(at)) {
      const e = parse(l);
      const prevLine = out.at(-1)!;
      out.push(forgeLine(otherSigner, { ...e, seq: parse(prevLine).seq + 1, prev: lineHash(prevLine) }));
    }
    writeLines(c.deviceDir, out);
    const r = await verify(c.storeDir, pristine);
    expect(details(r, 'bad-signature')).toHaveLength(out.length - at);
    // The chain itself is consistent now; head.json, signed by the device, still names the old last entry.
    expect(details(r, 'broken-chain')).toEqual([expect.stringMatching(/is not the one head\.json names/)]);
  });

  it('a certificate.installed entry switching to another device\'s certificate is refused', async () => {
    const c = copyStore(pristine);
    const lines = readLines(c.deviceDir);
    const at = 2;
    const before = parse(lines[at - 1]!);
    lines.splice(
      at,
      0,
      forgeLine(otherSigner, {
        v: 1,
        device: pristine.deviceId,
        seq: before.seq + 1,
        prev: lineHash(lines[at - 1]!),
        time: before.time,
        type: ENTRY.certificateInstalled,
        body: { cert: otherSigner.certificatePem },
      }),
    );
    writeLines(c.deviceDir, lines);
    const r = await verify(c.storeDir, pristine);
    // The certificate is genuine (same CA) but names another device: it cannot vouch for this ledger.
    expect(details(r, 'untrusted-certificate')).toEqual([`line ${at + 1}: the certificate is issued to "room-2", not "${pristine.deviceId}"`]);
    // The inserted line breaks the chain, and the device's own entries after it no longer match the key in force.
    expect(hasFinding(r, 'broken-chain', new RegExp(`^line ${at + 2}: `))).toBe(true);
    expect(hasFinding(r, 'bad-signature', new RegExp(`^line ${at + 2}: `))).toBe(true);
  });
});

describe('stores the verifier must not accept as they are', () => {
  it('a ledger whose certificate comes from another CA is untrusted, and only that device is', async () => {
    const otherCa = makeCa().dir;
    const foreign = await buildStore({ caDir: otherCa, samples, deviceId: 'room-9' });
    const alone = await verify(foreign.storeDir, pristine);
    // Its encryption certificate is that CA's too: no segment is wrapped for a key this agency vouches for.
    expect(kinds(alone)).toEqual(['untrusted-certificate', 'wrong-encryption-key']);
    expect(details(alone, 'untrusted-certificate')).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^line 1: the certificate for CN=room-9.*was not issued by the agency CA/),
        expect.stringMatching(/^line 2: the agency encryption certificate is not trusted: it was not issued by the agency CA/),
        expect.stringMatching(/^head\.json: /),
      ]),
    );
    expect(details(alone, 'wrong-encryption-key')).toHaveLength(foreign.camSpans.length + samples.mic1.length);
    // Side by side with a good device in one store: the findings name the foreign device only.
    const c = copyStore(pristine);
    cpSync(foreign.deviceDir, join(c.storeDir, 'room-9'), { recursive: true });
    const both = await verify(c.storeDir, pristine);
    expect(both.devices.map((d) => d.deviceId)).toEqual([pristine.deviceId, 'room-9']);
    expect(new Set(both.findings.map((f) => f.deviceId))).toEqual(new Set(['room-9']));
    // And the same store is fine for the CA that issued it.
    expect((await verify(foreign.storeDir, foreign)).ok).toBe(true);
  });

  it('a session never closed is an unclosed session', async () => {
    const s = await buildStore({ caDir, samples, deviceId: 'room-3', close: false });
    const r = await verify(s.storeDir, s);
    expect(kinds(r)).toEqual(['unclosed-session']);
    expect(details(r, 'unclosed-session')).toEqual([expect.stringContaining(s.session.sessionId)]);
    expect(r.devices[0]!.sessions[0]!.end).toBeNull();
  });

  it('a gap between two segments of a source is unexplained without an interruption entry', async () => {
    const s = await buildStore({ caDir, samples, deviceId: 'room-5', camShift: { fromIndex: 2, ms: 2000 } });
    const r = await verify(s.storeDir, s);
    expect(kinds(r)).toEqual(['unexplained-gap']);
    const [a, b] = [s.camSpans[1]![1], s.camSpans[2]![0]];
    const start = new Date(a).toISOString();
    const end = new Date(b).toISOString();
    expect(details(r, 'unexplained-gap')).toEqual([`session ${s.session.sessionId}: cam1 has no footage from ${start} to ${end} and no interruption explains it`]);
    expect(r.devices[0]!.sessions[0]!.gaps).toEqual([{ start, end, explained: false, reason: null, source: 'cam1' }]);
  });

  it('the same gap covered by interruption.started/ended entries is explained', async () => {
    const shift = 2000;
    const gapStart = Math.round(samples.cam1[1]!.endSec * 1000);
    const gapEnd = Math.round(samples.cam1[2]!.startSec * 1000) + shift;
    const s = await buildStore({
      caDir,
      samples,
      deviceId: 'room-6',
      camShift: { fromIndex: 2, ms: shift },
      interruption: { beforeIndex: 2, startMs: gapStart, endMs: gapEnd, reason: 'device-fault', sources: ['cam1'] },
    });
    const r = await verify(s.storeDir, s, true);
    expect(r.findings).toEqual([]);
    expect(r.ok).toBe(true);
    const session = r.devices[0]!.sessions[0]!;
    expect(session.gaps).toEqual([
      { start: new Date(s.t0 + gapStart).toISOString(), end: new Date(s.t0 + gapEnd).toISOString(), explained: true, reason: 'device-fault', source: 'cam1' },
    ]);
    expect(session.interruptions).toHaveLength(1);
  });
});

describe('malformed content', () => {
  const replaceLine = async (n: number, text: string): Promise<VerifyReport> => {
    const c = copyStore(pristine);
    const lines = readLines(c.deviceDir);
    lines[n - 1] = text;
    writeLines(c.deviceDir, lines);
    return verify(c.storeDir, pristine);
  };
  const withMember = (n: number, patch: Record<string, unknown>): string => {
    const e = parse(readLines(pristine.deviceDir)[n - 1]!) as unknown as Record<string, unknown>;
    return JSON.stringify({ ...e, ...patch });
  };

  it.each([
    ['random garbage', () => 'hello, ledger', /^line 4: not valid JSON/],
    ['a JSON array', () => '[1,2,3]', /^line 4: not a JSON object$/],
    ['JSON with the members in another order', () => JSON.stringify({ device: 'x', v: 1 }), /^line 4: members must be exactly/],
    ['seq as a string', () => withMember(4, { seq: '3' }), /^line 4: seq must be a non-negative integer$/],
    ['a negative seq', () => withMember(4, { seq: -1 }), /^line 4: seq must be a non-negative integer$/],
    ['body as an array', () => withMember(4, { body: [] }), /^line 4: body must be a JSON object$/],
    ['time that is not a UTC timestamp', () => withMember(4, { time: 'yesterday' }), /^line 4: time must be a UTC timestamp/],
    ['sig as a number', () => withMember(4, { sig: 42 }), /^line 4: sig must be a base64 string$/],
    ['prev in upper case', () => withMember(4, { prev: 'A'.repeat(64) }), /^line 4: prev must be 64 lowercase hex digits$/],
    ['a whitespace change', () => readLines(pristine.deviceDir)[3]!.replace('":', '": '), /^line 4: the line is not in canonical form/],
  ])('%s is malformed with its line number, and the verifier resolves', async (_name, make, re) => {
    const r = await replaceLine(4, make());
    expect(r.ok).toBe(false);
    expect(details(r, 'malformed')).toEqual([expect.stringMatching(re)]);
  });

  it('signed entries whose bodies lack fields are malformed with their line numbers, and nothing else is wrong', async () => {
    const s = await buildStore({
      caDir,
      samples,
      deviceId: 'room-4',
      extra: (core, { session, t0 }) => {
        const iso = (t: number): string => new Date(t).toISOString();
        core.ledger.append(ENTRY.segmentSealed, {
          segment: 'x',
          file: 'segments/x.seg',
          ...session,
          source: { id: 'cam1', kind: 'camera' },
          seq: 9,
          start: iso(t0),
          end: iso(t0 + 1000),
          clock: { source: 'system', synced: false },
          gps: null,
          container: 'mpegts',
          plain: { size: 1, sha256: '0'.repeat(64) },
          // stored is missing
          enc: { alg: 'A256GCM', iv: 'AAAA', keyWrap: 'RSA-OAEP-256', wrappedKey: 'AAAA', agencyKeyId: '0'.repeat(64) },
        });
        core.ledger.append(ENTRY.sessionOpened, { sessionId: 'other', matter: 'hearing', caseRef: 'x', officers: 'nobody' });
        core.ledger.append(ENTRY.interruptionStarted, { sessionId: session.sessionId, interruptionId: 'i9', start: iso(t0), origin: 'declared' });
        core.ledger.append(ENTRY.sessionClosed, { sessionId: session.sessionId, reason: 'finished' });
      },
    });
    const lines = readLines(s.deviceDir);
    const r = await verify(s.storeDir, s);
    const n = lines.length; // the last four lines before the real session.closed are the bad ones
    expect(r.findings.map((f) => f.kind)).toEqual(['malformed', 'malformed', 'malformed', 'malformed']);
    expect(details(r, 'malformed')).toEqual([
      `line ${n - 4}: manifest: stored is missing or has the wrong type`,
      `line ${n - 3}: session.opened: officers is missing or has the wrong type`,
      `line ${n - 2}: interruption.started: reason is missing or has the wrong type`,
      `line ${n - 1}: session.closed: reason is missing or has the wrong type`,
    ]);
  });

  it('a head.json that is not JSON is malformed', async () => {
    const c = copyStore(pristine);
    writeFileSync(join(c.deviceDir, 'head.json'), '{"v":1,');
    const r = await verify(c.storeDir, pristine);
    expect(kinds(r)).toEqual(['malformed']);
    expect(details(r, 'malformed')).toEqual([expect.stringMatching(/^head\.json is not a valid head statement/)]);
  });

  it('an empty folder and an empty ledger are malformed, not crashes', async () => {
    const c = copyStore(pristine);
    writeFileSync(join(c.deviceDir, LEDGER), '');
    const r = await verify(c.storeDir, pristine);
    expect(details(r, 'malformed')).toContain('ledger.jsonl is empty');
    rmSync(join(c.deviceDir, LEDGER));
    const r2 = await verify(c.storeDir, pristine);
    expect(r2.ok).toBe(false);
    expect(kinds(r2)).toEqual(['malformed']);
  });
});
