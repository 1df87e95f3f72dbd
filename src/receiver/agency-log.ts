/**
 * The agency's transparency log as the receivers keep it: leaves, full tiles and the head (size, signed checkpoint,
 * the tree's right edge) in the receivers' database (receiver.db or PostgreSQL), appended inside the ingest's own
 * transaction, so that receivers sharing a store append to one log and a crash or a rollback leaves either the
 * entries and their leaves or neither. Each append signs a new checkpoint; receipts carry an inclusion proof of their
 * leaf against it.
 *
 * Appends across receivers are ordered by a row lock on the log's head (SELECT … FOR UPDATE on PostgreSQL; SQLite's
 * write lock already orders every transaction): the lock is the data it guards, so nothing can move the head
 * without it; it costs no round trip beyond reading the head, which the append needs anyway; and READ COMMITTED gives
 * the waiter the head its predecessor committed. A global advisory lock would need its own statement first, and holds
 * nothing that code forgetting it could not write past. The head row exists from the migration on (size 0).
 *
 * The right edge (the roots of the tree's full subtrees, one per binary digit of the size) is stored with the head:
 * the new root and the proof of the newest leaf then cost a few hashes, whichever receiver appended last, without a
 * walk over stored tiles (bench/README.md, receiver-log-cost). A head without one (a database from before) has it
 * rebuilt from the tiles once. The static files under `<store>/log/` are published from here (log-files.ts).
 */
import type { KeyObject } from 'node:crypto';
import { encodeLeaf, type LogLeaf } from '../evidence/log-leaf.js';
import { EMPTY_ROOT, HASH_SIZE, StreamingRoot, consistencyProof, inclusionProof, leafHash } from '../tlog/merkle.js';
import { TILE_WIDTH, foldHashes } from '../tlog/tiles.js';
import { formatCheckpoint, signCheckpoint, type Checkpoint } from '../tlog/checkpoint.js';
import { NoteSigner } from '../tlog/note.js';
import { Sm2NoteSigner } from '../tlog/sm2-note.js';
import { formatProof } from '../tlog/proof-text.js';
import { LogTree } from './log-tree.js';
import { one, type Queryable, type ReceiverSql } from './receiver-sql.js';

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
  /**
   * The receipt's `log` member: the tlog-proof text of the last leaf appended against `checkpoint`; undefined only
   * from a stand-in without a log (no proof to give).
   */
  proof: string | undefined;
}

/**
 * What the ingests need of the agency log: AgencyLog is the one a receiver runs (receiver-log.ts); the interface
 * lets a bench measure the ingests against a stand-in without the log's work (bench/receiver-launch.js).
 */
export interface LeafLog {
  /**
   * Append leaves inside the caller's transaction `tx` and sign the checkpoint of the new size: the leaves commit, or
   * roll back, with the bookkeeping they describe. Holds the log's lock until that transaction ends: call it late.
   */
  append(tx: Queryable, leaves: LogLeaf[]): Promise<Appended>;
}

interface HeadRow {
  size: number;
  checkpoint: string;
  edge: Buffer | null;
}

/** Rows per INSERT of leaves: far below either database's limit on parameters. */
const LEAVES_PER_INSERT = 200;

export class AgencyLog implements LeafLog {
  readonly signer: NoteSigner;
  /** A gm log's second signer: every checkpoint carries its SM2 line after the Ed25519 one (evidence-format.md §17.9). */
  readonly sm2Signer: Sm2NoteSigner | undefined;
  readonly tree = new LogTree();
  private readonly lockHead: string;
  private empty: string | undefined;

  constructor(
    readonly sql: ReceiverSql,
    logKey: KeyObject,
    readonly origin: string,
    sm2Key?: KeyObject,
  ) {
    this.signer = new NoteSigner(origin, logKey);
    this.sm2Signer = sm2Key && new Sm2NoteSigner(origin, sm2Key);
    this.lockHead = `SELECT size, checkpoint, edge FROM log_head WHERE id = 1${sql.dialect === 'postgres' ? ' FOR UPDATE' : ''}`;
  }

  /** `fn` on committed state only (on SQLite, after this process's open transactions on the file). */
  committed<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    return this.sql.transaction(fn, { readOnly: true });
  }

  /**
   * The head as `q` sees it, or the committed one (a log of no leaves has a checkpoint signed on the spot, never
   * stored).
   */
  async head(q?: Queryable): Promise<LogHead> {
    if (!q) return this.committed((c) => this.head(c));
    const r = await one<LogHead>(q, 'SELECT size, checkpoint FROM log_head WHERE id = 1');
    if (r && r.size > 0) return { size: Number(r.size), checkpoint: r.checkpoint };
    this.empty ??= this.sign({ origin: this.origin, size: 0, root: EMPTY_ROOT });
    return { size: 0, checkpoint: this.empty };
  }

  async append(tx: Queryable, leaves: LogLeaf[]): Promise<Appended> {
    const head = await one<HeadRow>(tx, this.lockHead);
    if (!head) throw new Error("the agency log's head row is missing from the receivers' database (its migrations make it)");
    const start = Number(head.size);
    const tree = head.edge ? StreamingRoot.fromEdge(start, split(head.edge)) : await this.tree.over(tx, start, (src) => StreamingRoot.of(src, start));
    const rows: unknown[][] = [];
    let newest: Buffer[] = [];
    leaves.forEach((l, k) => {
      const data = encodeLeaf(l);
      const hash = leafHash(data);
      rows.push([start + k, data, hash]);
      if (k === leaves.length - 1) newest = tree.nextLeafProof();
      tree.push(hash);
    });
    await insertLeaves(tx, rows);
    const size = start + leaves.length;
    await this.storeFullTiles(tx, start, size);
    const checkpoint = this.sign({ origin: this.origin, size, root: tree.root() });
    await tx.query('UPDATE log_head SET size = $1, checkpoint = $2, edge = $3 WHERE id = 1', [size, checkpoint, Buffer.concat(tree.edge())]);
    const proof = leaves.length > 0 ? formatProof({ index: size - 1, hashes: newest, checkpoint }) : undefined;
    return { first: start, size, checkpoint, proof };
  }

  /** The signed checkpoint note: the Ed25519 line, and a gm log's SM2 line. */
  private sign(c: Checkpoint): string {
    return formatCheckpoint(this.sm2Signer ? signCheckpoint(c, this.signer, this.sm2Signer) : signCheckpoint(c, this.signer));
  }

  /**
   * The tlog-proof text (c2sp.org/tlog-proof@v1) of committed leaf `index` against the checkpoint of committed size
   * `size`. Never inside a transaction of this process (on SQLite it would wait for that transaction's end).
   */
  async proof(index: number, size: number, checkpoint: string): Promise<string> {
    const hashes = await this.committed((q) => this.tree.over(q, size, (src) => inclusionProof(src, index, size)));
    return formatProof({ index, hashes, checkpoint });
  }

  /** The consistency proof from committed size `from` to committed size `to`. Never inside a transaction, as `proof`. */
  consistency(from: number, to: number): Promise<Buffer[]> {
    return this.committed((q) => this.tree.over(q, to, (src) => consistencyProof(src, from, to)));
  }

  /** Store every tile that the leaves [start, size) completed, level by level. */
  private async storeFullTiles(tx: Queryable, start: number, size: number): Promise<void> {
    for (let t = 0, span = TILE_WIDTH; span <= size; t++, span *= TILE_WIDTH) {
      // Tiles of level t whose last leaf is in [start, size).
      for (let i = Math.max(0, Math.floor(start / span)); (i + 1) * span <= size; i++) {
        if ((i + 1) * span <= start) continue;
        const hashes = t === 0 ? await this.tree.leafHashes(tx, i * TILE_WIDTH, (i + 1) * TILE_WIDTH) : await this.foldedBelow(tx, t, i);
        await tx.query('INSERT INTO log_tiles(level, idx, hashes) VALUES ($1, $2, $3) ON CONFLICT(level, idx) DO UPDATE SET hashes = excluded.hashes', [t, i, hashes]);
      }
    }
  }

  /** The 256 hashes of full tile `i` of level `t` > 0: each a full tile of the level below, folded. */
  private async foldedBelow(tx: Queryable, t: number, i: number): Promise<Buffer> {
    const rows = await tx.query<{ hashes: Buffer }>('SELECT hashes FROM log_tiles WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx', [t - 1, i * TILE_WIDTH, (i + 1) * TILE_WIDTH]);
    if (rows.length !== TILE_WIDTH) throw new Error(`log tiles ${t - 1}/${i * TILE_WIDTH}..${(i + 1) * TILE_WIDTH} are missing from the receivers' database`);
    return Buffer.concat(rows.map((r) => foldHashes(r.hashes, TILE_WIDTH)));
  }
}

function split(edge: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < edge.length; at += HASH_SIZE) out.push(Buffer.from(edge.subarray(at, at + HASH_SIZE)));
  return out;
}

async function insertLeaves(tx: Queryable, rows: unknown[][]): Promise<void> {
  for (let at = 0; at < rows.length; at += LEAVES_PER_INSERT) {
    const part = rows.slice(at, at + LEAVES_PER_INSERT);
    const values = part.map((_, k) => `($${3 * k + 1}, $${3 * k + 2}, $${3 * k + 3})`).join(', ');
    await tx.query(`INSERT INTO log_leaves(idx, leaf, hash) VALUES ${values}`, part.flat());
  }
}
