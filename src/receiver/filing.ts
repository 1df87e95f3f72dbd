/**
 * What a transaction writes to a device folder's files (receipts.jsonl, head.json, alerts.jsonl) is written only after
 * it committed. A receipt carries a proof from the agency log, which lives in the same database: filed before the
 * commit, a receiver killed in between would leave a receipt for a log that never was, and its successor a second
 * receipt for the same file. So the ingest stages the writes in `unfiled` inside its transaction, and files them
 * after the commit, under the device's filing lock; a receiver killed before filing leaves them staged for the next
 * commit of that device or the next start (`fileAll`). A write already made before a crash is not made twice.
 *
 * The filing lock is the device's own, not the device's lock: on PostgreSQL the device's chunks and entries go on
 * (at any receiver) while its receipts go into the store, which in a bucket takes round trips (bench/README.md,
 * s3-ingest). What is staged for one device commits in `id` order (those transactions hold the device's lock), so a
 * filing sees a prefix of it and appends in that order.
 *
 * Filings of one device in this process are coalesced: at most one runs and one waits; a call while one waits joins
 * it. A filing waits until it holds the lock (on SQLite the process's write queue, behind the commits queued before
 * it) and reads `unfiled` then, so it files everything committed before any of its callers called; one that has read
 * may not cover a caller's commit, so nobody joins it then. So the receipts of several uploads of a device go into
 * receipts.jsonl in one append (one piece, one PUT in a bucket) and head.json once.
 * In the background (the receiver) `file` does not wait for the filing: the device's next message goes on meanwhile,
 * its receipt joins the waiting filing, and the receiver sends a receipt once `filed` says it is in the store. On
 * SQLite a device's next commit cannot come while its filing holds the write queue, so a filing asked for `later`
 * (an entries receipt, whose segments' receipts follow) waits a little for the next to join it.
 *
 * Invariants: one background `Filing` per receiver process (else nothing coalesces); a failed filing leaves its
 * rows staged, for the next filing of the device or the next start; what lingers is staged, so a crash loses none.
 */
import { describe } from '../util/errors.js';
import type { EvidenceStore } from '../store/store.js';
import type { Queryable, ReceiverSql } from './receiver-sql.js';

/** Append a line, or replace the whole file. */
export type FilingMode = 'append' | 'replace';

/** The lock under which a device's staged writes are filed (TxOptions.lock). */
export const filingLock = (device: string): string => `filing/${device}`;

export async function stage(tx: Queryable, device: string, file: string, data: string, mode: FilingMode = 'append'): Promise<void> {
  await tx.query('INSERT INTO unfiled(device, file, data, mode) VALUES ($1, $2, $3, $4)', [device, file, data, mode]);
}

interface Row {
  id: number;
  file: string;
  data: string;
  mode: FilingMode;
}

/** How a receiver files in the background (the receiver's Filing; tests and tools file and wait). */
export interface Background {
  /** A filing that failed: its rows stay staged, for the device's next filing or the next start. */
  report: (device: string, err: unknown) => void;
  /**
   * How long a filing asked for `later` may wait for another to join it (ms). An entries receipt names manifests
   * whose segments follow: filed with the first of their receipts, the two go in one append and head.json once.
   */
  lingerMs: number;
}

export class Filing {
  /** Per device, the filing not yet started, which callers join. */
  private readonly waiting = new Map<string, Promise<void>>();
  /** Per device, the last filing queued (running or waiting). */
  private readonly last = new Map<string, Promise<void>>();
  /** Per device, what starts a lingering waiting filing now. */
  private readonly hurry = new Map<string, () => void>();

  constructor(
    private readonly store: EvidenceStore,
    private readonly sql: ReceiverSql,
    private readonly background?: Background,
  ) {}

  /**
   * After a commit for `device`: write what it staged (and what an earlier receiver left staged). Resolves once
   * written; in the background, at once (`filed` then says when). `later`: in the background, the filing may wait
   * up to `lingerMs` for the next commit of the device to join it (a filing asked for without `later` starts it).
   */
  file(device: string, later = false): Promise<void> {
    const soon = !later || !this.background;
    const waiting = this.waiting.get(device);
    if (waiting) {
      if (soon) this.hurry.get(device)?.();
      return this.background ? Promise.resolve() : waiting;
    }
    const held = soon ? undefined : this.linger(device, this.background!.lingerMs);
    const run: Promise<void> = (this.last.get(device) ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => held)
      .then(() => this.fileNow(device, () => this.waiting.delete(device)));
    const forget = (): void => {
      if (this.last.get(device) === run) this.last.delete(device);
      // Failed before it read (BEGIN, the lock): later callers start another.
      if (this.waiting.get(device) === run) this.waiting.delete(device);
    };
    run.then(forget, (err: unknown) => {
      forget();
      this.background?.report(device, err);
    });
    this.waiting.set(device, run);
    this.last.set(device, run);
    return this.background ? Promise.resolve() : run;
  }

  /** Resolves once everything `file` was called for, for `device`, is written; rejects if that filing failed. */
  filed(device: string): Promise<void> {
    return this.last.get(device) ?? Promise.resolve();
  }

  /** Files at once whatever lingers, and resolves once every filing queued is done (failed ones were reported). */
  async drain(): Promise<void> {
    while (this.last.size > 0) {
      for (const go of [...this.hurry.values()]) go();
      await Promise.allSettled([...this.last.values()]);
    }
  }

  /** Resolves after `ms`, or when hurried. */
  private linger(device: string, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const go = (): void => {
        clearTimeout(timer);
        if (this.hurry.get(device) === go) this.hurry.delete(device);
        resolve();
      };
      const timer = setTimeout(go, ms);
      this.hurry.set(device, go);
    });
  }

  /** `reading`: called as it reads what is staged, under the lock: from then on a caller's commit is not covered. */
  private async fileNow(device: string, reading: () => void): Promise<void> {
    try {
      await this.sql.transaction(async (tx) => {
        reading();
        const rows = await tx.query<Row>('SELECT id, file, data, mode FROM unfiled WHERE device = $1 ORDER BY id', [device]);
        if (rows.length === 0) return;
        for (const [file, lines] of appends(rows)) await this.append(tx, device, file, lines);
        const last = new Map(rows.filter((r) => r.mode === 'replace').map((r) => [r.file, r.data]));
        for (const [file, data] of last) await this.store.replace(`${device}/${file}`, Buffer.from(data, 'utf8'));
        await tx.query('DELETE FROM unfiled WHERE device = $1 AND id <= $2', [device, rows[rows.length - 1]!.id]);
      }, { lock: filingLock(device) });
    } catch (err) {
      throw new Error(`could not write ${device}'s receipts or records into its folder (${describe(err)}): they stay in the database and are written after its next upload or at the next start`, { cause: err });
    }
  }

  /**
   * Append `lines` at the file's committed length, kept in `filed` with the commit that clears them from `unfiled`:
   * reading the store's tail first cost a LIST and GETs of a bucket per receipt (bench/README.md, s3-ingest). A
   * filing cut short by a crash may have appended past that length; the store cuts that before appending again.
   */
  private async append(tx: Queryable, device: string, file: string, lines: string[]): Promise<void> {
    const name = `${device}/${file}`;
    const known = await tx.query<{ bytes: number }>('SELECT bytes FROM filed WHERE device = $1 AND file = $2', [device, file]);
    let at: number;
    let add: string[];
    if (known[0]) {
      at = Number(known[0].bytes);
      add = lines;
    } else {
      // A file from before its length was kept (or a new one): its length from the store. A filing cut short by a
      // crash appended a prefix of these lines: they are the file's last bytes.
      const { size, data } = await this.store.tail(name, lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 1));
      const tail = (data.length === size ? '\n' : '') + data.toString('utf8');
      at = size;
      add = lines.filter((l) => !tail.includes(`\n${l}\n`));
    }
    const bytes = Buffer.from(add.map((l) => `${l}\n`).join(''), 'utf8');
    if (bytes.length > 0) await this.store.append(name, at, bytes);
    await tx.query('INSERT INTO filed(device, file, bytes) VALUES ($1, $2, $3) ON CONFLICT (device, file) DO UPDATE SET bytes = excluded.bytes', [device, file, at + bytes.length]);
  }

  /** At start: file what receivers killed between commit and filing left staged. */
  async fileAll(): Promise<number> {
    const devices = (await this.sql.query<{ device: string }>('SELECT DISTINCT device FROM unfiled')).map((r) => r.device);
    for (const d of devices) await this.file(d);
    await this.drain();
    return devices.length;
  }
}

/** The lines to append, per file, in order. */
function appends(rows: Row[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of rows) if (r.mode === 'append') out.set(r.file, [...(out.get(r.file) ?? []), r.data]);
  return out;
}
