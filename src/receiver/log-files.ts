/**
 * Publishes the agency log as static files under `<store>/log/` (c2sp.org/tlog-tiles): full tiles and entry bundles
 * once, partial ones for the current size, then the checkpoint. Only ever from committed state, under receiver.db's
 * write lock, so that the published checkpoint never runs ahead of what a crash would keep and never goes back when
 * receivers sharing the store publish in turn. The files are a view of receiver.db: `republish` rebuilds what is
 * missing after a crash.
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Db } from '../state/db.js';
import { CHECKPOINT_FILE, TILE_WIDTH, encodeBundle, tilePath } from '../tlog/tiles.js';
import type { AgencyLog } from './agency-log.js';
import { LOG_CERT_FILE, LOG_DIR } from '../evidence/log-leaf.js';


export class LogFiles {
  /** The size whose files this process last wrote. */
  private written = -1;
  /**
   * The partial tile (and bundle) this process last wrote at each level. A partial tile's path fixes its content,
   * and one above level 0 stays the same for 256^level leaves: it is not written again after every commit.
   */
  private readonly partials = new Map<number | 'entries', string>();
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
    write(join(this.dir, LOG_CERT_FILE), certPem);
    this.locked(() => this.publishUpTo(this.log.size(), 0, true));
  }

  /** After a commit that appended leaves: publish the files for the log's current size. */
  publish(): void {
    this.locked(() => {
      const size = this.log.size();
      if (size !== this.written) this.publishUpTo(size, Math.max(0, this.written), false);
    });
  }

  private locked(fn: () => void): void {
    this.db.transaction(fn).immediate();
  }

  /** Files for a log of `size` leaves whose files up to `from` are already there (`all`: check every full file). */
  private publishUpTo(size: number, from: number, all: boolean): void {
    for (let t = 0, span = 1; span <= size; t++, span *= TILE_WIDTH) {
      const perTile = span * TILE_WIDTH;
      const fullTiles = Math.floor(size / perTile);
      for (let i = all ? 0 : Math.floor(from / perTile); i < fullTiles; i++) {
        this.full(t, i);
        if (t === 0) this.fullBundle(i);
      }
      const width = Math.floor(size / span) % TILE_WIDTH;
      if (width > 0) {
        this.partial(t, fullTiles, width, all, () => this.log.row(t, fullTiles, 0, width));
        if (t === 0) this.partial('entries', fullTiles, width, all, () => encodeBundle(this.log.leaves(fullTiles * TILE_WIDTH, size)));
      }
    }
    writeAtomic(join(this.dir, CHECKPOINT_FILE), this.log.head().checkpoint);
    this.written = size;
  }

  private partial(level: number | 'entries', i: number, width: number, all: boolean, data: () => Buffer): void {
    const rel = tilePath(level, i, width);
    if (!all && this.partials.get(level) === rel) return;
    write(join(this.dir, rel), data());
    this.partials.set(level, rel);
  }

  private full(t: number, i: number): void {
    const path = join(this.dir, tilePath(t, i));
    if (!existsSync(path)) write(path, this.log.fullTile(t, i)!);
    // Partial versions of a tile are not needed once it is full (tlog-tiles: MAY be deleted).
    rmSync(`${path}.p`, { recursive: true, force: true });
  }

  private fullBundle(i: number): void {
    const path = join(this.dir, tilePath('entries', i));
    if (!existsSync(path)) write(path, encodeBundle(this.log.leaves(i * TILE_WIDTH, (i + 1) * TILE_WIDTH)));
    rmSync(`${path}.p`, { recursive: true, force: true });
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
