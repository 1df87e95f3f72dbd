/**
 * SipHash-2-4 of a string's UTF-16LE bytes, against the authors' test vectors (key 00..0f, the message of n bytes
 * 00, 01, ..., n-1; each tag as its 8 bytes, least significant first), as `openssl mac -macopt
 * hexkey:000102030405060708090a0b0c0d0e0f -macopt size:8 SIPHASH` prints them. A string holds an even number of
 * bytes, so the vectors of even lengths (0 to 62: every length of the last word) are the ones that apply.
 */
import { describe, expect, it } from 'vitest';
import { sipHash24, sipKey } from '../../src/util/siphash.js';

const EVEN_LENGTH_TAGS = [
  '310e0edd47db6f72', '5a4fa9d909806c0d', 'b7877127e09427cf', 'cee3fe586e46c9cb',
  '6224939a79f5f593', 'f3b9dd94c5bb5d7a', 'fbe50e86bc8f1e75', 'eef27a8e90ca23f7',
  'db9bc2577fcc2a3f', '9cd38d96f0b3c14b', '98eea21af25cd6be', '883ea3e395675393',
  '94af49f6c650adb8', 'f315bb5bb835d817', 'a5c91da7acaa4dde', '28ef495c53a387ad',
  'ce7cf2722f512771', '381205bb1ab0e012', 'b4a31508beff4d31', '4d0cf49ee5d4dcca',
  'd0a704536ba93e0e', 'a915c29bc8067318', 'f21df2e41d4535f9', '10a56cf5dfcd9adb',
  '51a9cb9ecba312e6', '72fe52975a4364ee', 'b274cb8ebf87870a', 'eaecb2a30b22a87f',
  'bd838d3aafbf8db7', '135079a3231ce660', 'e1915f5cb1eca46c', '575ff28e60381be5',
];

/** The n bytes 00, 01, ... as UTF-16LE code units. */
const message = (n: number): string => String.fromCharCode(...Array.from({ length: n / 2 }, (_, i) => (2 * i) | ((2 * i + 1) << 8)));

describe('sipHash24', () => {
  it('gives the reference tags', () => {
    const key = sipKey(Uint8Array.from({ length: 16 }, (_, i) => i));
    const got = EVEN_LENGTH_TAGS.map((_, i) => {
      const [hi, lo] = sipHash24(key, message(2 * i), [0, 0]);
      const tag = Buffer.alloc(8);
      tag.writeUInt32LE(lo, 0);
      tag.writeUInt32LE(hi, 4);
      return tag.toString('hex');
    });
    expect(got).toEqual(EVEN_LENGTH_TAGS);
  });

  it('depends on every bit of the key', () => {
    const base = Uint8Array.from({ length: 16 }, (_, i) => i);
    const tag = (k: Uint8Array): string => sipHash24(sipKey(k), 'segments/x.seg', [0, 0]).join();
    for (let bit = 0; bit < 128; bit++) {
      const k = Uint8Array.from(base);
      k[bit >> 3]! ^= 1 << (bit & 7);
      expect(tag(k)).not.toBe(tag(base));
    }
  });
});
