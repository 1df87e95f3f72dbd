/** The receiver's byte-range arithmetic: what prefix of a file it holds, and which bytes of a chunk are new. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { coveredPrefix, uncovered } from '../../src/receiver/store-db.js';

describe('receiver byte ranges', () => {
  it('coveredPrefix follows contiguous ranges from 0, in any order, overlaps included', () => {
    expect(coveredPrefix([])).toBe(0);
    expect(coveredPrefix([{ offset: 10, len: 5 }])).toBe(0);
    expect(coveredPrefix([{ offset: 5, len: 5 }, { offset: 0, len: 6 }, { offset: 20, len: 5 }])).toBe(10);
  });

  it('uncovered gives the holes of a chunk, and nothing for bytes already held', () => {
    const held = [{ offset: 0, len: 10 }, { offset: 20, len: 10 }];
    expect(uncovered(held, 0, 10)).toEqual([]);
    expect(uncovered(held, 5, 20)).toEqual([[10, 20]]);
    expect(uncovered(held, 5, 40)).toEqual([[10, 20], [30, 45]]);
    expect(uncovered([], 7, 3)).toEqual([[7, 10]]);
  });

  it('holes plus held ranges cover the chunk exactly, and holes never overlap what is held', () => {
    const range = fc.record({ offset: fc.nat(200), len: fc.integer({ min: 1, max: 50 }) });
    fc.assert(
      fc.property(fc.array(range, { maxLength: 8 }), range, (held, c) => {
        const holes = uncovered(held, c.offset, c.len);
        const inHeld = (x: number): boolean => held.some((r) => x >= r.offset && x < r.offset + r.len);
        for (let x = c.offset; x < c.offset + c.len; x++) {
          const inHole = holes.some(([a, b]) => x >= a && x < b);
          expect(inHole).toBe(!inHeld(x));
        }
      }),
    );
  });
});
