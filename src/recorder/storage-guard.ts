/**
 * Watches the storage that holds recordings: free space on the filesystem and, when configured, a quota on what
 * recgw itself keeps (spool plus sealed segments). Says "full" when recording must stop and "ok" when it may go
 * on (with hysteresis, so it does not flap). It never deletes anything to make room.
 */
import { EventEmitter } from 'node:events';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../state/db.js';
import { freeBytes } from '../hal/storage.js';
import type { Logger } from '../util/log.js';

export interface StorageState {
  freeBytes: number;
  usedBytes: number;
  quotaBytes: number | null;
  full: boolean;
}

export interface StorageGuardOptions {
  db: Db;
  stateDir: string;
  spoolDir: string;
  quotaBytes: number | null;
  /** Free space below which recording stops (the filesystem must keep room for sealing and the database). */
  reserveBytes: number;
  intervalMs?: number;
  log: Logger;
}

async function dirSize(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await dirSize(p);
    else total += await stat(p).then((s) => s.size).catch(() => 0);
  }
  return total;
}

export class StorageGuard extends EventEmitter<{ full: [StorageState]; ok: [StorageState] }> {
  private current: StorageState;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: StorageGuardOptions) {
    super();
    this.current = { freeBytes: 0, usedBytes: 0, quotaBytes: o.quotaBytes, full: false };
  }

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh().catch((err: unknown) => this.o.log.error('storage check failed', { err })), this.o.intervalMs ?? 2000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  state(): StorageState {
    return this.current;
  }

  async refresh(): Promise<StorageState> {
    const free = await freeBytes(this.o.stateDir);
    const sealed = (this.o.db.prepare(`SELECT coalesce(sum(stored_size), 0) AS n FROM segments WHERE local_state = 'present'`).get() as { n: number }).n;
    const used = sealed + (await dirSize(this.o.spoolDir));
    const q = this.o.quotaBytes;
    const wasFull = this.current.full;
    const full = wasFull
      ? free < this.o.reserveBytes * 2 || (q !== null && used >= q * 0.9)
      : free < this.o.reserveBytes || (q !== null && used >= q);
    this.current = { freeBytes: free, usedBytes: used, quotaBytes: q, full };
    if (full && !wasFull) this.emit('full', this.current);
    if (!full && wasFull) this.emit('ok', this.current);
    return this.current;
  }
}
