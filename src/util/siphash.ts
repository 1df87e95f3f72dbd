/**
 * SipHash-2-4 (Aumasson and Bernstein, 2012) of a string's UTF-16 code units, as the bytes of its UTF-16LE
 * encoding: a keyed 64-bit hash that nobody without the key can find collisions of, at a fraction of the cost of a
 * node:crypto call for a short string (most of whose cost is the call itself). 64-bit words are kept as two
 * unsigned 32-bit halves, since JavaScript has no cheap 64-bit integers.
 */

/** A 128-bit SipHash key as four 32-bit words: k0's low and high half, then k1's (each read little-endian). */
export type SipKey = Uint32Array;

export function sipKey(bytes: Uint8Array): SipKey {
  if (bytes.length !== 16) throw new RangeError(`a SipHash key is 16 bytes (got ${bytes.length})`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, 16);
  return Uint32Array.of(v.getUint32(0, true), v.getUint32(4, true), v.getUint32(8, true), v.getUint32(12, true));
}

/** v0..v3 between rounds, each as its high then its low 32 bits (one hash at a time: JavaScript runs one thread). */
const v = new Uint32Array(8);

/** One SipRound: ARX on v0..v3. Additions carry from the low half into the high one. */
function round(): void {
  let t: number;
  let v0a = v[0]!, v0b = v[1]!, v1a = v[2]!, v1b = v[3]!, v2a = v[4]!, v2b = v[5]!, v3a = v[6]!, v3b = v[7]!;
  // v0 += v1; v1 <<<= 13; v1 ^= v0; v0 <<<= 32
  t = v0b + v1b;
  v0a = (v0a + v1a + (t > 0xffffffff ? 1 : 0)) >>> 0;
  v0b = t >>> 0;
  t = v1a;
  v1a = (((v1a << 13) | (v1b >>> 19)) ^ v0a) >>> 0;
  v1b = (((v1b << 13) | (t >>> 19)) ^ v0b) >>> 0;
  t = v0a;
  v0a = v0b;
  v0b = t;
  // v2 += v3; v3 <<<= 16; v3 ^= v2
  t = v2b + v3b;
  v2a = (v2a + v3a + (t > 0xffffffff ? 1 : 0)) >>> 0;
  v2b = t >>> 0;
  t = v3a;
  v3a = (((v3a << 16) | (v3b >>> 16)) ^ v2a) >>> 0;
  v3b = (((v3b << 16) | (t >>> 16)) ^ v2b) >>> 0;
  // v0 += v3; v3 <<<= 21; v3 ^= v0
  t = v0b + v3b;
  v0a = (v0a + v3a + (t > 0xffffffff ? 1 : 0)) >>> 0;
  v0b = t >>> 0;
  t = v3a;
  v3a = (((v3a << 21) | (v3b >>> 11)) ^ v0a) >>> 0;
  v3b = (((v3b << 21) | (t >>> 11)) ^ v0b) >>> 0;
  // v2 += v1; v1 <<<= 17; v1 ^= v2; v2 <<<= 32
  t = v2b + v1b;
  v2a = (v2a + v1a + (t > 0xffffffff ? 1 : 0)) >>> 0;
  v2b = t >>> 0;
  t = v1a;
  v1a = (((v1a << 17) | (v1b >>> 15)) ^ v2a) >>> 0;
  v1b = (((v1b << 17) | (t >>> 15)) ^ v2b) >>> 0;
  v[0] = v0a;
  v[1] = v0b;
  v[2] = v1a;
  v[3] = v1b;
  v[4] = v2b; // v2 <<<= 32: the halves swap
  v[5] = v2a;
  v[6] = v3a;
  v[7] = v3b;
}

/** Take in one 8-byte word (high and low half) with two rounds. */
function compress(ma: number, mb: number): void {
  v[6]! ^= ma;
  v[7]! ^= mb;
  round();
  round();
  v[0]! ^= ma;
  v[1]! ^= mb;
}

/** The 64-bit hash as [high 32 bits, low 32 bits], written into `out`. */
export function sipHash24(key: SipKey, s: string, out: [number, number]): [number, number] {
  // The initial constants spell "somepseudorandomlygeneratedbytes".
  v[0] = key[1]! ^ 0x736f6d65;
  v[1] = key[0]! ^ 0x70736575;
  v[2] = key[3]! ^ 0x646f7261;
  v[3] = key[2]! ^ 0x6e646f6d;
  v[4] = key[1]! ^ 0x6c796765;
  v[5] = key[0]! ^ 0x6e657261;
  v[6] = key[3]! ^ 0x74656462;
  v[7] = key[2]! ^ 0x79746573;
  // Each 8-byte word is four code units, the first in the lowest bytes.
  const n = s.length;
  const whole = n - (n % 4);
  for (let i = 0; i < whole; i += 4) {
    compress(s.charCodeAt(i + 2) | (s.charCodeAt(i + 3) << 16), s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16));
  }
  // The last word: the remaining code units, and the length in bytes (mod 256) in its top byte.
  const r = n - whole;
  let mb = 0;
  let ma = ((2 * n) & 0xff) << 24;
  if (r >= 1) mb = s.charCodeAt(whole);
  if (r >= 2) mb |= s.charCodeAt(whole + 1) << 16;
  if (r === 3) ma |= s.charCodeAt(whole + 2);
  compress(ma, mb);
  v[5]! ^= 0xff;
  round();
  round();
  round();
  round();
  out[0] = (v[0]! ^ v[2]! ^ v[4]! ^ v[6]!) >>> 0;
  out[1] = (v[1]! ^ v[3]! ^ v[5]! ^ v[7]!) >>> 0;
  return out;
}
