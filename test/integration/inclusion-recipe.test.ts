/**
 * docs/recipes/check-inclusion.sh (the proof walk of check-receipt.sh and of the evidence disc's verify.sh), run with
 * the real `sh` and `openssl` on proofs from src/tlog/merkle.ts over trees of 1 to 9 leaves, every index: the
 * literal RFC 6962 MTH gives the root. Each proof also fails with one bit of a hash, the leaf or the index changed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inclusionProof, type HashSource } from '../../src/tlog/merkle.js';
import { formatProof } from '../../src/tlog/proof-text.js';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { recipe, sh } from '../helpers/doc-recipes.js';

const CHECK = recipe('check-inclusion.sh');
afterAll(cleanupTmp);

const sha = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** RFC 6962 §2.1, literally. */
function mth(leaves: Buffer[]): Buffer {
  if (leaves.length === 1) return sha(Buffer.of(0), leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha(Buffer.of(1), mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

/** Leaf and proof files for leaf `index` of a tree of `leaves`; `edit` may spoil the proof's parts first. */
function files(leaves: Buffer[], index: number, edit: (p: { index: number; hashes: Buffer[]; leaf: Buffer }) => void = () => {}): [string, string] {
  const src: HashSource = { full: (level, i) => mth(leaves.slice(i * 2 ** level, (i + 1) * 2 ** level)) };
  const p = { index, hashes: inclusionProof(src, index, leaves.length), leaf: leaves[index]! };
  edit(p);
  // The walk does not read the checkpoint's signature (its callers check it): any signature line will do.
  const checkpoint = `example.org/log\n${leaves.length}\n${mth(leaves).toString('base64')}\n\n— example.org/log AAAAAA==\n`;
  const dir = tmp('recgw-inclusion-');
  writeFileSync(join(dir, 'leaf'), p.leaf);
  writeFileSync(join(dir, 'proof'), formatProof({ index: p.index, hashes: p.hashes, checkpoint }));
  return [join(dir, 'leaf'), join(dir, 'proof')];
}

const leavesOf = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => Buffer.from(`{"leaf":${i}}`));

describe('check-inclusion.sh', () => {
  it('accepts every leaf of trees of 1 to 9 leaves and prints its index (a one-leaf tree has an empty proof)', () => {
    for (let n = 1; n <= 9; n++) {
      for (let i = 0; i < n; i++) {
        const r = sh(CHECK, files(leavesOf(n), i));
        expect(r.err, `${i} of ${n}`).toBe('');
        expect(r.code, `${i} of ${n}`).toBe(0);
        expect(r.out).toBe(`${i}\n`);
      }
    }
  }, 120_000);

  it('refuses a proof with one bit of a hash, the leaf, or the index changed', () => {
    const leaves = leavesOf(7);
    const spoilt: [string, (p: { index: number; hashes: Buffer[]; leaf: Buffer }) => void][] = [
      ['hash', (p) => void (p.hashes[1]![0] ^= 1)],
      ['leaf', (p) => void (p.leaf = Buffer.from('{"leaf":9}'))],
      ['index', (p) => void (p.index = 4)],
      ['short', (p) => void p.hashes.pop()],
    ];
    for (const [what, edit] of spoilt) {
      const r = sh(CHECK, files(leaves, 5, edit));
      expect(r.code, what).toBe(1);
      expect(r.err, what).toMatch(/^FAIL (the inclusion proof does not lead to the checkpoint's root|the proof is too short for a tree of 7 leaves)/);
    }
    expect(sh(CHECK, files(leavesOf(1), 0, (p) => void p.hashes.push(Buffer.alloc(32)))).err).toMatch(/longer than the tree is high/);
  });
});
