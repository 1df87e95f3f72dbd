/**
 * A capture source: one camera or microphone recorded by one ffmpeg process at a time (a "run") into MPEG-TS
 * segments in a run folder under the spool. The recorder only sees this interface; src/hal/ffmpeg/ has the
 * real implementation for every driver (sim, v4l2, alsa, rtsp, rpicam).
 *
 * Runs are built to outlive the gateway process: ffmpeg writes its log and segment list to files in the run
 * folder (never to pipes, whose breaking would kill it), so after a kill -9 of the gateway the footage goes on
 * until the next start adopts the run's folder, stops the old process and recovers its segments.
 */
import type { EventEmitter } from 'node:events';

/** A finished segment file of a run, with its wall-clock span. */
export interface SegmentFile {
  sourceId: string;
  path: string;
  runId: string;
  /** ffmpeg's segment number within the run, from 0. */
  index: number;
  start: Date;
  end: Date;
  /** Recovered from a run that died before listing it (the open segment at a crash). */
  partial: boolean;
  /** Set when the file does not look like MPEG-TS (garbage from the device): still evidence, but the source is restarted. */
  suspect?: string;
  /** Streams the gateway re-encoded instead of copying what the device sent (e.g. G.711 audio to AAC). */
  transcoded?: Transcoded[];
}

/** One re-encoded stream: ffmpeg's codec names of what the device sent and what was written. */
export interface Transcoded {
  stream: 'audio' | 'video';
  from: string;
  to: string;
}

/** What the picture or sound detectors noticed: ffmpeg's blackdetect, freezedetect and silencedetect. */
export interface HealthEvent {
  sourceId: string;
  type: 'black' | 'freeze' | 'silence';
  phase: 'start' | 'end';
  at: Date;
}

/** A microphone's voice-meter frames (src/hal/ffmpeg/voice.ts) at their wall times: level in the speech band, dBFS. */
export interface VoiceFrames {
  sourceId: string;
  frames: { at: Date; db: number }[];
}

/** Why footage stopped, in words for the ledger and the officer, with the technical detail beside them. */
export interface Outage {
  /** A stable code (explain.ts lists them). */
  cause: string;
  /** What happened, in Chinese. */
  words: string;
  technical: string;
  /** A copy of the failed run's ffmpeg log that outlives the run's folder, when there is one. */
  log?: string;
}

export interface RunExit {
  sourceId: string;
  runId: string;
  code: number | null;
  signal: string | null;
  /** Last lines ffmpeg logged. */
  logTail: string;
  /** True when stop() asked for it. */
  requested: boolean;
  /** Why the run ended, when nobody asked it to. */
  outage?: Outage;
}

export interface CaptureSourceEvents {
  segment: [SegmentFile];
  health: [HealthEvent];
  /** Microphones only: the level of their sound, ten frames a second. */
  voice: [VoiceFrames];
  /** The first frame of a run was written: the source is producing. */
  producing: [{ sourceId: string; runId: string; at: Date }];
  /** ffmpeg finished a segment (listed it), before the gateway has looked at it: the run is not stalled. */
  listed: [{ sourceId: string; runId: string; at: Date }];
  exit: [RunExit];
}

export interface CaptureSource extends EventEmitter<CaptureSourceEvents> {
  readonly id: string;
  readonly kind: 'camera' | 'microphone';
  /** Spawn a new run. Resolves once the process is started (not when it produces). */
  start(): Promise<void>;
  /** End the current run gracefully (its open segment is finished and listed); resolves when the process has exited. */
  stop(): Promise<void>;
  /** Whether a run's process is alive. */
  readonly running: boolean;
  /** Bytes per second written by the current or last run, measured (for the storage pre-flight). */
  readonly bitrate: number | undefined;
  /** Words for an outage the supervisor noticed itself: no segment for `stalledSeconds`, or a damaged file. */
  explain(problem: { stalledSeconds: number } | { damaged: string }): Outage;
}
