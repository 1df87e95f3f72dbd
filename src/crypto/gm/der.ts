/**
 * The two DER structures 国密 puts on the wire, written and read here without a library because both are a SEQUENCE
 * of a few INTEGERs and OCTET STRINGs and the reading must be strict (one encoding per value, nothing after it):
 * - an SM2 signature, SEQUENCE { r INTEGER, s INTEGER }, as openssl writes it (GM/T 0009-2012 §7.3, like ECDSA);
 * - an SM2 ciphertext, SEQUENCE { x INTEGER, y INTEGER, hash OCTET STRING (C3), ciphertext OCTET STRING (C2) }
 *   (GM/T 0009-2012 §7.2, what `openssl pkeyutl -encrypt` writes for an SM2 key).
 * Lengths here stay under 64 KiB: definite lengths of up to two bytes; anything else is refused.
 */

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const OCTET_STRING = 0x04;

export type DerItem = { tag: typeof INTEGER; value: bigint } | { tag: typeof OCTET_STRING; value: Buffer };

export const derInteger = (value: bigint): DerItem => ({ tag: INTEGER, value });
export const derOctets = (value: Buffer): DerItem => ({ tag: OCTET_STRING, value });

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  if (n < 0x10000) return Buffer.from([0x82, n >> 8, n & 0xff]);
  throw new RangeError('DER value over 64 KiB');
}

function tlv(tag: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), length(value.length), value]);
}

/** A non-negative INTEGER's content octets: minimal, with a leading 00 when the top bit is set. */
function integerOctets(v: bigint): Buffer {
  if (v < 0n) throw new RangeError('negative INTEGER');
  let hex = v.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const b = Buffer.from(hex, 'hex');
  return b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
}

export function encodeDerSequence(items: DerItem[]): Buffer {
  const parts = items.map((i) => (i.tag === INTEGER ? tlv(INTEGER, integerOctets(i.value)) : tlv(OCTET_STRING, i.value)));
  return tlv(SEQUENCE, Buffer.concat(parts));
}

/**
 * Read a SEQUENCE whose members have exactly the tags given, in order, and nothing after it. Returns null for any
 * other input: a wrong tag, a long or indefinite length, a length in more bytes than needed, a negative or
 * non-minimal INTEGER, a member short or left over, a byte after the SEQUENCE.
 */
export function decodeDerSequence(der: Uint8Array, tags: ('int' | 'octets')[]): DerItem[] | null {
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  const outer = readTlv(buf, 0);
  if (!outer || outer.tag !== SEQUENCE || outer.end !== buf.length) return null;
  const items: DerItem[] = [];
  let pos = outer.start;
  for (const want of tags) {
    const t = readTlv(buf, pos);
    if (!t || t.end > outer.end) return null;
    const content = buf.subarray(t.start, t.end);
    if (want === 'int') {
      if (t.tag !== INTEGER || content.length === 0) return null;
      if (content[0]! & 0x80) return null; // negative
      if (content.length > 1 && content[0] === 0 && !(content[1]! & 0x80)) return null; // not minimal
      items.push({ tag: INTEGER, value: BigInt(`0x${content.toString('hex')}`) });
    } else {
      if (t.tag !== OCTET_STRING) return null;
      items.push({ tag: OCTET_STRING, value: Buffer.from(content) });
    }
    pos = t.end;
  }
  return pos === outer.end ? items : null;
}

function readTlv(buf: Buffer, pos: number): { tag: number; start: number; end: number } | null {
  if (pos + 2 > buf.length) return null;
  const tag = buf[pos]!;
  const first = buf[pos + 1]!;
  let len: number;
  let start: number;
  if (first < 0x80) {
    len = first;
    start = pos + 2;
  } else if (first === 0x81) {
    if (pos + 3 > buf.length) return null;
    len = buf[pos + 2]!;
    if (len < 0x80) return null;
    start = pos + 3;
  } else if (first === 0x82) {
    if (pos + 4 > buf.length) return null;
    len = (buf[pos + 2]! << 8) | buf[pos + 3]!;
    if (len < 0x100) return null;
    start = pos + 4;
  } else return null;
  const end = start + len;
  return end <= buf.length ? { tag, start, end } : null;
}
