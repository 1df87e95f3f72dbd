/**
 * How a bucket's pieces of an append-only file are read and compacted (src/store/s3-pieces.ts): the file through the
 * longest piece at each offset, with what a compaction left over set aside; overlapping pieces refused; runs chosen
 * like with like, below the committed length, and each byte copied once per level over a long life of appends.
 */
import { describe, expect, it } from 'vitest';
import { COMPACT_BYTES, COMPACT_PIECES, chainOf, compactionRun, parsePiece, pieceKey, type Piece } from '../../src/store/s3-pieces.js';

const FILE = 'p/room-1/ledger.jsonl';
const url = (k: string): string => `s3://b/${k}`;
const small = (offset: number, size: number): Piece => ({ key: pieceKey(FILE, offset), offset, size, compacted: false });
const joined = (offset: number, size: number): Piece => ({ key: pieceKey(FILE, offset, offset + size), offset, size, compacted: true });
/** `n` small pieces of `size` bytes from `offset`. */
const smalls = (offset: number, n: number, size: number): Piece[] => Array.from({ length: n }, (_, i) => small(offset + i * size, size));

describe('pieces of an append-only file in a bucket', () => {
  it('names pieces by offset, compacted ones by offset and end, and refuses other names and a lying size', () => {
    expect(pieceKey(FILE, 4096)).toBe(`${FILE}.parts/00000000000000004096`);
    expect(pieceKey(FILE, 0, 4096)).toBe(`${FILE}.parts/00000000000000000000-00000000000000004096`);
    expect(parsePiece(FILE, pieceKey(FILE, 0, 10), 10, url)).toEqual(joined(0, 10));
    expect(parsePiece(FILE, pieceKey(FILE, 7), 3, url)).toEqual(small(7, 3));
    expect(() => parsePiece(FILE, `${FILE}.parts/7`, 3, url)).toThrow(/is not a piece of s3:\/\/b\/p\/room-1\/ledger\.jsonl \(its name must be 20 digits, or two joined by '-'\)/);
    expect(() => parsePiece(FILE, pieceKey(FILE, 0, 10), 9, url)).toThrow(/holds 9 bytes, but its name says bytes 0 to 10/);
  });

  it('reads through a compacted piece, setting aside the small ones it covers (a compaction under way or cut short)', () => {
    const pieces = [...smalls(0, 4, 10), joined(0, 30), small(40, 5)];
    const { chain, covered } = chainOf(pieces.reverse(), url, FILE);
    expect(chain).toEqual([joined(0, 30), small(30, 10), small(40, 5)]);
    expect(covered.map((p) => p.offset).sort((a, b) => a - b)).toEqual([0, 10, 20]);
    expect(chainOf(smalls(0, 3, 5), url, FILE)).toEqual({ chain: smalls(0, 3, 5), covered: [] });
  });

  it('refuses pieces that overlap without one covering the other', () => {
    expect(() => chainOf([joined(0, 30), small(25, 10)], url, FILE)).toThrow(/starts inside .*00000000000000000000-00000000000000000030 and ends past it: the pieces of s3:\/\/b\/p\/room-1\/ledger\.jsonl overlap/);
  });

  it('compacts a run of small pieces below the committed length, never the part that may still be cut', () => {
    const chain = smalls(0, COMPACT_PIECES + 10, 100);
    const committed = (COMPACT_PIECES + 5) * 100;
    const run = compactionRun(chain, committed)!;
    expect(run).toEqual(chain.slice(0, COMPACT_PIECES + 5));
    // Not enough below the committed length: nothing.
    expect(compactionRun(chain, (COMPACT_PIECES - 1) * 100)).toBeUndefined();
  });

  it('joins like with like: a run of small pieces after a compacted one, and compacted ones only once there are enough', () => {
    const after = [joined(0, 6400), ...smalls(6400, COMPACT_PIECES, 100)];
    expect(compactionRun(after, Infinity)).toEqual(after.slice(1));
    const level1 = Array.from({ length: COMPACT_PIECES }, (_, i) => joined(i * 6400, 6400));
    expect(compactionRun([...level1.slice(1), ...smalls(COMPACT_PIECES * 6400, 3, 100)].map((p, i) => ({ ...p, offset: i })), Infinity)).toBeUndefined();
    expect(compactionRun(level1, Infinity)).toEqual(level1);
    // A compacted piece too large to join again stays as it is, and the runs beside it are counted apart.
    const big = joined(0, COMPACT_BYTES);
    expect(compactionRun([big, ...smalls(COMPACT_BYTES, COMPACT_PIECES - 1, 100)], Infinity)).toBeUndefined();
  });

  it('over a long life of appends copies each byte a few times, not once per compaction', () => {
    // Simulate: 20,000 appends of 200 bytes, compacting after each one as the store does.
    let pieces: Piece[] = [];
    let size = 0;
    let copied = 0;
    for (let i = 0; i < 20_000; i++) {
      pieces.push(small(size, 200));
      size += 200;
      const run = compactionRun(pieces, size - 200);
      if (run) {
        const at = run[0]!.offset;
        const n = run.reduce((b, p) => b + p.size, 0);
        copied += n;
        pieces = [...pieces.filter((p) => p.offset < at), joined(at, n), ...pieces.filter((p) => p.offset >= at + n)];
      }
    }
    expect(chainOf(pieces, url, FILE).chain.reduce((b, p) => b + p.size, 0)).toBe(size);
    expect(pieces.length).toBeLessThan(2 * COMPACT_PIECES);
    expect(copied / size).toBeLessThan(3);
  });
});
