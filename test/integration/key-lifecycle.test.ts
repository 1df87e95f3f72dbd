/**
 * Keys over time, attacked: an old device key whose certificate expired or was replaced tries to take the device
 * over by appending a certificate entry dated inside its old validity; a revoked key keeps signing; entry times are
 * moved back. The receiver's own code (LedgerIngest, its agency log) refuses each with the reason while the genuine
 * gateway keeps uploading; a store that holds such entries is reported by the verifier; a genuine rotation still
 * works. The CRL is `recgw ca revoke`'s, and openssl agrees with it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, createPrivateKey } from 'node:crypto';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { receiptSigner } from '../helpers/report-store.js';
import { AgencyLog } from '../../src/receiver/agency-log.js';
import { agencyEncryption } from '../helpers/receiver-store.js';
import { LogFiles } from '../../src/receiver/log-files.js';
import { openStateDb } from '../../src/state/db.js';
import { Ledger } from '../../src/evidence/ledger.js';
import { attachSignature, encodeUnsigned, lineHash } from '../../src/evidence/entry.js';
import { KeySigner } from '../../src/evidence/signer.js';
import { ENTRY } from '../../src/evidence/types.js';
import { createCsr, initCa, logOrigin, signDeviceCsr } from '../../src/pki/ca.js';
import { revokeCertificate } from '../../src/pki/revoke.js';
import { Revocations } from '../../src/pki/crl.js';
import { openReceiverDb } from '../../src/receiver/store-db.js';
import { LedgerIngest } from '../../src/receiver/ledger-ingest.js';
import { createLogger } from '../../src/util/log.js';
import { verifyStore } from '../../src/verify/verifier.js';
import { SqliteReceiverSql } from '../../src/receiver/sqlite-receiver-sql.js';

const DAY = 86_400_000;
const DEVICE = 'car-7';
const DEADLINE = '2099-01-01T00:00:00.000Z';
let ca: ReturnType<typeof makeCa>;
let caPems: string[];

beforeAll(() => {
  // An agency CA of a year ago, so that device certificates can be issued (and expire) in the past.
  const dir = join(tmp('recgw-kl-ca-'), 'ca');
  ca = { dir, paths: initCa({ out: dir, now: new Date(Date.now() - 365 * DAY) }) };
  caPems = [readFileSync(ca.paths.caCert, 'utf8')];
});
afterAll(cleanupTmp);

/** A device key and a certificate for it from the CA, issued at `issued` for `days`. */
function deviceKey(issued: Date, days: number): KeySigner {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const priv = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const csrPem = createCsr(DEVICE, priv, publicKey.export({ type: 'spki', format: 'pem' }) as string);
  return new KeySigner(createPrivateKey(priv), signDeviceCsr({ caDir: ca.dir, csrPem, days, now: issued }).certPem);
}

/** A gateway's ledger (the real Ledger on a state database) whose clock the test sets. */
class Gateway {
  readonly db = openStateDb(join(tmp('recgw-kl-gw-'), 'state.db'));
  at = 0;
  ledger: Ledger;
  constructor(signer: KeySigner, at: number) {
    this.at = at;
    this.ledger = new Ledger({ db: this.db, deviceId: DEVICE, signer, now: () => new Date(this.at) });
    this.ledger.start();
  }
  /** Switch to another key (what a renewal does): the next start records its certificate. */
  useKey(signer: KeySigner): void {
    this.ledger = new Ledger({ db: this.db, deviceId: DEVICE, signer, now: () => new Date(this.at) });
    this.ledger.start();
  }
  lines(from = 0): string[] {
    return [...this.ledger.lines(from)].map((l) => l.line);
  }
}

/** The agency's receiver, in-process: its LedgerIngest on a store, with its clock and the CA's revocations. */
class Agency {
  readonly store = tmp('recgw-kl-rx-');
  readonly db = openReceiverDb(this.store);
  readonly logs: { msg: string; problem?: string }[] = [];
  revocations = Revocations.none();
  readonly sql = new SqliteReceiverSql(this.db);
  readonly log = new AgencyLog(this.sql, createPrivateKey(readFileSync(ca.paths.logKey, 'utf8')), logOrigin(caPems[0]!));
  readonly files = new LogFiles(this.store, this.log);
  readonly published: Promise<void>;
  readonly ingest = new LedgerIngest(this.store, this.sql, caPems, receiptSigner(ca.dir), 'receiver:1', createLogger('rx', { sink: (l) => this.logs.push(JSON.parse(l) as { msg: string }) }), this.log, agencyEncryption(ca.dir));
  constructor() {
    this.ingest.useRevocations(() => this.revocations);
    this.published = this.files.republish(readFileSync(ca.paths.logCert, 'utf8'));
  }
  async take(lines: string[], now = new Date()): Promise<{ appended: number; refused?: string }> {
    await this.published;
    const r = await this.ingest.ingest(DEVICE, lines, DEADLINE, now);
    await this.files.publish();
    return r;
  }
  async stored(): Promise<number> {
    return (await this.ingest.deviceState(DEVICE))?.seq ?? -1;
  }
}

/** Lines signed with `signer` continuing the gateway's ledger, dated `at`: what an attacker holding that key writes. */
function forge(g: Gateway, signer: KeySigner, at: number, entries: [string, Record<string, unknown>][]): string[] {
  let { seq, hash } = g.ledger.head()!;
  return entries.map(([type, body]) => {
    const text = encodeUnsigned({ v: 1, device: DEVICE, seq: ++seq, prev: hash, time: new Date(at).toISOString(), type, body });
    const line = attachSignature(text, signer.sign(Buffer.from(text, 'utf8')).toString('base64'));
    hash = lineHash(line);
    return line;
  });
}

describe('an old key tries to take the device over', () => {
  it('an expired certificate reinstalled with its old key is refused, dated now or inside its validity; the genuine gateway goes on', async () => {
    const now = Date.now();
    const old = deviceKey(new Date(now - 40 * DAY), 30); // expired 10 days ago
    const current = deviceKey(new Date(now - 5 * DAY), 365);
    const g = new Gateway(old, now - 35 * DAY);
    g.ledger.append(ENTRY.serviceStarted, {});
    g.at = now - 2 * DAY;
    g.useKey(current);
    g.ledger.append(ENTRY.serviceStarted, {});
    const agency = new Agency();
    // The agency took the old certificate's entries while it was valid, and the renewal since.
    expect((await agency.take(g.lines().slice(0, 2), new Date(now - 34 * DAY))).refused).toBeUndefined();
    expect((await agency.take(g.lines(2))).refused).toBeUndefined();
    const held = await agency.stored();

    // Dated inside the old certificate's validity: the time runs back, and only the current key could sign the
    // clock.stepped entry that would allow it.
    const backdated = forge(g, old, now - 20 * DAY, [[ENTRY.certificateInstalled, { cert: old.certificatePem }], [ENTRY.sessionOpened, { sessionId: 'forged', matter: 'other', caseRef: 'X', officers: [{ name: 'x', badge: '1' }] }]]);
    expect((await agency.take(backdated)).refused).toMatch(/before an earlier entry's/);
    // Dated now: expired.
    const current_ = forge(g, old, now, [[ENTRY.certificateInstalled, { cert: old.certificatePem }]]);
    expect((await agency.take(current_)).refused).toMatch(/expired/);
    expect(await agency.stored()).toBe(held);

    // The genuine gateway is not locked out.
    g.at = now;
    g.ledger.append(ENTRY.serviceStopped, {});
    expect(await agency.take(g.lines(held + 1))).toMatchObject({ appended: 1 });
    // The forged line held behind the refused one never goes in either (it does not follow the genuine one).
    expect(await agency.stored()).toBe(held + 1);
    expect(agency.logs.filter((l) => /refused a ledger entry/.test(l.msg)).length).toBeGreaterThanOrEqual(2);
  });

  it('a replaced certificate, still valid, reinstalled with its old key is refused: certificates only go forward', async () => {
    const now = Date.now();
    const old = deviceKey(new Date(now - 10 * DAY), 365);
    const current = deviceKey(new Date(now - DAY), 365);
    const g = new Gateway(old, now - 5 * DAY);
    g.ledger.append(ENTRY.serviceStarted, {});
    g.at = now - 1000;
    g.useKey(current);
    const agency = new Agency();
    await agency.take(g.lines());
    const held = await agency.stored();
    const attack = forge(g, old, now, [[ENTRY.certificateInstalled, { cert: old.certificatePem }]]);
    expect((await agency.take(attack)).refused).toMatch(/older than the certificate in force/);
    g.at = now;
    g.ledger.append(ENTRY.serviceStarted, {});
    expect(await agency.take(g.lines(held + 1))).toMatchObject({ appended: 1 });
  });

  it('a certificate entry dated far back without a clock.stepped entry is refused for its time', async () => {
    const now = Date.now();
    const old = deviceKey(new Date(now - 40 * DAY), 30);
    const current = deviceKey(new Date(now - 5 * DAY), 365);
    const g = new Gateway(current, now - DAY);
    g.ledger.append(ENTRY.serviceStarted, {});
    const agency = new Agency();
    await agency.take(g.lines());
    const attack = forge(g, old, now - 35 * DAY, [[ENTRY.certificateInstalled, { cert: old.certificatePem }]]);
    expect((await agency.take(attack)).refused).toMatch(/before an earlier entry's, more than the 60 s allowed without a clock\.stepped entry/);
  });

  it('a genuine renewal while the old certificate is valid still works', async () => {
    const now = Date.now();
    const a = deviceKey(new Date(now - 10 * DAY), 365);
    const b = deviceKey(new Date(now - DAY), 365);
    const g = new Gateway(a, now - 5 * DAY);
    g.ledger.append(ENTRY.serviceStarted, {});
    g.at = now;
    g.useKey(b);
    g.ledger.append(ENTRY.serviceStarted, {});
    const agency = new Agency();
    const got = await agency.take(g.lines());
    expect(got.refused).toBeUndefined();
    expect(got).toMatchObject({ appended: 4 });
  });
});

/** A thief with the device's current key got a closed session in first, after the entries the agency holds to `fork`. */
async function stolenKeyFirst(): Promise<{ now: number; g: Gateway; agency: Agency; fork: number; forged: string[] }> {
  const now = Date.now();
  const k1 = deviceKey(new Date(now - 10 * DAY), 365);
  const g = new Gateway(k1, now - 3 * DAY);
  g.ledger.append(ENTRY.serviceStarted, {});
  const agency = new Agency();
  await agency.take(g.lines());
  const fork = await agency.stored();
  const forged = forge(g, k1, now - 2 * DAY, [
    [ENTRY.sessionOpened, { sessionId: 'forged', matter: 'other', caseRef: 'FORGED', officers: [{ name: 'x', badge: '1' }] }],
    [ENTRY.sessionClosed, { sessionId: 'forged', reason: 'stopped' }],
  ]);
  expect((await agency.take(forged)).refused).toBeUndefined();
  return { now, g, agency, fork, forged };
}

describe('a conflict is settled for the newest certificate', () => {
  it('a stolen current key cannot lock the genuine gateway out: once re-enrolled, its newer certificate supersedes the forged branch', async () => {
    const { now, g, agency, fork, forged } = await stolenKeyFirst();
    // The genuine gateway's own entries conflict: refused, it is locked out for now.
    g.at = now - 2 * DAY + 1000;
    g.ledger.append(ENTRY.serviceStopped, {});
    expect((await agency.take(g.lines(fork + 1))).appended).toBe(0);
    expect(agency.logs.some((l) => /refused lines that conflict/.test(l.msg) && /only a newer certificate can settle/.test(String((l as { why?: string }).why)))).toBe(true);

    // The agency re-enrols the gateway: its newer certificate settles the conflict in its favour.
    g.at = now;
    g.useKey(deviceKey(new Date(now - 1000), 365));
    g.ledger.append(ENTRY.serviceStarted, {});
    const r = await agency.take(g.lines(fork + 1));
    expect(r.refused).toBeUndefined();
    expect(await agency.stored()).toBe(g.ledger.head()!.seq);
    expect(agency.logs.some((l) => /a newer certificate superseded the stored ledger/.test(l.msg))).toBe(true);
    const kept = join(agency.store, DEVICE, 'superseded');
    const [folder] = readdirSync(kept);
    expect(readFileSync(join(kept, folder!, 'ledger.jsonl'), 'utf8').trimEnd().split('\n')).toEqual(forged);

    // The store verifies, the supersession reported, the receipts issued for the forged branch vouching for it aside.
    const v = await verifyStore(agency.store, { caPems });
    expect(v.findings).toEqual([]);
    expect(v.devices[0]!.superseded).toEqual([{ from: fork + 1, through: fork + 2, accepted: expect.any(String), folder: `superseded/${folder}` }]);

    // The thief's old branch cannot come back: its certificate is not newer.
    expect((await agency.take(forged)).appended).toBe(0);
    expect(await agency.stored()).toBe(g.ledger.head()!.seq);

    // Removing the superseded branch from the store is a rollback of what the agency logged.
    rmSync(join(kept, folder!), { recursive: true });
    expect((await verifyStore(agency.store, { caPems })).findings.map((f) => f.kind)).toContain('rollback');
  });
  it('a supersession cut short before its commit is put back: the stored ledger stands, and the newer branch wins when it comes again', async () => {
    const { now, g, agency, fork } = await stolenKeyFirst();
    const ledgerPath = join(agency.store, DEVICE, 'ledger.jsonl');
    const before = readFileSync(ledgerPath, 'utf8');

    // The transaction fails after the folder aside was written, the ledger cut and the new lines appended: on disk,
    // what a receiver killed just before its commit leaves (the database rolls back, the files do not).
    g.at = now;
    g.useKey(deviceKey(new Date(now - 1000), 365));
    g.ledger.append(ENTRY.serviceStarted, {});
    const append = agency.log.append.bind(agency.log);
    agency.log.append = async (tx, leaves) => {
      if (leaves.some((l) => l.kind === 'superseded')) throw new Error('killed before the commit');
      return append(tx, leaves);
    };
    await expect(agency.take(g.lines(fork + 1))).rejects.toThrow(/killed before the commit/);
    agency.log.append = append;
    expect(readFileSync(ledgerPath, 'utf8')).not.toBe(before);

    // The next start puts it back: the ledger as the database holds it, no folder aside, and the store verifies.
    await agency.ingest.recoverAll();
    expect(readFileSync(ledgerPath, 'utf8')).toBe(before);
    expect(readdirSync(join(agency.store, DEVICE, 'superseded'))).toEqual([]);
    expect((await verifyStore(agency.store, { caPems })).findings).toEqual([]);

    // The newer branch comes again and wins; the undo record is gone with the commit.
    expect((await agency.take(g.lines(fork + 1))).refused).toBeUndefined();
    expect(await agency.stored()).toBe(g.ledger.head()!.seq);
    const [folder] = readdirSync(join(agency.store, DEVICE, 'superseded'));
    expect(readdirSync(join(agency.store, DEVICE, 'superseded', folder!)).sort()).toEqual(['ledger.jsonl', 'segments']);
    expect((await verifyStore(agency.store, { caPems })).findings).toEqual([]);
  });
});

describe('revocation', () => {
  it('recgw ca revoke writes a CRL that openssl and the receiver agree on; what the revoked key signs after it is refused', async () => {
    const now = Date.now();
    const stolen = deviceKey(new Date(now - 10 * DAY), 365);
    const g = new Gateway(stolen, now - 3 * DAY);
    g.ledger.append(ENTRY.serviceStarted, {});
    const agency = new Agency();
    await agency.take(g.lines());
    const revokedFrom = new Date(now - DAY);
    const { crlPath } = await revokeCertificate({ caDir: ca.dir, certPem: stolen.certificatePem, reason: 'keyCompromise', date: revokedFrom });
    const certFile = join(tmp('recgw-kl-cert-'), 'dev.pem');
    writeFileSync(certFile, stolen.certificatePem);
    expect(() => execFileSync('openssl', ['verify', '-crl_check', '-CRLfile', crlPath, '-CAfile', ca.paths.caCert, certFile], { stdio: 'pipe' })).toThrow(/certificate revoked/);
    agency.revocations = await Revocations.fromFiles([crlPath], caPems);
    expect(agency.revocations.of(stolen.certificatePem)?.reason).toBe('keyCompromise');

    // Signed after the revocation: refused.
    g.at = now;
    g.ledger.append(ENTRY.sessionOpened, { sessionId: 's', matter: 'other', caseRef: '', officers: [{ name: 'x', badge: '1' }] });
    expect((await agency.take(g.lines((await agency.stored()) + 1))).refused).toMatch(/signed by a revoked key: .*revoked from .*keyCompromise/);

    // The verifier reports the same on a store that holds such entries (a receiver without the CRL took them).
    const lax = new Agency();
    await lax.take(g.lines());
    const report = await verifyStore(lax.store, { caPems, revocations: agency.revocations });
    expect(report.findings.map((f) => f.kind)).toContain('revoked-key');
    expect(report.findings.find((f) => f.kind === 'revoked-key')!.detail).toMatch(/revoked from/);
  });

  it('a CRL not signed by the agency CA is refused with a clear message', async () => {
    const other = makeCa();
    const stranger = deviceKey(new Date(), 10);
    const { crlPath } = await revokeCertificate({ caDir: other.dir, certPem: readFileSync(other.paths.receiptCert, 'utf8'), reason: 'superseded' });
    await expect(Revocations.fromFiles([crlPath], caPems)).rejects.toThrow(/is not signed by the agency CA/);
    await expect(revokeCertificate({ caDir: other.dir, certPem: stranger.certificatePem, reason: 'superseded' })).rejects.toThrow(/was not issued by the CA/);
  });
});

describe('time', () => {
  it('the gateway records a clock set back before it writes on: a clock.stepped entry, and the receiver takes both', async () => {
    const now = Date.now();
    const k = deviceKey(new Date(now - 10 * DAY), 365);
    const g = new Gateway(k, now);
    g.ledger.append(ENTRY.serviceStarted, {});
    g.at = now - 3600_000; // the RTC lost an hour while off
    g.ledger.append(ENTRY.serviceStarted, {});
    const types = g.lines().map((l) => (JSON.parse(l) as { type: string }).type);
    expect(types.slice(-2)).toEqual([ENTRY.clockStepped, ENTRY.serviceStarted]);
    expect((await new Agency().take(g.lines())).refused).toBeUndefined();
  });
});
