/**
 * The agency's transparency log as the receiver keeps it: leaves and full tiles in receiver.db, appended inside the
 * same write-locked transaction as the ledger bookkeeping, so that receivers sharing a store append to one log and
 * a crash leaves either the entries and their leaves or neither. Each append signs a new checkpoint; receipts carry
 * an inclusion proof against it. The static files under `<store>/log/` are published from here (log-files.ts).
 * The tree's right edge is kept in memory between appends, so that the new root and the proof of the newest leaf
 * cost a few hashes rather than a walk over stored tiles (bench/README.md, receiver-log-cost); it is used only while
 * log_head holds the checkpoint this process signed from it, else rebuilt from the stored tiles.
 */
import type { KeyObject } from 'node:crypto';
import { prepared, type Db } from '../state/db.js';
import { encodeLeaf, type LogLeaf } from '../evidence/log-leaf.js';
import { HASH_SIZE, StreamingRoot, consistencyProof, inclusionProof, leafHash, treeRoot } from '../tlog/merkle.js';
import { TILE_HEIGHT, TILE_WIDTH, TileHashSource, foldHashes, type TileRows } from '../tlog/tiles.js';
import { formatCheckpoint, signCheckpoint, type SignedCheckpoint } from '../tlog/checkpoint.js';
import { NoteSigner } from '../tlog/note.js';
import { formatProof } from '../tlog/proof-text.js';

export interface LogHead {
  size: number;
  /** The signed checkpoint note for `size`. */
  checkpoint: string;
}

export interface Appended {
  /** Index of the first leaf appended. */
  first: number;
  size: number;
  checkpoint: string;
}

/**
 * What the ingests need of the agency log: AgencyLog is the one a receiver runs (receiver-log.ts); the interface
 * lets a bench measure the ingests against a stand-in without the log's work (bench/receiver-launch.js).
 */
export interface LeafLog {
  append(leaves: LogLeaf[]): Appended;
  /** The receipt's `log` member for leaf `index`; undefined only from a stand-in without a log (no proof to give). */
  proof(index: number, size: number, checkpoint: string): string | undefined;
}

export class AgencyLog implements LeafLog {
  readonly signer: NoteSigner;
  private readonly src: TileHashSource;
  /**
   * The right edge of the tree as this process's last append left it, and the checkpoint that append signed. Valid
   * only while log_head holds that very checkpoint: another receiver's append, or a rollback, replaces or undoes it
   * (the checkpoint text holds the size and the root, so no other tree has the same one).
   */
  private edge: { checkpoint: string; tree: StreamingRoot } | undefined;
  /** The inclusion proof of the last leaf of that append, against its checkpoint: what its receipt carries. */
  private newest: { index: number; checkpoint: string; hashes: Buffer[] } | undefined;

  constructor(
    private readonly db: Db,
    logKey: KeyObject,
    readonly origin: string,
  ) {
    this.signer = new NoteSigner(origin, logKey);
    const rows: TileRows = { row: (t, i, from, count) => this.row(t, i, from, count) };
    this.src = new TileHashSource(rows);
  }

  head(): LogHead {
    const r = prepared(this.db, 'SELECT size, checkpoint FROM log_head WHERE id = 1').get() as LogHead | undefined;
    return r ?? { size: 0, checkpoint: formatCheckpoint(signCheckpoint({ origin: this.origin, size: 0, root: treeRoot(this.src, 0) }, this.signer)) };
  }

  size(): number {
    const r = prepared(this.db, 'SELECT size FROM log_head WHERE id = 1').get() as { size: number } | undefined;
    return r?.size ?? 0;
  }

  /**
   * Append leaves and sign the checkpoint of the new size. Must run inside the caller's write transaction: the
   * leaves commit, or roll back, with the ledger bookkeeping they describe.
   */
  append(leaves: LogLeaf[]): Appended {
    if (!this.db.inTransaction) throw new Error('AgencyLog.append must run inside a write transaction');
    const head = prepared(this.db, 'SELECT size, checkpoint FROM log_head WHERE id = 1').get() as LogHead | undefined;
    const start = head?.size ?? 0;
    // Hashes computed from the leaves below are not remembered until they are committed (a later append sees them
    // below its start).
    this.src.memoUpto = start;
    const mine = this.edge && head && this.edge.checkpoint === head.checkpoint && this.edge.tree.size === start;
    const tree = mine ? this.edge!.tree.clone() : StreamingRoot.of(this.src, start);
    const put = prepared(this.db, 'INSERT INTO log_leaves(idx, leaf, hash) VALUES (?, ?, ?)');
    let newest: Buffer[] = [];
    leaves.forEach((l, k) => {
      const data = encodeLeaf(l);
      const hash = leafHash(data);
      put.run(start + k, data, hash);
      if (k === leaves.length - 1) newest = tree.nextLeafProof();
      tree.push(hash);
    });
    const size = start + leaves.length;
    this.storeFullTiles(start, size);
    const cp: SignedCheckpoint = signCheckpoint({ origin: this.origin, size, root: tree.root() }, this.signer);
    const checkpoint = formatCheckpoint(cp);
    prepared(this.db, 'INSERT INTO log_head(id, size, checkpoint) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET size = excluded.size, checkpoint = excluded.checkpoint').run(size, checkpoint);
    this.edge = { checkpoint, tree };
    this.newest = leaves.length > 0 ? { index: size - 1, checkpoint, hashes: newest } : undefined;
    return { first: start, size, checkpoint };
  }

  /** The tlog-proof text (c2sp.org/tlog-proof@v1) of leaf `index` against the checkpoint of `size`. */
  proof(index: number, size: number, checkpoint: string): string {
    const n = this.newest;
    const hashes = n && n.index === index && n.checkpoint === checkpoint && index === size - 1 ? n.hashes : inclusionProof(this.src, index, size);
    return formatProof({ index, hashes, checkpoint });
  }

  consistency(from: number, to: number): Buffer[] {
    // Outside a write transaction every leaf read is committed: what is computed from them may be remembered. (An
    // append, which must run inside one, holds the memo back to its start again.)
    if (!this.db.inTransaction) this.src.memoUpto = Number.MAX_SAFE_INTEGER;
    return consistencyProof(this.src, from, to);
  }

  /** Leaves [from, to), as stored. */
  leaves(from: number, to: number): Buffer[] {
    const rows = prepared(this.db, 'SELECT leaf FROM log_leaves WHERE idx >= ? AND idx < ? ORDER BY idx').all(from, to) as { leaf: Buffer }[];
    return rows.map((r) => r.leaf);
  }

  /** `count` hashes of tile level `t`, tile `i`, from position `from`: a full stored tile, or built from below. */
  row(t: number, i: number, from: number, count: number): Buffer {
    const full = this.fullTile(t, i);
    if (full) return full.subarray(from * HASH_SIZE, (from + count) * HASH_SIZE);
    if (t === 0) {
      const first = i * TILE_WIDTH + from;
      const rows = prepared(this.db, 'SELECT hash FROM log_leaves WHERE idx >= ? AND idx < ? ORDER BY idx').all(first, first + count) as { hash: Buffer }[];
      if (rows.length !== count) throw new Error(`log leaves ${first}..${first + count} are missing from receiver.db`);
      return Buffer.concat(rows.map((r) => r.hash));
    }
    // A partial tile above level 0: each of its hashes is a full tile one level down, folded. They never change,
    // so they are remembered: folding up to 255 tiles per level after every append cost ~0.7 s at 130,000 leaves.
    const out: Buffer[] = [];
    for (let j = from; j < from + count; j++) {
      const k = i * TILE_WIDTH + j;
      out.push(
        this.src.remembered(TILE_HEIGHT * t, k, () => {
          const below = this.fullTile(t - 1, k);
          if (!below) throw new Error(`log tile ${t - 1}/${k} is missing from receiver.db`);
          return foldHashes(below, TILE_WIDTH);
        }),
      );
    }
    return Buffer.concat(out);
  }

  fullTile(t: number, i: number): Buffer | undefined {
    const r = prepared(this.db, 'SELECT hashes FROM log_tiles WHERE level = ? AND idx = ?').get(t, i) as { hashes: Buffer } | undefined;
    return r?.hashes;
  }

  /** Store every tile that the leaves [start, size) completed, level by level. */
  private storeFullTiles(start: number, size: number): void {
    const put = prepared(this.db, 'INSERT OR REPLACE INTO log_tiles(level, idx, hashes) VALUES (?, ?, ?)');
    for (let t = 0, span = TILE_WIDTH; span <= size; t++, span *= TILE_WIDTH) {
      // Tiles of level t whose last leaf is in [start, size).
      for (let i = Math.floor(start / span); (i + 1) * span <= size; i++) {
        if ((i + 1) * span <= start) continue;
        put.run(t, i, this.row(t, i, 0, TILE_WIDTH));
      }
    }
  }
}
