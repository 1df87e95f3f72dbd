/**
 * Reports at once (docs/uplink-protocol.md §8; 004 规定 §8): each interruption's start and end and each early end
 * of a session goes to the agency as an alert the moment it is in the ledger, on its own topic, beside the upload
 * queue and never behind it; a retained state says what is open now to whoever subscribes later.
 *
 * Invariants: the ledger is the queue. A cursor in the state database names the last entry handled; it moves past an
 * alert only once the broker has acknowledged it (QoS 1), so an alert written offline, or before a crash, goes out
 * after the next connect (marked late when it is). At most MAX_QUEUED are sent after a long time offline, the newest:
 * the older ones reach the agency with the ledger upload as every entry does. One flush runs at a time. The ledger is
 * read again after each append rather than trusting the appended entry, which may belong to a transaction that
 * then rolled back.
 */
import { kvGet, kvSet, lightly, prepared, type Db } from '../state/db.js';
import type { Ledger } from '../evidence/ledger.js';
import { parseLine } from '../evidence/entry.js';
import { ENTRY } from '../evidence/types.js';
import type { Logger } from '../util/log.js';
import { describe } from '../util/errors.js';
import { ALERT_ENTRY_TYPES, LATE_AFTER_MS, STATE_ENTRY_TYPES, alertKind, type AlertMessage } from './alert-wire.js';
import { foldAlertState } from './alert-state.js';
import { topics } from './wire.js';

/** What the publisher needs of the MQTT connection (link.ts: MqttLink). */
export interface AlertLink {
  readonly connected: boolean;
  /** QoS 1 at once, outside the upload window; true at PUBACK, false when not connected or the publish failed. */
  publishNow(topic: string, payload: string, retain: boolean): Promise<boolean>;
}

export interface AlertPublisherOptions {
  deviceId: string;
  db: Db;
  ledger: Ledger;
  link: AlertLink;
  now: () => number;
  log: Logger;
}

const CURSOR = 'uplink.alerts.through';
/** Alerts sent after a time offline, at most (the newest). */
export const MAX_QUEUED = 100;
/** How long a stop waits for the alerts the stop itself wrote (a session closed by the service stopping). */
const STOP_GRACE_MS = 2000;

const placeholders = (n: number): string => Array.from({ length: n }, () => '?').join(', ');
const ALERT_TYPES_SQL = placeholders(ALERT_ENTRY_TYPES.length);
const STATE_TYPES_SQL = placeholders(STATE_ENTRY_TYPES.length);

export class AlertPublisher {
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;
  /** The last state the broker acknowledged, without its time; undefined = publish it at the next flush. */
  private published: string | undefined;

  constructor(private readonly o: AlertPublisherOptions) {}

  start(): void {
    // From the first start with alerts on: what the ledger held before reaches the agency with the upload.
    if (kvGet(this.o.db, CURSOR) === undefined) kvSet(this.o.db, CURSOR, String(this.o.ledger.head()?.seq ?? -1));
    this.unsubscribe = this.o.ledger.onAppend((e) => {
      if (STATE_ENTRY_TYPES.includes(e.type)) this.poke();
    });
    this.poke();
  }

  /** A new connection: send what waited, and the state again (the broker may have lost its retained copy). */
  connected(): void {
    this.published = undefined;
    this.poke();
  }

  /** Something to send, perhaps. Flushes after the current synchronous work, when the append's transaction has ended. */
  poke(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = new Promise<void>((r) => setImmediate(r))
      .then(() => this.loop())
      .catch((err: unknown) => this.o.log.error('sending alerts failed; trying again at the next entry or connect', { err: describe(err) }))
      .finally(() => {
        this.running = undefined;
        // A poke between the loop's last look and here would otherwise wait for the next entry.
        if (this.again) this.poke();
      });
  }

  /** Stop listening; give alerts written by the stop itself a moment to go out, then leave the rest to the next start. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.poke();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.running, new Promise<void>((r) => (timer = setTimeout(r, STOP_GRACE_MS)))]);
    clearTimeout(timer);
    this.stopped = true;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      await this.flush();
    } while (this.again && !this.stopped);
  }

  private async flush(): Promise<void> {
    const { db, link, deviceId, log } = this.o;
    if (this.stopped || !link.connected) return;
    for (const row of this.pending()) {
      const p = parseLine(row.line);
      const kind = p.ok ? alertKind(p.entry) : undefined;
      if (p.ok && kind) {
        const sentMs = this.o.now();
        const msg: AlertMessage = { v: 1, type: 'alert', device: deviceId, kind, line: row.line, cert: this.certAt(row.seq), sent: new Date(sentMs).toISOString(), late: sentMs - Date.parse(p.entry.time) > LATE_AFTER_MS };
        if (!(await link.publishNow(topics.alert(deviceId), JSON.stringify(msg), false))) {
          // Connected and not acknowledged: the broker refused it (an MQTT 5 reason code), most likely by its ACL.
          if (link.connected && !this.stopped) {
            log.warn('the broker did not accept an alert; it is sent again at the next alert or connection. Check that its ACL lets this device write its alert topics (docs/uplink-protocol.md §2)', {
              topic: topics.alert(deviceId),
              seq: row.seq,
            });
          }
          return;
        }
        if (this.stopped) return;
        log.info('sent an alert', { kind, seq: row.seq, late: msg.late });
      }
      lightly(db, () => kvSet(db, CURSOR, String(row.seq)));
    }
    await this.publishState();
  }

  /** Alert entries after the cursor, oldest first; after a long time offline only the newest MAX_QUEUED. */
  private pending(): { seq: number; line: string }[] {
    const { db, log } = this.o;
    const through = Number(kvGet(db, CURSOR) ?? -1);
    const rows = (
      prepared(db, `SELECT seq, line FROM ledger WHERE seq > ? AND type IN (${ALERT_TYPES_SQL}) ORDER BY seq DESC LIMIT ?`).all(through, ...ALERT_ENTRY_TYPES, MAX_QUEUED + 1) as {
        seq: number;
        line: string;
      }[]
    ).reverse();
    if (rows.length <= MAX_QUEUED) return rows;
    const [skipped, first] = [rows.shift()!, rows[0]!];
    const n = (prepared(db, `SELECT COUNT(*) AS n FROM ledger WHERE seq > ? AND seq <= ? AND type IN (${ALERT_TYPES_SQL})`).get(through, skipped.seq, ...ALERT_ENTRY_TYPES) as { n: number }).n;
    log.warn('too many alerts waited for a connection: sending the newest only; the older ones reach the agency with the ledger upload', { skipped: n, sending: rows.length, fromSeq: first.seq });
    lightly(db, () => kvSet(db, CURSOR, String(first.seq - 1)));
    return rows;
  }

  /** The device certificate in force at `seq`: the one the entry is signed with. */
  private certAt(seq: number): string {
    const r = prepared(this.o.db, 'SELECT line FROM ledger WHERE seq <= ? AND type IN (?, ?) ORDER BY seq DESC LIMIT 1').get(seq, ENTRY.ledgerOpened, ENTRY.certificateInstalled) as { line: string };
    return (JSON.parse(r.line) as { body: { cert: string } }).body.cert;
  }

  /** The retained state, when it changed since the broker last acknowledged one. */
  private async publishState(): Promise<void> {
    const { db, deviceId, link } = this.o;
    const rows = prepared(
      db,
      `SELECT seq, hash, line FROM ledger WHERE type IN (${STATE_TYPES_SQL})
         AND seq >= COALESCE((SELECT MAX(seq) FROM ledger WHERE type = ?), 0) ORDER BY seq`,
    ).all(...STATE_ENTRY_TYPES, ENTRY.sessionOpened) as { seq: number; hash: string; line: string }[];
    const state = foldAlertState(deviceId, rows, new Date(this.o.now()).toISOString());
    const key = JSON.stringify({ ...state, at: null });
    if (key === this.published) return;
    if (await link.publishNow(topics.alertState(deviceId), JSON.stringify(state), true)) this.published = key;
  }
}
