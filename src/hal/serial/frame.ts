/**
 * Line framing shared by the panel and UPS protocols (docs/panel-protocol.md §2): `BODY*CCCC` where CCCC is the
 * CRC-16/CCITT-FALSE of BODY's UTF-8 bytes in four hex digits. CRC-16 rather than NMEA's XOR byte because an XOR
 * misses swapped and doubled bytes, and every panel MCU library has this CRC. Pure: no serialport here.
 */

/** The longest line either side sends or accepts, in bytes, without the trailing CRLF. */
export const MAX_LINE_BYTES = 512;

/** CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, not reflected, no final XOR. crc16("123456789") = 0x29B1. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

export const crcHex = (body: string): string => crc16(Buffer.from(body, 'utf8')).toString(16).toUpperCase().padStart(4, '0');

/** BODY -> `BODY*CCCC` (the port adds CRLF). */
export function frameLine(body: string): string {
  return `${body}*${crcHex(body)}`;
}

export type Unframed = { ok: true; body: string; checked: boolean } | { ok: false; reason: string };

// C0 controls and DEL never belong inside a line; U+FFFD is what invalid UTF-8 decodes to.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * `BODY*CCCC` -> BODY, checking the CRC. With `required: false` (the UPS protocol) a line without any `*` is accepted
 * unchecked; a line that has one must carry a valid CRC after the last `*`.
 */
export function unframeLine(line: string, opts: { required: boolean } = { required: true }): Unframed {
  if (Buffer.byteLength(line, 'utf8') > MAX_LINE_BYTES + 5) return { ok: false, reason: 'line too long' };
  const star = line.lastIndexOf('*');
  if (star < 0) {
    if (opts.required) return { ok: false, reason: 'no checksum' };
    if (CONTROL.test(line) || line.includes('\uFFFD')) return { ok: false, reason: 'control characters or invalid UTF-8' };
    return line.length > 0 ? { ok: true, body: line, checked: false } : { ok: false, reason: 'empty line' };
  }
  // Invalid UTF-8 decodes to U+FFFD, several bytes in place of one, which is beyond what a CRC-16 is sure to catch:
  // refuse it outright (the sender never sends U+FFFD).
  if (line.includes('\uFFFD')) return { ok: false, reason: 'invalid UTF-8' };
  const body = line.slice(0, star);
  const cs = line.slice(star + 1);
  if (!/^[0-9A-Fa-f]{4}$/.test(cs)) return { ok: false, reason: 'malformed checksum' };
  if (cs.toUpperCase() !== crcHex(body)) return { ok: false, reason: `checksum mismatch (got ${cs}, computed ${crcHex(body)})` };
  if (CONTROL.test(body)) return { ok: false, reason: 'control characters' };
  if (body.length === 0) return { ok: false, reason: 'empty body' };
  return { ok: true, body, checked: true };
}

/**
 * Splits a body into `n` space-separated fields, the last one taking the rest of the line (free text may hold
 * spaces). Fewer fields than `n` give a shorter array; the caller decides what is optional.
 */
export function splitFields(rest: string, n: number): string[] {
  const out: string[] = [];
  let s = rest;
  while (out.length < n - 1) {
    const i = s.indexOf(' ');
    if (i < 0) break;
    out.push(s.slice(0, i));
    s = s.slice(i + 1);
  }
  if (s.length > 0) out.push(s);
  return out;
}

/** Makes free text safe for one line: no CR/LF or other controls, at most `maxBytes` UTF-8 bytes, whole characters. */
export function lineText(text: string, maxBytes = 200): string {
  // U+FFFD too: receivers refuse it as the mark of invalid UTF-8.
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\uFFFD/g, '?').trim();
  if (Buffer.byteLength(clean, 'utf8') <= maxBytes) return clean;
  let out = '';
  let bytes = 0;
  for (const ch of clean) {
    const b = Buffer.byteLength(ch, 'utf8');
    if (bytes + b + 3 > maxBytes) break;
    out += ch;
    bytes += b;
  }
  return out + '…';
}
