/**
 * The openssl recipes of docs/evidence-format.md, run with the real `openssl` and `sh` against a device folder
 * made by the real gateway code (enrolment, ledger, sealer with an ffmpeg recording, export). They must pass on
 * the genuine folder, fail on one flipped byte, and be the very text the document shows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { embedded, recipe, sh } from '../helpers/doc-recipes.js';
import { startEvidenceCore } from '../../src/app/evidence-core.js';
import { exportDevice } from '../../src/evidence/export.js';
import { attachSignature, encodeUnsigned, parseLine } from '../../src/evidence/entry.js';
import { ENTRY, type SegmentManifest } from '../../src/evidence/types.js';
import type { Signer } from '../../src/evidence/signer.js';
import { recordSample } from '../../src/demo/sample.js';
import { signDeviceCsr } from '../../src/pki/ca.js';
import { identityPaths, installCertificate } from '../../src/pki/identity.js';
import { prepareEnrolment } from '../../src/pki/enrol.js';
import { loadPrivateKey } from '../../src/pki/keys.js';
import { createLogger } from '../../src/util/log.js';
import { verifyStore } from '../../src/verify/verifier.js';
import type { FindingKind } from '../../src/verify/findings.js';

const CHECK_ENTRY = recipe('check-entry.sh');
const CHECK_HEAD = recipe('check-head.sh');
const DEVICE = 'recipe-room-1';

let caPem: string;
let caPath: string;
let agencyKeyPath: string;
let agencyEncCertPath: string;
let agencyKey: KeyObject;
let deviceDir: string;
/** The device key that signed the entries before the renewal (the manifests). */
let signer: Signer;
let lines: string[];

/** The 1-based line number of the first entry of a type. */
function lineOf(type: string): number {
  const i = lines.findIndex((l) => l.includes(`,"type":"${type}","body":`));
  if (i < 0) throw new Error(`no ${type} entry in the test ledger`);
  return i + 1;
}

/** A copy of the device folder to spoil. */
function copyDevice(): string {
  const dir = join(tmp('recgw-recipe-copy-'), DEVICE);
  cpSync(deviceDir, dir, { recursive: true });
  return dir;
}

/** Flip the lowest bit of one byte of a file. */
function flipByte(path: string, offset: number): void {
  const b = readFileSync(path);
  b[offset] = b[offset]! ^ 0x01;
  writeFileSync(path, b);
}

/** Byte offset in ledger.jsonl of `needle` inside line `n`. */
function offsetInLine(n: number, needle: string): number {
  const before = Buffer.byteLength(lines.slice(0, n - 1).map((l) => l + '\n').join(''), 'utf8');
  const at = Buffer.from(lines[n - 1]!, 'utf8').indexOf(Buffer.from(needle, 'utf8'));
  if (at < 0) throw new Error(`${needle} is not in line ${n}`);
  return before + at;
}

async function kinds(dir: string, withAgencyKey = false): Promise<FindingKind[]> {
  const r = await verifyStore(dir, { caPems: [caPem], ...(withAgencyKey ? { agencyKeys: [agencyKey] } : {}) });
  return r.findings.map((f) => f.kind);
}

beforeAll(async () => {
  const ca = makeCa();
  caPath = ca.paths.caCert;
  caPem = readFileSync(caPath, 'utf8');
  agencyKeyPath = ca.paths.agencyKey;
  agencyEncCertPath = ca.paths.agencyEncCert;
  agencyKey = loadPrivateKey(agencyKeyPath, 'agency key', '');
  const gw = makeGateway(ca.dir, { deviceId: DEVICE });
  const log = createLogger('test', { level: 'error' });

  // First run: a session with a real recording, sealed segment by segment.
  let core = await startEvidenceCore(gw.config, log);
  try {
    const t0 = Date.now();
    const session = {
      sessionId: 'S-recipe-1',
      matter: 'hearing',
      caseRef: '案-2026-007',
      officers: [
        { name: '王五', badge: '13010005' },
        { name: '赵六', badge: '13010006' },
      ],
      // Quotes and a backslash that look like manifest members: the recipe must not be fooled by them.
      party: 'says "file":"segments/evil.seg" and \\ "stored":{"sha256":"00"}',
      place: '听证室 A',
    };
    core.ledger.append(ENTRY.sessionOpened, { ...session, start: new Date(t0).toISOString(), sources: ['cam1'] });
    const segs = await recordSample({ dir: join(core.dirs.spool, 'cam1'), seconds: 3, segmentSeconds: 1, kind: 'camera', realtime: false });
    segs.forEach((s, i) =>
      core.sealer.enqueue({
        name: `S-recipe-1_cam1_${String(i).padStart(6, '0')}`,
        plainPath: s.path,
        session,
        source: { id: 'cam1', kind: 'camera' },
        seq: i,
        start: new Date(t0 + s.startSec * 1000).toISOString(),
        end: new Date(t0 + s.endSec * 1000).toISOString(),
        clock: { source: 'system', synced: false },
        gps: null,
      }),
    );
    await core.sealer.drain();
    core.ledger.append(ENTRY.sessionClosed, { sessionId: 'S-recipe-1', reason: 'stopped', end: new Date(t0 + 3000).toISOString() });
  } finally {
    await core.stop();
  }

  signer = core.identity.signer;
  // Renewal with a new device key (the old one is gone): the gateway records a certificate.installed entry at the
  // next start, signed with the new key that the CA vouches for.
  const paths = identityPaths(gw.config.stateDir);
  rmSync(paths.key);
  const { csrPem } = prepareEnrolment(DEVICE, paths);
  installCertificate(DEVICE, paths, gw.config.agency.caCert, signDeviceCsr({ caDir: ca.dir, csrPem }).certPem);
  core = await startEvidenceCore(gw.config, log);
  try {
    core.ledger.append(ENTRY.serviceStarted, {});
    deviceDir = join(tmp('recgw-recipe-store-'), DEVICE);
    await exportDevice({ db: core.db, ledger: core.ledger, signer: core.identity.signer, deviceId: DEVICE, outDir: deviceDir });
  } finally {
    await core.stop();
  }
  lines = readFileSync(join(deviceDir, 'ledger.jsonl'), 'utf8').trimEnd().split('\n');
});

afterAll(() => cleanupTmp());

describe('docs/evidence-format.md openssl recipes', () => {
  it('embeds each script verbatim, so the document shows what this test runs', () => {
    expect(embedded('check-entry.sh')).toBe(readFileSync(CHECK_ENTRY, 'utf8'));
    expect(embedded('check-head.sh')).toBe(readFileSync(CHECK_HEAD, 'utf8'));
  });

  it('the folder under test is one the verifier accepts', async () => {
    expect(await kinds(join(deviceDir, '..'), true)).toEqual([]);
    expect(lines.filter((l) => l.includes('"type":"segment.sealed"')).length).toBeGreaterThanOrEqual(3);
  });

  it('passes every entry of the genuine ledger, content included', () => {
    for (let n = 1; n <= lines.length; n++) {
      const r = sh(CHECK_ENTRY, [deviceDir, caPath, String(n), agencyKeyPath]);
      expect(r.err, `line ${n}`).toBe('');
      expect(r.code, `line ${n}: ${r.err}`).toBe(0);
      expect(r.out).toMatch(new RegExp(`signature of entry seq ${n - 1} \\(`));
    }
    const seg = lineOf('segment.sealed');
    const r = sh(CHECK_ENTRY, [deviceDir, caPath, String(seg), agencyKeyPath]);
    expect(r.out).toMatch(/segments\/S-recipe-1_cam1_000000\.seg: \d+ bytes, SHA-256 [0-9a-f]{64} as in the manifest/);
    expect(r.out).toContain('data key unwraps');
    expect(r.out).toMatch(/decrypts to the manifest's plain.sha256 [0-9a-f]{64}/);
    const session = sh(CHECK_ENTRY, [deviceDir, caPath, String(lineOf('session.opened'))]);
    expect(session.code).toBe(0);
    expect(session.out).toContain('(session.opened) verifies');
    expect(sh(CHECK_ENTRY, [deviceDir, caPath, '1']).out).toContain('is the genesis entry');
  });

  it('checks entries after a renewal with the certificate the renewal installed', () => {
    const installed = lineOf('certificate.installed');
    const after = sh(CHECK_ENTRY, [deviceDir, caPath, String(installed + 1)]);
    expect(after.code, after.err).toBe(0);
    expect(after.out).toContain(`certificate of line ${installed}:`);
    const itself = sh(CHECK_ENTRY, [deviceDir, caPath, String(installed)]);
    expect(itself.code, itself.err).toBe(0);
    expect(itself.out).toContain(`certificate of line ${installed}:`);
    const before = sh(CHECK_ENTRY, [deviceDir, caPath, String(installed - 1)]);
    expect(before.code, before.err).toBe(0);
    expect(before.out).toContain('certificate of line 1:');
  });

  it('passes the genuine head.json', () => {
    const r = sh(CHECK_HEAD, [deviceDir, caPath]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`ledger line ${lines.length} is entry seq ${lines.length - 1}`);
  });

  it('fails when one byte of a session line is flipped, there and at the next link', async () => {
    const dir = copyDevice();
    const n = lineOf('session.opened');
    flipByte(join(dir, 'ledger.jsonl'), offsetInLine(n, '-007"') + 3); // 案-2026-007 -> 案-2026-006
    const r = sh(CHECK_ENTRY, [dir, caPath, String(n)]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`FAIL line ${n}: signature does not verify`);
    const next = sh(CHECK_ENTRY, [dir, caPath, String(n + 1)]);
    expect(next.code).toBe(1);
    expect(next.err).toMatch(/does not match the line before it/);
    expect(await kinds(dir)).toEqual(expect.arrayContaining(['bad-signature', 'broken-chain']));
  });

  it('fails when one byte of a segment.sealed line is flipped', () => {
    const dir = copyDevice();
    const n = lineOf('segment.sealed');
    flipByte(join(dir, 'ledger.jsonl'), offsetInLine(n, '"container":"mpegts"') + 14); // mpegts -> lpegts
    const r = sh(CHECK_ENTRY, [dir, caPath, String(n), agencyKeyPath]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('signature does not verify');
  });

  it('fails when one byte of a sealed segment file is flipped, or the file is gone', async () => {
    const dir = copyDevice();
    const n = lineOf('segment.sealed');
    const file = join(dir, 'segments', 'S-recipe-1_cam1_000000.seg');
    flipByte(file, Math.floor(readFileSync(file).length / 2));
    const r = sh(CHECK_ENTRY, [dir, caPath, String(n)]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/has SHA-256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}/);
    expect(await kinds(dir)).toEqual(['altered-segment']);
    rmSync(file);
    const gone = sh(CHECK_ENTRY, [dir, caPath, String(n)]);
    expect(gone.code).toBe(1);
    expect(gone.err).toContain('is missing');
  });

  /**
   * A copy whose first manifest is changed by `edit` and signed again with the device key that signed it (what
   * anyone holding the gateway's SD card can do); the line keeps its place, so only what the change means is caught.
   */
  function withForgedManifest(edit: (m: SegmentManifest) => SegmentManifest): { dir: string; n: number } {
    const dir = copyDevice();
    const n = lineOf('segment.sealed');
    const p = parseLine(lines[n - 1]!);
    if (!p.ok) throw new Error(p.error);
    const body = edit(p.entry.body as unknown as SegmentManifest);
    const text = encodeUnsigned({ ...p.entry, body: body as unknown as Record<string, unknown> });
    const forged = attachSignature(text, signer.sign(Buffer.from(text, 'utf8')).toString('base64'));
    writeFileSync(join(dir, 'ledger.jsonl'), lines.map((l, i) => (i === n - 1 ? forged : l) + '\n').join(''));
    return { dir, n };
  }

  it('checks, without the agency key, that the data key is wrapped for the encryption certificate in force', () => {
    const n = lineOf('segment.sealed');
    const enc = lineOf('encryption.installed');
    const p = parseLine(lines[n - 1]!);
    if (!p.ok) throw new Error(p.error);
    const keyId = (p.entry.body as unknown as SegmentManifest).enc.agencyKeyId;
    // The key ID as the openssl command line computes it from the agency's certificate, as the recipe does.
    const openssl = spawnSync('sh', ['-c', `openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r`, 'sh', agencyEncCertPath], { encoding: 'utf8' });
    expect(openssl.stdout.split(' ')[0]).toBe(keyId);
    const r = sh(CHECK_ENTRY, [deviceDir, caPath, String(n)]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(new RegExp(`data key wrapped for the agency encryption certificate of line ${enc} \\(.*OU=recgw-encryption.*, RSA 3072, key ${keyId}\\)`));
  });

  it('fails a manifest re-signed with the device key to name another agencyKeyId, as the verifier does', async () => {
    const other = 'ab'.repeat(32);
    const { dir, n } = withForgedManifest((m) => ({ ...m, enc: { ...m.enc, agencyKeyId: other } }));
    const r = sh(CHECK_ENTRY, [dir, caPath, String(n)]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`FAIL line ${n}: the data key is wrapped for key ${other}, not for the agency encryption certificate of line ${lineOf('encryption.installed')} \\(key [0-9a-f]{64}\\)`));
    // (The next line's link breaks too: this copy is not re-chained.)
    expect(await kinds(join(dir, '..'))).toEqual(expect.arrayContaining(['wrong-encryption-key']));
  });

  it('fails a manifest with no encryption certificate before it', () => {
    // The encryption.installed line replaced by a session statement the device key signs at its place.
    const dir = copyDevice();
    const e = lineOf('encryption.installed');
    const p = parseLine(lines[e - 1]!);
    if (!p.ok) throw new Error(p.error);
    const text = encodeUnsigned({ ...p.entry, type: ENTRY.serviceStarted, body: {} });
    const forged = attachSignature(text, signer.sign(Buffer.from(text, 'utf8')).toString('base64'));
    writeFileSync(join(dir, 'ledger.jsonl'), lines.map((l, i) => (i === e - 1 ? forged : l) + '\n').join(''));
    const r = sh(CHECK_ENTRY, [dir, caPath, String(lineOf('segment.sealed'))]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('no encryption.installed entry comes before it');
  });

  it('catches, with the agency key, content that does not match a manifest the device signed', () => {
    // A device-signed manifest whose plain.sha256 is wrong: signature, link and stored hash all hold, so only
    // step (e) - decrypting and hashing the content - can tell.
    const { dir, n } = withForgedManifest((m) => ({ ...m, plain: { ...m.plain, sha256: '0'.repeat(64) } }));
    expect(sh(CHECK_ENTRY, [dir, caPath, String(n)]).code).toBe(0);
    const r = sh(CHECK_ENTRY, [dir, caPath, String(n), agencyKeyPath]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/decrypts to SHA-256 [0-9a-f]{64}, the manifest's plain.sha256 is 0{64}/);
  });

  it('refuses an agency key the data key was not wrapped for', () => {
    const other = join(tmp('recgw-recipe-key-'), 'other-agency-key.pem');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(other, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
    const r = sh(CHECK_ENTRY, [deviceDir, caPath, String(lineOf('segment.sealed')), other]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('the data key is wrapped for agency key');
  });

  it('fails against a CA that did not issue the device certificate', () => {
    const d = tmp('recgw-recipe-foreign-');
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=foreign CA', '-days', '2',
      '-keyout', join(d, 'key.pem'), '-out', join(d, 'ca.pem')], { encoding: 'utf8' });
    expect(made.status, made.stderr).toBe(0);
    const r = sh(CHECK_ENTRY, [deviceDir, join(d, 'ca.pem'), '2']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('is not valid under');
    const h = sh(CHECK_HEAD, [deviceDir, join(d, 'ca.pem')]);
    expect(h.code).toBe(1);
    expect(h.err).toContain('is not valid under');
  });

  it('shows, through head.json, a ledger cut short at a line boundary', async () => {
    const dir = copyDevice();
    writeFileSync(join(dir, 'ledger.jsonl'), lines.slice(0, -1).map((l) => l + '\n').join(''));
    const r = sh(CHECK_HEAD, [dir, caPath]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('the ledger was cut short');
    expect(await kinds(dir)).toContain('broken-chain');
    // Every remaining line still checks out on its own: only the head shows the loss.
    expect(sh(CHECK_ENTRY, [dir, caPath, String(lines.length - 1)]).code).toBe(0);
  });

  it('fails when head.json is altered by one byte', () => {
    const dir = copyDevice();
    const head = readFileSync(join(dir, 'head.json'), 'utf8');
    flipByte(join(dir, 'head.json'), Buffer.from(head, 'utf8').indexOf('"seq":') + 6); // a digit of seq, still a digit
    const r = sh(CHECK_HEAD, [dir, caPath]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('signature does not verify');
  });

  it('answers bad arguments with exit status 2', () => {
    expect(sh(CHECK_ENTRY, [deviceDir, caPath]).code).toBe(2);
    expect(sh(CHECK_ENTRY, [deviceDir, caPath, '0']).code).toBe(2);
    expect(sh(CHECK_ENTRY, [deviceDir, caPath, 'x1']).code).toBe(2);
    expect(sh(CHECK_HEAD, [deviceDir]).code).toBe(2);
    expect(sh(CHECK_ENTRY, [join(deviceDir, 'nowhere'), caPath, '1']).code).toBe(2);
    expect(sh(CHECK_ENTRY, [deviceDir, join(deviceDir, 'no-ca.pem'), '1']).code).toBe(2);
    expect(sh(CHECK_ENTRY, [deviceDir, caPath, '1', join(deviceDir, 'no-key.pem')]).code).toBe(2);
    expect(sh(CHECK_HEAD, [join(deviceDir, 'nowhere'), caPath]).code).toBe(2);
    expect(sh(CHECK_ENTRY, [deviceDir, caPath, String(lines.length + 1)]).code).toBe(1);
  });
});
