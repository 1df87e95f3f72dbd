/**
 * Turns finished plaintext segments into sealed files plus signed manifest entries, one at a time and in the
 * order they were finished. Every step is crash-safe:
 *   1. enqueue: the segment's row goes into pending_segments (durable) while the plaintext is on disk;
 *   2. seal: the sealed file is written to a temp name, fsynced, renamed;
 *   3. one transaction appends the manifest entry and indexes the segment;
 *   4. the plaintext is removed, and only then the pending row (so a crash between 3 and 4 still finds it).
 * A restart finds each segment at one of these steps and `start()` finishes the job.
 *
 * Where the work runs: while the Sealer keeps up (a gateway records a few MB/s, which one thread seals in
 * milliseconds), on the main thread; once a segment has waited in the queue for `spreadAfterMs` (a backlog: a spool
 * left by a power loss, sources faster than one thread on a slow board), spread over the sealing workers until the
 * queue is fresh again. The workers cost ~24 MB of RSS while they run (seal.ts, seal-worker.ts).
 */
import { existsSync } from 'node:fs';
import { unlink, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { Db } from '../state/db.js';
import type { Ledger } from './ledger.js';
import type { Logger } from '../util/log.js';
import { sealFile, type SealOptions } from './seal.js';
import { ENTRY, type ClockState, type GpsFix, type SegmentManifest, type SessionContext, type SourceKind, type TranscodedStream } from './types.js';
import { hashHex } from './segment-scheme.js';

export interface FinishedSegment {
  /** Unique name, also the sealed file's base name. */
  name: string;
  plainPath: string;
  session: SessionContext;
  source: { id: string; kind: SourceKind };
  seq: number;
  start: string;
  end: string;
  clock: ClockState;
  gps: GpsFix | null;
  explanation?: boolean;
  preEvent?: boolean;
  transcoded?: TranscodedStream[];
}

export interface SealerOptions {
  db: Db;
  ledger: Ledger;
  agencyPublicKey: KeyObject;
  sealedDir: string;
  log: Logger;
  /** A segment that has waited this long since it was queued is sealed on the workers (default 30 s). */
  spreadAfterMs?: number;
  now?: () => number;
}

const SPREAD_AFTER_MS = 30_000;

export interface SealedSegment {
  name: string;
  ledgerSeq: number;
  manifest: SegmentManifest;
}

export const sealedFileName = (name: string): string => `${name}.seg`;
/** Where the manifest says the sealed file lives, relative to a device folder of an export or a store. */
export const manifestFilePath = (name: string): string => `segments/${sealedFileName(name)}`;

export class Sealer {
  private readonly o: SealerOptions;
  private chain: Promise<void> = Promise.resolve();
  private readonly sealedListeners = new Set<(s: SealedSegment) => void>();

  constructor(opts: SealerOptions) {
    this.o = opts;
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  /** Finish whatever a crash left in the queue. */
  async start(): Promise<void> {
    await mkdir(this.o.sealedDir, { recursive: true });
    await this.drain();
  }

  /** Wait for the queue to be empty. */
  async stop(): Promise<void> {
    await this.drain();
  }

  onSealed(listener: (s: SealedSegment) => void): () => void {
    this.sealedListeners.add(listener);
    return () => this.sealedListeners.delete(listener);
  }

  isSealed(name: string): boolean {
    return this.o.db.prepare('SELECT 1 FROM segments WHERE name = ?').get(name) !== undefined;
  }

  /**
   * Queue a finished segment durably and start sealing it. Returns when the row is committed (not when sealed):
   * from then on the segment survives a crash.
   */
  enqueue(seg: FinishedSegment): void {
    if (this.isSealed(seg.name)) {
      // Sealed before a crash that came before the plaintext was removed.
      void unlink(seg.plainPath).catch(() => undefined);
      return;
    }
    this.o.db
      .prepare('INSERT OR IGNORE INTO pending_segments(name, plain_path, meta, created_at) VALUES (?, ?, ?, ?)')
      .run(seg.name, seg.plainPath, JSON.stringify(seg), new Date(this.now()).toISOString());
    void this.drain();
  }

  pendingCount(): number {
    return (this.o.db.prepare('SELECT count(*) AS n FROM pending_segments').get() as { n: number }).n;
  }

  /** Seal everything queued; concurrent callers share one sequential worker. */
  drain(): Promise<void> {
    this.chain = this.chain
      .then(() => this.sealAllPending())
      .catch((err: unknown) => this.o.log.error('sealing queue failed, will retry on the next segment', { err }));
    return this.chain;
  }

  private async sealAllPending(): Promise<void> {
    for (;;) {
      const row = this.o.db.prepare('SELECT name, meta, created_at FROM pending_segments ORDER BY rowid LIMIT 1').get() as
        | { name: string; meta: string; created_at: string }
        | undefined;
      if (!row) return;
      const seg = JSON.parse(row.meta) as FinishedSegment;
      const waited = this.now() - Date.parse(row.created_at);
      try {
        await this.sealOne(seg, { workers: waited >= (this.o.spreadAfterMs ?? SPREAD_AFTER_MS) });
      } catch (err) {
        // Leave the row: the plaintext stays on disk and the next drain or start tries again.
        this.o.log.error('sealing failed, will retry', { segment: seg.name, err });
        return;
      }
    }
  }

  private async sealOne(seg: FinishedSegment, how: SealOptions): Promise<void> {
    const { db, ledger, log } = this.o;
    if (this.isSealed(seg.name)) {
      // Sealed before a crash: finish step 4. The row goes last, so a crash here leaves it for the next start.
      await unlink(seg.plainPath).catch(() => undefined);
      db.prepare('DELETE FROM pending_segments WHERE name = ?').run(seg.name);
      return;
    }
    if (!existsSync(seg.plainPath)) {
      log.error('a finished segment vanished before it was sealed; its time will show as a gap', { segment: seg.name, path: seg.plainPath });
      db.prepare('DELETE FROM pending_segments WHERE name = ?').run(seg.name);
      return;
    }
    const sealedPath = join(this.o.sealedDir, sealedFileName(seg.name));
    const r = await sealFile(seg.plainPath, sealedPath, this.o.agencyPublicKey, how);
    const manifest: SegmentManifest = {
      segment: seg.name,
      file: manifestFilePath(seg.name),
      ...seg.session,
      source: seg.source,
      seq: seg.seq,
      start: seg.start,
      end: seg.end,
      clock: seg.clock,
      gps: seg.gps,
      container: 'mpegts',
      plain: r.plain,
      stored: r.stored,
      enc: r.enc,
      ...(seg.explanation ? { explanation: true } : {}),
      ...(seg.preEvent ? { preEvent: true } : {}),
      ...(seg.transcoded?.length ? { transcoded: seg.transcoded } : {}),
    };
    const e = ledger.append(ENTRY.segmentSealed, manifest as unknown as Record<string, unknown>, (entry) => {
      db.prepare(
        `INSERT INTO segments(name, ledger_seq, session_id, source_id, file, stored_size, stored_sha256, start_time, end_time)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(seg.name, entry.seq, seg.session.sessionId, seg.source.id, sealedPath, r.stored.size, hashHex(r.stored), seg.start, seg.end);
    });
    await unlink(seg.plainPath).catch((err: unknown) => log.warn('could not remove plaintext after sealing', { path: seg.plainPath, err }));
    db.prepare('DELETE FROM pending_segments WHERE name = ?').run(seg.name);
    log.debug('segment sealed', { segment: seg.name, seq: e.seq, bytes: r.plain.size });
    for (const l of this.sealedListeners) l({ name: seg.name, ledgerSeq: e.seq, manifest });
  }
}
