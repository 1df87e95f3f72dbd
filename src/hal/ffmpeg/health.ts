/**
 * The detectors' lines in ffmpeg's log, turned into start/end events on the run's timeline (seconds).
 *
 * freezedetect and silencedetect log a start once it has lasted their minimum duration (with the time it
 * began) and an end when it ends. blackdetect only logs a black interval after it has ended, so the metadata
 * filters beside it print the first black frame and the first picture after it as they pass; a black start is
 * reported once the black has lasted the minimum duration (judged against the wall clock), and a black shorter
 * than that is dropped. blackdetect's own summary line stays a fallback. Anything else in the log is ignored:
 * parsing never throws.
 *
 * A covered lens is black and, being black, still: freezedetect reports it too, and its start comes as soon as the
 * picture has been still for its minimum duration, while the black start waits for the wall clock. The first event
 * names the interruption (recorder.ts), so a freeze start seen while a black is pending is held until the black is
 * reported (black first) or dropped as too short (the freeze alone, then). A picture that froze well before it went
 * black is a frozen picture first: its freeze start is not held.
 *
 * A camera whose picture froze while it still sends re-encodes the same picture at every key frame, a little
 * differently from the P-frames before it: one changed picture in the middle of a frozen one (measured in
 * docs/operations.md §15, enough to end a freeze on HEVC with a 4 s GOP and on H.264 with a 10 s GOP). A freeze end
 * is therefore held until a new freeze would have been reported, and a freeze that starts again within
 * FREEZE_RESUMES_S of it is the same one going on.
 */
import { DETECTORS } from './args.js';

export type HealthType = 'black' | 'freeze' | 'silence';
export type Phase = 'start' | 'end';

export interface Observation {
  type: HealthType;
  phase: Phase;
  /** Seconds on the run's timeline. */
  t: number;
  /** Where it came from: a live line, or blackdetect's after-the-fact summary. */
  via: 'live' | 'summary';
}

export interface TimelineEvent {
  type: HealthType;
  phase: Phase;
  t: number;
}

const NUM = '(-?\\d+(?:\\.\\d+)?(?:[eE][-+]?\\d+)?)';
const PREFIX = (filter: string): string => `^\\[(?:Parsed_)?${filter}(?:_\\d+)? @ [^\\]]*\\]\\s*`;
const BLACK_SUMMARY = new RegExp(`${PREFIX('blackdetect')}black_start:\\s*${NUM}\\s+black_end:\\s*${NUM}`);
const BLACK_LIVE = new RegExp(`${PREFIX('metadata')}lavfi\\.black_(start|end)=${NUM}\\s*$`);
const FREEZE = new RegExp(`${PREFIX('freezedetect')}lavfi\\.freezedetect\\.freeze_(start|end):\\s*${NUM}\\s*$`);
const SILENCE = new RegExp(`${PREFIX('silencedetect')}silence_(start|end):\\s*${NUM}(?:\\s*\\||\\s*$)`);

function num(s: string | undefined): number | undefined {
  const n = Number(s);
  return s !== undefined && Number.isFinite(n) ? n : undefined;
}

/** The detector observations in one log line (none for any other line). */
export function parseDetectorLine(raw: string): Observation[] {
  const line = raw.trim();
  if (!line.startsWith('[')) return [];
  let m = BLACK_SUMMARY.exec(line);
  if (m) {
    const a = num(m[1]);
    const b = num(m[2]);
    return a === undefined || b === undefined || b < a
      ? []
      : [
          { type: 'black', phase: 'start', t: a, via: 'summary' },
          { type: 'black', phase: 'end', t: b, via: 'summary' },
        ];
  }
  for (const [re, type] of [[BLACK_LIVE, 'black'], [FREEZE, 'freeze'], [SILENCE, 'silence']] as const) {
    m = re.exec(line);
    if (!m) continue;
    const t = num(m[2]);
    return t === undefined ? [] : [{ type, phase: m[1] as Phase, t, via: 'live' }];
  }
  return [];
}

/** A freeze that began this long (s) before the black is a frozen picture that then went black, not a covering. */
const FROZE_FIRST_S = 1;
/** A freeze that starts again this soon (s) after one ended is the same one, interrupted by one changed picture
 * (two compared pictures a second: the changed one is half a second long). */
const FREEZE_RESUMES_S = 1;

/** Turns observations into events: each reported once, black held back until it has lasted long enough. */
export class HealthTracker {
  private readonly seen = new Set<string>();
  private black: { start: number; reported: boolean } | undefined;
  /** A freeze start waiting for the pending black to be reported or dropped. */
  private heldFreeze: TimelineEvent | undefined;
  /** A freeze end waiting to see whether the freeze starts again at once. */
  private freezeEnd: TimelineEvent | undefined;

  constructor(
    private readonly blackSeconds: number = DETECTORS.blackSeconds,
    private readonly freezeSeconds: number = DETECTORS.freezeSeconds,
  ) {}

  push(o: Observation): TimelineEvent[] {
    if (o.type === 'freeze') return this.freeze(o);
    if (o.type !== 'black') return this.once(o);
    if (o.via === 'summary') {
      if (o.phase === 'end' && this.black) this.black = undefined;
      return o.phase === 'end' ? [...this.once(o), ...this.releaseFreeze()] : this.once(o);
    }
    if (o.phase === 'start') {
      if (!this.black) this.black = { start: o.t, reported: false };
      return [];
    }
    const b = this.black;
    this.black = undefined;
    // An end with no start seen: blackdetect's summary already reported this interval (or it is not ours).
    if (!b) return this.releaseFreeze();
    if (b.reported) return [...this.once(o), ...this.releaseFreeze()];
    // Too short to count: a held freeze is the picture's own problem.
    if (o.t - b.start < this.blackSeconds) return this.releaseFreeze();
    return [...this.blackStart(b.start), ...this.once(o)];
  }

  /**
   * What the timeline's progress decides: a black start once it has lasted its minimum duration with no end seen; a
   * freeze end once a freeze starting again would have been reported.
   */
  tick(timelineNow: number): TimelineEvent[] {
    const out: TimelineEvent[] = [];
    const b = this.black;
    if (b && !b.reported && timelineNow >= b.start + this.blackSeconds) {
      b.reported = true;
      out.push(...this.blackStart(b.start));
    }
    if (this.freezeEnd && timelineNow >= this.freezeEnd.t + FREEZE_RESUMES_S + this.freezeSeconds) out.push(...this.releaseFreezeEnd());
    return out;
  }

  /** Everything still held back, when the run has ended and its log has been read to the end. */
  flush(): TimelineEvent[] {
    return [...this.releaseFreeze(), ...this.releaseFreezeEnd()];
  }

  private freeze(o: Observation): TimelineEvent[] {
    if (o.phase === 'end') {
      // A start still held for a black comes out before its end; the end waits for a freeze starting again.
      const out = [...this.releaseFreeze(), ...this.releaseFreezeEnd()];
      this.freezeEnd = { type: 'freeze', phase: 'end', t: o.t };
      return out;
    }
    const ended = this.freezeEnd;
    if (ended && o.t - ended.t <= FREEZE_RESUMES_S) {
      // The same freeze goes on: neither its end nor this start is news.
      this.freezeEnd = undefined;
      return [];
    }
    const out = this.releaseFreezeEnd();
    if (this.black && !this.black.reported && this.black.start <= o.t + FROZE_FIRST_S) {
      this.heldFreeze = { type: 'freeze', phase: 'start', t: o.t };
      return out;
    }
    return [...out, ...this.once(o)];
  }

  /** The black's start, then the freeze start held for it. */
  private blackStart(t: number): TimelineEvent[] {
    return [...this.once({ type: 'black', phase: 'start', t }), ...this.releaseFreeze()];
  }

  private releaseFreeze(): TimelineEvent[] {
    const held = this.heldFreeze;
    this.heldFreeze = undefined;
    return held ? this.once(held) : [];
  }

  private releaseFreezeEnd(): TimelineEvent[] {
    const ended = this.freezeEnd;
    this.freezeEnd = undefined;
    return ended ? this.once(ended) : [];
  }

  private once(o: TimelineEvent): TimelineEvent[] {
    const key = `${o.type}:${o.phase}:${o.t}`;
    if (this.seen.has(key)) return [];
    if (this.seen.size > 1000) this.seen.clear();
    this.seen.add(key);
    return [{ type: o.type, phase: o.phase, t: o.t }];
  }
}
