/**
 * Keeps one capture source recording while it is wanted: restarts it with backoff when it dies, kills and
 * restarts it when it stalls (no finished segment within twice the segment length, plus a GOP for copied video) or
 * writes garbage, and tells the recorder when footage stopped ("down", from the end of the last good footage) and
 * came back ("up", from the start of the first new footage), so the recorder can write a detected interruption
 * with its true span.
 */
import { EventEmitter } from 'node:events';
import type { CaptureSource, HealthEvent, Outage, RunExit, SegmentFile, VoiceFrames } from '../hal/capture.js';
import type { Logger } from '../util/log.js';

export interface DownEvent {
  sourceId: string;
  /** End of the last footage before the failure. */
  since: Date;
  reason: 'device-fault' | 'storage-full';
  /** What happened, in words and in technical detail; the kept ffmpeg log when there is one. */
  outage: Outage;
}

export interface UpEvent {
  sourceId: string;
  /** Start of the first footage after the failure. */
  at: Date;
}

export interface SupervisorEvents {
  segment: [SegmentFile];
  health: [HealthEvent];
  voice: [VoiceFrames];
  down: [DownEvent];
  up: [UpEvent];
}

export interface SupervisorOptions {
  source: CaptureSource;
  segmentSeconds: number;
  /** Copied video is cut at the camera's key frames: a segment may end this much later than its time (s). */
  longestGopSeconds?: number;
  /** Segments a dead run left unlisted (its open segment), collected before a restart. */
  recover: () => Promise<SegmentFile[]>;
  log: Logger;
  now?: () => number;
  backoffMs?: { first: number; max: number };
}

export interface SourceHealth {
  id: string;
  kind: 'camera' | 'microphone';
  wanted: boolean;
  running: boolean;
  producing: boolean;
  lastSegmentEnd: string | null;
  restarts: number;
  down: { since: string; detail: string; words: string; log?: string } | null;
  /** The last time footage stopped without being asked to, kept after the source is up again. */
  lastOutage: (Outage & { at: string }) | null;
  picture: 'ok' | 'black' | 'frozen' | 'silent';
  bitrate: number | undefined;
}

export class SourceSupervisor extends EventEmitter<SupervisorEvents> {
  private readonly o: SupervisorOptions;
  private readonly now: () => number;
  private wanted = false;
  private producing = false;
  private lastEnd: Date | null = null;
  private lastSegmentAt = 0;
  private downSince: DownEvent | null = null;
  private restarts = 0;
  private attempt = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  /** What the detectors report now: a covered lens is black and frozen at once, and is shown as black. */
  private readonly detected = new Set<HealthEvent['type']>();
  private lastOutage: SourceHealth['lastOutage'] = null;
  /** The run of the last segment, and the run that was current when the source went down. */
  private lastRun: string | undefined;
  private failedRun: string | undefined;
  private transition: Promise<void> = Promise.resolve();

  /** Queue a state change after the ones before it; a failure is logged and never blocks the next one. */
  private then(fn: () => Promise<void>): Promise<void> {
    this.transition = this.transition.then(fn).catch((err: unknown) => {
      this.o.log.error('source state change failed', { source: this.id, err });
      if (this.wanted) {
        const message = (err as Error).message;
        // A source that can say why it cannot start (an RTSP camera refusing) gives its words.
        const said = (err as { outage?: Outage }).outage;
        this.fail(said ?? { cause: 'cannot-start', words: '无法启动录制', technical: `cannot start: ${message}` });
        this.scheduleRestart();
      }
    });
    return this.transition;
  }
  private readonly onSegment = (s: SegmentFile): void => this.segment(s);
  private readonly onHealth = (h: HealthEvent): void => this.health(h);
  private readonly onVoice = (v: VoiceFrames): void => {
    this.emit('voice', v);
  };
  private readonly onExit = (e: RunExit): void => this.exited(e);
  private readonly onProducing = (): void => {
    this.producing = true;
  };
  /** A stall is ffmpeg writing nothing: a segment it has listed counts, though its checks (an ffprobe) may lag
   * by seconds on a loaded machine, and a mic once "stalled" 1.4 s after its first segment was listed. */
  private readonly onListed = (): void => {
    this.lastSegmentAt = this.now();
  };

  constructor(opts: SupervisorOptions) {
    super();
    this.o = opts;
    this.now = opts.now ?? Date.now;
  }

  get id(): string {
    return this.o.source.id;
  }

  /** Begin supervising: listen to the source. Recording starts with want(true). */
  start(): void {
    const s = this.o.source;
    s.on('segment', this.onSegment);
    s.on('health', this.onHealth);
    s.on('voice', this.onVoice);
    s.on('exit', this.onExit);
    s.on('producing', this.onProducing);
    s.on('listed', this.onListed);
    this.stallTimer = setInterval(() => this.checkStall(), 500);
    this.stallTimer.unref();
  }

  async stop(): Promise<void> {
    await this.want(false);
    clearInterval(this.stallTimer);
    const s = this.o.source;
    s.off('segment', this.onSegment);
    s.off('health', this.onHealth);
    s.off('voice', this.onVoice);
    s.off('exit', this.onExit);
    s.off('producing', this.onProducing);
    s.off('listed', this.onListed);
  }

  isWanted(): boolean {
    return this.wanted;
  }

  isProducing(): boolean {
    return this.producing && this.o.source.running;
  }

  /** Run or stop the source. Serialised, so quick start/stop sequences cannot interleave. */
  want(on: boolean): Promise<void> {
    return this.then(async () => {
      this.wanted = on;
      clearTimeout(this.restartTimer);
      if (on && !this.o.source.running) {
        await this.startRun();
      } else if (!on && this.o.source.running) {
        await this.o.source.stop();
        this.producing = false;
      }
      if (!on) this.downSince = null;
    });
  }

  /** Finish the open segment now (stop and start again), e.g. so a session's last segment ends when it stops. */
  cut(): Promise<void> {
    return this.then(async () => {
      if (!this.o.source.running) return;
      await this.o.source.stop();
      this.producing = false;
      if (this.wanted) {
        await this.startRun();
      }
    });
  }

  /** Wait until the source produces, up to `ms` (and a GOP more for copied video: a camera joined in the middle of
   * a GOP gives nothing until its next key frame). */
  async waitProducing(ms: number): Promise<boolean> {
    const until = this.now() + ms + (this.o.longestGopSeconds ?? 0) * 1000;
    while (this.now() < until) {
      if (this.isProducing()) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.isProducing();
  }

  health(): SourceHealth;
  health(h: HealthEvent): void;
  health(h?: HealthEvent): SourceHealth | void {
    if (h) {
      if (h.phase === 'start') this.detected.add(h.type);
      else this.detected.delete(h.type);
      this.emit('health', h);
      return;
    }
    return {
      id: this.o.source.id,
      kind: this.o.source.kind,
      wanted: this.wanted,
      running: this.o.source.running,
      producing: this.isProducing(),
      lastSegmentEnd: this.lastEnd?.toISOString() ?? null,
      restarts: this.restarts,
      down: this.downSince ? downView(this.downSince) : null,
      lastOutage: this.lastOutage,
      picture: this.detected.has('black') ? 'black' : this.detected.has('freeze') ? 'frozen' : this.detected.has('silence') ? 'silent' : 'ok',
      bitrate: this.o.source.bitrate,
    };
  }

  private segment(s: SegmentFile): void {
    this.lastSegmentAt = this.now();
    // The failed run's last segment (listed when a stalled run is stopped) is footage, not the source coming back.
    if (this.downSince && s.runId === this.failedRun) return this.emitRecovered(s);
    if (!this.lastEnd || s.end > this.lastEnd) this.lastEnd = s.end;
    this.lastRun = s.runId;
    this.emit('segment', s);
    if (s.suspect) {
      this.o.log.warn('source wrote a damaged segment; restarting it', { source: this.id, segment: s.path, problem: s.suspect });
      this.fail(this.o.source.explain({ damaged: s.suspect }));
      this.restartNow();
      return;
    }
    this.attempt = 0;
    if (this.downSince) {
      // Never before the outage began: an interruption that ends before it starts is no span at all.
      const up: UpEvent = { sourceId: this.id, at: new Date(Math.max(s.start.getTime(), this.downSince.since.getTime())) };
      this.downSince = null;
      this.emit('up', up);
    }
  }

  /** A recovered segment of a dead run: footage to keep, but it says nothing about the source being up again. */
  private emitRecovered(s: SegmentFile): void {
    if (!this.lastEnd || s.end > this.lastEnd) this.lastEnd = s.end;
    this.emit('segment', s);
  }

  private fail(outage: Outage, reason: DownEvent['reason'] = 'device-fault'): void {
    if (this.downSince) return;
    this.downSince = { sourceId: this.id, since: this.lastEnd ?? new Date(this.now()), reason, outage };
    this.failedRun = this.lastRun;
    this.lastOutage = { ...outage, at: new Date(this.now()).toISOString() };
    this.emit('down', this.downSince);
  }

  private exited(e: RunExit): void {
    this.producing = false;
    if (e.requested || !this.wanted) return;
    const outage: Outage = e.outage ?? { cause: 'run-failed', words: '录制进程意外退出', technical: `exited (${e.signal ?? `code ${e.code}`})` };
    // The journal gets the words, ffmpeg's own error lines and where its whole log is kept: once per outage and
    // whenever its cause changes; the retries of one outage (every few seconds) at debug.
    const repeat = this.downSince?.outage.cause === outage.cause;
    this.o.log[repeat ? 'debug' : 'warn'](repeat ? 'source still down; retrying' : 'source died; restarting', { source: this.id, code: e.code, signal: e.signal, cause: outage.cause, words: outage.words, technical: outage.technical, ...(outage.log ? { log: outage.log } : {}) });
    const reason = outage.cause === 'storage-full' ? 'storage-full' : 'device-fault';
    void this.then(async () => {
      // The dead run's open segment is footage too: collect it before the failure is dated.
      try {
        for (const s of await this.o.recover()) this.emitRecovered(s);
      } catch (err) {
        this.o.log.error('could not recover the dead run\'s segments', { source: this.id, err });
      }
      this.fail(outage, reason);
      this.scheduleRestart();
    });
  }

  private scheduleRestart(): void {
    // At most 5 s between attempts: what is lost after a camera comes back is the wait, and a failed attempt costs
    // a process start and a probe that mostly waits on the network.
    const b = this.o.backoffMs ?? { first: 200, max: 5_000 };
    const delay = this.attempt === 0 ? 0 : Math.min(b.max, b.first * 2 ** (this.attempt - 1));
    this.attempt++;
    this.restartTimer = setTimeout(() => {
      if (!this.wanted) return;
      this.restarts++;
      void this.then(async () => {
        if (!this.wanted || this.o.source.running) return;
        await this.startRun();
      });
    }, delay);
  }

  /** Start a run; the stall clock starts when it has (a camera is probed first: 8 s at a load of 17 here, which
   * with a 10 s GOP's first key frame and first segment once exceeded the 24 s allowed). */
  private async startRun(): Promise<void> {
    this.lastSegmentAt = this.now();
    await this.o.source.start();
    this.lastSegmentAt = this.now();
  }

  private checkStall(): void {
    if (!this.wanted || !this.o.source.running) return;
    // Copied video: a run joins the camera mid-GOP and writes nothing until the next key frame, and a segment ends
    // at the first key frame after its time, so a run's first segment may take two GOPs more: no stall.
    const limit = 2 * this.o.segmentSeconds + 2 * (this.o.longestGopSeconds ?? 0);
    if (this.now() - this.lastSegmentAt > limit * 1000 + 1000) {
      this.o.log.warn('source stalled (no finished segment within twice the segment length and a GOP); restarting', { source: this.id });
      this.lastSegmentAt = this.now();
      this.fail(this.o.source.explain({ stalledSeconds: limit }));
      this.restartNow();
    }
  }

  /** Stop the run and schedule a restart (a requested stop fires no failure of its own). */
  private restartNow(): void {
    void this.then(async () => {
      await this.o.source.stop();
      this.scheduleRestart();
    });
  }
}

function downView(d: DownEvent): NonNullable<SourceHealth['down']> {
  return { since: d.since.toISOString(), detail: d.outage.technical, words: d.outage.words, ...(d.outage.log ? { log: d.outage.log } : {}) };
}
