/**
 * LedgerConsistency's comparison of a manifest with the session it belongs to: officers count as the same set
 * whatever their order (the quick comparison in written order must not be the only one), and any other matter,
 * case reference or officer is reported once, naming what differs.
 */
import { describe, expect, it } from 'vitest';
import { LedgerConsistency } from '../../src/verify/consistency.js';
import type { LedgerEntry } from '../../src/evidence/entry.js';
import type { FindingKind } from '../../src/verify/findings.js';

const A = { badge: '1', name: '张三' };
const B = { badge: '2', name: '李四' };

function entry(type: string, seq: number, body: Record<string, unknown>): LedgerEntry {
  return { v: 1, device: 'd', seq, prev: '0'.repeat(64), time: '2026-01-02T03:04:05.678Z', type, body, sig: '' };
}

function check(manifests: Record<string, unknown>[]): { kind: FindingKind; detail: string }[] {
  const found: { kind: FindingKind; detail: string }[] = [];
  const c = new LedgerConsistency((kind, detail) => found.push({ kind, detail }));
  c.entry(1, entry('session.opened', 1, { sessionId: 's', matter: 'm', caseRef: 'c', officers: [A, B] }));
  manifests.forEach((m, i) =>
    c.entry(i + 2, entry('segment.sealed', i + 2, { sessionId: 's', matter: 'm', caseRef: 'c', officers: [A, B], segment: `g${i}`, file: `segments/g${i}.seg`, end: '2026-01-02T03:04:05.000Z', ...m })),
  );
  return found;
}

describe('LedgerConsistency: a manifest against its session', () => {
  it('the same officers in the same or another order are no finding', () => {
    expect(check([{}, { officers: [B, A] }, { officers: [{ ...B }, { ...A }] }])).toEqual([]);
  });

  it('another officer, one fewer or one more is reported as other officers', () => {
    const found = check([{ officers: [A, { badge: '3', name: '李四' }] }, { officers: [A] }, { officers: [A, B, B] }, { officers: 'A' }]);
    expect(found.map((f) => f.detail)).toEqual([2, 3, 4, 5].map((n) => `line ${n}: the manifest of g${n - 2} gives another officers than its session s opened with`));
    expect(found.every((f) => f.kind === 'malformed')).toBe(true);
  });

  it('names every member that differs, in one finding', () => {
    expect(check([{ matter: 'x', caseRef: 'y', officers: [B] }])).toEqual([
      { kind: 'malformed', detail: 'line 2: the manifest of g0 gives another matter, case reference, officers than its session s opened with' },
    ]);
  });

  it('a second manifest for one file names the line of the first, however far into the ledger', () => {
    const found: string[] = [];
    const c = new LedgerConsistency((_, detail) => found.push(detail));
    const manifest = (segment: string): LedgerEntry => entry('segment.sealed', 1, { segment, file: 'segments/a.seg', end: '2026-01-02T03:04:05.000Z' });
    c.entry(4_000_000_000, manifest('a'));
    c.entry(4_000_000_001, manifest('b'));
    expect(found).toEqual(['line 4000000001: the manifest names segments/a.seg, which the manifest on line 4000000000 already names: one sealed file, one manifest']);
  });
});
