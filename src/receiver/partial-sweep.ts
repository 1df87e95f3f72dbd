/**
 * The receiver's housekeeping of what devices left unfinished (docs/uplink-protocol.md §5, "Per-device limits"):
 * partial files not written for `limits.unmanifestedHours` (no stored manifest) or `limits.unfinishedHours` (with
 * one) are discarded with their rows, partial files without a row are removed, and held ledger lines that can no
 * longer be appended (at or below the stored ledger's end) or are beyond `limits.heldAhead` are dropped. A file's
 * age is the time since it was last written (its mtime): an upload under way keeps it young.
 *
 * Receivers sharing a store each sweep it. Everything is decided again under the device's lock (receiver-sql.ts) and
 * the file removed before the lock is let go: a receiver writes a partial file only after claiming its bytes under
 * that lock (file-ingest.ts), so none can write a file while it is removed, and a young claim keeps its file.
 */
import { SEGMENTS_DIR } from '../evidence/head.js';
import { sealedFileName } from '../evidence/sealer.js';
import { describe } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { CLAIM_STALE_MS } from './file-ingest.js';
import type { LimitsConfig } from './limits.js';
import { one, type ReceiverSql } from './receiver-sql.js';
import type { EvidenceStore } from '../store/store.js';
import { partialsOf, storePlace, type StorePlace } from './store-place.js';
import type { PartialBytes } from './partial-bytes.js';

const HOUR = 3_600_000;

export interface SweepResult {
  /** Partial files discarded for their age. */
  stale: number;
  /** Partial files without a row, and rows whose bytes are gone, removed. */
  orphans: number;
  /** Held ledger lines dropped. */
  held: number;
}

interface PartialRow {
  device: string;
  name: string;
  size: number;
  manifested: number;
}

export class PartialSweep {
  private timer: NodeJS.Timeout | undefined;
  private readonly evidence: EvidenceStore;
  private readonly partials: PartialBytes;

  constructor(
    place: string | StorePlace,
    private readonly sql: ReceiverSql,
    private readonly limits: LimitsConfig,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    const p = storePlace(place);
    this.evidence = p.evidence;
    this.partials = partialsOf(p);
  }

  /** Every minute, or every quarter of the shortest age limit when that is shorter (at least every second). */
  get periodMs(): number {
    const shortest = Math.min(this.limits.unmanifestedHours, this.limits.unfinishedHours) * HOUR;
    return Math.max(1_000, Math.min(60_000, shortest / 4));
  }

  start(): void {
    let busy = false;
    this.timer = setInterval(() => {
      // A round that outlasts the period (a slow database) is not overtaken by the next.
      if (busy) return;
      busy = true;
      this.sweep()
        .catch((err: unknown) => this.log.error('housekeeping of partial files failed; trying again at the next round', { err: describe(err) }))
        .finally(() => (busy = false));
    }, this.periodMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * One round. It may run while this receiver's own chunk is being written (a young claim keeps that
   * file) or a finished file hashed (storing it then finds its row gone and stores nothing; the gateway resends).
   */
  async sweep(): Promise<SweepResult> {
    const out: SweepResult = { stale: 0, orphans: 0, held: 0 };
    const rows = await this.sql.query<PartialRow>(
      `SELECT f.device, f.name, f.size, CASE WHEN EXISTS (SELECT 1 FROM manifests m WHERE m.device = f.device AND m.name = f.name) THEN 1 ELSE 0 END AS manifested
       FROM files f WHERE f.state = 'partial'`,
    );
    for (const r of rows) {
      const why = await this.staleness(r);
      if (!why || !(await this.discard(r, why))) continue;
      if (why === 'gone') out.orphans++;
      else out.stale++;
    }
    out.orphans += await this.removeRowless();
    out.held += await this.dropDeadHeld();
    return out;
  }

  /** Why the partial file of `r` should go: its age passed the limit, or its bytes are gone; undefined to keep it. */
  private async staleness(r: PartialRow): Promise<'age' | 'gone' | undefined> {
    const mtime = await this.partials.lastWritten(r.device, r.name);
    // Put into the store by a receiver that stopped before recording it: the next hello stores it.
    if (mtime === undefined) return (await this.storedUnrecorded(r.device, r.name)) ? undefined : 'gone';
    const maxMs = (r.manifested ? this.limits.unfinishedHours : this.limits.unmanifestedHours) * HOUR;
    return this.now() - mtime > maxMs ? 'age' : undefined;
  }

  /** Under the device's lock: forget the file's rows and remove it, unless a receiver wrote or claimed it meanwhile. */
  private async discard(r: PartialRow, why: 'age' | 'gone'): Promise<boolean> {
    const done = await this.sql.transaction(async (tx): Promise<boolean> => {
      const still = await one(tx, `SELECT 1 AS x FROM files WHERE device = $1 AND name = $2 AND state = 'partial'`, [r.device, r.name]);
      const claimed = await one(tx, 'SELECT 1 AS x FROM chunks WHERE device = $1 AND name = $2 AND claimed_at >= $3', [r.device, r.name, Date.now() - CLAIM_STALE_MS]);
      if (!still || claimed || (await this.staleness(r)) !== why) return false;
      await tx.query('DELETE FROM chunks WHERE device = $1 AND name = $2', [r.device, r.name]);
      await tx.query('DELETE FROM files WHERE device = $1 AND name = $2', [r.device, r.name]);
      await this.partials.remove(tx, r.device, r.name);
      return true;
    }, { device: r.device });
    if (!done) return false;
    const limit = r.manifested ? 'limits.unfinishedHours' : 'limits.unmanifestedHours';
    if (why === 'gone') this.log.warn('forgot a partial file whose bytes are gone; the gateway sends it again', { device: r.device, name: r.name });
    else {
      this.log.warn(`discarded a partial file not written for longer than ${limit}; the gateway sends it again if it still has it`, {
        device: r.device,
        name: r.name,
        declaredBytes: r.size,
        manifest: r.manifested === 1,
        limit,
        hours: this.limits[r.manifested ? 'unfinishedHours' : 'unmanifestedHours'],
      });
    }
    return true;
  }

  /**
   * Partial files no row describes (left by a discard that stopped between its commit and the removal, or by a
   * receiver stopped after storing a file and before removing its chunks), and in a bucket multipart uploads no file
   * is being received into.
   */
  private async removeRowless(): Promise<number> {
    let n = 0;
    for (const { device, name } of await this.partials.held()) {
      const removed = await this.sql.transaction(async (tx): Promise<boolean> => {
        if (await one(tx, `SELECT 1 AS x FROM files WHERE device = $1 AND name = $2 AND state = 'partial'`, [device, name])) return false;
        await this.partials.remove(tx, device, name);
        return true;
      }, { device });
      if (removed) {
        n++;
        this.log.info('removed a partial file that no row describes', { device, name });
      }
    }
    return n;
  }

  /** Held lines that can never be appended (their seq is stored) or that are past limits.heldAhead. */
  private async dropDeadHeld(): Promise<number> {
    // One statement, under no device's lock: it reads each device's stored end as committed.
    const dropped = await this.sql.transaction((tx) =>
      tx.query(
        `DELETE FROM held WHERE seq <= COALESCE((SELECT d.seq FROM devices d WHERE d.device = held.device), -1)
           OR seq > COALESCE((SELECT d.seq FROM devices d WHERE d.device = held.device), -1) + $1 RETURNING 1`,
        [this.limits.heldAhead],
      ),
    );
    const n = dropped.length;
    if (n > 0) this.log.info('dropped held ledger lines that can no longer be appended', { lines: n });
    return n;
  }

  private async storedUnrecorded(device: string, name: string): Promise<boolean> {
    return (await this.evidence.size(`${device}/${SEGMENTS_DIR}/${sealedFileName(name)}`)) !== undefined;
  }
}
