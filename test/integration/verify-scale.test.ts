/**
 * The verifier at scale: signatures checked on worker threads come back to the right line numbers with any number
 * of workers; a duplicated block of lines is found line by line without a set of every line; a session that gets
 * a segment long after its close (after its facts were dropped) is analysed as if nothing had been dropped; memory
 * does not grow with the entries. And the small fixes: a folder that is not there is a usage error, a device folder
 * that is a symbolic link is verified. Stores are synthetic (src/demo/synthetic-store.ts) with an EC device key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate, randomBytes } from 'node:crypto';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { ensureBuilt, readLines, writeLines } from '../helpers/store-fixture.js';
import { ecDeviceSigner } from '../helpers/synthetic.js';
import { publicKeyId } from '../../src/pki/keys.js';
import { LedgerWriter, segmentFile, syntheticManifest, writeSyntheticStore } from '../../src/demo/synthetic-store.js';
import { sha256Hex } from '../../src/evidence/entry.js';
import { ENTRY } from '../../src/evidence/types.js';
import { LINGER } from '../../src/verify/session-tracker.js';
import { verifyStore } from '../../src/verify/verifier.js';
import type { KeySigner } from '../../src/evidence/signer.js';
import type { VerifyReport } from '../../src/verify/findings.js';

const ROOT = join(import.meta.dirname, '..', '..');

let caDir: string;
let caPem: string;
let signer: KeySigner;

beforeAll(() => {
  ensureBuilt();
  caDir = makeCa().dir;
  caPem = join(caDir, 'ca.pem');
  signer = ecDeviceSigner(caDir, 'room-ec');
}, 120_000);
afterAll(cleanupTmp);

/** A store of `entries` synthetic lines; returns the store folder and the device folder. */
function syntheticStore(entries: number, badSignatures: number[] = []): { storeDir: string; deviceDir: string } {
  const storeDir = tmp('recgw-synth-');
  const deviceDir = join(storeDir, 'room-ec');
  writeSyntheticStore({ deviceDir, deviceId: 'room-ec', signer, entries, startMs: Date.now() + 60_000, badSignatures, encryptionCert: readFileSync(join(caDir, 'agency-enc.pem'), 'utf8') });
  return { storeDir, deviceDir };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Peak resident set size of the process, bytes. */
  maxRss: number;
}

/** `recgw verify ...` as a child process (the built code), with its peak RSS. */
function recgw(...args: string[]): Promise<Run> {
  const main = join(ROOT, 'dist', 'cli', 'main.js');
  const script = `const { main } = await import(${JSON.stringify(main)}); const code = await main(process.argv.slice(1));
process.stderr.write('maxrss=' + process.resourceUsage().maxRSS + '\\n'); process.exitCode = code;`;
  return new Promise((resolve, reject) => {
    // A fixed young generation (V8 grows it with the allocation rate, by tens of MB, whatever the ledger's
    // length), so that what the peak RSS shows is what the verifier keeps.
    const p = spawn(process.execPath, ['--max-semi-space-size=1', '--input-type=module', '-e', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      const m = /maxrss=(\d+)\n/.exec(stderr);
      resolve({ code, stdout, stderr: stderr.replace(/maxrss=\d+\n/, ''), maxRss: m ? Number(m[1]) * 1024 : NaN });
    });
  });
}

const report = (r: Run): VerifyReport => JSON.parse(r.stdout) as VerifyReport;
const details = (r: VerifyReport): string[] => r.findings.map((f) => `${f.kind}: ${f.detail}`).sort();

describe('signatures on worker threads', () => {
  it('finds each bad signature among thousands of good ones at its line, with one worker and with two', async () => {
    // seq 0 is the ledger.opened entry (its certificate's key checks it), the others ordinary entries.
    const bad = [0, 700, 2345, 3999];
    const { storeDir, deviceDir } = syntheticStore(4000, bad);
    const lines = readLines(deviceDir);
    const expected = bad
      .map((seq) => {
        const type = (JSON.parse(lines[seq]!) as { type: string }).type;
        return `bad-signature: line ${seq + 1}: the signature of entry seq ${seq} (${type}) does not verify with the device certificate`;
      })
      .sort();
    for (const jobs of ['1', '2']) {
      const r = await recgw('verify', storeDir, '--ca', caPem, '--json', '--jobs', jobs);
      expect(r.code, r.stderr).toBe(1);
      expect(details(report(r))).toEqual(expected);
      expect(report(r).devices[0]!.entries).toBe(4000);
    }
  }, 120_000);

  it('--jobs takes a whole number from 1', async () => {
    const r = await recgw('verify', tmp('recgw-empty-'), '--ca', caPem, '--jobs', '0');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--jobs must be a whole number of worker threads from 1 to 256 \(got 0\)/);
  });
});

describe('streaming checks', () => {
  it('a duplicated block of lines is a duplicate at every copied line, though only its first breaks seq and prev', async () => {
    const { storeDir, deviceDir } = syntheticStore(600);
    const lines = readLines(deviceDir);
    // Lines 101..110 (seq 100..109) again after line 110: the copies chain to each other, and line 111 of the
    // original chains to the last copy (which is the same line as the one it was signed after).
    writeLines(deviceDir, [...lines.slice(0, 110), ...lines.slice(100, 110), ...lines.slice(110)]);
    const r = await verifyStore(storeDir, { caPems: [readFileSync(caPem, 'utf8')] });
    // The copied manifests also name their files a second time (consistency.ts): those are found as well.
    const copiedManifests = lines.slice(100, 110).flatMap((l, i) => (l.includes('"type":"segment.sealed"') ? [i] : []));
    expect(copiedManifests.length).toBeGreaterThan(0);
    const named = details(r).filter((d) => /already names/.test(d));
    expect(named).toEqual(copiedManifests.map((i) => expect.stringMatching(new RegExp(`^broken-chain: line ${111 + i}: the manifest names .* which the manifest on line ${101 + i} already names`))));
    expect(details(r).filter((d) => !/already names/.test(d))).toEqual(
      [
        'broken-chain: line 111: entry has seq 100 where 110 was expected (entries missing, reordered or duplicated)',
        'broken-chain: line 111: entry seq 100 does not link to the line before it (prev hash differs)',
        ...Array.from({ length: 10 }, (_, i) => `broken-chain: line ${111 + i}: entry seq ${100 + i} is a duplicate of an earlier line`),
      ].sort(),
    );
  });

  it('a segment sealed long after its session closed counts for the session, as if nothing had been dropped', async () => {
    const storeDir = tmp('recgw-late-');
    const deviceDir = join(storeDir, 'room-ec');
    const w = new LedgerWriter(deviceDir, 'room-ec', signer);
    mkdirSync(join(deviceDir, 'segments'));
    const t0 = Date.now() + 60_000;
    const ctx = { sessionId: 'S-late', matter: 'site-inspection', caseRef: 'CASE-1', officers: [{ name: '张三', badge: '1' }, { name: '李四', badge: '2' }] };
    const cam = { id: 'cam1', kind: 'camera' };
    const seg = (n: number, from: number, to: number): Record<string, unknown> => {
      const bytes = randomBytes(100);
      writeFileSync(join(deviceDir, segmentFile(ctx.sessionId, cam.id, n)), bytes);
      return syntheticManifest(ctx, cam, n, t0 + from, t0 + to, { size: bytes.length, sha256: sha256Hex(bytes) }, publicKeyId(new X509Certificate(encCert).publicKey));
    };
    const encCert = readFileSync(join(caDir, 'agency-enc.pem'), 'utf8');
    w.append(ENTRY.ledgerOpened, { deviceId: 'room-ec', cert: signer.certificatePem }, t0);
    w.append(ENTRY.encryptionInstalled, { cert: encCert }, t0);
    w.append(ENTRY.sessionOpened, { ...ctx, start: new Date(t0).toISOString(), sources: ['cam1'] }, t0);
    w.append(ENTRY.segmentSealed, seg(0, 0, 10_000), t0 + 10_000);
    w.append(ENTRY.sessionClosed, { sessionId: ctx.sessionId, reason: 'stopped', end: new Date(t0 + 30_000).toISOString() }, t0 + 30_000);
    for (let i = 0; i < LINGER + 10; i++) w.append(ENTRY.eventMarked, { note: `filler ${i}` }, t0 + 30_000);
    // The footage from 10 s to 30 s, sealed after the session's facts were dropped: without it, a gap.
    w.append(ENTRY.segmentSealed, seg(1, 10_000, 30_000), t0 + 31_000);
    w.finish(t0 + 32_000);
    const r = await verifyStore(storeDir, { caPems: [readFileSync(caPem, 'utf8')] });
    expect(r.findings).toEqual([]);
    expect(r.devices[0]!.sessions).toMatchObject([{ sessionId: 'S-late', segments: 2, recordedSeconds: 30, gaps: [] }]);
  });

  it('memory does not grow with the entries: peak RSS for 60,000 entries is within 40 MB of that for 20,000', async () => {
    // Before the verifier streamed, each entry held about 4 KB to the end (a 10,000-entry store peaked at 190 MB,
    // a 100,000-entry one at 550 MB): 40,000 more entries would add some 160 MB. What remains is V8 settling into
    // its heap sizes over the first tens of thousands of entries, hence sizes past that.
    const small = syntheticStore(20_000);
    const large = syntheticStore(60_000);
    // One after the other: two at once on two cores make each one's garbage collection, and so its peak, a lottery.
    const a = await recgw('verify', small.storeDir, '--ca', caPem, '--json');
    const b = await recgw('verify', large.storeDir, '--ca', caPem, '--json');
    expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0]);
    expect(report(b).devices[0]!.entries).toBe(60_000);
    const said = `peak RSS ${(a.maxRss / 1e6).toFixed(0)} MB for 20,000 entries, ${(b.maxRss / 1e6).toFixed(0)} MB for 60,000`;
    // Under 1 KB an entry (the old verifier: 4 KB): the compact indexes are some 50 bytes a manifest, and the peak
    // moves by a few tens of MB with the timing of collections on a busy machine.
    expect((b.maxRss - a.maxRss) / 1e6, said).toBeLessThan(40);
  }, 300_000);
});

describe('the folder to verify', () => {
  it('a folder that does not exist, or a file, is a usage error (exit 2) naming it', async () => {
    const gone = join(tmp('recgw-gone-'), 'no-such-store');
    const r = await recgw('verify', gone, '--ca', caPem);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`recgw verify: ${gone} cannot be read as a folder (ENOENT`);
    expect(r.stdout).toBe('');
    const file = join(tmp('recgw-file-'), 'ledger.jsonl');
    writeFileSync(file, '');
    const f = await recgw('verify', file, '--ca', caPem, '--json');
    expect(f.code).toBe(2);
    expect(f.stderr).toContain(`recgw verify: ${file} is not a folder: give the store or device folder to verify`);
  });

  it('a device folder that is a symbolic link to a folder is verified', async () => {
    const { deviceDir } = syntheticStore(50);
    const store = tmp('recgw-links-');
    symlinkSync(deviceDir, join(store, 'room-ec'));
    const r = await recgw('verify', store, '--ca', caPem, '--json');
    expect(r.code, r.stdout).toBe(0);
    expect(report(r).devices.map((d) => [d.deviceId, d.entries])).toEqual([['room-ec', 50]]);
  });
});
