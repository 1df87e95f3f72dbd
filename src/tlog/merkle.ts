/**
 * RFC 6962 / RFC 9162 Merkle tree hashing, and the inclusion and consistency proofs of §2.1.3 and §2.1.4: how
 * they are made from a tree's full subtrees, and how they are checked against roots alone. Written here rather than
 * taken from a package because none on npm both makes and checks both kinds of proof over a tree kept outside
 * memory (the receiver's tiles); tests cross-check it against sigstore's inclusion verifier and a brute-force MTH.
 */
import { createHash, hash } from 'node:crypto';

export const HASH_SIZE = 32;

const LEAF_PREFIX = Buffer.of(0);

export const leafHash = (leaf: Uint8Array): Buffer => hash('sha256', Buffer.concat([LEAF_PREFIX, leaf]), 'buffer');

/** 0x01 ‖ left ‖ right, filled for each inner node (one-shot hashing of one buffer costs half of a Hash object's three updates). */
const inner = Buffer.alloc(1 + 2 * HASH_SIZE, 1);

export const nodeHash = (left: Uint8Array, right: Uint8Array): Buffer => {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) return createHash('sha256').update(Buffer.of(1)).update(left).update(right).digest();
  inner.set(left, 1);
  inner.set(right, 1 + HASH_SIZE);
  return hash('sha256', inner, 'buffer');
};

/** The root of the empty tree: SHA-256 of nothing. */
export const EMPTY_ROOT = createHash('sha256').digest();

/** The largest power of two smaller than n (n > 1). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * Where a tree's hashes come from: `full(level, index)` is the hash of the full subtree of 2^level leaves starting
 * at leaf index * 2^level, for any such subtree inside the tree the source holds.
 */
export interface HashSource {
  full(level: number, index: number): Buffer;
}

/** MTH of the leaves [start, end), where start is a multiple of the largest power of two not above end - start. */
export function rangeHash(src: HashSource, start: number, end: number): Buffer {
  const n = end - start;
  if (n <= 0) throw new RangeError(`empty range [${start}, ${end})`);
  // A full aligned subtree is one lookup; otherwise split as RFC 6962 does: a full left part, a ragged right.
  if ((n & (n - 1)) === 0 && start % n === 0) return src.full(Math.log2(n), start / n);
  const k = splitPoint(n);
  return nodeHash(rangeHash(src, start, start + k), rangeHash(src, start + k, end));
}

export function treeRoot(src: HashSource, size: number): Buffer {
  return size === 0 ? EMPTY_ROOT : rangeHash(src, 0, size);
}

/** RFC 9162 §2.1.3.1 PATH(m, D[0:n]): the inclusion proof of leaf m in the tree of size n, bottom up. */
export function inclusionProof(src: HashSource, index: number, size: number): Buffer[] {
  if (!(index >= 0 && index < size)) throw new RangeError(`leaf ${index} is not in a tree of size ${size}`);
  const out: Buffer[] = [];
  const walk = (m: number, start: number, n: number): void => {
    if (n === 1) return;
    const k = splitPoint(n);
    if (m < k) {
      walk(m, start, k);
      out.push(rangeHash(src, start + k, start + n));
    } else {
      walk(m - k, start + k, n - k);
      out.push(rangeHash(src, start, start + k));
    }
  };
  walk(index, 0, size);
  return out;
}

/** RFC 9162 §2.1.4.1 PROOF(m, D[0:n]): the consistency proof from the tree of size m to the tree of size n. */
export function consistencyProof(src: HashSource, m: number, n: number): Buffer[] {
  if (!(m >= 0 && m <= n)) throw new RangeError(`no consistency proof from size ${m} to size ${n}`);
  if (m === 0 || m === n) return [];
  const out: Buffer[] = [];
  const sub = (mm: number, start: number, nn: number, whole: boolean): void => {
    if (mm === nn) {
      if (!whole) out.push(rangeHash(src, start, start + nn));
      return;
    }
    const k = splitPoint(nn);
    if (mm <= k) {
      sub(mm, start, k, whole);
      out.push(rangeHash(src, start + k, start + nn));
    } else {
      sub(mm - k, start + k, nn - k, false);
      out.push(rangeHash(src, start, start + k));
    }
  };
  sub(m, 0, n, true);
  return out;
}

/**
 * The walk up the tree that both RFC 9162 verifiers share (§2.1.3.2 step 4, §2.1.4.2 step 6): for each proof hash,
 * `left(c)` when c is the left sibling of the node reached so far, else `right(c)`. Returns the final sn, or -1 when
 * the proof is longer than the tree is high.
 */
function climb(fn: number, sn: number, path: Uint8Array[], left: (c: Uint8Array) => void, right: (c: Uint8Array) => void): number {
  for (const c of path) {
    if (sn === 0) return -1;
    if (fn % 2 === 1 || fn === sn) {
      left(c);
      // The right-most node of its level with no sibling: climb until it is a right child.
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      right(c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn;
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

/** RFC 9162 §2.1.3.2: does `proof` show the leaf with hash `leaf` at `index` in the tree of `size` with `root`? */
export function verifyInclusion(leaf: Uint8Array, index: number, size: number, proof: Uint8Array[], root: Uint8Array): boolean {
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size) && index >= 0 && index < size)) return false;
  if (proof.some((p) => p.length !== HASH_SIZE)) return false;
  let r: Uint8Array = leaf;
  const sn = climb(index, size - 1, proof, (c) => (r = nodeHash(c, r)), (c) => (r = nodeHash(r, c)));
  return sn === 0 && same(r, root);
}

/** RFC 9162 §2.1.4.2: does `proof` show the tree of size n with root2 extends the tree of size m with root1? */
export function verifyConsistency(m: number, n: number, proof: Uint8Array[], root1: Uint8Array, root2: Uint8Array): boolean {
  if (!(Number.isSafeInteger(m) && Number.isSafeInteger(n) && m >= 0 && m <= n)) return false;
  if (m === n) return proof.length === 0 && same(root1, root2);
  if (m === 0) return proof.length === 0;
  if (proof.length === 0 || proof.some((p) => p.length !== HASH_SIZE)) return false;
  // When m is a power of two the proof leaves out the old root itself: put it back first.
  const path = (m & (m - 1)) === 0 ? [root1, ...proof] : [...proof];
  let fn = m - 1;
  let sn = n - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Uint8Array = path[0]!;
  let sr: Uint8Array = path[0]!;
  const end = climb(
    fn,
    sn,
    path.slice(1),
    (c) => {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
    },
    (c) => (sr = nodeHash(sr, c)),
  );
  return end === 0 && same(fr, root1) && same(sr, root2);
}

/**
 * The right edge of a tree built one leaf at a time, in memory O(log n): the roots of its full subtrees, one per
 * binary digit of its size. The verifier streams a log of millions of leaves through it; the receiver stores its log's
 * edge with the log's head (agency-log.ts), so that a new root and the proof of the newest leaf cost a few hashes each.
 */
export class StreamingRoot {
  /** Roots of the full subtrees on the right edge, largest first (the binary digits of the size). */
  private readonly stack: { level: number; hash: Buffer }[] = [];
  private n = 0;

  /** The edge of the first `size` leaves of a tree, from its full subtrees (one lookup per binary digit of size). */
  static of(src: HashSource, size: number): StreamingRoot {
    const out = new StreamingRoot();
    // Largest subtree first; one level above log2(size) so that rounding in log2 cannot skip the top one.
    for (let level = Math.floor(Math.log2(Math.max(1, size))) + 1; level >= 0; level--) {
      const span = 2 ** level;
      if (size - out.n < span) continue;
      out.stack.push({ level, hash: src.full(level, out.n / span) });
      out.n += span;
    }
    return out;
  }

  /**
   * The edge of a tree of `size` leaves from the roots of its full subtrees, largest first (as `edge()` gives them):
   * their levels are the binary digits of `size`.
   */
  static fromEdge(size: number, hashes: Buffer[]): StreamingRoot {
    const levels: number[] = [];
    for (let level = 52; level >= 0; level--) if (Math.floor(size / 2 ** level) % 2 === 1) levels.push(level);
    if (levels.length !== hashes.length) throw new RangeError(`a tree of ${size} leaves has ${levels.length} full subtrees on its edge, not ${hashes.length}`);
    const out = new StreamingRoot();
    levels.forEach((level, i) => out.stack.push({ level, hash: hashes[i]! }));
    out.n = size;
    return out;
  }

  /** The roots of the full subtrees on the right edge, largest first: with the size, all an append needs. */
  edge(): Buffer[] {
    return this.stack.map((s) => s.hash);
  }

  clone(): StreamingRoot {
    const c = new StreamingRoot();
    c.stack.push(...this.stack);
    c.n = this.n;
    return c;
  }

  push(leaf: Buffer): void {
    let h = leaf;
    let level = 0;
    while (this.stack.length > 0 && this.stack[this.stack.length - 1]!.level === level) {
      h = nodeHash(this.stack.pop()!.hash, h);
      level++;
    }
    this.stack.push({ level, hash: h });
    this.n++;
  }

  get size(): number {
    return this.n;
  }

  /** The root of the leaves pushed so far. */
  root(): Buffer {
    if (this.stack.length === 0) return EMPTY_ROOT;
    let h = this.stack[this.stack.length - 1]!.hash;
    for (let i = this.stack.length - 2; i >= 0; i--) h = nodeHash(this.stack[i]!.hash, h);
    return h;
  }

  /**
   * The inclusion proof of the leaf pushed next, in the tree it makes (PATH(size, D[0:size+1])): a last leaf has only
   * left siblings, and they are exactly the full subtrees before it, smallest first.
   */
  nextLeafProof(): Buffer[] {
    return this.stack.map((s) => s.hash).reverse();
  }
}
