/** Where the gateway cuts a sealed file into chunks: whole chunks, and a short tail goes with the chunk before it. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { chunkLength, maxChunkLength } from '../../src/uplink/wire.js';

const MiB = 1024 * 1024;
const cuts = (size: number, chunk: number, from = 0): number[] => {
  const out: number[] = [];
  for (let off = from; off < size; off += out[out.length - 1]!) out.push(chunkLength(off, size, chunk));
  return out;
};

describe('chunkLength', () => {
  it('sends a sealed 4 MiB segment (4 MiB + its 16-byte tag) in 4 messages, not 5', () => {
    expect(cuts(4 * MiB + 16, MiB)).toEqual([MiB, MiB, MiB, MiB + 16]);
    expect(cuts(4 * MiB + 64 * 1024 + 1, MiB)).toEqual([MiB, MiB, MiB, MiB, 64 * 1024 + 1]);
    expect(cuts(100, MiB)).toEqual([100]);
  });

  it('covers the file exactly from any resume point, every chunk but the last whole, none over maxChunkLength', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 * MiB }), fc.constantFrom(16 * 1024, 256 * 1024, MiB), fc.double({ min: 0, max: 1, noNaN: true }), (size, chunk, at) => {
        const from = Math.floor(at * (size - 1));
        const c = cuts(size, chunk, from);
        expect(c.reduce((a, b) => a + b, 0)).toBe(size - from);
        expect(c.slice(0, -1).every((l) => l === chunk)).toBe(true);
        expect(Math.max(...c)).toBeLessThanOrEqual(maxChunkLength(chunk));
      }),
    );
  });
});
