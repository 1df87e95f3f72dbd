/**
 * An append-only file in a bucket is held as write-once pieces (docs/object-store.md §3): `<file>.parts/<offset>`,
 * one per append, and `<file>.parts/<offset>-<end>`, a compacted piece holding the bytes [offset, end) of many
 * small ones. A receiver appends once a message, so without compaction a year of one device's ledger would be
 * millions of objects, each a request to read. This module reads a listing of pieces as the file they make up, and
 * chooses what to compact; s3-store.ts does the requests.
 *
 * A compacted piece is written (once) before the small pieces it covers are removed, so a listing may show both
 * (a compaction under way, or one a crash stopped between the two): the file is then read through the compacted
 * piece, and the small ones it covers are left over, removed by the next compaction.
 */
import { RecgwError } from '../util/errors.js';

export const PARTS = '.parts/';
const OFFSET_DIGITS = 20;

export interface Piece {
  key: string;
  offset: number;
  size: number;
  /** A compacted piece (`<offset>-<end>`). */
  compacted: boolean;
  /** The MD5 (hex) the listing gave as its ETag, for a piece written in one PUT. */
  md5?: string;
}

/** The key of the piece at `offset` (and, compacted, ending at `end`). */
export function pieceKey(fileKey: string, offset: number, end?: number): string {
  const pad = (n: number): string => String(n).padStart(OFFSET_DIGITS, '0');
  return `${fileKey}${PARTS}${pad(offset)}${end === undefined ? '' : `-${pad(end)}`}`;
}

/** A listed object under `<fileKey>.parts/` as a piece; `url` names things in errors. */
export function parsePiece(fileKey: string, key: string, size: number, url: (key: string) => string, etag?: string): Piece {
  const m = /^(\d{20})(?:-(\d{20}))?$/.exec(key.slice(fileKey.length + PARTS.length));
  if (!m) throw new RecgwError('storage', `${url(key)} is not a piece of ${url(fileKey)} (its name must be 20 digits, or two joined by '-')`);
  const offset = Number(m[1]);
  if (m[2] !== undefined && Number(m[2]) - offset !== size) {
    throw new RecgwError('storage', `${url(key)} holds ${size} bytes, but its name says bytes ${offset} to ${Number(m[2])} of ${url(fileKey)}`);
  }
  const md5 = /^"?([0-9a-f]{32})"?$/.exec(etag ?? '')?.[1];
  return { key, offset, size, compacted: m[2] !== undefined, ...(md5 ? { md5 } : {}) };
}

/**
 * The pieces that make up the file, in order from offset 0 (where two start at one offset, the longer: a compacted
 * piece over the small ones it replaces), and the pieces a chosen one covers (left over by a compaction). A piece
 * that starts inside a chosen one and ends past it is no file at all: refused. A gap ends the chain there; the
 * pieces past it are returned as the chain goes on from them too, so that the callers' own checks of contiguity
 * name it as before.
 */
export function chainOf(pieces: Piece[], url: (key: string) => string, fileKey: string): { chain: Piece[]; covered: Piece[] } {
  const sorted = [...pieces].sort((a, b) => a.offset - b.offset || b.size - a.size);
  const chain: Piece[] = [];
  const covered: Piece[] = [];
  let end = 0;
  for (const p of sorted) {
    const last = chain.at(-1);
    if (last && p.offset < end) {
      if (p.offset + p.size <= end) covered.push(p);
      else throw new RecgwError('storage', `${url(p.key)} starts inside ${url(last.key)} and ends past it: the pieces of ${url(fileKey)} overlap`);
      continue;
    }
    chain.push(p);
    end = p.offset + p.size;
  }
  return { chain, covered };
}

/** Compact once this many pieces lie in the committed part of a file … */
export const COMPACT_PIECES = 64;
/** … into pieces of at most this many bytes. */
export const COMPACT_BYTES = 64 << 20;

/**
 * The first run of consecutive chain pieces wholly below `committed` (bytes before it are never cut again:
 * docs/object-store.md §3) worth joining into one: at least COMPACT_PIECES pieces, at most COMPACT_BYTES bytes, all
 * small (as appended) or all compacted ones of at most COMPACT_BYTES / COMPACT_PIECES each. Joining like with like
 * copies each byte once per level (64 appends, then 64 of those, …) instead of once per compaction, as joining a
 * growing first piece with each new run would. Undefined when there is none.
 */
export function compactionRun(chain: Piece[], committed: number): Piece[] | undefined {
  const joinable = (p: Piece): boolean => !p.compacted || p.size <= COMPACT_BYTES / COMPACT_PIECES;
  let run: Piece[] = [];
  let bytes = 0;
  for (const p of chain) {
    if (p.offset + p.size > committed) break;
    const last = run.at(-1);
    if (!joinable(p) || (last && (last.compacted !== p.compacted || last.offset + last.size !== p.offset)) || bytes + p.size > COMPACT_BYTES) {
      if (run.length >= COMPACT_PIECES) return run;
      run = [];
      bytes = 0;
      if (!joinable(p)) continue;
    }
    run.push(p);
    bytes += p.size;
  }
  return run.length >= COMPACT_PIECES ? run : undefined;
}
