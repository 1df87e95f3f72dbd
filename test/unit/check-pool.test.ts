/**
 * The check pool's look at segment files, in a worker and in this thread: the SHA-256 (intl) or SM3 (gm) of exactly
 * the file's bytes whatever its size against the 1 MiB read buffer (empty, smaller, equal, larger, several buffers), and no hash
 * when the size is not the expected one.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { CheckPool } from '../../src/verify/check-pool.js';

afterAll(cleanupTmp);

const MiB = 1 << 20;
const SIZES = [0, 768, MiB - 1, MiB, MiB + 1, 3 * MiB + 5];

function files(alg: 'sha256' | 'sm3'): { paths: string[]; sha: string[] } {
  const dir = tmp();
  const paths = SIZES.map((n) => join(dir, `${n}.seg`));
  const sha = SIZES.map((n, i) => {
    const bytes = randomBytes(n);
    writeFileSync(paths[i]!, bytes);
    return createHash(alg).update(bytes).digest('hex');
  });
  return { paths, sha };
}

describe('CheckPool.inspectFiles', () => {
  it.each([
    ['a worker', false, 'sha256'],
    ['this thread', true, 'sha256'],
    ['a worker', false, 'sm3'],
    ['this thread', true, 'sm3'],
  ] as const)('hashes exactly the bytes of files of any size (%s, %s)', async (_, last, alg) => {
    const { paths, sha } = files(alg);
    const pool = new CheckPool(1);
    const algs = SIZES.map(() => alg);
    try {
      const found = await pool.inspectFiles(paths, SIZES, algs, last);
      expect(found).toEqual(SIZES.map((size, i) => ({ state: 'file', size, hash: sha[i] })));
      const wrongSize = await pool.inspectFiles(paths, SIZES.map((n) => n + 1), algs, last);
      expect(wrongSize).toEqual(SIZES.map((size) => ({ state: 'file', size })));
    } finally {
      await pool.stop();
    }
  });
});
