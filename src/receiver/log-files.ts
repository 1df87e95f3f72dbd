/**
 * Publishes the agency log as static files under `<store>/log/` (c2sp.org/tlog-tiles): full tiles and entry bundles
 * once, partial ones for the current size, then the checkpoint. Only ever from committed state, read under
 * receiver.db's write lock, so that the published checkpoint never runs ahead of what a crash would keep; and the
 * checkpoint is replaced under that lock only by a larger one, so that it never goes back when receivers sharing the
 * store publish in turn. The files are a view of receiver.db: `republish` rebuilds what is missing after a crash.
 * A running receiver publishes in the background (`publishInBackground`): the tiles, bundles and the next checkpoint
 * are written on the thread pool, and only the rename of the checkpoint waits for the lock. Creating files costs
 * milliseconds each on a busy disk, which the receiver's thread would otherwise spend waiting (bench/README.md).
 * A publication runs about once a second while the receiver takes files, so it reads only the leaves since the last
 * one and makes no folder twice (bench/README.md, receiver-log-cost).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Db } from '../state/db.js';
import { CHECKPOINT_FILE, TILE_WIDTH, encodeBundle, tilePath } from '../tlog/tiles.js';
import type { AgencyLog } from './agency-log.js';
import { LOG_CERT_FILE, LOG_DIR } from '../evidence/log-leaf.js';
import { queued } from './sqlite-receiver-sql.js';

/** What one publication writes, read from committed state under the lock. */
interface Plan {
  size: number;
  /** Tiles and bundles: a path fixes its content, so they are written in any order, by any receiver, any number of times. */
  files: { path: string; data: Uint8Array }[];
  /** The `.p` folders of tiles now full (tlog-tiles: partial tiles MAY be deleted then). */
  stale: string[];
  /** The partial tile written at each level, to remember once written. */
  partials: [number | 'entries', string][];
  checkpoint: string;
}

export class LogFiles {
  /** The size whose files this process last wrote. */
  private written = -1;
  /**
   * The partial tile (and bundle) this process last wrote at each level. A partial tile's path fixes its content,
   * and one above level 0 stays the same for 256^level leaves: it is not written again after every commit.
   */
  private readonly partials = new Map<number | 'entries', string>();
  /** Folders this process made: a path's folder is asked for once. */
  private readonly made = new Set<string>();
  /**
   * The level-0 hashes and the leaf bundle of the partial tile last planned, `size` leaves in: committed leaves never
   * change, so the next plan in the same tile reads only the leaves after them.
   */
  private tail: { tile: number; size: number; hashes: Buffer; bundle: Buffer } | undefined;
  readonly dir: string;

  constructor(
    store: string,
    private readonly db: Db,
    private readonly log: AgencyLog,
  ) {
    this.dir = join(store, LOG_DIR);
  }

  /** At start: the certificate, every full tile that is missing, and the current partial tiles and checkpoint. */
  republish(certPem: string): void {
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(join(this.dir, LOG_CERT_FILE), certPem);
    this.locked(() => {
      const plan = this.plan(this.log.size(), 0, true);
      for (const f of plan.files) write(f.path, f.data);
      this.finish(plan, () => writeAtomic(this.checkpointPath, plan.checkpoint));
    });
  }

  /** After a commit that appended leaves: publish the files for the log's current size, now. */
  publish(): void {
    this.locked(() => {
      const plan = this.planNext();
      if (!plan) return;
      for (const f of plan.files) write(f.path, f.data);
      this.finish(plan, () => this.replaceCheckpoint(plan, () => writeAtomic(this.checkpointPath, plan.checkpoint)));
    });
  }

  /** The same, with the files written on the thread pool. One at a time: the caller waits for the last one. */
  async publishInBackground(): Promise<void> {
    const plan = await this.lockedInTurn(() => this.planNext());
    if (!plan) return;
    await Promise.all(plan.files.map(async (f) => {
      const dir = dirname(f.path);
      if (!this.made.has(dir)) await mkdir(dir, { recursive: true });
      this.made.add(dir);
      // A folder removed behind our back is made again by the next publication.
      await writeFile(f.path, f.data).catch((err: unknown) => {
        this.made.delete(dir);
        throw err;
      });
    }));
    const tmp = `${this.checkpointPath}.tmp-${process.pid}-${plan.size}`;
    await writeFile(tmp, plan.checkpoint);
    // Removed here, off the receiver's thread: finish() has none left to remove.
    for (const d of plan.stale.splice(0)) {
      await rm(d, { recursive: true, force: true });
      this.made.delete(d);
    }
    await this.lockedInTurn(() => this.finish(plan, () => this.replaceCheckpoint(plan, () => renameSync(tmp, this.checkpointPath), () => rmSync(tmp, { force: true }))));
  }

  private get checkpointPath(): string {
    return join(this.dir, CHECKPOINT_FILE);
  }

  private locked<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** The same, after the ingests' transactions queued before it (one may be open between two statements). */
  private lockedInTurn<T>(fn: () => T): Promise<T> {
    return queued(this.db, () => Promise.resolve().then(() => this.locked(fn)));
  }

  /** Under the lock: the plan for the log's committed size, unless this process published that size already. */
  private planNext(): Plan | undefined {
    const size = this.log.size();
    return size === this.written ? undefined : this.plan(size, Math.max(0, this.written), false);
  }

  /**
   * Under the lock: put the plan's checkpoint in place by `replace`, unless the published one is as large already (a
   * receiver sharing the store published after this plan was made); then `skip`.
   */
  private replaceCheckpoint(plan: Plan, replace: () => void, skip: () => void = () => undefined): void {
    if (publishedSize(this.checkpointPath) >= plan.size) return skip();
    replace();
  }

  /** The checkpoint is in place: forget what is no longer needed and remember what was written. */
  private finish(plan: Plan, checkpoint: () => void): void {
    checkpoint();
    for (const d of plan.stale) {
      rmSync(d, { recursive: true, force: true });
      this.made.delete(d);
    }
    for (const [level, rel] of plan.partials) this.partials.set(level, rel);
    this.written = plan.size;
  }

  /** Files for a log of `size` leaves whose files up to `from` are already there (`all`: check every full file). */
  private plan(size: number, from: number, all: boolean): Plan {
    const plan: Plan = { size, files: [], stale: [], partials: [], checkpoint: this.log.head().checkpoint };
    for (let t = 0, span = 1; span <= size; t++, span *= TILE_WIDTH) {
      const perTile = span * TILE_WIDTH;
      const fullTiles = Math.floor(size / perTile);
      for (let i = all ? 0 : Math.floor(from / perTile); i < fullTiles; i++) {
        this.full(plan, tilePath(t, i), () => this.log.fullTile(t, i)!);
        if (t === 0) this.full(plan, tilePath('entries', i), () => encodeBundle(this.log.leaves(i * TILE_WIDTH, (i + 1) * TILE_WIDTH)));
      }
      const width = Math.floor(size / span) % TILE_WIDTH;
      if (width > 0) {
        this.partial(plan, t, tilePath(t, fullTiles, width), all, () => (t === 0 ? this.tailOf(fullTiles, size).hashes : this.log.row(t, fullTiles, 0, width)));
        if (t === 0) this.partial(plan, 'entries', tilePath('entries', fullTiles, width), all, () => this.tailOf(fullTiles, size).bundle);
      }
    }
    return plan;
  }

  /** Level-0 hashes and leaf bundle of tile `tile` of the committed log of `size` leaves, read on from the last ones. */
  private tailOf(tile: number, size: number): { hashes: Buffer; bundle: Buffer } {
    const first = tile * TILE_WIDTH;
    const t = this.tail?.tile === tile && this.tail.size <= size ? this.tail : { tile, size: first, hashes: Buffer.alloc(0), bundle: Buffer.alloc(0) };
    if (t.size < size) {
      const hashes = Buffer.concat([t.hashes, this.log.row(0, tile, t.size - first, size - t.size)]);
      const bundle = Buffer.concat([t.bundle, encodeBundle(this.log.leaves(t.size, size))]);
      this.tail = { tile, size, hashes, bundle };
      return this.tail;
    }
    return t;
  }

  private partial(plan: Plan, level: number | 'entries', rel: string, all: boolean, data: () => Buffer): void {
    if (!all && this.partials.get(level) === rel) return;
    plan.files.push({ path: join(this.dir, rel), data: data() });
    plan.partials.push([level, rel]);
  }

  private full(plan: Plan, rel: string, data: () => Buffer): void {
    const path = join(this.dir, rel);
    if (!existsSync(path)) plan.files.push({ path, data: data() });
    plan.stale.push(`${path}.p`);
  }
}

function write(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
}

/** Readers never see a half-written checkpoint. */
function writeAtomic(path: string, data: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** The size of the published checkpoint (-1 when there is none or it cannot be read). */
function publishedSize(path: string): number {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return -1;
  }
  const size = Number(text.split('\n')[1]);
  return Number.isSafeInteger(size) ? size : -1;
}
