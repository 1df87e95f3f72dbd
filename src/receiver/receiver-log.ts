/**
 * The agency log as a receiver runs it (docs/evidence-format.md §15): opened on the receivers' database (receiver.db or
 * PostgreSQL) with the agency's log key,
 * appended to by the ingests inside their transactions, its files published under `<store>/log/` and its witnesses
 * asked after each commit that grew it, and shown to gateways in state messages. `openReceiverLog` is the only
 * ReceiverLog a receiver runs; the Receiver takes another only from code (benches), never from its config.
 */
import type { Logger } from '../util/log.js';
import type { StateMessage } from '../uplink/wire.js';
import type { ReceiverConfig } from './config.js';
import type { LeafLog } from './agency-log.js';
import { LogFiles } from './log-files.js';
import { openStore } from '../store/open-store.js';
import type { EvidenceStore } from '../store/store.js';
import { openAgencyLog, witnessTargets } from './log-key.js';
import { WitnessClient } from './witness-client.js';
import { Pacer } from './pacer.js';
import { describe } from '../util/errors.js';
import type { ReceiverSql } from './receiver-sql.js';
import type { WitnessAlarms } from './receiver-status.js';

/**
 * How long the published files, and the checkpoint the witnesses are asked to cosign, may lag behind a commit: the
 * commits of that interval are published, and cosigned, together.
 */
export const PUBLISH_INTERVAL_MS = 1000;

export interface ReceiverLog extends LeafLog {
  /** New leaves are committed: publish the log's files and ask the witnesses to cosign (within PUBLISH_INTERVAL_MS). */
  grew(): void;
  /** The log for a state message: its newest checkpoint, provably extending the one of `from` leaves a gateway has. */
  state(from: number): Promise<StateMessage['log']>;
  /** At stop: publish what is not yet published, ask the witnesses once more if due, and wait for them. */
  close(): Promise<void>;
}

export interface LogContext {
  cfg: ReceiverConfig;
  caPem: string;
  caPems: string[];
  sql: ReceiverSql;
  now: Date;
  log: Logger;
  /** Where the witnesses' reports of a fork or a shrink go (the receiver's status, for the desk). */
  alarms?: WitnessAlarms;
  /** The evidence store the log's files go into (the receiver's own); by default opened from cfg. */
  evidence?: EvidenceStore;
}

/** At the receiver's start: open the log, publish what a crash left unpublished, ask the witnesses. */
export async function openReceiverLog({ cfg, caPem, caPems, sql, now, log, alarms, evidence = openStore(cfg.store, cfg.s3) }: LogContext): Promise<ReceiverLog> {
  const { log: agencyLog, certPem, sm2CertPem } = openAgencyLog(cfg, caPems, sql, now);
  const files = new LogFiles(evidence, agencyLog);
  await files.republish(certPem, sm2CertPem);
  const witnesses = new WitnessClient(files.out, agencyLog, witnessTargets(cfg), log.child('witness'), caPem, alarms);
  witnesses.kick();
  const publisher = new Pacer(() => files.publishInBackground(), PUBLISH_INTERVAL_MS, (err) =>
    log.error("could not publish the agency log's files; they are published again after the next commit and at start", { dir: files.dir, err: describe(err) }),
  );
  // Each round costs every witness a signature and a durable write, and this receiver a file per answer.
  const cosigning = new Pacer(() => witnesses.kick(), PUBLISH_INTERVAL_MS, (err) => log.error('could not ask the witnesses', { err: describe(err) }));
  return {
    append: (tx, leaves) => agencyLog.append(tx, leaves),
    grew() {
      publisher.kick();
      cosigning.kick();
    },
    async state(from) {
      const head = await agencyLog.head();
      // A gateway that saw more than the log now has gets no proof: it sees the smaller checkpoint and raises the alarm.
      const consistency = from <= head.size ? (await agencyLog.consistency(from, head.size)).map((h) => h.toString('base64')) : [];
      return { checkpoint: head.checkpoint, consistency, cert: certPem, ...(sm2CertPem ? { sm2Cert: sm2CertPem } : {}) };
    },
    async close() {
      await Promise.all([publisher.flush(), cosigning.flush()]);
      await witnesses.idle();
    },
  };
}
