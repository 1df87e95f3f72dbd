/**
 * The Merkle hashing and proofs of src/tlog/merkle.ts against two references that are not ours: the MTH
 * definition of RFC 6962 §2.1 written as the RFC's recursion over a plain array, and sigstore-js's RFC 6962
 * inclusion verifier (used for Rekor). Every proof is also checked to fail when one bit of it, the leaf, the index
 * or the root changes, so a verifier that accepts everything cannot pass.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import {
  EMPTY_ROOT,
  StreamingRoot,
  consistencyProof,
  inclusionProof,
  leafHash,
  treeRoot,
  verifyConsistency,
  verifyInclusion,
  type HashSource,
} from '../../src/tlog/merkle.js';

const require = createRequire(import.meta.url);
// sigstore's verifier is CommonJS without an exports map: its module path is the only way in.
const { verifyMerkleInclusion } = require('@sigstore/verify/dist/tlog/merkle.js') as {
  verifyMerkleInclusion(entry: { canonicalizedBody: Buffer; inclusionProof: { logIndex: string; hashes: Buffer[] } }, cp: { logSize: bigint; logHash: Buffer }): void;
};

const sha = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** RFC 6962 §2.1, literally. */
function mth(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return sha();
  if (leaves.length === 1) return sha(Buffer.of(0), leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha(Buffer.of(1), mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

/** A HashSource over an array of leaves, computing each full subtree by the literal definition. */
const arraySource = (leaves: Buffer[]): HashSource => ({
  full: (level, index) => mth(leaves.slice(index * 2 ** level, (index + 1) * 2 ** level)),
});

const leavesOf = (n: number, salt = 'x'): Buffer[] => Array.from({ length: n }, (_, i) => Buffer.from(`${salt}-leaf-${i}`));
const flip = (b: Buffer, bit = 0): Buffer => {
  const c = Buffer.from(b);
  c[bit >> 3] = c[bit >> 3]! ^ (1 << (bit & 7));
  return c;
};

describe('tree hashing', () => {
  it('the empty tree and known RFC 6962 values', () => {
    expect(EMPTY_ROOT.toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    // The leaf hash of the empty string (RFC 6962 test vectors in certificate-transparency-go).
    expect(leafHash(Buffer.alloc(0)).toString('hex')).toBe('6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d');
  });

  it('roots from full subtrees and streamed leaf by leaf equal the literal definition, for every size up to 70', () => {
    const leaves = leavesOf(70);
    const stream = new StreamingRoot();
    for (let n = 0; n <= 70; n++) {
      const want = mth(leaves.slice(0, n));
      expect(treeRoot(arraySource(leaves), n).equals(want)).toBe(true);
      expect(stream.root().equals(want)).toBe(true);
      if (n < 70) stream.push(leafHash(leaves[n]!));
    }
  });
});

describe('the right edge of a tree', () => {
  it('rebuilt from full subtrees at every size up to 70, gives the root, and the proof of the next leaf as the definition and sigstore-js have it', () => {
    const leaves = leavesOf(71);
    const src = arraySource(leaves);
    for (let n = 0; n <= 70; n++) {
      const edge = StreamingRoot.of(src, n);
      expect(edge.size).toBe(n);
      expect(edge.root().equals(mth(leaves.slice(0, n)))).toBe(true);
      const proof = edge.nextLeafProof();
      expect(proof).toEqual(inclusionProof(src, n, n + 1));
      const root = mth(leaves.slice(0, n + 1));
      expect(verifyInclusion(leafHash(leaves[n]!), n, n + 1, proof, root)).toBe(true);
      expect(() => verifyMerkleInclusion({ canonicalizedBody: leaves[n]!, inclusionProof: { logIndex: String(n), hashes: proof } }, { logSize: BigInt(n + 1), logHash: root })).not.toThrow();
      // A clone grows on its own: the edge it came from stays at n.
      const grown = edge.clone();
      grown.push(leafHash(leaves[n]!));
      expect(grown.root().equals(root)).toBe(true);
      expect(edge.size).toBe(n);
      expect(edge.root().equals(mth(leaves.slice(0, n)))).toBe(true);
    }
  });

  it('asks for one aligned full subtree per binary digit of the size, largest first, up to 2^53 - 1', () => {
    for (let k = 1; k <= 53; k++) {
      for (const size of [2 ** k - 1, 2 ** k, 2 ** k + 1].filter((x) => Number.isSafeInteger(x))) {
        const asked: [number, number][] = [];
        const edge = StreamingRoot.of({ full: (level, index) => (asked.push([level, index]), Buffer.alloc(32)) }, size);
        expect(edge.size).toBe(size);
        let at = 0;
        for (const [level, index] of asked) {
          expect(index * 2 ** level).toBe(at);
          at += 2 ** level;
        }
        expect(at).toBe(size);
        expect(asked.map(([l]) => l)).toEqual([...asked.map(([l]) => l)].sort((a, b) => b - a));
        expect(asked).toHaveLength(size.toString(2).replace(/0/g, '').length);
      }
    }
  });
});

describe('inclusion proofs', () => {
  it('verify for every leaf of every tree up to 40 leaves, by our verifier and by sigstore-js', () => {
    const leaves = leavesOf(40);
    const src = arraySource(leaves);
    for (let n = 1; n <= 40; n++) {
      const root = mth(leaves.slice(0, n));
      for (let i = 0; i < n; i++) {
        const proof = inclusionProof(src, i, n);
        expect(verifyInclusion(leafHash(leaves[i]!), i, n, proof, root)).toBe(true);
        expect(() => verifyMerkleInclusion({ canonicalizedBody: leaves[i]!, inclusionProof: { logIndex: String(i), hashes: proof } }, { logSize: BigInt(n), logHash: root })).not.toThrow();
      }
    }
  });

  it('fail when the proof, the leaf, the index or the root changes (ours agreeing with sigstore-js)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 300 }), fc.nat(), fc.nat(), (n, a, bit) => {
        const leaves = leavesOf(n, 'p');
        const i = a % n;
        const root = mth(leaves);
        const proof = inclusionProof(arraySource(leaves), i, n);
        const leaf = leafHash(leaves[i]!);
        const sigstoreAccepts = (body: Buffer, idx: number, hashes: Buffer[], size: number, r: Buffer): boolean => {
          try {
            verifyMerkleInclusion({ canonicalizedBody: body, inclusionProof: { logIndex: String(idx), hashes } }, { logSize: BigInt(size), logHash: r });
            return true;
          } catch {
            return false;
          }
        };
        expect(verifyInclusion(leaf, i, n, proof, root)).toBe(true);
        expect(verifyInclusion(flip(leaf, bit % 256), i, n, proof, root)).toBe(false);
        expect(verifyInclusion(leaf, i, n, proof, flip(root, bit % 256))).toBe(false);
        expect(verifyInclusion(leaf, (i + 1) % n, n, proof, root)).toBe(false);
        if (proof.length > 0) {
          const k = bit % proof.length;
          const bad = proof.map((p, j) => (j === k ? flip(p, bit % 256) : p));
          expect(verifyInclusion(leaf, i, n, bad, root)).toBe(false);
          expect(sigstoreAccepts(leaves[i]!, i, bad, n, root)).toBe(false);
          expect(verifyInclusion(leaf, i, n, proof.slice(0, -1), root)).toBe(false);
        }
        expect(sigstoreAccepts(leaves[i]!, i, proof, n, root)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('consistency proofs', () => {
  it('verify from every size to every larger size up to 40', () => {
    const leaves = leavesOf(40);
    const src = arraySource(leaves);
    for (let n = 1; n <= 40; n++) {
      for (let m = 0; m <= n; m++) {
        const proof = consistencyProof(src, m, n);
        expect(verifyConsistency(m, n, proof, mth(leaves.slice(0, m)), mth(leaves.slice(0, n)))).toBe(true);
      }
    }
  });

  it('fail for a forked tree (one earlier leaf differs), a changed proof, swapped sizes or a changed root', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 200 }), fc.nat(), (x, y, bit) => {
        const m = Math.min(x, y);
        const n = Math.max(x, y) + 1;
        const leaves = leavesOf(n, 'c');
        const old = mth(leaves.slice(0, m));
        const root = mth(leaves);
        const proof = consistencyProof(arraySource(leaves), m, n);
        expect(verifyConsistency(m, n, proof, old, root)).toBe(true);
        // A fork: the same m leaves but one rewritten, extended to n. Its proof cannot tie it to the old root.
        const forked = leaves.map((l, i) => (i === bit % m ? Buffer.concat([l, Buffer.from('!')]) : l));
        const forkProof = consistencyProof(arraySource(forked), m, n);
        expect(verifyConsistency(m, n, forkProof, old, mth(forked))).toBe(false);
        expect(verifyConsistency(m, n, proof, flip(old, bit % 256), root)).toBe(false);
        expect(verifyConsistency(m, n, proof, old, flip(root, bit % 256))).toBe(false);
        if (proof.length > 0) {
          const k = bit % proof.length;
          expect(verifyConsistency(m, n, proof.map((p, j) => (j === k ? flip(p, bit % 256) : p)), old, root)).toBe(false);
        }
        if (m !== n) expect(verifyConsistency(n, m, proof, root, old)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
