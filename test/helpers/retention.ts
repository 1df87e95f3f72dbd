/**
 * The receiver side of retention deletions for tests, on a folder store whose receivers' database is `<store>/receiver.db`
 * (as receiveDevice and a receiver without `database` keep it) or PostgreSQL: the agency log with the CA's log key, its files
 * published into the store, the receipt key as the agency's signer, and the remover built from them.
 */
import { createPrivateKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmp } from './fixtures.js';
import { issueDeskSigningCertificate } from '../../src/pki/ca.js';
import { auditRecord } from '../../src/desk/audit.js';
import type { Attestation } from '../../src/evidence/deletion-event.js';
import { KeySigner } from '../../src/evidence/signer.js';
import type { DeletionOrder } from '../../src/receiver/retention-plan.js';
import type { Signer } from '../../src/evidence/signer.js';
import { openReceiverDb } from '../../src/receiver/store-db.js';
import { SqliteReceiverSql } from '../../src/receiver/sqlite-receiver-sql.js';
import type { ReceiverSql } from '../../src/receiver/receiver-sql.js';
import { AgencyLog } from '../../src/receiver/agency-log.js';
import { LogFiles } from '../../src/receiver/log-files.js';
import { RetentionRemover } from '../../src/receiver/retention-remover.js';
import { openStore } from '../../src/store/open-store.js';
import type { EvidenceStore } from '../../src/store/store.js';
import { receiptSigner } from './report-store.js';
import { caAgencyLog } from './receiver-store.js';

export interface ReceiverParts {
  sql: ReceiverSql;
  log: AgencyLog;
  evidence: EvidenceStore;
  logFiles: LogFiles;
  signer: Signer;
}

/** `sql`: the receivers' database when it is not `<store>/receiver.db` (PostgreSQL); the caller closes it. */
export async function withReceiverParts<T>(caDir: string, store: string, fn: (p: ReceiverParts) => Promise<T>, sql?: ReceiverSql): Promise<T> {
  const db = sql ? undefined : openReceiverDb(store);
  try {
    const q = sql ?? new SqliteReceiverSql(db!);
    const { log, certPem, sm2CertPem } = caAgencyLog(q, caDir);
    const evidence = openStore(store);
    const logFiles = new LogFiles(evidence, log);
    await logFiles.republish(certPem, sm2CertPem);
    return await fn({ sql: q, log, evidence, logFiles, signer: receiptSigner(caDir) });
  } finally {
    db?.close();
  }
}

/** A RetentionRemover on the store, on the clock `now`. */
export const withRemover = <T>(caDir: string, store: string, now: () => number, fn: (r: RetentionRemover) => Promise<T>, sql?: ReceiverSql): Promise<T> =>
  withReceiverParts(caDir, store, (p) => fn(new RetentionRemover(p.evidence, p.sql, p.log, p.signer, 'receiver:test', now, () => p.logFiles.publish())), sql);

/** The desk's signing pair of a CA folder, issued once per folder (`recgw ca desk-cert`). */
const deskPairs = new Map<string, { certPem: string; keyPem: string }>();
export function deskPair(caDir: string): { certPem: string; keyPem: string } {
  let p = deskPairs.get(caDir);
  if (!p) deskPairs.set(caDir, (p = issueDeskSigningCertificate({ caDir })));
  return p;
}

/**
 * An order as `recgw retention apply` makes it from the desk: with the approval's register row signed by `signer`
 * (the desk's own key from the CA by default; an attacker's test passes another).
 */
export function attestedOrder(caDir: string, o: Omit<DeletionOrder, 'attestation'>, signer?: Signer): DeletionOrder {
  return { ...o, attestation: attestationFor(caDir, o, signer) };
}

/** The desk's signed `retention-approve` row for an order's approval and session. */
export function attestationFor(caDir: string, o: Pick<DeletionOrder, 'device' | 'session' | 'approval'>, signer?: Signer): Attestation {
  const s = signer ?? ((p) => new KeySigner(createPrivateKey(p.keyPem), p.certPem))(deskPair(caDir));
  const record = auditRecord({
    seq: 1,
    at: Date.parse(o.approval.approvedAt),
    name: o.approval.approver,
    action: 'retention-approve',
    ip: 'test',
    detail: { request: o.approval.id, kind: 'delete', requester: o.approval.proposer, sessions: [`${o.device}/${o.session}`] },
    prev: null,
  });
  return { record, cert: s.certificatePem, sig: s.sign(Buffer.from(record, 'utf8')).toString('base64') };
}

/** The desk's signing pair as the files `sampleSigning` names (key mode 600). */
export function deskSigningFiles(caDir: string): { key: string; cert: string } {
  const p = deskPair(caDir);
  const dir = tmp('recgw-desk-signing-');
  const key = join(dir, 'sample-key.pem');
  const cert = join(dir, 'sample-cert.pem');
  writeFileSync(key, p.keyPem, { mode: 0o600 });
  writeFileSync(cert, p.certPem);
  return { key, cert };
}
