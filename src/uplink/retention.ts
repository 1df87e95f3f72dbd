/**
 * Local retention: a sealed file is removed only after the agency's receipt was verified and recorded, and the
 * configured retention has passed. The `segment.deleted` entry commits before the unlink, so a crash in between
 * leaves a file that the next sweep removes; never a removal the ledger does not show.
 */
import { unlink } from 'node:fs/promises';
import type { Db } from '../state/db.js';
import type { Ledger } from '../evidence/ledger.js';
import { ENTRY } from '../evidence/types.js';
import { manifestFilePath } from '../evidence/sealer.js';
import { isENOENT, describe } from '../util/errors.js';
import type { Logger } from '../util/log.js';

const BATCH = 500;

export class Retention {
  private recovered = false;
  /** Files the ledger says are deleted but whose unlink failed: tried again at every sweep. */
  private readonly retry = new Set<string>();

  constructor(
    private readonly db: Db,
    private readonly ledger: Ledger,
    private retentionHours: number,
    private readonly log: Logger,
  ) {}

  /** A changed config's retention, from the next sweep on (a receipt is still needed before any removal). */
  setRetentionHours(hours: number): void {
    this.retentionHours = hours;
  }

  /** Remove what is due at `nowMs`; returns how many files were removed. */
  async sweep(nowMs: number): Promise<number> {
    if (!this.recovered) await this.finishInterrupted();
    this.recovered = true;
    for (const f of [...this.retry]) await this.remove(f);
    const due = this.db
      .prepare(
        `SELECT s.name, s.file, u.receipt_seq AS receiptSeq FROM uplink_files u JOIN segments s ON s.name = u.name
         WHERE u.receipt_seq IS NOT NULL AND s.local_state = 'present' AND u.receipted_at_ms + ? <= ?
         ORDER BY u.receipted_at_ms LIMIT ?`,
      )
      .all(this.retentionHours * 3600_000, nowMs, BATCH) as { name: string; file: string; receiptSeq: number }[];
    const mark = this.db.prepare(`UPDATE segments SET local_state = 'deleted' WHERE name = ?`);
    for (const d of due) {
      this.ledger.append(ENTRY.segmentDeleted, { segment: d.name, file: manifestFilePath(d.name), receiptSeq: d.receiptSeq }, () => mark.run(d.name));
      await this.remove(d.file);
    }
    if (due.length > 0) this.log.info('removed receipted segments after their retention', { count: due.length });
    return due.length;
  }

  /** Files whose deletion the ledger records but a crash left on disk (checked once per start). */
  private async finishInterrupted(): Promise<void> {
    const rows = this.db.prepare(`SELECT file FROM segments WHERE local_state = 'deleted'`).all() as { file: string }[];
    for (const r of rows) await this.remove(r.file);
  }

  private async remove(file: string): Promise<void> {
    try {
      await unlink(file);
      this.retry.delete(file);
    } catch (err) {
      if (isENOENT(err)) {
        this.retry.delete(file);
        return;
      }
      if (!this.retry.has(file)) this.log.error('could not remove a receipted segment; will retry', { file, err: describe(err) });
      this.retry.add(file);
    }
  }
}
