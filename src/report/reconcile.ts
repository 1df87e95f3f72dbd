/**
 * `recgw reconcile`: do a session's recordings start and end when its paper record (笔录) says? The rules ask that
 * the A/V start and end times match the times written in the record (004 规定 §7). Officers write times to the
 * minute, so a written "10:05" stands for the whole minute 10:05:00-10:05:59; a recording agrees when it starts
 * and ends within that minute, give or take the tolerance (docs/operations.md, "Reconciling with the paper record").
 * JSON is UTC; the text is in the installation's zone.
 */
import { findDeviceDirs } from '../verify/verifier.js';
import { RecgwError } from '../util/errors.js';
import type { WrittenTime } from '../util/written-time.js';
import { readDeviceSessions, type ReportSession } from './device-sessions.js';

export const DEFAULT_TOLERANCE_SECONDS = 60;

export interface ReconcileSource {
  source: string;
  kind: string;
  /** First segment's start and last segment's end in the session, UTC ISO. */
  recordedStart: string;
  recordedEnd: string;
  /** Seconds outside the written minute (negative: the recording is earlier); 0 inside it. */
  startDifferenceSeconds: number;
  endDifferenceSeconds: number;
  agrees: boolean;
}

export interface ReconcileReport {
  v: 1;
  deviceId: string;
  sessionId: string;
  toleranceSeconds: number;
  /** The written times as the span each stands for (UTC ISO, end exclusive). */
  written: { start: { from: string; to: string }; end: { from: string; to: string } };
  sources: ReconcileSource[];
  /** Every source agrees at both ends (false when the session has no footage at all). */
  agrees: boolean;
}

export interface ReconcileInput {
  sessionId: string;
  start: WrittenTime;
  end: WrittenTime;
  toleranceSeconds: number;
  caPems?: string[];
}

/** How far t lies outside [from, from + precision), in seconds. */
function outside(t: number, w: WrittenTime): number {
  if (t < w.ms) return (t - w.ms) / 1000;
  if (t >= w.ms + w.precisionMs) return (t - (w.ms + w.precisionMs)) / 1000;
  return 0;
}

export async function reconcile(store: string, input: ReconcileInput): Promise<ReconcileReport> {
  if (input.end.ms + input.end.precisionMs <= input.start.ms) {
    throw new RecgwError('usage', 'the written end is before the written start: check the two times (and the date) against the record');
  }
  const dirs = findDeviceDirs(store);
  if (dirs.length === 0) throw new RecgwError('invalid', `${store} is not a store: neither it nor any folder in it holds a ledger.jsonl`);
  let found: { deviceId: string; session: ReportSession } | undefined;
  for (const dir of dirs) {
    const d = await readDeviceSessions(dir, input.caPems ?? []);
    const session = d.sessions.find((s) => s.sessionId === input.sessionId);
    if (session) {
      found = { deviceId: d.deviceId, session };
      break;
    }
  }
  if (!found) throw new RecgwError('invalid', `no session ${input.sessionId} in ${store}: \`recgw report ${store}\` lists the store's devices, \`recgw verify\` their sessions`);

  const bySource = new Map<string, { kind: string; start: number; end: number }>();
  for (const seg of found.session.segments) {
    const s = bySource.get(seg.source);
    if (!s) bySource.set(seg.source, { kind: seg.kind, start: seg.start, end: seg.end });
    else {
      s.start = Math.min(s.start, seg.start);
      s.end = Math.max(s.end, seg.end);
    }
  }
  const tol = input.toleranceSeconds;
  const sources = [...bySource]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([source, s]): ReconcileSource => {
      const startDifferenceSeconds = outside(s.start, input.start);
      const endDifferenceSeconds = outside(s.end, input.end);
      return {
        source,
        kind: s.kind,
        recordedStart: new Date(s.start).toISOString(),
        recordedEnd: new Date(s.end).toISOString(),
        startDifferenceSeconds,
        endDifferenceSeconds,
        agrees: Math.abs(startDifferenceSeconds) <= tol && Math.abs(endDifferenceSeconds) <= tol,
      };
    });
  const span = (w: WrittenTime): { from: string; to: string } => ({ from: new Date(w.ms).toISOString(), to: new Date(w.ms + w.precisionMs).toISOString() });
  return {
    v: 1,
    deviceId: found.deviceId,
    sessionId: input.sessionId,
    toleranceSeconds: tol,
    written: { start: span(input.start), end: span(input.end) },
    sources,
    agrees: sources.length > 0 && sources.every((s) => s.agrees),
  };
}
