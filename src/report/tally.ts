/**
 * Adds sessions and upload items up into the figures of one row of the report (a device, an officer, a matter
 * or the whole store). Pure: no I/O.
 */
import { reasonByCode } from '../evidence/vocabulary.js';
import type { ReportSession } from './device-sessions.js';
import type { UploadItem } from './receipts.js';
import type { Totals } from './types.js';

/**
 * A session's recorded time: its camera footage, or its microphone footage when it has no camera, as the union
 * of the segments' spans (so two cameras filming at once count once). null kind = no footage at all.
 */
export function recordedTime(s: ReportSession): { kind: 'camera' | 'microphone' | null; ms: number } {
  const kind = s.segments.some((x) => x.kind === 'camera') ? 'camera' : s.segments.length > 0 ? 'microphone' : null;
  const spans = s.segments.filter((x) => x.kind === kind).sort((a, b) => a.start - b.start);
  let ms = 0;
  let curEnd = -Infinity;
  for (const x of spans) {
    const from = Math.max(x.start, curEnd);
    if (x.end > from) ms += x.end - from;
    curEnd = Math.max(curEnd, x.end);
  }
  return { kind, ms };
}

const seconds = (ms: number): number => Math.round(ms) / 1000;

export class Tally {
  private sessions = 0;
  private unclosed = 0;
  private recordedMs = 0;
  private readonly basis = { camera: 0, microphone: 0, none: 0 };
  private readonly reasons = new Map<string, number>();
  private terminated = 0;
  private statementMissing = 0;
  private readonly clock = { unsynchronisedSegments: 0, assumedSegments: 0, sessions: 0 };
  private unexplained = 0;
  private unexplainedMissing = 0;
  private onTime = 0;
  private late = 0;
  private worst: UploadItem | undefined;

  addSession(s: ReportSession): void {
    this.sessions++;
    if (!s.closed) this.unclosed++;
    const r = recordedTime(s);
    this.recordedMs += r.ms;
    this.basis[r.kind ?? 'none']++;
    for (const { reason } of s.interruptions) this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
    const unsynchronised = s.segments.filter((x) => x.clock === 'unsynchronised').length;
    const assumed = s.segments.filter((x) => x.clock === 'assumed').length;
    this.clock.unsynchronisedSegments += unsynchronised;
    this.clock.assumedSegments += assumed;
    if (unsynchronised + assumed > 0) this.clock.sessions++;
    if (s.closedBy === 'terminated') {
      this.terminated++;
      if (s.statementBadges.size < 2) this.statementMissing++;
    }
    if (s.unexplainedResumes > 0) {
      this.unexplained++;
      if (s.statementBadges.size < 2) this.unexplainedMissing++;
    }
  }

  addItem(i: UploadItem): void {
    if (i.lateMs > 0) {
      this.late++;
      if (!this.worst || i.lateMs > this.worst.lateMs) this.worst = i;
    } else this.onTime++;
  }

  totals(): Totals {
    const byReason = [...this.reasons]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([reason, count]) => ({ reason, zh: reasonByCode(reason)?.zh ?? null, count }));
    const w = this.worst;
    return {
      sessions: this.sessions,
      unclosed: this.unclosed,
      recorded: {
        seconds: seconds(this.recordedMs),
        cameraSessions: this.basis.camera,
        microphoneSessions: this.basis.microphone,
        noFootageSessions: this.basis.none,
      },
      interruptions: { total: byReason.reduce((n, r) => n + r.count, 0), byReason },
      terminated: { sessions: this.terminated, statementMissing: this.statementMissing },
      unexplained: { sessions: this.unexplained, statementMissing: this.unexplainedMissing },
      uploads: {
        onTime: this.onTime,
        late: this.late,
        worst: w ? { deviceId: w.deviceId, kind: w.kind, item: w.item, deadline: w.deadline, storedAt: w.storedAt, lateSeconds: seconds(w.lateMs) } : null,
      },
      clock: { ...this.clock },
    };
  }
}
