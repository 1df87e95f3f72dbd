/**
 * What counts as speech in a microphone's voice-meter frames (src/hal/ffmpeg/voice.ts): pure, no I/O.
 *
 * A frame is voiced when its level in the speech band is above both an absolute floor (`levelDb`) and the room's
 * own noise floor by `marginDb`; the noise floor is the 10th percentile of the last 300 frames (30 s of sound, kept
 * across pauses, so it is known the moment recording resumes; the first 2 s a microphone is heard only measure it).
 * Voiced frames less than GAP_SECONDS apart form one
 * utterance. An utterance is speech when it has at least `minSpeechSeconds` of voiced frames and its level rises
 * and falls from frame to frame by `minModulationDb` on average, as syllables do: a fan, a hum or a tone stays
 * level, and a door or a cough is too short. The thresholds and the measurements behind them: docs/operations.md §19.
 */
import { VOICE_FRAME_SECONDS } from '../hal/ffmpeg/voice.js';

export interface SpeechCriteria {
  /** A voiced frame is louder than this in the speech band (dBFS). */
  levelDb: number;
  /** ...and louder than the room's noise floor by this much (dB). */
  marginDb: number;
  /** Voiced time an utterance needs to count as speech (s). */
  minSpeechSeconds: number;
  /** Mean change of level between consecutive voiced frames an utterance needs (dB). */
  minModulationDb: number;
}

/** The defaults (config `recording.explanation` overrides them), chosen from the measurements in docs/operations.md §19. */
export const SPEECH_DEFAULTS: SpeechCriteria = { levelDb: -50, marginDb: 6, minSpeechSeconds: 1.5, minModulationDb: 2 };

/** Pauses shorter than this do not split an utterance (s). */
export const GAP_SECONDS = 0.5;
/** Frames the noise floor is taken from, and the fewest it is known from. */
const FLOOR_FRAMES = 300;
const FLOOR_MIN_FRAMES = 20;
const FLOOR_PERCENTILE = 0.1;
const FRAME_MS = VOICE_FRAME_SECONDS * 1000;

/** A frame at a wall time (ms since the epoch). */
export interface TimedFrame {
  at: number;
  db: number;
}

export interface Utterance {
  /** Wall times (ms): its first voiced frame's start and its last voiced frame's end. */
  start: number;
  end: number;
  voicedSeconds: number;
  /** Mean level of its voiced frames (dBFS, speech band). */
  levelDb: number;
  modulationDb: number;
  /** The noise floor it was measured against (dBFS). */
  floorDb: number;
  speech: boolean;
}

interface Open {
  start: number;
  last: number;
  dbs: number[];
  floor: number;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

/** One microphone's frames in, its utterances out. */
export class SpeechTracker {
  private readonly history: number[] = [];
  private open: Open | undefined;
  private lastAt = -Infinity;

  constructor(private readonly c: SpeechCriteria) {}

  /** The room's noise floor now (dBFS), or null while fewer than FLOOR_MIN_FRAMES frames were heard. */
  floorDb(): number | null {
    if (this.history.length < FLOOR_MIN_FRAMES) return null;
    const sorted = [...this.history].sort((a, b) => a - b);
    return sorted[Math.floor(FLOOR_PERCENTILE * (sorted.length - 1))]!;
  }

  /** Frames in time order; returns the utterances they completed. A frame older than the last one is ignored. */
  push(frames: TimedFrame[]): Utterance[] {
    const done: Utterance[] = [];
    for (const f of frames) {
      if (f.at <= this.lastAt) continue;
      this.lastAt = f.at;
      const floor = this.floorDb();
      this.history.push(f.db);
      if (this.history.length > FLOOR_FRAMES) this.history.shift();
      const o = this.open;
      if (o && f.at - o.last > GAP_SECONDS * 1000) {
        done.push(this.finish(o));
        this.open = undefined;
      }
      // Until the room has been heard long enough to know its floor nothing counts as voiced: a fan louder than
      // levelDb would otherwise be one long utterance.
      if (floor === null || !(f.db > Math.max(this.c.levelDb, floor + this.c.marginDb))) continue;
      if (this.open) {
        this.open.last = f.at;
        this.open.dbs.push(f.db);
      } else {
        this.open = { start: f.at, last: f.at, dbs: [f.db], floor };
      }
    }
    return done;
  }

  /** Ends the utterance in progress if no voiced frame can still join it: the mic's frames are complete up to `until`. */
  flush(until: number): Utterance[] {
    const o = this.open;
    if (!o || until - o.last <= GAP_SECONDS * 1000) return [];
    this.open = undefined;
    return [this.finish(o)];
  }

  /** The utterance in progress as it stands (for a window that must be decided now), without ending it. */
  current(): Utterance | undefined {
    return this.open ? this.finish(this.open) : undefined;
  }

  private finish(o: Open): Utterance {
    const n = o.dbs.length;
    let change = 0;
    for (let i = 1; i < n; i++) change += Math.abs(o.dbs[i]! - o.dbs[i - 1]!);
    const voicedSeconds = round1(n * VOICE_FRAME_SECONDS);
    const modulationDb = n > 1 ? round1(change / (n - 1)) : 0;
    return {
      start: o.start,
      end: o.last + FRAME_MS,
      voicedSeconds,
      levelDb: round1(o.dbs.reduce((a, b) => a + b, 0) / n),
      modulationDb,
      floorDb: round1(o.floor),
      speech: voicedSeconds >= this.c.minSpeechSeconds && modulationDb >= this.c.minModulationDb,
    };
  }
}
