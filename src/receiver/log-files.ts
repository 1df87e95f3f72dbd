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
import { join } from 'node:path';
import { FolderStore } from '../store/folder-store.js';
import type { EvidenceStore } from '../store/store.js';
import { CHECKPOINT_FILE, TILE_WIDTH, encodeBundle, tilePath } from '../tlog/tiles.js';
import type { AgencyLog } from './agency-log.js';
import type { Queryable } from './receiver-sql.js';
import { LOG_CERT_FILE, LOG_DIR, LOG_SM2_CERT_FILE } from '../evidence/log-leaf.js';

/** Where the log's files go: a store and the folder in it (`log`), or a plain folder (a FolderStore of it, folder ''). */
export interface LogOut {
  store: EvidenceStore;
  /** The log's folder in the store, '' when the store is the log's folder itself. */
  dir: string;
}

export function logOut(where: string | LogOut): LogOut {
  return typeof where === 'string' ? { store: new FolderStore(where), dir: '' } : where;
}

export const logName = (out: LogOut, rel: string): string => (out.dir === '' ? rel : `${out.dir}/${rel}`);

/** The lock under which the published checkpoint is compared and replaced. */
export const LOG_FILES_LOCK = 'agency-log-files';

/** What one publication writes, read from committed state. */
interface Plan {
  size: number;
  /** Tiles and bundles: a name fixes its content, so they are written once, in any order, by any receiver. */
  files: { name: string; data: Uint8Array }[];
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
  /**
   * The level-0 hashes and the leaf bundle of the partial tile last planned, `size` leaves in: committed leaves never
   * change, so the next plan in the same tile reads only the leaves after them.
   */
  private tail: { tile: number; size: number; hashes: Buffer; bundle: Buffer } | undefined;
  /** Where the files are, for messages. */
  readonly dir: string;
  /** The store and the log's folder in it (`log`). */
  readonly out: LogOut;

  constructor(
    store: string | EvidenceStore,
    private readonly log: AgencyLog,
  ) {
    this.out = { store: typeof store === 'string' ? new FolderStore(store) : store, dir: LOG_DIR };
    this.dir = typeof store === 'string' ? join(store, LOG_DIR) : `${store.location.replace(/\/$/, '')}/${LOG_DIR}`;
  }

  private name(rel: string): string {
    return logName(this.out, rel);
  }

  /**
   * At start: the certificate (and a gm log's SM2 certificate), every full tile that is missing, and the current
   * partial tiles and checkpoint.
   */
  async republish(certPem: string, sm2CertPem?: string): Promise<void> {
    // Replaced, not written once: the log's certificate is renewed in place (a new one for the same key).
    await this.out.store.replace(this.name(LOG_CERT_FILE), Buffer.from(certPem));
    if (sm2CertPem !== undefined) await this.out.store.replace(this.name(LOG_SM2_CERT_FILE), Buffer.from(sm2CertPem));
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

  /** Write the plan's files (at once, on the thread pool or the network), then put its checkpoint in place under the lock. */
  private async put(plan: Plan): Promise<void> {
    // A view of the database, made again at start: replaced (a tile cut short by a crash is made whole) and not fsynced.
    await Promise.all(plan.files.map((f) => this.out.store.replace(f.name, Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength), { view: true })));
    for (const d of plan.stale) await this.out.store.removeAll(d);
    await this.log.sql.transaction(async () => this.finish(plan, () => this.replaceCheckpoint(plan)), { lock: LOG_FILES_LOCK });
  }

  /** The plan for the log's committed size, unless this process published that size already. */
  private async planNext(q: Queryable): Promise<Plan | undefined> {
    const size = (await this.log.head(q)).size;
    return size === this.written ? undefined : this.plan(q, size, Math.max(0, this.written), false);
  }

  /**
   * Under the lock: put the plan's checkpoint in place, unless the published one is as large already (a receiver
   * sharing the store published after this plan was made).
   */
  private async replaceCheckpoint(plan: Plan): Promise<void> {
    const name = this.name(CHECKPOINT_FILE);
    if (publishedSize(await this.out.store.read(name).catch(() => undefined)) >= plan.size) return;
    await this.out.store.replace(name, Buffer.from(plan.checkpoint));
  }

  /** The checkpoint is in place: remember what was written. */
  private async finish(plan: Plan, checkpoint: () => Promise<void>): Promise<void> {
    await checkpoint();
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
    plan.files.push({ name: this.name(rel), data: await data() });
    plan.partials.push([level, rel]);
  }

  private async full(plan: Plan, rel: string, data: () => Promise<Buffer>): Promise<void> {
    const name = this.name(rel);
    if ((await this.out.store.size(name)) === undefined) plan.files.push({ name, data: await data() });
    plan.stale.push(`${name}.p`);
  }
}

/** The size of the published checkpoint (-1 when there is none or it cannot be read). */
function publishedSize(bytes: Buffer | undefined): number {
  if (!bytes) return -1;
  const size = Number(bytes.toString('utf8').split('\n')[1]);
  return Number.isSafeInteger(size) ? size : -1;
}
