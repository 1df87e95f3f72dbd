/**
 * Watches one live run's folder: the segment list, the first output bytes and the log. Polled a few times a
 * second (fs.watch misses events on some filesystems and across renames).
 *
 * The wall-clock anchor (wall time of the run's timeline 0) comes from the segment list: ffmpeg appends a
 * segment's line the moment the packet that opens the next segment arrives, and that packet is the frame at the
 * listed end time. So `mtime(segments.csv) - end` of the line just written is the wall time of timeline 0, late
 * by the capture-encode-mux latency (a few ms for the sim sources here) and by the coarse file clock (~4 ms).
 * The segment file's own mtime is one frame earlier than its end (its last packet), so it would be early by a
 * frame. The anchor is taken once, from the first line(s), and persisted in run.json; every segment of the run is
 * then `anchor + csv time`, so consecutive segments are exactly contiguous (the first one starts where its
 * picture starts, see firstContentStart). Later lines measure the drift of that estimate (logged when large: a
 * start-up burst or a lagging pipeline).
 *
 * The mtime is the system clock's; the anchor is the gateway's time (src/hal/time/timeline.ts), which a clock step
 * nothing confirmed does not move: `timeOfFile` turns one into the other (src/hal/time/file-clock.ts).
 */
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { HealthEvent, SegmentFile, Transcoded, VoiceFrames } from '../capture.js';
import type { Logger } from '../../util/log.js';
import { describe } from '../../util/errors.js';
import { LOG_FILE, SEGMENT_LIST } from './args.js';
import { HealthTracker, parseDetectorLine, type TimelineEvent } from './health.js';
import { LogTail } from './log-tail.js';
import { listedStart, parseSegmentList, type ListedSegment } from './segment-list.js';
import { checkMpegTs, firstContentStart } from './ts-file.js';
import type { FileTimeReader } from '../time/file-clock.js';
import { isVoiceLine, VoiceLineParser, type VoiceFrame } from './voice.js';

/** A black start is judged against the wall clock; give the log this long to show an end first. */
const BLACK_LOG_MARGIN_S = 0.5;
/** An anchor that later segments contradict by more than this is worth a warning. */
const DRIFT_WARN_MS = 250;

export interface WatchTarget {
  sourceId: string;
  runId: string;
  runDir: string;
  /** Spawn time, the anchor of last resort (health events of a run that never listed a segment). */
  startedAt: number;
  /** The gateway's time now (ms since the epoch). */
  now: () => number;
  /** The gateway's time at which the file system's clock read a given mtime. */
  timeOfFile: FileTimeReader;
  maxLogBytes: number;
  primary: 'video' | 'audio';
  /** The run's segment time: only segments at least this long (less a frame) measure the bitrate. */
  segmentSeconds: number;
  /** Streams the run re-encodes; every segment carries it. */
  transcoded: Transcoded[];
  /** blackdetect's minimum duration, for the live black start. */
  blackSeconds: number;
  /** freezedetect's minimum duration: how long a freeze that starts again takes to be reported. */
  freezeSeconds: number;
  ffprobePath?: string;
  log: Logger;
  segment(s: SegmentFile): void;
  health(h: HealthEvent): void;
  /** Microphones: the voice meter's frames (none come from other runs). */
  voice(v: VoiceFrames): void;
  producing(at: Date): void;
  /** ffmpeg listed a finished segment: progress, however long the checks before `segment` take on a loaded machine. */
  listed(at: Date): void;
  /** The anchor was estimated (ms since the epoch); persist it. */
  anchored(anchorMs: number): Promise<void>;
}

export class RunWatcher {
  private csvOffset = 0;
  private csvCarry = '';
  private readonly pending: ListedSegment[] = [];
  private lastListed: { index: number; end: number } | undefined;
  private anchorMs: number | undefined;
  private readonly healthQueue: TimelineEvent[] = [];
  private readonly tracker: HealthTracker;
  private readonly voiceParser = new VoiceLineParser();
  private readonly voiceQueue: VoiceFrame[] = [];
  private readonly logTail: LogTail;
  private sawOutput = false;
  private bytes = 0;
  private seconds = 0;
  private drift = { min: Infinity, max: -Infinity, warned: false };
  private inFlight: Promise<void> = Promise.resolve();
  /** The last line of a run that was stopped ends at the stop, not at a segment boundary: no drift sample. */
  private exited = false;

  constructor(private readonly t: WatchTarget) {
    this.logTail = new LogTail(join(t.runDir, LOG_FILE), { maxBytes: t.maxLogBytes, unremarkable: isVoiceLine });
    this.tracker = new HealthTracker(t.blackSeconds, t.freezeSeconds);
  }

  get anchor(): number | undefined {
    return this.anchorMs;
  }

  /**
   * Bytes per second of the run's whole segments: those that ran their full segment time. A run's first segment
   * may start late and its last ends at the stop, and a camera that fails within a second writes one key frame in
   * a fraction of a second: measured from such pieces, pre-flight once estimated 4,101,818 kbit/s.
   */
  get bitrate(): number | undefined {
    return this.seconds > 0 ? this.bytes / this.seconds : undefined;
  }

  /** Every line kept (40): an encoder's closing statistics alone can fill a dozen lines after the error. */
  get logTailText(): string {
    return this.logTail.tail(40);
  }

  /** The anchor's drift as later segments saw it (ms), for the run's end-of-run log line. */
  get driftMs(): { min: number; max: number } | undefined {
    return Number.isFinite(this.drift.min) ? { min: this.drift.min, max: this.drift.max } : undefined;
  }

  /** One pass; passes never overlap. `final` after the process exited: take everything that is there. */
  poll(final = false): Promise<void> {
    this.inFlight = this.inFlight.then(() => this.pass(final)).catch((err: unknown) => {
      this.t.log.warn('watching the run folder failed; trying again', { runId: this.t.runId, err: describe(err) });
    });
    return this.inFlight;
  }

  private async pass(final: boolean): Promise<void> {
    if (final) this.exited = true;
    await this.checkOutput();
    await this.readList();
    await this.readLog(final);
    if (this.anchorMs !== undefined) {
      await this.emitSegments();
      this.emitHealth(this.anchorMs);
    } else if (final) {
      // No segment was ever listed: place health events from the spawn time, the best there is.
      this.emitHealth(this.t.startedAt);
    }
  }

  private async checkOutput(): Promise<void> {
    if (this.sawOutput) return;
    try {
      if ((await stat(join(this.t.runDir, 'seg-000000.ts'))).size > 0) {
        this.sawOutput = true;
        this.t.producing(new Date(this.t.now()));
      }
    } catch {
      // not yet
    }
  }

  private async readList(): Promise<void> {
    let fh;
    try {
      fh = await open(join(this.t.runDir, SEGMENT_LIST), 'r');
    } catch {
      return;
    }
    let mtime: number | undefined;
    let text = '';
    try {
      const before = await fh.stat();
      if (before.size < this.csvOffset) throw new Error(`${SEGMENT_LIST} shrank from ${this.csvOffset} to ${before.size} bytes`);
      if (before.size > this.csvOffset) {
        const buf = Buffer.alloc(before.size - this.csvOffset);
        const { bytesRead } = await fh.read(buf, 0, buf.length, this.csvOffset);
        this.csvOffset += bytesRead;
        text = buf.subarray(0, bytesRead).toString('utf8');
      }
      const after = await fh.stat();
      // The mtime belongs to the last line read only if nothing was appended meanwhile.
      if (after.size === this.csvOffset) mtime = after.mtimeMs;
    } finally {
      await fh.close();
    }
    let fresh: ListedSegment[] = [];
    if (text) {
      const { entries, rest, bad } = parseSegmentList(this.csvCarry + text);
      this.csvCarry = rest;
      if (bad > 0) this.t.log.warn('segment list has lines that are not segments; ignored', { runId: this.t.runId, lines: bad });
      fresh = entries;
      this.pending.push(...entries);
      if (entries.length > 0) this.t.listed(new Date());
    }
    const last = this.pending[this.pending.length - 1];
    if (mtime === undefined || this.csvCarry !== '' || !last) return;
    if (this.anchorMs === undefined) {
      // Whole milliseconds: what run.json keeps, so a later recovery places this run's segments identically.
      this.anchorMs = Math.round((await this.t.timeOfFile(mtime)) - last.end * 1000);
      await this.t.anchored(this.anchorMs);
    } else if (fresh.length > 0 && !this.exited) {
      this.observeDrift((await this.t.timeOfFile(mtime)) - (this.anchorMs + last.end * 1000));
    }
  }

  private observeDrift(ms: number): void {
    this.drift.min = Math.min(this.drift.min, ms);
    this.drift.max = Math.max(this.drift.max, ms);
    if (!this.drift.warned && (ms < -DRIFT_WARN_MS || ms > 4 * DRIFT_WARN_MS)) {
      this.drift.warned = true;
      this.t.log.warn('segment times and the wall clock disagree for this run (start-up burst or lagging capture)', {
        runId: this.t.runId,
        driftMs: Math.round(ms),
      });
    }
  }

  private async emitSegments(): Promise<void> {
    const anchor = this.anchorMs!;
    while (this.pending.length > 0) {
      const e = this.pending.shift()!;
      const path = join(this.t.runDir, e.name);
      const suspect = await checkMpegTs(path, { finished: true });
      const start = e.index === 0 ? await firstContentStart(path, this.t.primary, e.start, e.end, this.t.ffprobePath) : listedStart(e, this.lastListed);
      this.lastListed = { index: e.index, end: e.end };
      // A cut falls on a frame, not exactly on the time: a frame or so short still counts as whole.
      if (!suspect && e.end - start >= this.t.segmentSeconds - 0.05) {
        try {
          this.bytes += (await stat(path)).size;
          this.seconds += e.end - start;
        } catch {
          // checkMpegTs already says it cannot be read
        }
      }
      this.t.segment({
        sourceId: this.t.sourceId,
        path,
        runId: this.t.runId,
        index: e.index,
        start: new Date(anchor + start * 1000),
        end: new Date(anchor + e.end * 1000),
        partial: false,
        ...(suspect ? { suspect } : {}),
        ...(this.t.transcoded.length ? { transcoded: this.t.transcoded } : {}),
      });
    }
  }

  private async readLog(final: boolean): Promise<void> {
    for (const line of await this.logTail.read(final)) {
      const v = this.voiceParser.push(line);
      if (v) this.voiceQueue.push(v);
      else for (const o of parseDetectorLine(line)) this.healthQueue.push(...this.tracker.push(o));
    }
    // The run is over: nothing more can come to change what is held back.
    if (final) this.healthQueue.push(...this.tracker.flush());
  }

  private emitHealth(anchor: number): void {
    this.healthQueue.push(...this.tracker.tick((this.t.now() - anchor) / 1000 - BLACK_LOG_MARGIN_S));
    for (const e of this.healthQueue.splice(0)) {
      this.t.health({ sourceId: this.t.sourceId, type: e.type, phase: e.phase, at: new Date(anchor + e.t * 1000) });
    }
    if (this.voiceQueue.length > 0) {
      const frames = this.voiceQueue.splice(0).map((f) => ({ at: new Date(anchor + f.t * 1000), db: f.db }));
      this.t.voice({ sourceId: this.t.sourceId, frames });
    }
  }
}
