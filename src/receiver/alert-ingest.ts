/**
 * Recording alerts (docs/uplink-protocol.md §8): each is checked as a certificate entry is (alert-wire.ts
 * checkAlert), then against the agency's revocations and the device's stored ledger, and recorded once: a row in
 * receiver.db says it is here (receivers sharing a store see each other's), and its record goes to
 * `<store>/<d>/alerts.jsonl` once that fsynced transaction committed (filing.ts), where `recgw report` reads it.
 */
import { Revocations } from '../pki/crl.js';
import { revokedProblem } from '../verify/key-lifecycle.js';
import { checkAlert, decodeAlert, type CheckedAlert } from '../uplink/alert-wire.js';
import { ALERTS_FILE, type AlertRecord } from './alerts-file.js';
import { one, type ReceiverSql } from './receiver-sql.js';
import { storePlace, type StorePlace } from './store-place.js';
import { Filing, stage } from './filing.js';

export type AlertOutcome =
  | { kind: 'recorded'; alert: CheckedAlert; record: AlertRecord; forkedFrom?: string[] }
  | { kind: 'repeated'; alert: CheckedAlert }
  | { kind: 'refused'; why: string };

export class AlertIngest {
  private revocations: () => Revocations = () => Revocations.none();
  private readonly filing: Filing;

  constructor(
    place: string | StorePlace,
    private readonly sql: ReceiverSql,
    private readonly caPems: string[],
    private readonly receiverName: string,
  ) {
    this.filing = new Filing(storePlace(place).evidence, sql);
  }

  /** The agency CA's revocations, as they stand when each alert is handled (the receiver reloads its CRL). */
  useRevocations(current: () => Revocations): void {
    this.revocations = current;
  }

  async take(device: string, payload: Buffer, now: Date): Promise<AlertOutcome> {
    const d = decodeAlert(payload, device);
    if (!d.ok) return { kind: 'refused', why: d.problem };
    const c = checkAlert(d.value, device, this.caPems);
    if (!c.ok) return { kind: 'refused', why: c.problem };
    const { entry: e, hash } = c.value;
    const revoked = revokedProblem(this.revocations(), d.value.cert, Date.parse(e.time));
    if (revoked) return { kind: 'refused', why: `it is signed by a revoked key: ${revoked}` };
    const stored = await one<{ hash: string }>(this.sql, 'SELECT hash FROM entries WHERE device = $1 AND seq = $2', [device, e.seq]);
    if (stored && stored.hash !== hash) {
      return { kind: 'refused', why: `its entry ${e.seq} differs from the entry ${e.seq} already stored for ${device} (hash ${stored.hash}): one of the two was signed outside the device's ledger` };
    }
    const record: AlertRecord = {
      v: 1,
      device,
      seq: e.seq,
      hash,
      kind: c.value.kind,
      sent: d.value.sent,
      late: d.value.late,
      receivedAt: now.toISOString(),
      receiver: this.receiverName,
      line: d.value.line,
      cert: d.value.cert,
    };
    const out = await this.sql.transaction(async (tx): Promise<AlertOutcome> => {
      const added = await tx.query('INSERT INTO alerts(device, seq, hash, received_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING 1', [device, e.seq, hash, record.receivedAt]);
      if (added.length === 0) return { kind: 'repeated', alert: c.value };
      const others = (await tx.query<{ hash: string }>('SELECT hash FROM alerts WHERE device = $1 AND seq = $2 AND hash <> $3', [device, e.seq, hash])).map((r) => r.hash);
      await stage(tx, device, ALERTS_FILE, JSON.stringify(record));
      return { kind: 'recorded', alert: c.value, record, ...(others.length > 0 ? { forkedFrom: others } : {}) };
    }, { device, durable: true });
    if (out.kind === 'recorded') await this.filing.file(device);
    return out;
  }
}
