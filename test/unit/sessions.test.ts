/** Session gap analysis (pure): which spans of a session a source has no footage for, and what explains them. */
import { describe, expect, it } from 'vitest';
import { analyseSession, segmentClock, DEFAULT_GAP_OPTIONS, type InterruptionFact, type SegmentFact, type SessionFacts } from '../../src/verify/sessions.js';

const T0 = Date.parse('2026-03-01T08:00:00.000Z');
const s = (sec: number): number => T0 + sec * 1000;
const iso = (sec: number): string => new Date(s(sec)).toISOString();

/** Back-to-back segments of one source covering [from, to) seconds in steps of `len`. */
function run(sourceId: string, from: number, to: number, len = 10, firstSeq = 0, clock: SegmentFact['clock'] = 'synced'): SegmentFact[] {
  const out: SegmentFact[] = [];
  for (let t = from, seq = firstSeq; t < to; t += len, seq++) out.push({ sourceId, seq, start: s(t), end: s(Math.min(t + len, to)), preEvent: false, clock });
  return out;
}

function session(o: { segments: SegmentFact[]; interruptions?: InterruptionFact[]; end?: number | null; sources?: string[]; start?: number }): SessionFacts {
  return {
    sessionId: 'S1',
    matter: 'hearing',
    caseRef: 'C-1',
    officers: [{ name: '张三', badge: '1' }],
    start: s(o.start ?? 0),
    end: o.end === null ? null : s(o.end ?? 60),
    closedBy: o.end === null ? null : 'stopped',
    statementBadges: new Set(),
    statement: false,
    segments: o.segments,
    interruptions: o.interruptions ?? [],
    declaredSources: o.sources ?? ['cam1', 'mic1'],
  };
}

const interruption = (id: string, start: number, end: number | null, reason = 'device-fault', sources?: string[]): InterruptionFact => ({
  id,
  reason,
  origin: 'detected',
  start: s(start),
  end: end === null ? null : s(end),
  ...(sources ? { sources } : {}),
});

describe('analyseSession', () => {
  it('contiguous segments of every source leave no gap', () => {
    const r = analyseSession(session({ segments: [...run('cam1', 0, 60), ...run('mic1', 0, 60, 15)] }));
    expect(r.gaps).toEqual([]);
    expect(r.recordedSeconds).toBe(60);
    expect(r.segments).toBe(10);
    expect(r.start).toBe(iso(0));
    expect(r.end).toBe(iso(60));
  });

  it('differences within the tolerances are not gaps, just beyond them they are', () => {
    const tol = DEFAULT_GAP_OPTIONS.toleranceMs / 1000;
    const edge = DEFAULT_GAP_OPTIONS.edgeToleranceMs / 1000;
    const within = [...run('cam1', edge, 30), ...run('cam1', 30 + tol, 60 - edge, 10, 3)];
    expect(analyseSession(session({ segments: within, sources: ['cam1'] })).gaps).toEqual([]);
    const beyond = [...run('cam1', edge + 0.5, 30), ...run('cam1', 30 + tol + 0.5, 60 - edge - 0.5, 10, 3)];
    const gaps = analyseSession(session({ segments: beyond, sources: ['cam1'] })).gaps;
    expect(gaps.map((g) => [g.start, g.end])).toEqual([
      [iso(0), iso(edge + 0.5)],
      [iso(30), iso(30 + tol + 0.5)],
      [iso(60 - edge - 0.5), iso(60)],
    ]);
    expect(gaps.every((g) => !g.explained && g.reason === null && g.source === 'cam1')).toBe(true);
  });

  it('a gap covered by an interruption of all sources is explained, with its reason', () => {
    const segs = [...run('cam1', 0, 20), ...run('cam1', 40, 60, 10, 2), ...run('mic1', 0, 20), ...run('mic1', 40, 60, 10, 2)];
    const r = analyseSession(session({ segments: segs, interruptions: [interruption('i1', 20, 40, 'power-loss')] }));
    expect(r.gaps).toEqual([
      { start: iso(20), end: iso(40), explained: true, reason: 'power-loss', source: 'cam1' },
      { start: iso(20), end: iso(40), explained: true, reason: 'power-loss', source: 'mic1' },
    ]);
    expect(r.recordedSeconds).toBe(40);
  });

  it('a gap only half covered by an interruption is unexplained', () => {
    const segs = [...run('cam1', 0, 20), ...run('cam1', 40, 60, 10, 2)];
    const r = analyseSession(session({ segments: segs, sources: ['cam1'], interruptions: [interruption('i1', 20, 30)] }));
    expect(r.gaps).toEqual([{ start: iso(20), end: iso(40), explained: false, reason: null, source: 'cam1' }]);
    // Starting late does not help either.
    const late = analyseSession(session({ segments: segs, sources: ['cam1'], interruptions: [interruption('i1', 30, 40)] }));
    expect(late.gaps[0]!.explained).toBe(false);
  });

  it('two interruptions that together cover a gap explain it', () => {
    const segs = [...run('cam1', 0, 20), ...run('cam1', 40, 60, 10, 2)];
    const r = analyseSession(session({ segments: segs, sources: ['cam1'], interruptions: [interruption('i2', 29, 40, 'site-change'), interruption('i1', 20, 30, 'device-fault')] }));
    expect(r.gaps).toEqual([{ start: iso(20), end: iso(40), explained: true, reason: 'device-fault', source: 'cam1' }]);
  });

  it('an interruption limited to other sources does not explain this source\'s gap', () => {
    const segs = [...run('cam1', 0, 20), ...run('cam1', 40, 60, 10, 2), ...run('mic1', 0, 20), ...run('mic1', 40, 60, 10, 2)];
    const r = analyseSession(session({ segments: segs, interruptions: [interruption('i1', 20, 40, 'camera-covered', ['cam1'])] }));
    expect(r.gaps).toEqual([
      { start: iso(20), end: iso(40), explained: true, reason: 'camera-covered', source: 'cam1' },
      { start: iso(20), end: iso(40), explained: false, reason: null, source: 'mic1' },
    ]);
  });

  it('an interruption that never ended covers until the session\'s end', () => {
    const segs = [...run('cam1', 0, 30), ...run('mic1', 0, 30)];
    const r = analyseSession(session({ segments: segs, end: 60, interruptions: [interruption('i1', 30, null, 'low-battery')] }));
    expect(r.gaps).toEqual([
      { start: iso(30), end: iso(60), explained: true, reason: 'low-battery', source: 'cam1' },
      { start: iso(30), end: iso(60), explained: true, reason: 'low-battery', source: 'mic1' },
    ]);
    expect(r.interruptions).toEqual([{ reason: 'low-battery', start: iso(30), end: null, origin: 'detected' }]);
    // Without it, the same silence is unexplained.
    expect(analyseSession(session({ segments: segs, end: 60 })).gaps.every((g) => !g.explained)).toBe(true);
  });

  it('a declared source that never recorded is one gap over the whole closed session', () => {
    const r = analyseSession(session({ segments: run('cam1', 0, 60), sources: ['cam1', 'mic1'] }));
    expect(r.gaps).toEqual([{ start: iso(0), end: iso(60), explained: false, reason: null, source: 'mic1' }]);
  });

  it('an open session has no end and no gaps at its (unknown) end', () => {
    const r = analyseSession(session({ segments: run('cam1', 0, 30), sources: ['cam1', 'mic1'], end: null }));
    expect(r.end).toBeNull();
    expect(r.gaps).toEqual([]);
  });

  it('recordedSeconds is the union of the spans, not their sum, and starts at the session start', () => {
    const segs: SegmentFact[] = [
      ...run('cam1', 0, 40),
      ...run('mic1', 20, 60, 20),
      // Pre-event footage before the session started counts only from the start.
      { sourceId: 'cam1', seq: 99, start: s(-10), end: s(0), preEvent: true, clock: 'synced' },
    ];
    const r = analyseSession(session({ segments: segs }));
    expect(r.recordedSeconds).toBe(60);
    // Two disjoint spans with a hole.
    const holes = analyseSession(session({ segments: [...run('cam1', 0, 10), ...run('cam1', 20, 25, 5, 1), ...run('mic1', 2, 8, 6)] }));
    expect(holes.recordedSeconds).toBe(15);
  });

  it('gaps come sorted by start time, then by source', () => {
    const segs = [...run('mic1', 0, 10), ...run('mic1', 50, 60, 10, 1), ...run('cam1', 0, 30), ...run('cam1', 40, 60, 10, 3)];
    const r = analyseSession(session({ segments: segs }));
    expect(r.gaps.map((g) => [g.source, g.start])).toEqual([
      ['mic1', iso(10)],
      ['cam1', iso(30)],
    ]);
  });

  it('counts the segments timed by a clock that was not synchronised, or only assumed to be, without a finding', () => {
    const segs = [...run('cam1', 0, 30, 10, 0, 'synced'), ...run('cam1', 30, 50, 10, 3, 'unsynchronised'), ...run('cam1', 50, 60, 10, 5, 'assumed'), ...run('mic1', 0, 60, 60, 0, 'assumed')];
    const r = analyseSession(session({ segments: segs }));
    expect(r.clock).toEqual({ unsynchronised: 2, assumed: 2 });
    expect(r.gaps).toEqual([]);
    expect(segmentClock({ synced: true, assumed: true })).toBe('assumed');
    expect(segmentClock({ synced: false })).toBe('unsynchronised');
    // A manifest with "assumed" but not synchronised is unsynchronised: the flag only says why it counted as synced.
    expect(segmentClock({ synced: false, assumed: true })).toBe('unsynchronised');
    expect(segmentClock({ synced: true })).toBe('synced');
  });
});
