/**
 * Publishes the agency log as static files under `<store>/log/` (c2sp.org/tlog-tiles): full tiles and entry bundles
 * once, partial ones for the current size, then the checkpoint. Only ever from committed state (a read transaction
 * of its own on the receivers' database, receiver.db or PostgreSQL), so that the published checkpoint never runs
 * ahead of what a crash would keep; and the checkpoint is replaced only by a larger one, compared and renamed under
 * the lock LOG_FILES_LOCK (SQLite: its write lock; PostgreSQL: an advisory lock of its own, so that publishing holds
 * no append up), so that it never goes back when receivers sharing the store, on one host or several, publish in
 * turn. The files are a view of the database: `republish` rebuilds what is missing after a crash. The tiles,
 * bundles and the next checkpoint are written on the thread pool, and only the rename of the checkpoint waits for
 * the lock: creating files costs milliseconds each on a busy disk, which the receiver's thread would otherwise spend
 * waiting (bench/README.md). A publication runs about once a second while the receiver takes files, so it reads
 * only the leaves since the last one and makes no folder twice (bench/README.md, receiver-log-cost).
 */
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CHECKPOINT_FILE, TILE_WIDTH, encodeBundle, tilePath } from '../tlog/tiles.js';
import type { AgencyLog } from './agency-log.js';
import type { Queryable } from './receiver-sql.js';
import { LOG_CERT_FILE, LOG_DIR } from '../evidence/log-leaf.js';

/** The lock under which the published checkpoint is compared and replaced. */
export const LOG_FILES_LOCK = 'agency-log-files';

/** What one publication writes, read from committed state. */
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
    private readonly log: AgencyLog,
  ) {
    this.dir = join(store, LOG_DIR);
  }

  /** At start: the certificate, every full tile that is missing, and the current partial tiles and checkpoint. */
  async republish(certPem: string): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFile(join(this.dir, LOG_CERT_FILE), certPem);
    const plan = await this.log.committed(async (q) => this.plan(q, (await this.log.head(q)).size, 0, true));
    await this.put(plan);
  }

  /** After commits that appended leaves: publish the files for the log's committed size. One at a time: the caller waits for the last one. */
  async publish(): Promise<void> {
    const plan = await this.log.committed((q) => this.planNext(q));
    if (plan) await this.put(plan);
  }

  /** The name the bench's counters time publications by (bench/receiver-launch.js). */
  publishInBackground(): Promise<void> {
    return this.publish();
  }

  private get checkpointPath(): string {
    return join(this.dir, CHECKPOINT_FILE);
  }

  /** Write the plan's files on the thread pool, then put its checkpoint in place under the lock. */
  private async put(plan: Plan): Promise<void> {
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
    for (const d of plan.stale) {
      await rm(d, { recursive: true, force: true });
      this.made.delete(d);
    }
    await this.log.sql.transaction(async () => this.finish(plan, () => this.replaceCheckpoint(plan, () => renameSync(tmp, this.checkpointPath), () => rmSync(tmp, { force: true }))), { lock: LOG_FILES_LOCK });
  }

  /** The plan for the log's committed size, unless this process published that size already. */
  private async planNext(q: Queryable): Promise<Plan | undefined> {
    const size = (await this.log.head(q)).size;
    return size === this.written ? undefined : this.plan(q, size, Math.max(0, this.written), false);
  }

  /**
   * Under the lock: put the plan's checkpoint in place by `replace`, unless the published one is as large already (a
   * receiver sharing the store published after this plan was made); then `skip`.
   */
  private replaceCheckpoint(plan: Plan, replace: () => void, skip: () => void): void {
    if (publishedSize(this.checkpointPath) >= plan.size) return skip();
    replace();
  }

  /** The checkpoint is in place: remember what was written. */
  private finish(plan: Plan, checkpoint: () => void): void {
    checkpoint();
    for (const [level, rel] of plan.partials) this.partials.set(level, rel);
    this.written = plan.size;
  }

  /** Files for a log of `size` leaves whose files up to `from` are already there (`all`: check every full file). */
  private async plan(q: Queryable, size: number, from: number, all: boolean): Promise<Plan> {
    const plan: Plan = { size, files: [], stale: [], partials: [], checkpoint: (await this.log.head(q)).checkpoint };
    const tree = this.log.tree;
    for (let t = 0, span = 1; span <= size; t++, span *= TILE_WIDTH) {
      const perTile = span * TILE_WIDTH;
      const fullTiles = Math.floor(size / perTile);
      for (let i = all ? 0 : Math.floor(from / perTile); i < fullTiles; i++) {
        await this.full(plan, tilePath(t, i), async () => (await tree.fullTile(q, t, i))!);
        if (t === 0) await this.full(plan, tilePath('entries', i), async () => encodeBundle(await tree.leaves(q, i * TILE_WIDTH, (i + 1) * TILE_WIDTH)));
      }
      const width = Math.floor(size / span) % TILE_WIDTH;
      if (width > 0) {
        await this.partial(plan, t, tilePath(t, fullTiles, width), all, async () => (t === 0 ? (await this.tailOf(q, fullTiles, size)).hashes : tree.row(q, t, fullTiles, 0, width, size)));
        if (t === 0) await this.partial(plan, 'entries', tilePath('entries', fullTiles, width), all, async () => (await this.tailOf(q, fullTiles, size)).bundle);
      }
    }
    return plan;
  }

  /** Level-0 hashes and leaf bundle of tile `tile` of the committed log of `size` leaves, read on from the last ones. */
  private async tailOf(q: Queryable, tile: number, size: number): Promise<{ hashes: Buffer; bundle: Buffer }> {
    const first = tile * TILE_WIDTH;
    const t = this.tail?.tile === tile && this.tail.size <= size ? this.tail : { tile, size: first, hashes: Buffer.alloc(0), bundle: Buffer.alloc(0) };
    if (t.size < size) {
      const hashes = Buffer.concat([t.hashes, await this.log.tree.leafHashes(q, t.size, size)]);
      const bundle = Buffer.concat([t.bundle, encodeBundle(await this.log.tree.leaves(q, t.size, size))]);
      this.tail = { tile, size, hashes, bundle };
      return this.tail;
    }
    return t;
  }

  private async partial(plan: Plan, level: number | 'entries', rel: string, all: boolean, data: () => Promise<Buffer>): Promise<void> {
    if (!all && this.partials.get(level) === rel) return;
    plan.files.push({ path: join(this.dir, rel), data: await data() });
    plan.partials.push([level, rel]);
  }

  private async full(plan: Plan, rel: string, data: () => Promise<Buffer>): Promise<void> {
    const path = join(this.dir, rel);
    if (!existsSync(path)) plan.files.push({ path, data: await data() });
    plan.stale.push(`${path}.p`);
  }
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
