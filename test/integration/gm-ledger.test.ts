/**
 * Ledger entries under the gm suite (evidence-format.md §17.6): the gateway's own Ledger with an SM2 device key from a
 * gm CA writes `"suite":"gm"` entries signed SM2 over SM3 and chained with SM3; the verifier checks them without a
 * flag; a flipped byte is caught; an entry of the other suite without a rotation is `suite-switch`; a rotation from
 * intl to gm verifies; openssl checks one gm entry with docs/recipes/check-gm-entry.sh, shown verbatim in the doc.
 */
import { SqliteReceiverSql } from '../../src/receiver/sqlite-receiver-sql.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrivateKey } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { embedded, recipe, sh } from '../helpers/doc-recipes.js';
import { initCa, type CaPaths } from '../../src/pki/ca.js';
import { prepareEnrolment } from '../../src/pki/enrol.js';
import { signDeviceCsr } from '../../src/pki/ca.js';
import { identityPaths } from '../../src/pki/identity.js';
import { openStateDb } from '../../src/state/db.js';
import { Ledger } from '../../src/evidence/ledger.js';
import { exportDevice } from '../../src/evidence/export.js';
import { KeySigner } from '../../src/evidence/signer.js';
import { attachSignature, encodeUnsigned, lineHash, parseLine } from '../../src/evidence/entry.js';
import { ENTRY } from '../../src/evidence/types.js';
import { sm3 } from '../../src/crypto/gm/sm3.js';
import { verifyStore } from '../../src/verify/verifier.js';
import type { SuiteName } from '../../src/crypto/suite.js';
import { logOrigin } from '../../src/pki/ca.js';
import { AgencyLog } from '../../src/receiver/agency-log.js';
import { openReceiverDb } from '../../src/receiver/store-db.js';
import { LedgerIngest } from '../../src/receiver/ledger-ingest.js';
import { createLogger } from '../../src/util/log.js';
import { receiptSigner } from '../helpers/report-store.js';
import { agencyEncryption } from '../helpers/receiver-store.js';
import { main } from '../../src/cli/main.js';
import { caPaths, issueEncryptionCertificate } from '../../src/pki/ca.js';
import { intlSuite } from '../../src/crypto/intl-suite.js';
import { defaultSimConfig } from '../../src/demo/provision.js';
import { startEvidenceCore } from '../../src/app/evidence-core.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/util/log.js';

const CHECK = recipe('check-gm-entry.sh');
const DEVICE = 'room-1';
let gmCa: CaPaths;
let intlCa: CaPaths;
let caPems: string[];

beforeAll(() => {
  const d = tmp('recgw-gm-ledger-');
  gmCa = initCa({ out: join(d, 'gm'), suite: 'gm' });
  intlCa = initCa({ out: join(d, 'intl') });
  caPems = [readFileSync(gmCa.caCert, 'utf8'), readFileSync(intlCa.caCert, 'utf8')];
});
afterAll(cleanupTmp);

/** A device key of the CA's suite and its certificate, enrolled as `recgw enrol csr` and `recgw ca sign` do. */
function enrol(ca: CaPaths, suite: SuiteName): KeySigner {
  const paths = identityPaths(tmp('recgw-gm-id-'));
  const { csrPem } = prepareEnrolment(DEVICE, paths, suite);
  const { certPem } = signDeviceCsr({ caDir: join(ca.caCert, '..'), csrPem });
  return new KeySigner(createPrivateKey(readFileSync(paths.key, 'utf8')), certPem);
}

/** A gateway ledger (the real Ledger on a state database) exported to a store folder; returns the device folder. */
async function ledgerOf(signers: KeySigner[], entries = 3): Promise<{ dir: string; store: string; lines: string[] }> {
  const db = openStateDb(join(tmp('recgw-gm-gw-'), 'state.db'));
  let ledger!: Ledger;
  let signer!: KeySigner;
  for (const s of signers) {
    signer = s;
    ledger = new Ledger({ db, deviceId: DEVICE, signer });
    ledger.start();
    for (let i = 0; i < entries; i++) ledger.append(ENTRY.eventMarked, { note: `entry ${i} 记录`, sessionId: null });
  }
  const store = tmp('recgw-gm-store-');
  const dir = join(store, DEVICE);
  mkdirSync(dir, { recursive: true });
  await exportDevice({ db, ledger, signer, deviceId: DEVICE, outDir: dir });
  return { dir, store, lines: readFileSync(join(dir, 'ledger.jsonl'), 'utf8').trimEnd().split('\n') };
}

async function findings(store: string): Promise<string[]> {
  const r = await verifyStore(store, { caPems, jobs: 1 });
  return r.findings.map((f) => `${f.kind}: ${f.detail}`);
}

function rewrite(dir: string, lines: string[]): void {
  writeFileSync(join(dir, 'ledger.jsonl'), lines.join('\n') + '\n');
}

describe('a gm device ledger', () => {
  it('names its suite, signs SM2 and chains SM3, and verifies without a flag', async () => {
    const { dir, store, lines } = await ledgerOf([enrol(gmCa, 'gm')]);
    expect(lines.length).toBeGreaterThanOrEqual(4);
    // The export's head (signed by the device) names the suite as the entries do.
    expect(JSON.parse(readFileSync(join(dir, 'head.json'), 'utf8'))).toMatchObject({ signer: 'device', suite: 'gm' });
    for (const l of lines) {
      expect(l.startsWith('{"v":1,"suite":"gm","device":"room-1",')).toBe(true);
      const p = parseLine(l);
      expect(p.ok && p.entry.suite).toBe('gm');
    }
    for (let i = 1; i < lines.length; i++) {
      const p = parseLine(lines[i]!);
      expect(p.ok && p.entry.prev).toBe(sm3(lines[i - 1]!).toString('hex'));
    }
    expect(await findings(store)).toEqual([]);
  });

  it('catches a flipped byte in a body and in a signature', async () => {
    const { dir, store, lines } = await ledgerOf([enrol(gmCa, 'gm')]);
    const body = [...lines];
    body[1] = body[1]!.replace('entry 0', 'entry 9');
    expect(body[1]).not.toBe(lines[1]);
    rewrite(dir, body);
    const f = await findings(store);
    expect(f.some((x) => x.startsWith('bad-signature: line 2'))).toBe(true);
    expect(f.some((x) => x.startsWith('broken-chain: line 3'))).toBe(true);

    const sig = [...lines];
    const at = sig[3]!.lastIndexOf('"sig":"') + 12;
    sig[3] = sig[3]!.slice(0, at) + (sig[3]![at] === 'A' ? 'B' : 'A') + sig[3]!.slice(at + 1);
    rewrite(dir, sig);
    const g = await findings(store);
    expect(g.some((x) => x.startsWith('bad-signature: line 4'))).toBe(true);
  });

  it('an entry in the other suite without a rotation is suite-switch (and an intl line signed with an SM2 key is not taken)', async () => {
    const signer = enrol(gmCa, 'gm');
    const { dir, store, lines } = await ledgerOf([signer]);
    // An intl entry after gm ones, carrying a valid SM2 signature of its bytes by the device key: an intl entry is
    // never checked with an SM2 key, so it is refused as well as out of suite.
    const last = parseLine(lines[lines.length - 1]!);
    if (!last.ok) throw new Error(last.error);
    const text = encodeUnsigned({ v: 1, device: DEVICE, seq: last.entry.seq + 1, prev: lineHash(lines[lines.length - 1]!), time: new Date().toISOString(), type: ENTRY.eventMarked, body: { note: 'x', sessionId: null } });
    rewrite(dir, [...lines, attachSignature(text, signer.sign(Buffer.from(text)).toString('base64'))]);
    const f = await findings(store);
    expect(f.filter((x) => x.startsWith('suite-switch: line ' + (lines.length + 1)))).toHaveLength(1);
    expect(f.some((x) => x.startsWith('bad-signature: line ' + (lines.length + 1)))).toBe(true);
  });

  it('a rotation intl → gm (certificate.installed with suiteFrom) verifies; the same switch without suiteFrom is suite-switch', async () => {
    const intl = enrol(intlCa, 'intl');
    const gm = enrol(gmCa, 'gm');
    const { store, lines } = await ledgerOf([intl, gm], 2);
    const rot = lines.findIndex((l) => l.startsWith('{"v":1,"suite":"gm",'));
    expect(rot).toBeGreaterThan(0);
    const p = parseLine(lines[rot]!);
    expect(p.ok && p.entry.type).toBe(ENTRY.certificateInstalled);
    expect(p.ok && p.entry.body.suiteFrom).toBe('intl');
    expect(p.ok && p.entry.prev).toBe(lineHash(lines[rot - 1]!)); // SHA-256 of the intl line before it
    expect(await findings(store)).toEqual([]);

    // Without suiteFrom the same switch is a finding (re-signed, so only the rule can catch it).
    const q = parseLine(lines[rot]!);
    if (!q.ok) throw new Error(q.error);
    const { sig: _sig, ...unsigned } = q.entry;
    const bare = encodeUnsigned({ ...unsigned, body: { cert: q.entry.body.cert } });
    const bareLine = attachSignature(bare, gm.sign(Buffer.from(bare)).toString('base64'));
    const dir = join(store, DEVICE);
    rewrite(dir, [...lines.slice(0, rot), bareLine]);
    const f = await findings(store);
    expect(f.filter((x) => x.startsWith('suite-switch'))).toHaveLength(1);
    expect(f.some((x) => x.startsWith('bad-signature'))).toBe(false);
  });

  it('openssl checks a gm entry with docs/recipes/check-gm-entry.sh, shown verbatim in the doc, and refuses an altered one', async () => {
    expect(embedded('check-gm-entry.sh')).toBe(readFileSync(CHECK, 'utf8'));
    const { dir, lines } = await ledgerOf([enrol(gmCa, 'gm')]);
    for (const n of [1, 3]) {
      const r = sh(CHECK, [dir, gmCa.caCert, String(n)]);
      expect(r.code, r.err + r.out).toBe(0);
      expect(r.out).toContain('verifies (SM2');
    }
    // The intl CA did not issue the device certificate.
    expect(sh(CHECK, [dir, intlCa.caCert, '3']).code).toBe(1);
    const bad = [...lines];
    bad[1] = bad[1]!.replace('entry 0', 'entry 9');
    rewrite(dir, bad);
    const r = sh(CHECK, [dir, gmCa.caCert, '2']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('signature does not verify');
    expect(sh(CHECK, [dir, gmCa.caCert, '3']).err).toContain('does not match the line before it');
  });
});

describe('the receiver during a migration (an intl agency that also trusts a gm CA)', () => {
  function receiver(): LedgerIngest {
    const store = tmp('recgw-gm-rx-');
    const db = openReceiverDb(store);
    const sql = new SqliteReceiverSql(db);
    const log = new AgencyLog(sql, createPrivateKey(readFileSync(intlCa.logKey, 'utf8')), logOrigin(caPems[1]!));
    const dir = join(intlCa.caCert, '..');
    return new LedgerIngest(store, sql, caPems, receiptSigner(dir), 'receiver:1', createLogger('rx', { sink: () => {} }), log, agencyEncryption(dir));
  }

  it('stores a gm ledger and a rotation, naming each line by its own hash; refuses the switch without suiteFrom', async () => {
    const gm = await ledgerOf([enrol(gmCa, 'gm')]);
    const r1 = await receiver().ingest(DEVICE, gm.lines, '2099-01-01T00:00:00.000Z', new Date());
    expect(r1.refused).toBeUndefined();
    expect(r1.appended).toBe(gm.lines.length);
    expect(r1.receipt?.through.hash).toBe(sm3(gm.lines[gm.lines.length - 1]!).toString('hex'));

    // The gm certificate is the newer one: a replaced key cannot come back (5.5).
    const intlSigner = enrol(intlCa, 'intl');
    await new Promise((r) => setTimeout(r, 1100));
    const gmSigner = enrol(gmCa, 'gm');
    const mixed = await ledgerOf([intlSigner, gmSigner], 2);
    const r2 = await receiver().ingest(DEVICE, mixed.lines, '2099-01-01T00:00:00.000Z', new Date());
    expect(r2.refused).toBeUndefined();
    expect(r2.appended).toBe(mixed.lines.length);

    const rot = mixed.lines.findIndex((l) => l.startsWith('{"v":1,"suite":"gm",'));
    const q = parseLine(mixed.lines[rot]!);
    if (!q.ok) throw new Error(q.error);
    const { sig: _sig, ...unsigned } = q.entry;
    const bare = encodeUnsigned({ ...unsigned, body: { cert: q.entry.body.cert } });
    const r3 = await receiver().ingest(DEVICE, [...mixed.lines.slice(0, rot), attachSignature(bare, gmSigner.sign(Buffer.from(bare)).toString('base64'))], '2099-01-01T00:00:00.000Z', new Date());
    expect(r3.appended).toBe(rot);
    expect(r3.refused).toContain('without a rotation');
  });
});

describe('enrolment round trip under gm, in process', () => {
  it('ca init --suite gm, enrol csr, ca sign, enrol install, enrol show, the evidence core, export, verify', async () => {
    const dir = tmp('recgw-gm-enrol-');
    const ca = join(dir, 'ca');
    const run = async (...args: string[]): Promise<{ code: number; out: string }> => {
      let out = '';
      const code = await main(args, { out: (t) => void (out += t), err: (t) => void (out += t) });
      return { code, out };
    };
    expect((await run('ca', 'init', '--suite', 'gm', '--out', ca)).code).toBe(0);
    const config = join(dir, 'recgw.json');
    const cfg = defaultSimConfig('gm-1', caPaths(ca));
    writeFileSync(config, JSON.stringify(cfg));
    expect((await run('enrol', 'csr', '--config', config)).code).toBe(0);
    const csrPath = join(dir, 'state', 'identity', 'device.csr');
    const signed = join(dir, 'signed.pem');
    expect((await run('ca', 'sign', '--ca', ca, '--csr', csrPath, '--out', signed)).code).toBe(0);
    const install = await run('enrol', 'install', '--config', config, '--cert', signed);
    expect(install.code, install.out).toBe(0);
    expect((await run('enrol', 'show', '--config', config)).out).toMatch(/gm-1: enrolled/);
    // A gm device seals for the gm CA's SM2 encryption key; an RSA one, even certified by that CA, is refused.
    const rsaEnc = join(dir, 'agency-enc-rsa.pem');
    writeFileSync(rsaEnc, issueEncryptionCertificate({ caDir: ca, publicKeyPem: intlSuite.generateKeyPair().publicKeyPem }));
    const rsaConfig = join(dir, 'recgw-rsa.json');
    writeFileSync(rsaConfig, JSON.stringify({ ...cfg, agency: { ...(cfg.agency as object), encryptionCert: rsaEnc } }));
    await expect(startEvidenceCore(loadConfig(rsaConfig), silentLogger)).rejects.toThrow(/device key is an SM2 key \(gm suite\) but the agency encryption certificate .* carries an RSA key/);
    const core = await startEvidenceCore(loadConfig(config), silentLogger);
    await core.stop();
    const out = join(dir, 'export');
    const exp = await run('export', '--config', config, '--out', out);
    expect(exp.code, exp.out).toBe(0);
    const lines = readFileSync(join(out, 'gm-1', 'ledger.jsonl'), 'utf8').trimEnd().split('\n');
    expect(lines.every((l) => l.startsWith('{"v":1,"suite":"gm","device":"gm-1",'))).toBe(true);
    const v = await run('verify', out, '--ca', join(ca, 'ca.pem'), '--json');
    expect(v.code, v.out).toBe(0);
    expect(JSON.parse(v.out)).toMatchObject({ ok: true, findings: [] });
    // Not valid for an intl agency's CA.
    expect((await run('verify', out, '--ca', intlCa.caCert, '--json')).code).toBe(1);
  });
});
