/**
 * Carries out approved retention deletions (evidence-format.md §18) in two steps, so that nothing is lost and nothing
 * goes unrecorded: (1) one transaction signs the event, appends its leaf to the agency log, stages its line for
 * `<device>/deletions.jsonl` and keeps it as 'logged'; (2) after the commit the line is filed, then every file it
 * names is removed through the store interface (a folder or a bucket alike), and the row becomes 'removed'. A crash
 * between the two leaves 'logged' rows, which finishAll() completes at the next start of the receiver or of
 * `recgw retention apply`. No file is removed that a committed, logged event does not name.
 */
import { DELETIONS_FILE, deletionHash, encodeDeletion, signDeletion, type DeletionEvent } from '../evidence/deletion-event.js';
import type { Signer } from '../evidence/signer.js';
import type { EvidenceStore } from '../store/store.js';
import type { LeafLog } from './agency-log.js';
import { Filing, stage } from './filing.js';
import { planDeletion, type DeletionOrder } from './retention-plan.js';
import type { ReceiverSql } from './receiver-sql.js';
import { describe } from '../util/errors.js';

/** The row key: one deletion per approved request and session. */
const rowId = (o: { request: string; device: string; session: string }): string => `${o.request}:${o.device}/${o.session}`;

export class RetentionRemover {
  private readonly filing: Filing;

  constructor(
    private readonly store: EvidenceStore,
    private readonly sql: ReceiverSql,
    private readonly log: LeafLog,
    private readonly signer: Signer,
    private readonly receiver: string,
    private readonly now: () => number,
    /**
     * After a commit that grew the log: publish its files (awaited by `recgw retention apply`; the receiver, which
     * published them at its start, only asks its publisher).
     */
    private readonly grew: () => Promise<void> | void,
  ) {
    this.filing = new Filing(store, sql);
  }

  /** Both steps for one session; returns the event (the one recorded earlier when this order was carried out before). */
  async delete(o: DeletionOrder): Promise<DeletionEvent> {
    const e = await this.record(o);
    await this.finish(rowId(o));
    return e;
  }

  /** Step 1: the signed event in the log and the database, before any file goes. Refuses (throws) within the term. */
  async record(o: DeletionOrder): Promise<DeletionEvent> {
    const id = rowId(o);
    const done = await this.sql.query<{ event: string }>('SELECT event FROM retention_deletions WHERE id = $1', [id]);
    if (done[0]) return JSON.parse(done[0].event) as DeletionEvent;
    const e = signDeletion(await planDeletion(this.store, o, this.now(), this.receiver), this.signer);
    const line = encodeDeletion(e);
    await this.sql.transaction(
      async (tx) => {
        await tx.query("INSERT INTO retention_deletions (id, device, event, state, logged_at) VALUES ($1, $2, $3, 'logged', $4)", [id, e.device, line, e.time]);
        await this.log.append(tx, [{ v: 1, kind: 'deletion', device: e.device, hash: deletionHash(line), accepted: e.time }]);
        await stage(tx, e.device, DELETIONS_FILE, line);
      },
      { device: e.device, durable: true },
    );
    // The line is in the database now; in the store before anything else happens (finish() files it again if not).
    await this.filing.file(e.device);
    await this.grew();
    return e;
  }

  /**
   * Step 2 for a logged row: its line in deletions.jsonl and the log's files published with its leaf first (a store
   * copied from then on shows the event wherever a file is gone), then each file removed, then 'removed'.
   */
  async finish(id: string): Promise<void> {
    const [row] = await this.sql.query<{ device: string; event: string; state: string }>('SELECT device, event, state FROM retention_deletions WHERE id = $1', [id]);
    if (!row || row.state === 'removed') return;
    await this.filing.file(row.device);
    await this.grew();
    const e = JSON.parse(row.event) as DeletionEvent;
    for (const f of e.files) await this.store.remove(`${e.device}/${f.file}`);
    await this.sql.query("UPDATE retention_deletions SET state = 'removed', removed_at = $2 WHERE id = $1", [id, new Date(this.now()).toISOString()]);
  }

  /**
   * At start: finish every deletion an earlier run logged but was stopped before removing. One that cannot be finished
   * now (the store does not answer) is left logged for the next start and named in `failed`; the others go on.
   */
  async finishAll(): Promise<{ finished: number; failed: { id: string; why: string }[] }> {
    const rows = await this.sql.query<{ id: string }>("SELECT id FROM retention_deletions WHERE state = 'logged' ORDER BY logged_at, id");
    const failed: { id: string; why: string }[] = [];
    for (const r of rows) {
      try {
        await this.finish(r.id);
      } catch (err) {
        failed.push({ id: r.id, why: describe(err) });
      }
    }
    return { finished: rows.length - failed.length, failed };
  }
}
