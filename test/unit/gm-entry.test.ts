/** The `suite` member of a ledger entry (evidence-format.md §17.6): one spelling per suite, and each line's hash in its suite. */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { attachSignature, encodeUnsigned, lineHash, lineSuite, parseLine, type UnsignedEntry } from '../../src/evidence/entry.js';
import { sm3 } from '../../src/crypto/gm/sm3.js';

const base: UnsignedEntry = { v: 1, device: 'room-1', seq: 1, prev: 'a'.repeat(64), time: '2026-12-07T01:02:03.456Z', type: 'event.marked', body: { note: '记录' } };
const line = (e: UnsignedEntry): string => attachSignature(encodeUnsigned(e), 'AAAA');

describe('the suite member', () => {
  it('intl lines are as before: no suite member, SHA-256 chain hash', () => {
    const l = line(base);
    expect(l.startsWith('{"v":1,"device":"room-1",')).toBe(true);
    expect(lineSuite(l)).toBe('intl');
    expect(lineHash(l)).toBe(createHash('sha256').update(l).digest('hex'));
    const p = parseLine(l);
    expect(p.ok && p.entry.suite).toBeUndefined();
  });

  it('gm lines have "suite":"gm" after v and an SM3 chain hash, from the text and from the bytes', () => {
    const l = line({ ...base, suite: 'gm' });
    expect(l.startsWith('{"v":1,"suite":"gm","device":"room-1",')).toBe(true);
    expect(lineSuite(l)).toBe('gm');
    expect(lineSuite(Buffer.from(l))).toBe('gm');
    expect(lineHash(l)).toBe(sm3(l).toString('hex'));
    expect(lineHash(Buffer.from(l))).toBe(lineHash(l));
    expect(lineHash(l)).not.toBe(createHash('sha256').update(l).digest('hex'));
    const p = parseLine(l);
    expect(p.ok && p.entry.suite).toBe('gm');
  });

  it('refuses "suite":"intl", another suite, and the member anywhere else', () => {
    const gm = line({ ...base, suite: 'gm' });
    for (const bad of [gm.replace('"suite":"gm"', '"suite":"intl"'), gm.replace('"suite":"gm"', '"suite":"sm"')]) {
      const p = parseLine(bad);
      expect(p.ok, bad).toBe(false);
      expect(!p.ok && p.error).toContain('suite must be "gm"');
    }
    const moved = line(base).replace('"seq":1,', '"seq":1,"suite":"gm",');
    expect(parseLine(moved).ok).toBe(false);
  });
});
