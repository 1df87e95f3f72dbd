/**
 * The static file layout of a tiled log (c2sp.org/tlog-tiles): `checkpoint`, `tile/<L>/<N>[.p/<W>]` (256 hashes per
 * full tile; level L holds the hashes of full subtrees of 256^L leaves) and `tile/entries/<N>[.p/<W>]` (leaves as
 * uint16-length-prefixed bundles). Auditors and witnesses read a log as plain files this way.
 */
import { HASH_SIZE, nodeHash, type HashSource } from './merkle.js';

export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;
export const CHECKPOINT_FILE = 'checkpoint';

/** "x001/x234/067" for 1234067: 3-digit groups, all but the last prefixed with x. */
export function tileIndexPath(n: number): string {
  const groups: string[] = [];
  let v = n;
  do {
    groups.unshift(String(v % 1000).padStart(3, '0'));
    v = Math.floor(v / 1000);
  } while (v > 0);
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

/** `tile/<level>/<N>` (or `tile/entries/<N>`), with `.p/<width>` for a partial tile. */
export function tilePath(level: number | 'entries', index: number, width = TILE_WIDTH): string {
  return `tile/${level}/${tileIndexPath(index)}${width < TILE_WIDTH ? `.p/${width}` : ''}`;
}

export function encodeBundle(leaves: Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  for (const l of leaves) {
    if (l.length > 0xffff) throw new RangeError('a log entry is longer than 65535 bytes');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(l.length);
    parts.push(len, Buffer.from(l));
  }
  return Buffer.concat(parts);
}

export function decodeBundle(buf: Buffer): Buffer[] | { why: string } {
  const out: Buffer[] = [];
  let at = 0;
  while (at < buf.length) {
    if (at + 2 > buf.length) return { why: `a length prefix is cut at byte ${at}` };
    const len = buf.readUInt16BE(at);
    if (at + 2 + len > buf.length) return { why: `the entry at byte ${at} runs past the end of the bundle` };
    out.push(buf.subarray(at + 2, at + 2 + len));
    at += 2 + len;
  }
  return out;
}

/** The hash of a power-of-two run of hashes (a full subtree from its bottom row). */
export function foldHashes(row: Buffer, count: number): Buffer {
  let level: Buffer[] = [];
  for (let i = 0; i < count; i++) level.push(row.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE));
  while (level.length > 1) {
    const up: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) up.push(nodeHash(level[i]!, level[i + 1]!));
    level = up;
  }
  return level[0]!;
}

/**
 * Where tile rows come from: `row(tileLevel, tileIndex, from, count)` gives `count` consecutive hashes of tile level
 * `tileLevel` starting at position `from` of tile `tileIndex` — from a stored full tile, or built from what is below.
 */
export interface TileRows {
  row(tileLevel: number, tileIndex: number, from: number, count: number): Buffer;
}

/**
 * A HashSource over tile rows, with a memo of the full-subtree hashes it computed (they never change once full).
 * `memoUpto`: only subtrees ending at or below this leaf count are kept, so that hashes computed from leaves that a
 * transaction may still roll back are never remembered.
 */
export class TileHashSource implements HashSource {
  private readonly memo = new Map<string, Buffer>();

  constructor(
    private readonly rows: TileRows,
    private readonly maxMemo = 100_000,
  ) {}

  memoUpto = Number.MAX_SAFE_INTEGER;

  full(level: number, index: number): Buffer {
    return this.remembered(level, index, () => {
      const t = Math.floor(level / TILE_HEIGHT);
      const h = level % TILE_HEIGHT;
      const first = index * 2 ** h;
      const count = 2 ** h;
      const tileIndex = Math.floor(first / TILE_WIDTH);
      return foldHashes(this.rows.row(t, tileIndex, first % TILE_WIDTH, count), count);
    });
  }

  /**
   * The hash of the full subtree (level, index) from the memo, or from `compute` (and then kept, when it ends at or
   * below memoUpto). For TileRows that build a partial tile's hashes from the full tiles below.
   */
  remembered(level: number, index: number, compute: () => Buffer): Buffer {
    const key = `${level}/${index}`;
    const hit = this.memo.get(key);
    if (hit) return hit;
    const hash = compute();
    if ((index + 1) * 2 ** level <= this.memoUpto) {
      if (this.memo.size >= this.maxMemo) this.memo.delete(this.memo.keys().next().value!);
      this.memo.set(key, hash);
    }
    return hash;
  }

  /** Forget everything (the log behind it changed in a way the memo cannot follow). */
  clear(): void {
    this.memo.clear();
  }
}
