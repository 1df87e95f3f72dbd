/**
 * The receiver side of retention deletions for tests, on a folder store whose receivers' database is `<store>/receiver.db`
 * (as receiveDevice and a receiver without `database` keep it) or PostgreSQL: the agency log with the CA's log key, its files
 * published into the store, the receipt key as the agency's signer, and the remover built from them.
 */
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
