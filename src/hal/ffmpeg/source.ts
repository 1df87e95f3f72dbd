/**
 * FfmpegSource: a CaptureSource recorded by ffmpeg, one process per run, for every driver.
 *
 * ffmpeg is spawned detached (its own process group) with stdin on /dev/null and stdout/stderr on the run's
 * log file, so a kill -9 of the gateway leaves it recording: no pipe breaks, no signal reaches its group. The
 * next gateway's recoverRuns() stops it and collects its segments. Our own stop() signals the whole group
 * (SIGINT: ffmpeg finishes and lists the open segment), and SIGKILLs it when that takes too long.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DetectorConfig, SourceConfig } from '../../config/types.js';
import type { CaptureSource, CaptureSourceEvents, Outage } from '../capture.js';
import { RecgwError, describe } from '../../util/errors.js';
import { silentLogger, type Logger } from '../../util/log.js';
import { DETECTORS, LOG_FILE, buildFfmpegCommand, type CameraStreams } from './args.js';
import { RtspProbeError, probeRtsp } from './rtsp-probe.js';
import { redactUrl } from './redact.js';
import { markActive, markEmitted, markInactive } from './registry.js';
import { createRunDir, removeRun, writeRunInfo, type RunInfo } from './run-dir.js';
import { signalRun } from './proc.js';
import { RunWatcher } from './watch.js';
import { explainDamaged, explainExit, explainStall } from './explain.js';
import { keepFailedLog } from './failed-logs.js';
import { BEIJING_TZ, type OverlayFiles } from './overlay.js';
import { Timeline } from '../time/timeline.js';
import { fileTimeReader } from '../time/file-clock.js';

/** In each run folder: written and read back to date the segment list by the file system's clock (file-clock.ts). */
const CLOCK_PROBE = 'clock-probe';

export interface FfmpegSourceOptions {
  config: SourceConfig;
  /** Runs go to `<spoolDir>/<sourceId>/<runId>/`. */
  spoolDir: string;
  segmentSeconds: number;
  log?: Logger;
  ffmpegPath?: string;
  ffprobePath?: string;
  /** rpicam driver: the camera program (default `rpicam-vid`). */
  rpicamPath?: string;
  /** How often the run folder is looked at (ms). */
  pollMs?: number;
  /** How long stop() waits for ffmpeg to finish its segment before SIGKILL (ms). */
  stopTimeoutMs?: number;
  /** ffmpeg.log is truncated past this size (bytes). */
  maxLogBytes?: number;
  rtspTimeoutSeconds?: number;
  /** Time and identity on the picture, for cameras the run encodes. */
  overlay?: OverlayFiles;
  /** Detector thresholds (config recording.detectors); ffmpeg's built-in defaults otherwise. */
  detectors?: DetectorConfig;
  /** The gateway's time, which segments are dated in (default: one of its own, anchored when the source is made). */
  timeline?: Timeline;
}

interface Run {
  runId: string;
  runDir: string;
  child: ChildProcess;
  pid: number;
  info: RunInfo;
  watcher: RunWatcher;
  timer: NodeJS.Timeout | undefined;
  requested: boolean;
  exited: boolean;
  /** Settles once the exit was processed and reported. */
  done: Promise<void>;
}

export class FfmpegSource extends EventEmitter<CaptureSourceEvents> implements CaptureSource {
  readonly id: string;
  readonly kind: 'camera' | 'microphone';
  private readonly o: FfmpegSourceOptions;
  private readonly log: Logger;
  private readonly timeline: Timeline;
  private run: Run | undefined;
  private lastBitrate: number | undefined;
  /** Folders of runs that ended, kept until the recorder has taken (sealed or deleted) every segment in them. */
  private readonly ended = new Set<string>();

  constructor(o: FfmpegSourceOptions) {
    super();
    this.o = o;
    this.id = o.config.id;
    this.kind = o.config.kind;
    this.log = o.log ?? silentLogger;
    this.timeline = o.timeline ?? new Timeline();
  }

  get running(): boolean {
    return this.run !== undefined && !this.run.exited;
  }

  get bitrate(): number | undefined {
    return this.run?.watcher.bitrate ?? this.lastBitrate;
  }

  explain(problem: { stalledSeconds: number } | { damaged: string }): Outage {
    return 'damaged' in problem ? explainDamaged(this.o.config, problem.damaged) : explainStall(this.o.config, problem.stalledSeconds);
  }

  /** The current (or last) run's folder, for diagnostics and tests. */
  get runDir(): string | undefined {
    return this.run?.runDir;
  }

  get pid(): number | undefined {
    return this.run?.pid;
  }

  async start(): Promise<void> {
    if (this.running) throw new RecgwError('recorder', `source ${this.id} is already recording; stop it before starting it again`);
    if (this.run) this.lastBitrate = this.run.watcher.bitrate ?? this.lastBitrate;
    await this.removeEnded();
    const camera = this.o.config.driver === 'rtsp' ? await this.probe() : undefined;
    const startedAt = new Date(this.timeline.now());
    const { runId, runDir } = await createRunDir(join(this.o.spoolDir, this.id), startedAt);
    let cmd;
    try {
      cmd = buildFfmpegCommand(this.o.config, {
        runDir,
        segmentSeconds: this.o.segmentSeconds,
        ...(camera ? { camera } : {}),
        ...(this.o.detectors ? { detectors: this.o.detectors } : {}),
        ...(this.o.ffmpegPath ? { ffmpegPath: this.o.ffmpegPath } : {}),
        ...(this.o.rpicamPath ? { rpicamPath: this.o.rpicamPath } : {}),
        ...(this.o.rtspTimeoutSeconds !== undefined ? { rtspTimeoutSeconds: this.o.rtspTimeoutSeconds } : {}),
        ...(this.o.overlay ? { overlay: this.o.overlay } : {}),
      });
    } catch (err) {
      await rm(runDir, { recursive: true, force: true });
      throw new RecgwError('config', `source ${this.id}: ${describe(err)}; fix the source in the config`, { cause: err });
    }
    const child = await this.spawnLogged(cmd.command, cmd.args, runDir);
    const pid = child.pid!;
    const info: RunInfo = {
      version: 1,
      sourceId: this.id,
      runId,
      kind: this.kind,
      driver: this.o.config.driver,
      pid,
      command: cmd.command,
      args: cmd.args.map(redactUrl), // recovery checks the pid against /proc, not these
      startedAt: startedAt.toISOString(),
      segmentSeconds: this.o.segmentSeconds,
      ...(cmd.transcoded.length ? { transcoded: cmd.transcoded } : {}),
    };
    markActive(runDir, this.id);
    let settle!: () => void;
    const run: Run = {
      runId,
      runDir,
      child,
      pid,
      info,
      timer: undefined,
      requested: false,
      exited: false,
      done: new Promise<void>((r) => (settle = r)),
      watcher: new RunWatcher({
        sourceId: this.id,
        runId,
        runDir,
        startedAt: startedAt.getTime(),
        now: this.timeline.now,
        timeOfFile: fileTimeReader(join(runDir, CLOCK_PROBE), this.timeline, this.log),
        maxLogBytes: this.o.maxLogBytes ?? 4 * 1024 * 1024,
        primary: cmd.primary,
        segmentSeconds: this.o.segmentSeconds,
        transcoded: cmd.transcoded,
        blackSeconds: (this.o.detectors ?? DETECTORS).blackSeconds,
        freezeSeconds: (this.o.detectors ?? DETECTORS).freezeSeconds,
        ...(this.o.ffprobePath ? { ffprobePath: this.o.ffprobePath } : {}),
        log: this.log,
        segment: (s) => {
          markEmitted(runDir, s.index);
          this.emit('segment', s);
          // While recording, earlier runs' folders go once the recorder has sealed what they held.
          if (this.ended.size > 0) void this.removeEnded();
        },
        health: (h) => this.emit('health', h),
        voice: (v) => this.emit('voice', v),
        producing: (at) => this.emit('producing', { sourceId: this.id, runId, at }),
        listed: (at) => this.emit('listed', { sourceId: this.id, runId, at }),
        anchored: async (anchorMs) => {
          info.anchor = new Date(anchorMs).toISOString();
          info.anchorSource = 'segment-list';
          this.log.info('run anchored to the gateway time', { runId, anchor: info.anchor, afterSpawnMs: Math.round(anchorMs - startedAt.getTime()) });
          await this.saveInfo(run);
        },
      }),
    };
    this.run = run;
    child.once('exit', (code, signal) => {
      void this.exited(run, code, signal).finally(settle);
    });
    await this.saveInfo(run);
    this.log.info('capture run started', { runId, pid, runDir });
    this.schedule(run);
  }

  async stop(): Promise<void> {
    const run = this.run;
    if (!run || run.exited) return run?.done;
    if (run.requested) return run.done;
    run.requested = true;
    signalRun(run.pid, 'SIGINT');
    const killer = setTimeout(() => {
      this.log.warn('ffmpeg did not finish within the stop timeout; killing it', { runId: run.runId, pid: run.pid });
      signalRun(run.pid, 'SIGKILL');
    }, this.o.stopTimeoutMs ?? 5000);
    try {
      await run.done;
    } finally {
      clearTimeout(killer);
    }
  }

  /** What an RTSP camera sends, asked before each run; a camera that refuses says why (see rtsp-probe.ts). */
  private async probe(): Promise<CameraStreams> {
    try {
      const camera = await probeRtsp(this.o.config, {
        ...(this.o.ffprobePath ? { ffprobePath: this.o.ffprobePath } : {}),
        ...(this.o.rtspTimeoutSeconds !== undefined ? { rtspTimeoutSeconds: this.o.rtspTimeoutSeconds } : {}),
      });
      this.log.info('camera probed', { video: camera.video, audio: camera.audio, transport: this.o.config.transport ?? 'tcp' });
      return camera;
    } catch (err) {
      this.log.warn('camera cannot be read', { err: describe(err), ...(err instanceof RtspProbeError ? { ffprobe: err.detail } : {}) });
      // The words of the rule that made the probe's message (which names the fix, and is the detail).
      const said = (err instanceof RtspProbeError ? err.said : undefined) ?? explainExit(this.o.config, { code: 1, signal: null, logTail: describe(err) });
      const outage: Outage = { cause: said.cause, words: said.words, technical: redactUrl(describe(err)) };
      throw Object.assign(new RecgwError('hardware', `source ${this.id}: ${describe(err)}`, { cause: err }), { outage });
    }
  }

  /** Spawn with stdin on /dev/null and stdout/stderr appended to the run's log; resolves once it runs. */
  private async spawnLogged(command: string, args: string[], runDir: string): Promise<ChildProcess> {
    const fd = openSync(join(runDir, LOG_FILE), 'a');
    let child: ChildProcess;
    try {
      // Beijing time for the overlay's clock (drawtext's localtime); nothing else ffmpeg writes depends on TZ.
      child = spawn(command, args, { detached: true, stdio: ['ignore', fd, fd], cwd: runDir, env: { ...process.env, TZ: BEIJING_TZ } });
    } finally {
      closeSync(fd);
    }
    try {
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
    } catch (err) {
      await rm(runDir, { recursive: true, force: true });
      throw new RecgwError('hardware', `source ${this.id}: cannot start ${command}: ${describe(err)}; is ffmpeg installed (apt-get install ffmpeg)?`, { cause: err });
    }
    return child;
  }

  private schedule(run: Run): void {
    run.timer = setTimeout(() => {
      void run.watcher.poll().then(() => {
        if (!run.exited) this.schedule(run);
      });
    }, this.o.pollMs ?? 200);
  }

  private async saveInfo(run: Run): Promise<void> {
    try {
      await writeRunInfo(run.runDir, run.info);
    } catch (err) {
      this.log.error('cannot write run.json; a crash now would leave the run without its process id', { runId: run.runId, err: describe(err) });
    }
  }

  /**
   * Remove the folders of ended runs that no longer hold a segment file: every segment was handed over and sealed
   * or deleted. removeRun keeps a folder that still holds one (not yet sealed, or never listed), so nothing that
   * may still be evidence goes; a later call (or the next start's recovery) removes it once it is empty.
   */
  async removeEnded(): Promise<void> {
    for (const dir of [...this.ended]) {
      try {
        if (await removeRun(dir)) this.ended.delete(dir);
      } catch (err) {
        this.ended.delete(dir);
        this.log.warn('cannot remove the folder of an ended run; the next start\'s recovery looks at it again', { runDir: dir, err: describe(err) });
      }
    }
  }

  private async exited(run: Run, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    run.exited = true;
    if (run.timer) clearTimeout(run.timer);
    try {
      await run.watcher.poll(true);
      this.lastBitrate = run.watcher.bitrate ?? this.lastBitrate;
    } finally {
      markInactive(run.runDir);
      this.ended.add(run.runDir);
      const drift = run.watcher.driftMs;
      this.log[run.requested ? 'info' : 'warn']('capture run ended', {
        runId: run.runId,
        code,
        signal,
        requested: run.requested,
        ...(drift ? { anchorDriftMs: { min: Math.round(drift.min), max: Math.round(drift.max) } } : {}),
      });
      const logTail = redactUrl(run.watcher.logTailText);
      // A failed run's log outlives its folder, for the technician (recgw status, the console, the journal).
      const outage: Outage | undefined = run.requested ? undefined : explainExit(this.o.config, { code, signal, logTail });
      if (outage) {
        const kept = await keepFailedLog(join(this.o.spoolDir, this.id), run.runId, join(run.runDir, LOG_FILE), this.log);
        if (kept) outage.log = kept;
      }
      this.emit('exit', { sourceId: this.id, runId: run.runId, code, signal, logTail, requested: run.requested, ...(outage ? { outage } : {}) });
    }
    // Every segment was handed over above; those the recorder already took leave the folder removable.
    await this.removeEnded();
  }
}
