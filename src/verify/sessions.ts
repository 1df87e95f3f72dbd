/**
 * Session analysis: from a device's session, segment and interruption entries, find every span of time in which
 * a source of a session has no footage, and whether an interruption entry explains it. Pure: no I/O.
 */
import type { GapReport, SessionReport } from './findings.js';
import type { ClockState } from '../evidence/types.js';

export interface SegmentFact {
  sourceId: string;
  seq: number;
  start: number;
  end: number;
  preEvent: boolean;
  /** How its manifest's clock stood: synchronised, synchronised only by assumption, or not synchronised. */
  clock: SegmentClock;
}

export type SegmentClock = 'synced' | 'assumed' | 'unsynchronised';

/** A manifest's `clock` as the session report counts it (evidence-format.md §7.1). */
export function segmentClock(c: Pick<ClockState, 'synced' | 'assumed'>): SegmentClock {
  return !c.synced ? 'unsynchronised' : c.assumed ? 'assumed' : 'synced';
}

export interface InterruptionFact {
  id: string;
  reason: string;
  origin: string;
  start: number;
  end: number | null;
  /** Sources it applies to; undefined = all of the session's sources. */
  sources?: string[];
}

export interface SessionFacts {
  sessionId: string;
  matter: string;
  caseRef: string;
  officers: { name: string; badge: string }[];
  start: number;
  end: number | null;
  closedBy: 'stopped' | 'terminated' | null;
  /** Officers (distinct by badge) who confirmed a written statement. */
  statementBadges: Set<string>;
  statement: boolean;
  segments: SegmentFact[];
  interruptions: InterruptionFact[];
  /** Sources the session declared (from session.opened), so a source with no segment at all is a gap too. */
  declaredSources: string[];
}

export interface GapOptions {
  /** Largest difference between one segment's end and the next one's start that is not a gap. */
  toleranceMs: number;
  /** The same at the session's start and end (a capture process takes a moment to start and to stop). */
  edgeToleranceMs: number;
}

export const DEFAULT_GAP_OPTIONS: GapOptions = { toleranceMs: 1000, edgeToleranceMs: 3000 };

const iso = (t: number): string => new Date(t).toISOString();

/** Is [a, b] covered by the union of the intervals (each widened by slack)? Returns the first covering reason. */
function explain(a: number, b: number, intervals: { start: number; end: number; reason: string }[], slack: number): string | null {
  const sorted = intervals.map((i) => ({ s: i.start - slack, e: i.end + slack, reason: i.reason })).sort((x, y) => x.s - y.s);
  let covered = a;
  let reason: string | null = null;
  for (const i of sorted) {
    if (i.s > covered) break;
    if (i.e > covered) {
      covered = i.e;
      reason ??= i.reason;
    }
    if (covered >= b) return reason ?? i.reason;
  }
  return covered >= b ? reason : null;
}

/** Union length of intervals, in seconds. */
function unionSeconds(spans: { start: number; end: number }[]): number {
  const s = [...spans].sort((a, b) => a.start - b.start);
  let total = 0;
  let curS = -Infinity;
  let curE = -Infinity;
  for (const x of s) {
    if (x.start > curE) {
      if (curE > curS) total += curE - curS;
      curS = x.start;
      curE = x.end;
    } else if (x.end > curE) curE = x.end;
  }
  if (curE > curS) total += curE - curS;
  return Math.round(total) / 1000;
}

export function analyseSession(f: SessionFacts, opt: GapOptions = DEFAULT_GAP_OPTIONS): SessionReport {
  const sessionEnd = f.end ?? Math.max(f.start, ...f.segments.map((s) => s.end));
  const intervalsFor = (source: string): { start: number; end: number; reason: string }[] =>
    f.interruptions
      .filter((i) => i.sources === undefined || i.sources.includes(source))
      .map((i) => ({ start: i.start, end: i.end ?? sessionEnd, reason: i.reason }));

  const gaps: GapReport[] = [];
  const addGap = (source: string, a: number, b: number, tol: number): void => {
    if (b - a <= tol) return;
    const reason = explain(a, b, intervalsFor(source), tol);
    gaps.push({ start: iso(a), end: iso(b), explained: reason !== null, reason, source });
  };

  const sources = new Set([...f.declaredSources, ...f.segments.map((s) => s.sourceId)]);
  for (const source of [...sources].sort()) {
    const segs = f.segments.filter((s) => s.sourceId === source).sort((a, b) => a.seq - b.seq);
    if (segs.length === 0) {
      if (f.end !== null) addGap(source, f.start, sessionEnd, opt.edgeToleranceMs);
      continue;
    }
    addGap(source, f.start, segs[0]!.start, opt.edgeToleranceMs);
    for (let i = 1; i < segs.length; i++) addGap(source, segs[i - 1]!.end, segs[i]!.start, opt.toleranceMs);
    if (f.end !== null) addGap(source, segs[segs.length - 1]!.end, f.end, opt.edgeToleranceMs);
  }
  gaps.sort((a, b) => a.start.localeCompare(b.start) || a.source.localeCompare(b.source));

  return {
    sessionId: f.sessionId,
    matter: f.matter,
    caseRef: f.caseRef,
    start: iso(f.start),
    end: f.end === null ? null : iso(f.end),
    recordedSeconds: unionSeconds(f.segments.map((s) => ({ start: Math.max(s.start, f.start), end: s.end })).filter((s) => s.end > s.start)),
    gaps,
    officers: f.officers,
    closedBy: f.closedBy,
    statement: f.statement,
    interruptions: f.interruptions.map((i) => ({ reason: i.reason, start: iso(i.start), end: i.end === null ? null : iso(i.end), origin: i.origin })),
    segments: f.segments.length,
    clock: {
      unsynchronised: f.segments.filter((x) => x.clock === 'unsynchronised').length,
      assumed: f.segments.filter((x) => x.clock === 'assumed').length,
    },
  };
}
