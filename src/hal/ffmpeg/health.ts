/**
 * The detectors' lines in ffmpeg's log, turned into start/end events on the run's timeline (seconds).
 *
 * freezedetect and silencedetect log a start once it has lasted their minimum duration (with the time it
 * began) and an end when it ends. blackdetect only logs a black interval after it has ended, so the metadata
 * filters beside it print the first black frame and the first picture after it as they pass; a black start is
 * reported once the black has lasted the minimum duration (judged against the wall clock), and a black shorter
 * than that is dropped. blackdetect's own summary line stays a fallback. Anything else in the log is ignored:
 * parsing never throws.
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

/** Turns observations into events: each reported once, black held back until it has lasted long enough. */
export class HealthTracker {
  private readonly seen = new Set<string>();
  private black: { start: number; reported: boolean } | undefined;

  constructor(private readonly blackSeconds: number = DETECTORS.blackSeconds) {}

  push(o: Observation): TimelineEvent[] {
    if (o.type !== 'black') return this.once(o);
    if (o.via === 'summary') {
      if (o.phase === 'end' && this.black) this.black = undefined;
      return this.once(o);
    }
    if (o.phase === 'start') {
      if (!this.black) this.black = { start: o.t, reported: false };
      return [];
    }
    const b = this.black;
    this.black = undefined;
    // An end with no start seen: blackdetect's summary already reported this interval (or it is not ours).
    if (!b) return [];
    if (b.reported) return this.once(o);
    if (o.t - b.start >= this.blackSeconds) return [...this.once({ ...o, phase: 'start', t: b.start }), ...this.once(o)];
    return [];
  }

  /** Report a black start once the timeline has passed its minimum duration with no end seen. */
  tick(timelineNow: number): TimelineEvent[] {
    const b = this.black;
    if (!b || b.reported || timelineNow < b.start + this.blackSeconds) return [];
    b.reported = true;
    return this.once({ type: 'black', phase: 'start', t: b.start });
  }

  private once(o: TimelineEvent): TimelineEvent[] {
    const key = `${o.type}:${o.phase}:${o.t}`;
    if (this.seen.has(key)) return [];
    if (this.seen.size > 1000) this.seen.clear();
    this.seen.add(key);
    return [{ type: o.type, phase: o.phase, t: o.t }];
  }
}
