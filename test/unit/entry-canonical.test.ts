/**
 * parseLine accepts a line as canonical through a quick test (JSON.stringify gives the line back and every body
 * object's keys are sorted) before the full one (encodeUnsigned gives the line back). The quick test must never
 * accept what the full one refuses, nor refuse what it accepts: random bodies, in random key orders, with
 * integer-like and non-ASCII keys, escapes and -0, against the full re-encoding as the reference.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { attachSignature, encodeUnsigned, parseLine, type LedgerEntry } from '../../src/evidence/entry.js';

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
