/**
 * Issue 14, item 5 acceptance: the agency encryption key is pinned. An insider who wants recordings wrapped for a key
 * of their own (to read them back from the gateway) tries each way in, and each is refused with its message:
 *   - a config naming a private key, a certificate with a key block appended, a device certificate, another CA's,
 *     an expired, a not yet valid or a weak certificate: `recgw config check` and `recgw run` exit 2, the console's
 *     config editor refuses to write it, and console enrolment refuses a device certificate with a key appended;
 *   - a gateway whose software wraps data keys for another key, or records another encryption certificate, uploads
 *     through a real mosquitto: the receiver refuses the line and stores nothing after it, and the verifier reports
 *     it from the files alone.
 * The genuine path, a key rotation included, verifies clean; key IDs are cross-checked with the openssl command line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cleanupTmp, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { ensureBuilt } from '../helpers/store-fixture.js';
import { Client, consoleOnCore, setupAdmin, type CoreConsole } from '../helpers/console.js';
import { withBroker } from '../helpers/mosquitto.js';
import { startGateway } from '../helpers/gateway-process.js';
import { sealRandom } from '../helpers/queue-world.js';
import { makeReceiver, startReceiver, storeReceipts, storedSegments, uplinkGateway, waitDelivered } from '../helpers/uplink-world.js';
import { main } from '../../src/cli/main.js';
import { startEvidenceCore, stateDbPath, type EvidenceCore } from '../../src/app/evidence-core.js';
import { Sealer } from '../../src/evidence/sealer.js';
import { openSealedFile } from '../../src/evidence/open-sealed.js';
import { parseLine, type LedgerEntry } from '../../src/evidence/entry.js';
import { ENTRY, type SegmentManifest, type SessionContext } from '../../src/evidence/types.js';
import { issueEncryptionCertificate } from '../../src/pki/ca.js';
import { identityPaths } from '../../src/pki/identity.js';
import { publicKeyId } from '../../src/pki/keys.js';
import type { Provisioned } from '../../src/demo/provision.js';
import { silentLogger } from '../../src/util/log.js';
import { verifyStore } from '../../src/verify/verifier.js';
import type { VerifyReport } from '../../src/verify/findings.js';

const BIN = join(import.meta.dirname, '../../bin/recgw.js');
const DAY = 86_400_000;

const ca = makeCa();
const foreign = makeCa();
const pem = (p: string): string => readFileSync(p, 'utf8');
const pubPem = (k: KeyObject): string => (k.type === 'public' ? k : createPublicKey(k)).export({ type: 'spki', format: 'pem' }) as string;
const agencyKey = createPrivateKey(pem(ca.paths.agencyKey));

/** `recgw <args>` in this process (the CLI's own code path and exit status), its output captured. */
async function recgw(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

/** `node bin/recgw.js <args>` as a separate process. */
function spawnRecgw(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RECGW_LOG_LEVEL: 'info' } });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

function openssl(args: string[], input?: string): string {
  const r = spawnSync('openssl', args, { encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The key ID as the openssl command line computes it from a certificate file (evidence-format.md §7.2). */
function opensslKeyId(certPath: string): string {
  const r = spawnSync('sh', ['-c', 'openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r', 'sh', certPath], { encoding: 'utf8' });
  return r.stdout.split(' ')[0]!;
}

/** Everything a would-be encryption certificate can be instead of the agency's, each with the message it must get. */
interface Bad {
  name: string;
  path: string;
  message: RegExp;
  zh: RegExp;
}

function badFiles(gw: Provisioned): Bad[] {
  const d = tmp('recgw-enc-bad-');
  const file = (name: string, text: string): string => {
    const p = join(d, name);
    writeFileSync(p, text);
    return p;
  };
  const agencyPub = pubPem(agencyKey);
  const expired = issueEncryptionCertificate({ caDir: ca.dir, publicKeyPem: agencyPub, now: new Date(Date.now() - 400 * DAY), days: 30 });
  const early = issueEncryptionCertificate({ caDir: ca.dir, publicKeyPem: agencyPub, now: new Date(Date.now() + 30 * DAY), days: 365 });
  const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
  // An EC key in a certificate the agency CA did issue for the role, made with openssl as another CA tool would.
  openssl(['ecparam', '-genkey', '-name', 'prime256v1', '-noout', '-out', join(d, 'ec-key.pem')]);
  openssl(['req', '-new', '-key', join(d, 'ec-key.pem'), '-subj', '/CN=ec encryption/OU=recgw-encryption', '-out', join(d, 'ec.csr')]);
  openssl(['x509', '-req', '-in', join(d, 'ec.csr'), '-CA', ca.paths.caCert, '-CAkey', join(ca.dir, 'ca-key.pem'), '-CAcreateserial', '-days', '30', '-out', join(d, 'ec.pem')]);
  const device = identityPaths(gw.config.stateDir).cert;
  return [
    {
      name: 'the agency private key',
      path: ca.paths.agencyKey,
      message: /it holds a private key \(-----BEGIN PRIVATE KEY-----\); no private key may be given to or kept on a gateway: delete it, and give the agency's encryption certificate \(agency-enc\.pem\), issued by the agency CA for the role recgw-encryption/,
      zh: /其中含有私钥.*网关上不得存放任何私钥：请删除该文件/,
    },
    {
      name: 'the genuine certificate with the key block appended',
      path: file('cert-and-key.pem', pem(ca.paths.agencyEncCert) + pem(ca.paths.agencyKey)),
      message: /it holds a private key \(-----BEGIN PRIVATE KEY-----\)/,
      zh: /其中含有私钥/,
    },
    {
      name: "the gateway's own device certificate",
      path: device,
      message: /it is not an encryption certificate \(the certificate is for role "recgw-device", not "recgw-encryption"\); device, receipt and server certificates cannot be used/,
      zh: /它不是加密证书.*设备、回执或服务器证书不能用于加密/,
    },
    {
      name: 'the device certificate with the device key appended',
      path: file('device-and-key.pem', pem(device) + pem(identityPaths(gw.config.stateDir).key)),
      message: /it holds a private key/,
      zh: /其中含有私钥/,
    },
    { name: "another CA's encryption certificate", path: foreign.paths.agencyEncCert, message: /it was not issued by the agency CA \(the certificate for .* was not issued by the agency CA\)/, zh: /它不是由执法机构 CA 签发的/ },
    { name: 'an expired encryption certificate', path: file('expired.pem', expired), message: /it has expired \(.*expired on .*\): ask the agency for its current encryption certificate/, zh: /它已过期/ },
    { name: 'a certificate not valid yet', path: file('early.pem', early), message: /it is not valid yet \(.*\): check this machine's clock/, zh: /它尚未生效/ },
    {
      name: 'an RSA 1024 key',
      path: file('weak.pem', issueEncryptionCertificate({ caDir: ca.dir, publicKeyPem: pubPem(weak) })),
      message: /it carries an RSA key of 1024 bits; RSA-OAEP-256 needs at least 2048/,
      zh: /RSA 密钥只有 1024 位/,
    },
    { name: 'an EC key', path: join(d, 'ec.pem'), message: /it carries a key of type ec; data keys are wrapped with RSA-OAEP-256/, zh: /它的密钥类型是 ec/ },
    { name: 'a bare public key', path: file('agency-pub.pem', agencyPub), message: /it holds a bare public key \(-----BEGIN PUBLIC KEY-----\), which no CA vouches for/, zh: /其中只有公钥/ },
    // Not read at all: a device that never ends, and a folder.
    { name: '/dev/zero', path: '/dev/zero', message: /\/dev\/zero is not a regular file: give the agency's encryption certificate \(agency-enc\.pem\)/, zh: /\/dev\/zero 不是普通文件/ },
    { name: 'a folder', path: d, message: /is not a regular file/, zh: /不是普通文件/ },
    { name: 'two certificates', path: file('two.pem', pem(ca.paths.agencyEncCert) + pem(ca.paths.caCert)), message: /it holds 2 PEM blocks \(CERTIFICATE, CERTIFICATE\) where exactly one certificate must be/, zh: /只能有且仅有一个证书/ },
  ];
}

/** A copy of the gateway's config (beside it, so its relative stateDir still holds) with `agency` changed. */
function configWith(gw: Provisioned, agency: Record<string, unknown>, name: string): string {
  const c = JSON.parse(pem(gw.configPath)) as { agency: Record<string, unknown> };
  c.agency = { caCert: c.agency.caCert, ...agency };
  const p = join(dirname(gw.configPath), `${name}.json`);
  writeFileSync(p, JSON.stringify(c, null, 2));
  return p;
}

afterAll(cleanupTmp);

describe('the gateway takes only the agency encryption certificate', () => {
  const gw = makeGateway(ca.dir, { deviceId: 'enc-room-1' });
  const bad = badFiles(gw);

  it('config check accepts the genuine agency-enc.pem', async () => {
    const r = await recgw('config', 'check', '--config', gw.configPath);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  });

  it.each(bad.map((b) => [b.name, b] as const))('config check refuses %s (exit 2), naming the key, the file and the fix', async (_name, b) => {
    const file = configWith(gw, { encryptionCert: b.path }, 'bad');
    const r = await recgw('config', 'check', '--config', file);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`config file ${file} is invalid:\n  agency.encryptionCert: ${b.path} `);
    expect(r.err).toMatch(b.message);
  });

  it('a config still naming agency.encryptionKey is refused saying what to give instead', async () => {
    const file = configWith(gw, { encryptionKey: ca.paths.agencyKey }, 'retired');
    const r = await recgw('config', 'check', '--config', file);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/agency\.encryptionKey: is no longer accepted .*set agency\.encryptionCert to the agency's encryption certificate \(agency-enc\.pem/);
    expect(r.err).toMatch(/agency\.encryptionCert: is required/);
  });

  it('recgw run refuses to start with a key as its encryption certificate, before writing anything', async () => {
    ensureBuilt();
    const file = configWith(gw, { encryptionCert: bad[1]!.path }, 'run-bad');
    const r = await spawnRecgw(['run', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/recgw run: config file .*run-bad\.json: agency\.encryptionCert: .*cert-and-key\.pem is refused: it holds a private key/);
    expect(existsSync(stateDbPath(gw.config.stateDir))).toBe(false);
  });
});

describe("the console's config editor and enrolment refuse them too", () => {
  let cc: CoreConsole;
  let admin: Client;
  let bad: Bad[];

  beforeAll(async () => {
    cc = await consoleOnCore(ca.dir);
    bad = badFiles(cc.gw);
    admin = new Client(cc.base);
    await setupAdmin(admin, cc.gw.config.stateDir);
  });
  afterAll(async () => {
    await cc?.stop();
  });

  const edited = (path: string): string => {
    const c = JSON.parse(pem(cc.gw.configPath)) as { agency: Record<string, unknown> };
    c.agency.encryptionCert = path;
    return JSON.stringify(c, null, 2) + '\n';
  };

  it('refuses to write a config naming anything but the agency encryption certificate, in Chinese and English', async () => {
    const before = pem(cc.gw.configPath);
    const csrf = await admin.csrf('/config');
    for (const b of bad) {
      const text = edited(b.path);
      const base = (JSON.parse((await admin.get('/api/config')).text) as { base: string }).base;
      const a = await admin.req('POST', '/api/config/apply', { json: { text, base }, headers: { 'x-csrf-token': csrf } });
      expect(a.status, b.name).toBe(400);
      const body = JSON.parse(a.text) as { applied: boolean; problems: { key: string; message: string; zh: string }[] };
      expect(body.applied).toBe(false);
      const p = body.problems.find((x) => x.key === 'agency.encryptionCert');
      expect(p?.message, b.name).toMatch(b.message);
      expect(p?.zh, b.name).toMatch(b.zh);
      // The editor's page says it beside the key: Chinese by default, English when asked.
      const zhPage = await admin.req('POST', '/config/preview?lang=zh-CN', { form: { _csrf: csrf, text } });
      expect(zhPage.status).toBe(400);
      expect(zhPage.text).toMatch(b.zh);
      const enPage = await admin.req('POST', '/config/preview?lang=en', { form: { _csrf: csrf, text } });
      expect(enPage.text.replace(/&quot;/g, '"').replace(/&#39;/g, "'")).toMatch(b.message);
    }
    expect(pem(cc.gw.configPath)).toBe(before);
    // The genuine certificate (here with another change) is written.
    const base = (JSON.parse((await admin.get('/api/config')).text) as { base: string }).base;
    const good = edited(ca.paths.agencyEncCert).replace(/"place": "[^"]*"/, '"place": "二号询问室"');
    const ok = await admin.req('POST', '/api/config/apply', { json: { text: good, base }, headers: { 'x-csrf-token': csrf } });
    expect(ok.status, ok.text).toBe(200);
  });

  it('enrolment refuses a device certificate with a key block appended (it would sit in a world-readable file)', async () => {
    const p = identityPaths(cc.gw.config.stateDir);
    const before = pem(p.cert);
    const a = await admin.post('/enrol/cert?lang=zh-CN', { cert: before + pem(p.key) }, { page: '/enrol' });
    expect(a.status).toBe(400);
    expect(a.text).toContain('只能上传本设备的证书本身（一个 PEM 证书），不得附带私钥或其他内容');
    expect(a.text).toContain('it holds a private key (-----BEGIN PRIVATE KEY-----)');
    expect(pem(p.cert)).toBe(before);
  });
});

const iso = (t: number): string => new Date(t).toISOString();

/** An enrolled gateway with a closed session: one genuine segment, then whatever `attack` adds to its ledger. */
async function gatewayWith(gw: Provisioned, attack?: (core: EvidenceCore, session: SessionContext, t0: number) => Promise<void>, sessionId = `S-${gw.config.deviceId}`): Promise<Provisioned> {
  const core = await startEvidenceCore(gw.config, silentLogger);
  const t0 = Date.now() - 60_000;
  const session: SessionContext = { sessionId, matter: 'site-inspection', caseRef: 'ENC-2026-1', officers: [{ name: '张三', badge: '13010001' }, { name: '李四', badge: '13010002' }] };
  try {
    core.ledger.append(ENTRY.sessionOpened, { ...session, start: iso(t0), sources: ['cam1'] });
    await sealRandom(core, session, { source: 'cam1', seq: 0, endMs: t0 + 2000, bytes: 20_000 });
    await attack?.(core, session, t0);
    core.ledger.append(ENTRY.sessionClosed, { sessionId: session.sessionId, reason: 'stopped', end: iso(t0 + 4000) });
  } finally {
    await core.stop();
  }
  return gw;
}

/** Modified gateway software: the real Sealer, sealing the next segment for `key` instead of the agency's. */
async function sealFor(core: EvidenceCore, session: SessionContext, t0: number, key: KeyObject): Promise<void> {
  const rogue = new Sealer({ db: core.db, ledger: core.ledger, agencyPublicKey: key, sealedDir: core.dirs.sealed, log: silentLogger });
  await rogue.start();
  const name = `${session.sessionId}_cam1_000001`;
  const plainPath = join(core.dirs.spool, 'cam1', `${name}.ts`);
  writeFileSync(plainPath, Buffer.alloc(20_000, 7));
  rogue.enqueue({ name, plainPath, session, source: { id: 'cam1', kind: 'camera' }, seq: 1, start: iso(t0 + 2000), end: iso(t0 + 4000), clock: { source: 'system', synced: false }, gps: null });
  await rogue.drain();
}

/** The gateway's ledger and files as a device folder (`recgw export`, which writes nothing), and what the verifier says of it. */
async function exportAndVerify(gw: Provisioned, withKey?: KeyObject): Promise<{ dir: string; report: VerifyReport; entries: LedgerEntry[] }> {
  const out = tmp('recgw-enc-export-');
  const r = await recgw('export', '--config', gw.configPath, '--out', out);
  if (r.code !== 0) throw new Error(r.err);
  const dir = join(out, gw.config.deviceId);
  const report = await verifyStore(dir, { caPems: [pem(ca.paths.caCert)], ...(withKey ? { agencyKeys: [withKey] } : {}) });
  return { dir, report, entries: ledgerOf(dir) };
}

/** The entries of a device folder's ledger (none when it has no ledger). */
function ledgerOf(dir: string): LedgerEntry[] {
  const p = join(dir, 'ledger.jsonl');
  if (!existsSync(p)) return [];
  return pem(p).trimEnd().split('\n').map((l) => (parseLine(l) as { entry: LedgerEntry }).entry);
}

/** A gateway as provisioned, with its config file (beside the original) naming another encryption certificate. */
function withEncryptionCert(gw: Provisioned, certPath: string, name: string): Provisioned {
  return { ...gw, configPath: configWith(gw, { encryptionCert: certPath }, name), config: { ...gw.config, agency: { ...gw.config.agency, encryptionCert: certPath } } };
}

const lineNo = (entries: LedgerEntry[], pick: (e: LedgerEntry) => boolean): number => entries.findIndex(pick) + 1;
const manifestOf = (entries: LedgerEntry[], seq: number): SegmentManifest =>
  entries.find((e) => e.type === ENTRY.segmentSealed && (e.body as unknown as SegmentManifest).seq === seq)!.body as unknown as SegmentManifest;

describe('the ledger says which key, and the verifier checks it without the private key', () => {
  it('the genuine path: encryption.installed before the first manifest, key ID as openssl computes it, clean with and without the agency key', async () => {
    const gw = await gatewayWith(makeGateway(ca.dir, { deviceId: 'enc-genuine' }));
    const { report, entries } = await exportAndVerify(gw, agencyKey);
    expect(report.findings).toEqual([]);
    expect(entries.map((e) => e.type).slice(0, 2)).toEqual(['ledger.opened', 'encryption.installed']);
    // Restarting with the same certificate records nothing new.
    expect(entries.filter((e) => e.type === ENTRY.encryptionInstalled)).toHaveLength(1);
    const keyId = manifestOf(entries, 0).enc.agencyKeyId;
    expect(keyId).toBe(opensslKeyId(ca.paths.agencyEncCert));
    expect(keyId).toBe(publicKeyId(agencyKey));
    const installed = join(tmp('recgw-enc-'), 'installed.pem');
    writeFileSync(installed, entries[1]!.body.cert as string);
    expect(opensslKeyId(installed)).toBe(keyId);
  });

  it('a key rotation records the new certificate before the next segment, and still verifies clean', async () => {
    const gw = makeGateway(ca.dir, { deviceId: 'enc-rotated' });
    await gatewayWith(gw);
    const next = generateKeyPairSync('rsa', { modulusLength: 3072 });
    const nextCert = join(dirname(gw.configPath), 'agency-enc-2.pem');
    writeFileSync(nextCert, issueEncryptionCertificate({ caDir: ca.dir, publicKeyPem: pubPem(next.privateKey) }));
    const rotated = await gatewayWith(withEncryptionCert(gw, nextCert, 'rotated'), undefined, 'S-enc-rotated-2');
    const { report, entries } = await exportAndVerify(rotated);
    expect(report.findings).toEqual([]);
    const types = entries.map((e) => e.type);
    const installs = types.flatMap((t, i) => (t === ENTRY.encryptionInstalled ? [i] : []));
    expect(installs).toHaveLength(2);
    const manifests = entries.flatMap((e, i) => (e.type === ENTRY.segmentSealed ? [{ i, id: (e.body as unknown as SegmentManifest).enc.agencyKeyId }] : []));
    expect(manifests.map((m) => m.id)).toEqual([publicKeyId(agencyKey), publicKeyId(next.privateKey)]);
    expect(installs[1]!).toBeGreaterThan(manifests[0]!.i);
    expect(installs[1]!).toBeLessThan(manifests[1]!.i);
  });

  it('a segment wrapped for another key by modified software is wrong-encryption-key, and only that key can open it', async () => {
    const insider = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const gw = await gatewayWith(makeGateway(ca.dir, { deviceId: 'enc-rogue' }), (core, s, t0) => sealFor(core, s, t0, insider.publicKey));
    const { dir, report, entries } = await exportAndVerify(gw);
    const n = lineNo(entries, (e) => e.type === ENTRY.segmentSealed && (e.body as unknown as SegmentManifest).seq === 1);
    const m = manifestOf(entries, 1);
    expect(report.findings.map((f) => [f.kind, f.detail])).toEqual([
      ['wrong-encryption-key', `line ${n}: segment ${m.segment} has its data key wrapped for key ${publicKeyId(insider.publicKey)}, not for the key of the agency encryption certificate in force (line 2, key ${publicKeyId(agencyKey)})`],
    ]);
    // Why it matters: the insider's key opens it, the agency's does not.
    expect((await openSealedFile(join(dir, m.file), m.enc, insider.privateKey)).ok).toBe(true);
    expect((await openSealedFile(join(dir, m.file), m.enc, agencyKey)).ok).toBe(false);
    // With the agency key given, that segment is named again, and not reported as altered: it was not decrypted.
    const withKey = await verifyStore(dir, { caPems: [pem(ca.paths.caCert)], agencyKeys: [agencyKey] });
    expect(withKey.findings.map((f) => f.kind)).toEqual(['wrong-encryption-key', 'wrong-encryption-key']);
    expect(withKey.findings[1]!.detail).toContain(`not for the agency key given (${publicKeyId(agencyKey)}); its content was not decrypted`);
  });

  it("another CA's encryption certificate recorded in the ledger is untrusted, and so is every manifest under it", async () => {
    const gw = await gatewayWith(makeGateway(ca.dir, { deviceId: 'enc-foreign' }), async (core, s, t0) => {
      core.ledger.append(ENTRY.encryptionInstalled, { cert: pem(foreign.paths.agencyEncCert) });
      await sealFor(core, s, t0, createPublicKey(pem(foreign.paths.agencyKey)));
    });
    const { report, entries } = await exportAndVerify(gw);
    const e = lineNo(entries, (x) => x.type === ENTRY.encryptionInstalled && x.seq > 1);
    const n = lineNo(entries, (x) => x.type === ENTRY.segmentSealed && (x.body as unknown as SegmentManifest).seq === 1);
    expect(report.findings.map((f) => [f.kind, f.detail])).toEqual([
      ['untrusted-certificate', expect.stringMatching(new RegExp(`^line ${e}: the agency encryption certificate is not trusted: it was not issued by the agency CA`))],
      ['wrong-encryption-key', expect.stringMatching(new RegExp(`^line ${n}: .*, but the encryption certificate in force \\(line ${e}\\) is not a trusted agency encryption certificate$`))],
    ]);
  });

  it('a verifier given another agency key names every manifest, without calling the files altered', async () => {
    const gw = await gatewayWith(makeGateway(ca.dir, { deviceId: 'enc-other-key' }));
    const { report } = await exportAndVerify(gw, createPrivateKey(pem(foreign.paths.agencyKey)));
    expect(report.findings.map((f) => f.kind)).toEqual(['wrong-encryption-key']);
    expect(report.findings[0]!.detail).toMatch(/not for the agency key given \([0-9a-f]{64}\); its content was not decrypted$/);
  });
});

describe('the receiver refuses what is not wrapped for a current agency key', () => {
  // The file's folders (its CAs) outlive this block: the file removes them.
  const broker = withBroker({ caDir: ca.dir, receivers: ['receiver:1'], keepTmp: true });
  beforeAll(ensureBuilt);

  it('refuses to start without a usable current encryption certificate', async () => {
    const rx = makeReceiver(ca.dir, 'receiver:1', broker.url);
    const c = JSON.parse(pem(rx.configPath)) as { agency: Record<string, unknown> };
    for (const [certs, message] of [
      [[ca.paths.agencyKey], /agency\.encryptionCerts: .*agency-key\.pem is refused: it holds a private key/],
      [[foreign.paths.agencyEncCert], /agency\.encryptionCerts: .*agency-enc\.pem is refused: it was not issued by the agency CA/],
      [[], /agency\.encryptionCerts: must NOT have fewer than 1 items/],
    ] as const) {
      c.agency.encryptionCerts = certs;
      writeFileSync(rx.configPath, JSON.stringify(c));
      const r = await spawnRecgw(['receiver', '--config', rx.configPath]);
      expect(r.code, r.out).toBe(2);
      expect(r.out).toMatch(message);
    }
  });

  it('stores a genuine gateway, and refuses a rogue manifest, another encryption certificate and a retired one, storing nothing after them', async () => {
    // Current at the agency: agency-enc.pem and a key it rotated to. A third, retired one is no longer current.
    const dir = tmp('recgw-enc-rx-');
    const current2 = join(dir, 'agency-enc-2.pem');
    const current2Key = generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey;
    writeFileSync(current2, issueEncryptionCertificate({ caDir: ca.dir, publicKeyPem: pubPem(current2Key) }));
    const retired = join(dir, 'agency-enc-old.pem');
    writeFileSync(retired, issueEncryptionCertificate({ caDir: ca.dir, publicKeyPem: pubPem(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey) }));
    const insider = generateKeyPairSync('rsa', { modulusLength: 2048 });

    const honest = await gatewayWith(uplinkGateway(ca.dir, 'rx-honest', broker.url));
    const rotated = await gatewayWith(withEncryptionCert(uplinkGateway(ca.dir, 'rx-rotated', broker.url), current2, 'rotated'));
    const rogue = await gatewayWith(uplinkGateway(ca.dir, 'rx-rogue', broker.url), (core, s, t0) => sealFor(core, s, t0, insider.publicKey));
    const other = await gatewayWith(uplinkGateway(ca.dir, 'rx-other-cert', broker.url), async (core, s, t0) => {
      core.ledger.append(ENTRY.encryptionInstalled, { cert: pem(foreign.paths.agencyEncCert) });
      await sealFor(core, s, t0, createPublicKey(pem(foreign.paths.agencyKey)));
    });
    const old = await gatewayWith(withEncryptionCert(uplinkGateway(ca.dir, 'rx-retired', broker.url), retired, 'retired'));

    const rx = makeReceiver(ca.dir, 'receiver:1', broker.url, { shareGroup: null });
    const c = JSON.parse(pem(rx.configPath)) as { agency: Record<string, unknown> };
    c.agency.encryptionCerts = [ca.paths.agencyEncCert, current2];
    writeFileSync(rx.configPath, JSON.stringify(c));
    const r = await startReceiver(rx);
    const store = rx.config.store;
    /** Why the receiver refused each device's entries, from its log. */
    const refusals = (): Map<string, string> =>
      new Map(
        r
          .log()
          .split('\n')
          .filter((l) => l.includes('refused a ledger entry'))
          .map((l) => JSON.parse(l) as { device: string; problem: string })
          .map((x) => [x.device, x.problem]),
      );
    const running: Awaited<ReturnType<typeof startGateway>>[] = [];
    try {
      for (const g of [honest, rotated, rogue, other, old]) running.push(await startGateway(g.configPath, g.config.control.socket));
      await waitDelivered(honest, 30_000, () => r.log());
      await waitDelivered(rotated, 30_000, () => r.log());
      const deadline = Date.now() + 30_000;
      while (refusals().size < 3 || !storeReceipts(store, 'rx-rogue').some((x) => x.kind === 'segment')) {
        if (Date.now() > deadline) throw new Error(`the receiver did not refuse three devices' entries:\n${r.log()}`);
        await new Promise((res) => setTimeout(res, 100));
      }
    } finally {
      for (const g of running) expect(await g.stop()).toBe(0);
      expect(await r.stop()).toBe(0);
    }
    const why = refusals();
    expect([...why.keys()].sort()).toEqual(['rx-other-cert', 'rx-retired', 'rx-rogue']);

    // The rogue manifest: refused with its key named; what came before it is stored, its genuine segment receipted.
    const rogueStored = ledgerOf(join(store, 'rx-rogue'));
    expect(why.get('rx-rogue')).toBe(
      `entry ${rogueStored.length}: segment S-rx-rogue_cam1_000001 has its data key wrapped for key ${publicKeyId(insider.publicKey)}, which is not a current agency encryption key (${publicKeyId(agencyKey)}, ${publicKeyId(current2Key)}): the agency could not open it, and whoever holds that key could`,
    );
    expect((rogueStored.at(-1)!.body as unknown as SegmentManifest).segment).toBe('S-rx-rogue_cam1_000000');
    expect(storedSegments(store, 'rx-rogue')).toEqual(['S-rx-rogue_cam1_000000.seg']);

    // Another CA's certificate recorded after a genuine segment: refused there.
    const otherStored = ledgerOf(join(store, 'rx-other-cert'));
    expect(why.get('rx-other-cert')).toMatch(
      new RegExp(`^entry ${otherStored.length}: it installs an encryption certificate \\(CN=recgw demo agency encryption, OU=recgw-encryption, serial [0-9A-F]+\\) that is not one of the agency's current encryption certificates`),
    );
    expect(otherStored.filter((e) => e.type === ENTRY.encryptionInstalled)).toHaveLength(1);
    // The agency's own, but retired, certificate: refused at the gateway's first encryption.installed entry.
    expect(why.get('rx-retired')).toMatch(/^entry 1: it installs an encryption certificate \(CN=agency encryption, OU=recgw-encryption, serial [0-9A-F]+\) that is not one of/);
    expect(ledgerOf(join(store, 'rx-retired')).map((e) => e.type)).toEqual(['ledger.opened']);

    // The genuine gateways' stores verify clean, each with its own agency key.
    expect((await verifyStore(join(store, 'rx-honest'), { caPems: [pem(ca.paths.caCert)], agencyKeys: [agencyKey] })).findings).toEqual([]);
    expect((await verifyStore(join(store, 'rx-rotated'), { caPems: [pem(ca.paths.caCert)], agencyKeys: [current2Key] })).findings).toEqual([]);
    // What the receiver kept of the others is authentic as far as it goes (their sessions never close there).
    for (const d of ['rx-rogue', 'rx-other-cert']) {
      const v = await verifyStore(join(store, d), { caPems: [pem(ca.paths.caCert)], agencyKeys: [agencyKey] });
      expect(v.findings.map((f) => f.kind), d).toEqual(['unclosed-session']);
    }
  }, 120_000);
});
