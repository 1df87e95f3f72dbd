/**
 * parseLine accepts a line as canonical through quick tests before the full one (encodeUnsigned gives the line
 * back): a scan of the text (writtenCanonically), then JSON.stringify giving the line back with every body
 * object's keys sorted. The quick tests must never accept what the full one refuses, nor refuse what it accepts:
 * random bodies, in random key orders, with integer-like and non-ASCII keys, escapes and -0, against the full
 * re-encoding as the reference; and the scan, on text spelled in every way JSON allows, must say true only where
 * JSON.stringify would write the text back.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { attachSignature, encodeUnsigned, parseLine, type LedgerEntry } from '../../src/evidence/entry.js';
import { writtenCanonically } from '../../src/evidence/entry-scan.js';

const SIG = 'c2ln';
/** The full test alone: what parseLine decided before it had the quick one. */
function canonicalByReencoding(line: string): boolean {
  const e = JSON.parse(line) as LedgerEntry;
  return attachSignature(encodeUnsigned(e), e.sig) === line;
}

const key = fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom('0', '1', '10', '9', '名', '\u{1F600}', '\uFF00', '__proto__', 'a"b'));
const leaf = fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.constantFrom(-0, 1.5, 1e21, true, false, null, '\u2028', '\ud800'));
const body = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('value'), { maxLength: 3 }), tie('object')),
  object: fc.dictionary(key, tie('value'), { maxKeys: 4 }),
})).object;

describe('parseLine canonical form', () => {
  it('the quick test agrees with re-encoding on random bodies in any key order', () => {
    fc.assert(
      fc.property(body, fc.boolean(), (b, sorted) => {
        const head = { v: 1, device: 'd', seq: 1, prev: '0'.repeat(64), time: '2026-01-02T03:04:05.678Z', type: 'x.y' };
        // Either the canonical line, or JSON.stringify's (insertion-order keys) line of the same entry.
        const line = sorted ? attachSignature(encodeUnsigned({ ...head, body: b }), SIG) : JSON.stringify({ ...head, body: b, sig: SIG });
        expect(parseLine(line).ok).toBe(canonicalByReencoding(line));
      }),
      { numRuns: 3000 },
    );
  });

  it('a body with keys out of order is refused although JSON.stringify writes it back unchanged', () => {
    const line = '{"v":1,"device":"d","seq":1,"prev":"' + '0'.repeat(64) + '","time":"2026-01-02T03:04:05.678Z","type":"x.y","body":{"b":1,"a":2},"sig":"c2ln"}';
    expect(JSON.stringify(JSON.parse(line))).toBe(line);
    expect(parseLine(line)).toEqual({ ok: false, error: expect.stringMatching(/not in canonical form/) });
  });
});

const KEYS = ['v', 'device', 'seq', 'prev', 'time', 'type', 'body', 'sig'];
const HEAD = '{"v":1,"device":"d","seq":1,"prev":"' + '0'.repeat(64) + '","time":"2026-01-02T03:04:05.678Z","type":"x.y","body":';

/** Every object's keys in strictly increasing order (what parseLine's stringify test asks of the body). */
const sortedKeys = (v: unknown): boolean =>
  typeof v !== 'object' || v === null
    ? true
    : Array.isArray(v)
      ? v.every(sortedKeys)
      : Object.keys(v).every((k, i, ks) => i === 0 || ks[i - 1]! < k) && Object.values(v).every(sortedKeys);

/**
 * One character as JSON.stringify writes it, or as \u escapes (lower or upper case), or `/` as `\/`, or as it is
 * where JSON allows that (a lone surrogate too, which JSON.stringify writes escaped).
 */
function spell(ch: string, how: number): string {
  const units = [...Array(ch.length).keys()].map((i) => ch.charCodeAt(i).toString(16).padStart(4, '0'));
  if (how === 2 && ch !== '"' && ch !== '\\' && ch.charCodeAt(0) >= 0x20) return ch;
  if (how === 3) return units.map((u) => `\\u${u}`).join('');
  if (how === 4) return ch === '/' ? '\\/' : units.map((u) => `\\u${u.toUpperCase()}`).join('');
  return JSON.stringify(ch).slice(1, -1);
}
const ws = fc.constantFrom('', '', '', '', ' ', '\n', '\t', '\r');
const char = fc.oneof(fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }), fc.constantFrom('/', '"', '\\', '\n', '\u001f', '\u007f', '\u2028', '\ud800', '\udc00', '名', '\u{1F600}'));
const stringText = fc.array(fc.tuple(char, fc.nat(4)), { maxLength: 4 }).map((cs) => `"${cs.map(([c, how]) => spell(c, how)).join('')}"`);
const numberText = fc
  .tuple(fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(-0, 1e21, 2 ** 53 + 2, 0.1, 1e-7)), fc.nat(4))
  .map(([x, how]) => [JSON.stringify(x), x.toExponential(), `${x}.0`, x.toFixed(2), `${x}e0`][how]!)
  .chain((t) => fc.constantFrom(t, t, t, '-0', '1E2', '1e+21', '123456789012345', '1234567890123456', '12345678901234567', '-1e400', '0.10'));
const keyText = fc.oneof(stringText, fc.constantFrom('"a"', '"b"', '"ab"', '"0"', '"10"', '"9"', '"__proto__"', '""', '"名"'));
const valueText = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, stringText, numberText, fc.constantFrom('true', 'false', 'null'), tie('array'), tie('object')),
  array: fc.tuple(fc.array(tie('value'), { maxLength: 3 }), ws).map(([vs, w]) => `[${w}${vs.join(`${w},`)}]`),
  object: fc
    .tuple(fc.array(fc.tuple(keyText, tie('value')), { maxLength: 4 }), fc.boolean(), ws)
    .map(([kvs, sort, w]) => `{${(sort ? [...kvs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : kvs).map(([k, v]) => `${k}:${w}${v}`).join(',')}}`),
}));
/** The top-level members: as written by the gateway, or with one repeated, left out, moved or spaced. */
const topText = fc.tuple(valueText.object, fc.nat(7), ws).map(([body, how, w]) => {
  if (how === 1) return `${HEAD}${body},"sig":"c2ln","sig":"c2ln"}`;
  if (how === 2) return `${HEAD.replace('"seq":1,', '')}${body},"sig":"c2ln"}`;
  if (how === 5) return `${HEAD}${body}}`;
  if (how === 6) return `${HEAD.replace('"v":1,"device":"d"', '"device":"d","v":1')}${body},"sig":"c2ln"}`;
  if (how === 3) return `${HEAD}${body},${w}"sig":"c2ln"}${w}`;
  if (how === 4) return `${HEAD}${body},"sig":"c2\\/ln"}`;
  return `${HEAD}${body},"sig":"c2ln"}`;
});

describe('writtenCanonically', () => {
  it('says true only for text that JSON.stringify writes back, members in order and body keys sorted', () => {
    let yes = 0;
    let no = 0;
    fc.assert(
      fc.property(topText, (text) => {
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(text) as Record<string, unknown>;
        } catch {
          return;
        }
        if (!writtenCanonically(text, KEYS)) return void no++;
        yes++;
        expect(JSON.stringify(parsed)).toBe(text);
        expect(Object.keys(parsed)).toEqual(KEYS);
        expect(sortedKeys(parsed.body)).toBe(true);
      }),
      { numRuns: 5000 },
    );
    // Both answers were given often enough for the property to mean something.
    expect(yes).toBeGreaterThan(200);
    expect(no).toBeGreaterThan(200);
  });

  it('says true for the lines a gateway writes (the verifier relies on it for speed)', () => {
    const body = {
      caseRef: 'CASE-1', officers: [{ badge: '1', name: '张三' }], place: '执法局 一号询问室 (room 1)', seq: 11, gps: null, size: 1.5,
      cert: '-----BEGIN CERTIFICATE-----\r\nMIID\r\n-----END CERTIFICATE-----\r\n', tab: 'a\tb "quoted" back\\slash', emoji: '\u{1F600}',
    };
    const line = attachSignature(encodeUnsigned({ v: 1, device: 'room-1', seq: 7, prev: '0'.repeat(64), time: '2026-01-02T03:04:05.678Z', type: 'segment.sealed', body }), 'c2ln');
    expect(writtenCanonically(line, KEYS)).toBe(true);
    expect(writtenCanonically(line.replace('"seq":7', '"seq":7.0'), KEYS)).toBe(false);
    expect(writtenCanonically(line.replace('{"badge"', '{ "badge"'), KEYS)).toBe(false);
    expect(writtenCanonically(line.replace('(room 1)', '(room\\u0020 1)'), KEYS)).toBe(false);
    expect(writtenCanonically(line.replace('"caseRef":"CASE-1",', '"caseRef":"CASE-1","caseRef":"CASE-1",'), KEYS)).toBe(false);
  });
});
