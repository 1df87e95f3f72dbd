/**
 * Segment sealing under the gm suite (evidence-format.md §17.7): a gm device's Sealer hashes with SM3, encrypts with
 * SM4-CTR + HMAC-SM3 and wraps the data key for the agency's SM2 key. Checked against the real tools: `openssl dgst
 * -sm3` for the hashes, docs/recipes/check-gm-segment.sh (shown verbatim in the doc) to unwrap, check the tag and
 * decrypt with `openssl pkeyutl`/`dgst -mac HMAC`/`enc -sm4-ctr`, sm-crypto (an independent GB/T 32918 code) to
 * unwrap a data key we wrapped, and the verifier and `recgw decrypt` on the exported folder. Both sealing paths (this
 * thread, and the workers for a segment over one chunk) are run on an ffmpeg test source.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { copyFileSync, cpSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sm2 as ref2 } from 'sm-crypto';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { embedded, recipe, sh } from '../helpers/doc-recipes.js';
import { buildDevice } from '../helpers/report-store.js';
import { receiveDevice } from '../helpers/receiver-store.js';
import { initCa, type CaPaths } from '../../src/pki/ca.js';
import { sealFile, WORKER_MIN_BYTES } from '../../src/evidence/seal.js';
import { openSealedFile } from '../../src/evidence/open-sealed.js';
import { closeSealWorker } from '../../src/evidence/seal-worker.js';
import { encryptionKeyId, hashHex } from '../../src/evidence/segment-scheme.js';
import { c1c3c2FromDer } from '../../src/crypto/gm/sm2-encrypt.js';
import { sm2PrivateKeyFromPem } from '../../src/crypto/gm/sm2-keys.js';
import { gmSuite } from '../../src/crypto/gm/gm-suite.js';
import { verifyStore } from '../../src/verify/verifier.js';
import { main } from '../../src/cli/main.js';
import { DESK_PASSWORD, exportApproval } from '../helpers/desk.js';
import type { SegmentManifest } from '../../src/evidence/types.js';

const CHECK = recipe('check-gm-segment.sh');
let dir: string;
let ca: CaPaths;
let agencyKey: KeyObject;
let agencyPub: KeyObject;
let deviceDir: string;
/** Ledger line numbers (1 = first) of the device's segment.sealed entries. */
let segmentLines: number[];

const sm3Of = (path: string): string => execFileSync('openssl', ['dgst', '-sm3', '-r', path], { encoding: 'utf8' }).split(' ')[0]!;
const ledgerLines = (d: string): string[] => readFileSync(join(d, 'ledger.jsonl'), 'utf8').trimEnd().split('\n');
const manifestAt = (d: string, line: number): SegmentManifest => (JSON.parse(ledgerLines(d)[line - 1]!) as { body: SegmentManifest }).body;

/** An MPEG-TS of ffmpeg's test picture and tone, about `seconds` long (the bitrate is high so it spans chunks). */
function testSource(name: string, seconds: number): string {
  const out = join(dir, name);
  execFileSync('ffmpeg', [
    '-v', 'error', '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=25:duration=${seconds}`, '-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}`,
    '-c:v', 'mpeg2video', '-b:v', '8M', '-c:a', 'mp2', '-f', 'mpegts', '-y', out,
  ]);
  return out;
}

beforeAll(async () => {
  dir = tmp('recgw-gm-seal-');
  ca = initCa({ out: join(dir, 'ca'), suite: 'gm' });
  agencyKey = createPrivateKey(readFileSync(ca.agencyKey, 'utf8'));
  agencyPub = createPublicKey(agencyKey);
  const officers = [{ name: '张三', badge: '13010001' }, { name: '李四', badge: '13010002' }];
  const built = await buildDevice(join(dir, 'ca'), join(dir, 'store'), 'gm-room-1', [
    { id: 'S1', matter: 'site-inspection', officers, start: '2026-12-07T01:00:00.000Z', segments: [['cam1', 'camera', 0, 1], ['cam1', 'camera', 1, 2], ['mic1', 'microphone', 0, 2]], close: { reason: 'stopped', at: 2 } },
  ]);
  deviceDir = built.deviceDir;
  segmentLines = ledgerLines(deviceDir).flatMap((l, i) => (l.includes('"type":"segment.sealed"') ? [i + 1] : []));
});

afterAll(async () => {
  await closeSealWorker();
  cleanupTmp();
});

describe('a gm device seals its segments under gm', () => {
  it('names SM3 hashes, SM4-CTR-HMAC-SM3 and SM2-ENC in gm entries, for the SM2 key in force, and openssl agrees on the hashes', () => {
    expect(segmentLines).toHaveLength(3);
    for (const n of segmentLines) {
      expect(ledgerLines(deviceDir)[n - 1]!.startsWith('{"v":1,"suite":"gm",')).toBe(true);
      const m = manifestAt(deviceDir, n);
      expect(m.enc).toMatchObject({ alg: 'SM4-CTR-HMAC-SM3', keyWrap: 'SM2-ENC', agencyKeyId: encryptionKeyId(agencyPub) });
      expect(Buffer.from(m.enc.iv, 'base64')).toHaveLength(16);
      expect(Object.keys(m.stored).sort()).toEqual(['size', 'sm3']);
      const file = join(deviceDir, m.file);
      expect(m.stored).toEqual({ size: statSync(file).size, sm3: sm3Of(file) });
      expect(m.stored.size).toBe(m.plain.size + 32);
    }
    // The key ID is the SM3 of the key's SPKI DER, as openssl computes it.
    const der = execFileSync('openssl', ['pkey', '-in', ca.agencyKey, '-pubout', '-outform', 'DER']);
    expect(encryptionKeyId(agencyPub)).toBe(gmSuite.hash(der).toString('hex'));
  });

  it('verifies without a flag, and with the agency key decrypts every segment; a flipped byte is altered-segment', async () => {
    const r = await verifyStore(join(dir, 'store'), { caPems: [readFileSync(ca.caCert, 'utf8')], agencyKeys: [agencyKey] });
    expect(r.findings).toEqual([]);
    expect(r.ok).toBe(true);

    const copy = join(dir, 'altered');
    cpSync(join(dir, 'store'), copy, { recursive: true });
    const m = manifestAt(join(copy, 'gm-room-1'), segmentLines[0]!);
    const f = join(copy, 'gm-room-1', m.file);
    const b = readFileSync(f);
    b[3]! ^= 1;
    writeFileSync(f, b);
    const bad = await verifyStore(copy, { caPems: [readFileSync(ca.caCert, 'utf8')], agencyKeys: [agencyKey] });
    expect(bad.findings.map((x) => x.kind)).toEqual(['altered-segment']);
    expect(bad.findings[0]!.detail).toMatch(/does not match its manifest's SM3/);
  });

  it('recgw decrypt writes the plaintext that openssl decrypts with docs/recipes/check-gm-segment.sh', async () => {
    const n = segmentLines[1]!;
    const m = manifestAt(deviceDir, n);
    const ours = join(dir, 'ours.ts');
    let text = '';
    // Under an approved request to export the session (docs/desk.md §6), as its requester.
    const ok = await exportApproval(join(dir, 'ca'), join(dir, 'store'), [`gm-room-1/${m.sessionId}`]);
    const io = { out: (t: string) => void (text += t), err: (t: string) => void (text += t), readIn: async () => DESK_PASSWORD };
    const code = await main(['decrypt', deviceDir, m.segment, '--agency-key', ca.agencyKey, '--out', ours, '--desk-config', ok.configFile, '--approval', ok.request, '--as', ok.as, '--reason', '国密解密核对'], io);
    expect(code, text).toBe(0);
    expect(text).toContain(`SM3 ${hashHex(m.plain)}`);

    const theirs = join(dir, 'theirs.ts');
    const run = sh(CHECK, [deviceDir, ca.caCert, String(n), ca.agencyKey, theirs]);
    expect(run.code, run.err).toBe(0);
    expect(run.out).toMatch(/HMAC-SM3 tag over IV \|\| C/);
    expect(readFileSync(theirs).equals(readFileSync(ours))).toBe(true);
    // Without the agency key it checks the file and the key it is wrapped for only.
    expect(sh(CHECK, [deviceDir, ca.caCert, String(n)]).code).toBe(0);
  });

  it('the recipe refuses an altered file, an altered tag and another agency key, and is the copy the doc shows', () => {
    const n = segmentLines[0]!;
    const m = manifestAt(deviceDir, n);
    const copy = join(dir, 'recipe-copy');
    cpSync(deviceDir, copy, { recursive: true });
    const f = join(copy, m.file);
    const orig = readFileSync(f);
    const flip = (at: number): void => {
      const b = Buffer.from(orig);
      b[at]! ^= 1;
      writeFileSync(f, b);
    };
    flip(0);
    expect(sh(CHECK, [copy, ca.caCert, String(n), ca.agencyKey, join(dir, 'x.ts')]).err).toMatch(/has SM3/);
    // Keep the stored hash right but break the tag: the recipe's (d) must catch it before decrypting.
    flip(orig.length - 1);
    const lines = ledgerLines(copy);
    lines[n - 1] = lines[n - 1]!.replace(hashHex(m.stored), sm3Of(f));
    writeFileSync(join(copy, 'ledger.jsonl'), lines.join('\n') + '\n');
    expect(sh(CHECK, [copy, ca.caCert, String(n), ca.agencyKey, join(dir, 'x.ts')]).err).toMatch(/HMAC-SM3 tag does not match/);
    const other = initCa({ out: join(dir, 'other-ca'), suite: 'gm' });
    writeFileSync(f, orig);
    expect(sh(CHECK, [deviceDir, ca.caCert, String(n), other.agencyKey, join(dir, 'x.ts')]).err).toMatch(/not for/);
    expect(sh(CHECK, [deviceDir, other.caCert, String(n)]).err).toMatch(/not issued by/);
    expect(embedded('check-gm-segment.sh')).toBe(readFileSync(CHECK, 'utf8'));
  });

  it('sm-crypto, an independent GB/T 32918 implementation, unwraps a data key we wrapped to the key openssl unwraps', () => {
    const m = manifestAt(deviceDir, segmentLines[2]!);
    const der = Buffer.from(m.enc.wrappedKey, 'base64');
    const raw = c1c3c2FromDer(der)!;
    const theirs = ref2.doDecrypt(raw.subarray(1).toString('hex'), sm2PrivateKeyFromPem(agencyKey).privateKey, 1, { output: 'array' }) as number[];
    writeFileSync(join(dir, 'wrapped.der'), der);
    const ossl = spawnSync('openssl', ['pkeyutl', '-decrypt', '-inkey', ca.agencyKey, '-in', join(dir, 'wrapped.der')]);
    expect(ossl.status).toBe(0);
    expect(Buffer.from(theirs)).toHaveLength(48);
    expect(Buffer.from(theirs).equals(ossl.stdout)).toBe(true);
    expect(Buffer.from(theirs).equals(gmSuite.unwrapKey(der, agencyKey))).toBe(true);
  });
});

describe('a store of both suites (a migration)', () => {
  it('is verified with both agency keys, each manifest decrypted with the key it names; with one key the other suite\'s content is named as not decrypted', async () => {
    const mixed = tmp('recgw-gm-mixed-');
    cpSync(deviceDir, join(mixed, 'gm-room-1'), { recursive: true });
    const intl = initCa({ out: join(dir, 'intl-ca') });
    await buildDevice(join(dir, 'intl-ca'), mixed, 'room-2', [
      { id: 'S2', matter: 'site-inspection', officers: [{ name: '王五', badge: '13010003' }], start: '2026-12-07T02:00:00.000Z', segments: [['cam1', 'camera', 0, 1]], close: { reason: 'stopped', at: 1 } },
    ]);
    const caPems = [readFileSync(ca.caCert, 'utf8'), readFileSync(intl.caCert, 'utf8')];
    const intlKey = createPrivateKey(readFileSync(intl.agencyKey, 'utf8'));
    expect((await verifyStore(mixed, { caPems, agencyKeys: [agencyKey, intlKey] })).findings).toEqual([]);
    const gmOnly = await verifyStore(mixed, { caPems, agencyKeys: [agencyKey] });
    expect(gmOnly.findings.length).toBeGreaterThan(0);
    for (const f of gmOnly.findings) {
      expect(f.kind).toBe('wrong-encryption-key');
      expect(f.deviceId).toBe('room-2');
      expect(f.detail).toMatch(/its content was not decrypted/);
    }
    // The command line takes --agency-key more than once.
    const bundle = join(mixed, '..', 'both-cas.pem');
    writeFileSync(bundle, caPems.join(''));
    let text = '';
    const io = { out: (t: string) => void (text += t), err: (t: string) => void (text += t) };
    expect(await main(['verify', mixed, '--ca', bundle, '--agency-key', ca.agencyKey, '--agency-key', intl.agencyKey, '--json'], io), text).toBe(0);
  }, 120_000);
});

describe('the receiver stores a gm device', () => {
  it('checks each sealed file against its manifest with SM3, and the verifier passes the store it made with the agency key', async () => {
    const store = join(dir, 'receiver-store');
    await receiveDevice(deviceDir, store, join(dir, 'ca'));
    const r = await verifyStore(store, { caPems: [readFileSync(ca.caCert, 'utf8')], agencyKeys: [agencyKey] });
    expect(r.findings).toEqual([]);
    expect(r.devices[0]).toMatchObject({ agency: true, segments: 3 });
  });

  it('refuses a sealed file that does not hash (SM3) to its manifest', async () => {
    const copy = join(dir, 'forged-device');
    cpSync(deviceDir, copy, { recursive: true });
    const m = manifestAt(copy, segmentLines[0]!);
    const f = join(copy, m.file);
    const b = readFileSync(f);
    b[0]! ^= 1;
    writeFileSync(f, b);
    await expect(receiveDevice(copy, join(dir, 'receiver-store-2'), join(dir, 'ca'))).rejects.toThrow(`did not store ${m.segment}`);
  });
});

describe('sealFile under gm, on this thread and on the workers', () => {
  it.each([
    ['empty, this thread', 0],
    ['an ffmpeg test source over one chunk, the workers', -1],
  ])('%s: SM3 as openssl computes it, and openssl opens it (check-gm.sh open on IV || file)', async (_label, size) => {
    const input = size === 0 ? join(dir, 'empty.ts') : testSource('src.ts', 3);
    if (size === 0) writeFileSync(input, '');
    const plainSize = statSync(input).size;
    if (size < 0) expect(plainSize).toBeGreaterThanOrEqual(WORKER_MIN_BYTES);
    const sealed = join(dir, `sealed-${plainSize}.seg`);
    const r = await sealFile(input, sealed, agencyPub);
    expect(r.plain).toEqual({ size: plainSize, sm3: sm3Of(input) });
    expect(r.stored).toEqual({ size: plainSize + 32, sm3: sm3Of(sealed) });

    const opened = await openSealedFile(sealed, r.enc, agencyKey);
    expect(opened).toEqual({ ok: true, size: plainSize, hash: hashHex(r.plain) });
    // openssl: the blob form of §17.2 is the manifest's IV followed by the file.
    const blob = join(dir, `blob-${plainSize}.bin`);
    writeFileSync(blob, Buffer.concat([Buffer.from(r.enc.iv, 'base64'), readFileSync(sealed)]));
    writeFileSync(join(dir, 'wk.der'), Buffer.from(r.enc.wrappedKey, 'base64'));
    const out = join(dir, `open-${plainSize}.ts`);
    const run = sh(recipe('check-gm.sh'), ['open', ca.agencyKey, join(dir, 'wk.der'), blob, out]);
    expect(run.code, run.err).toBe(0);
    expect(sm3Of(out)).toBe(sm3Of(input));
  }, 60_000);

  it('a wrong tag is refused by openSealedFile with the reason', async () => {
    const input = join(dir, 'small.ts');
    copyFileSync(testSource('small-src.ts', 1), input);
    const sealed = join(dir, 'small.seg');
    const r = await sealFile(input, sealed, agencyPub);
    const b = readFileSync(sealed);
    b[b.length - 1]! ^= 1;
    writeFileSync(sealed, b);
    expect(await openSealedFile(sealed, r.enc, agencyKey)).toEqual({ ok: false, reason: expect.stringMatching(/HMAC-SM3 tag does not match/) as unknown as string });
  });
});
