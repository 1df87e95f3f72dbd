/**
 * The agency log's tree as its tables hold it (log_leaves, log_tiles), read through the receivers' database seam,
 * which answers asynchronously, for code that computes over it synchronously (merkle.ts: roots, proofs). `over` runs
 * such a computation twice: a first pass notes which full subtrees it asks for (answering zeros), they are read, and
 * the second pass computes with them. The walks of merkle.ts choose subtrees by sizes and indexes alone, never by
 * hash values, so the second pass asks for exactly what the first noted. Full subtrees of committed leaves never
 * change, so their hashes are remembered across calls.
 */
import { HASH_SIZE, type HashSource } from '../tlog/merkle.js';
import { TILE_HEIGHT, TILE_WIDTH, foldHashes } from '../tlog/tiles.js';
import { one, type Queryable } from './receiver-sql.js';

const ZERO = Buffer.alloc(HASH_SIZE);

export class LogTree {
  private readonly memo = new Map<string, Buffer>();

  constructor(private readonly maxMemo = 100_000) {}

  /**
   * `compute` over the hashes of the stored tree, read through `q`. `committed`: leaves below it are committed (may
   * be remembered); hashes of subtrees reaching past it are read every time.
   */
  async over<T>(q: Queryable, committed: number, compute: (src: HashSource) => T): Promise<T> {
    const wanted = new Map<string, [number, number]>();
    const dry = compute({
      full: (level, index) => {
        const hit = this.memo.get(`${level}/${index}`);
        if (hit) return hit;
        wanted.set(`${level}/${index}`, [level, index]);
        return ZERO;
      },
    });
    if (wanted.size === 0) return dry;
    const got = new Map<string, Buffer>();
    const tiles = new Map<string, Buffer | undefined>();
    for (const [key, [level, index]] of wanted) {
      const t = Math.floor(level / TILE_HEIGHT);
      const count = 2 ** (level % TILE_HEIGHT);
      const first = index * count;
      const tile = Math.floor(first / TILE_WIDTH);
      const k = `${t}/${tile}`;
      if (!tiles.has(k)) tiles.set(k, await this.fullTile(q, t, tile));
      const full = tiles.get(k);
      const from = first % TILE_WIDTH;
      const row = full ? full.subarray(from * HASH_SIZE, (from + count) * HASH_SIZE) : await this.partialRow(q, t, tile, from, count, committed);
      const hash = foldHashes(row, count);
      got.set(key, hash);
      this.remember(level, index, hash, committed);
    }
    return compute({ full: (level, index) => got.get(`${level}/${index}`) ?? this.memo.get(`${level}/${index}`)! });
  }

  async fullTile(q: Queryable, t: number, i: number): Promise<Buffer | undefined> {
    return (await one<{ hashes: Buffer }>(q, 'SELECT hashes FROM log_tiles WHERE level = $1 AND idx = $2', [t, i]))?.hashes;
  }

  /** `count` hashes of tile level `t`, tile `i`, from position `from`: a full stored tile, or built from below. */
  async row(q: Queryable, t: number, i: number, from: number, count: number, committed: number): Promise<Buffer> {
    const full = await this.fullTile(q, t, i);
    if (full) return full.subarray(from * HASH_SIZE, (from + count) * HASH_SIZE);
    return this.partialRow(q, t, i, from, count, committed);
  }

  /** Leaf hashes [first, end), as stored (the caller's own uncommitted ones too, inside its transaction). */
  async leafHashes(q: Queryable, first: number, end: number): Promise<Buffer> {
    const rows = await q.query<{ hash: Buffer }>('SELECT hash FROM log_leaves WHERE idx >= $1 AND idx < $2 ORDER BY idx', [first, end]);
    if (rows.length !== end - first) throw new Error(`log leaves ${first}..${end} are missing from the receivers' database`);
    return Buffer.concat(rows.map((r) => r.hash));
  }

  /** Leaves [from, to), as stored. */
  async leaves(q: Queryable, from: number, to: number): Promise<Buffer[]> {
    const rows = await q.query<{ leaf: Buffer }>('SELECT leaf FROM log_leaves WHERE idx >= $1 AND idx < $2 ORDER BY idx', [from, to]);
    return rows.map((r) => Buffer.from(r.leaf));
  }

  /**
   * Hashes of a tile not (yet) full: at level 0 the leaf hashes; above, each is a full tile one level down, folded.
   * Those never change, so they are remembered: folding up to 255 tiles per level after every append cost ~0.7 s at
   * 130,000 leaves.
   */
  private async partialRow(q: Queryable, t: number, i: number, from: number, count: number, committed: number): Promise<Buffer> {
    if (t === 0) return this.leafHashes(q, i * TILE_WIDTH + from, i * TILE_WIDTH + from + count);
    const out: Buffer[] = [];
    const first = i * TILE_WIDTH + from;
    const level = TILE_HEIGHT * t;
    const missing = Array.from({ length: count }, (_, j) => first + j).filter((k) => !this.memo.has(`${level}/${k}`));
    const below = new Map<number, Buffer>();
    if (missing.length > 0) {
      const rows = await q.query<{ idx: number; hashes: Buffer }>('SELECT idx, hashes FROM log_tiles WHERE level = $1 AND idx >= $2 AND idx <= $3', [t - 1, missing[0]!, missing.at(-1)!]);
      for (const r of rows) below.set(Number(r.idx), r.hashes);
    }
    for (let k = first; k < first + count; k++) {
      let h = this.memo.get(`${level}/${k}`);
      if (!h) {
        const tile = below.get(k);
        if (!tile) throw new Error(`log tile ${t - 1}/${k} is missing from the receivers' database`);
        h = foldHashes(tile, TILE_WIDTH);
        this.remember(level, k, h, committed);
      }
      out.push(h);
    }
    return Buffer.concat(out);
  }

  /** Keep the hash of full subtree (level, index) when every leaf under it is committed. */
  private remember(level: number, index: number, hash: Buffer, committed: number): void {
    if ((index + 1) * 2 ** level > committed) return;
    if (this.memo.size >= this.maxMemo) this.memo.delete(this.memo.keys().next().value!);
    this.memo.set(`${level}/${index}`, hash);
  }
}
