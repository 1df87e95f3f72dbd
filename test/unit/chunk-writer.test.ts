/**
 * The receiver's chunk writer: whatever order and alignment the pieces come in, the partial file ends up holding
 * exactly the file's bytes at its exact size, through O_DIRECT (the temp folder here is ext4; tmpfs takes O_DIRECT
 * too since Linux 6.6, so the fallback for file systems that refuse it, EINVAL at open, has no real one to run
 * against on this machine and is not exercised).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import fc from 'fast-check';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { ChunkWriter } from '../../src/receiver/chunk-writer.js';

afterAll(cleanupTmp);

const KiB = 1024;

/** Write `file` in chunks of `chunk` bytes, in `order`, the way FileIngest does (each chunk one piece). */
async function writeAll(w: ChunkWriter, path: string, file: Buffer, chunk: number, order: number[]): Promise<void> {
  for (const i of order) {
    const from = i * chunk;
    const data = file.subarray(from, Math.min(file.length, from + chunk));
    await w.write(path, [[from, from + data.length]], data, from, file.length);
  }
}

describe('ChunkWriter', () => {
  it('writes a file in 1 MiB chunks, last one short, directly, in any order, at its exact size', async () => {
    const dir = tmp();
    const w = new ChunkWriter();
    const file = randomBytes(4 * 1024 * KiB + 1234);
    await writeAll(w, join(dir, 'a.seg'), file, 1024 * KiB, [0, 1, 2, 3, 4]);
    expect(readFileSync(join(dir, 'a.seg')).equals(file)).toBe(true);
    // The tail first: its padding is cut off at once, and the rest fills in before it.
    await writeAll(w, join(dir, 'b.seg'), file, 1024 * KiB, [4, 2, 0, 3, 1]);
    expect(statSync(join(dir, 'b.seg')).size).toBe(file.length);
    expect(readFileSync(join(dir, 'b.seg')).equals(file)).toBe(true);
    expect(w.directIo).toBe(true);
  });

  it('keeps every byte of several files written at once (a receiver handles devices side by side; the writer has one slot)', async () => {
    const dir = tmp();
    const w = new ChunkWriter();
    const files = Array.from({ length: 4 }, (_, k) => ({ path: join(dir, `f${k}.seg`), bytes: randomBytes(6 * 1024 * KiB + 100 * k) }));
    // Every file's chunks started at once, each file's in order, as concurrent devices' messages do.
    await Promise.all(files.map((f) => writeAll(w, f.path, f.bytes, 1024 * KiB, Array.from({ length: 7 }, (_, i) => i))));
    for (const f of files) expect(readFileSync(f.path).equals(f.bytes)).toBe(true);
  });

  it('writes pieces that start off a block boundary (holes between earlier ranges) the ordinary way', async () => {
    const dir = tmp();
    const w = new ChunkWriter();
    const file = randomBytes(300 * KiB + 7);
    const path = join(dir, 'c.seg');
    // As FileIngest would: a chunk [0, 100 KiB + 5) held, then a chunk over [0, 300 KiB + 7) whose hole starts at 100 KiB + 5.
    await w.write(path, [[0, 100 * KiB + 5]], file.subarray(0, 100 * KiB + 5), 0, file.length);
    await w.write(path, [[100 * KiB + 5, file.length]], file, 0, file.length);
    expect(readFileSync(path).equals(file)).toBe(true);
  });

  it('keeps every byte for random chunk sizes, orders and repeats (property)', async () => {
    const dir = tmp();
    const w = new ChunkWriter();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 600 * KiB }), fc.constantFrom(16 * KiB, 64 * KiB, 100 * KiB + 3, 256 * KiB), fc.integer(), async (size, chunk, seed) => {
        const file = randomBytes(size);
        const count = Math.ceil(size / chunk);
        const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => ((a * 7919 + seed) % 13) - ((b * 7919 + seed) % 13));
        const path = join(dir, `p${n++}.seg`);
        await writeAll(w, path, file, chunk, order);
        return statSync(path).size === size && readFileSync(path).equals(file);
      }),
      { numRuns: 40 },
    );
  });

  it('writes correctly on tmpfs too (/dev/shm)', async () => {
    if (!existsSync('/dev/shm')) throw new Error('this test needs /dev/shm (tmpfs)');
    const dir = mkdtempSync('/dev/shm/recgw-chunk-');
    try {
      const w = new ChunkWriter();
      const file = randomBytes(2 * 1024 * KiB + 99);
      await writeAll(w, join(dir, 'd.seg'), file, 1024 * KiB, [2, 0, 1]);
      expect(readFileSync(join(dir, 'd.seg')).equals(file)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
