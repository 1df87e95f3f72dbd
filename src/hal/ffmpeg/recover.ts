/**
 * Recovery of runs that no live FfmpegSource of this process watches: runs left by a previous gateway (killed,
 * crashed, power cut) and runs whose ffmpeg died under us.
 *
 * A run whose ffmpeg still records (its pid from run.json, checked against /proc/<pid>/cmdline) is stopped
 * gracefully first, so its open segment is finished and listed. Then every segment still in the folder is
 * returned in order: listed ones with their CSV times, and trailing unlisted ones (the open segment of a killed
 * ffmpeg) as `partial`, ending at their last packet as ffprobe counts it. Nothing is deleted here except empty segment
 * files of dead runs and run folders of dead runs that hold no segment file any more; garbage never throws (it is
 * logged and skipped).
 *
 * The anchor (wall time of timeline 0), when run.json has none (the gateway died within the first segment):
 * `mtime(segments.csv) - end of its last line` (see watch.ts), else `mtime - start of the last packet` of the
 * first unlisted segment (its last write is its last packet), else the spawn time (late by ffmpeg's start-up,
 * ~0.1-0.2 s here), else the time in the run id (the same spawn time).
 */
import { readFile, stat, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { SegmentFile } from '../capture.js';
import { describe } from '../../util/errors.js';
import { silentLogger, type Logger } from '../../util/log.js';
import { SEGMENT_LIST } from './args.js';
import { isAlive, isRunProcess, stopRunProcess } from './proc.js';
import { isActive, markEmitted, wasEmitted } from './registry.js';
import { listRunDirs, listSegmentFiles, readRunInfo, removeRun, runIdTime, writeRunInfo, type RunInfo } from './run-dir.js';
import { listedStart, parseSegmentList, type ListedSegment } from './segment-list.js';
import { probeSpan, checkMpegTs, firstContentStart } from './ts-file.js';

export { removeRun } from './run-dir.js';

export interface RecoverOptions {
  log?: Logger;
  /** How long a still-running ffmpeg gets to finish its segment after SIGINT before SIGKILL (ms). */
  stopGraceMs?: number;
  ffprobePath?: string;
}

export interface RecoveredRun {
  runId: string;
  runDir: string;
  segments: SegmentFile[];
  /** Files not returned, with why (empty, already handed over, unreadable). */
  skipped: { path: string; reason: string }[];
  /** What was done to a process still recording. */
  stopped: 'not-running' | 'stopped' | 'killed' | 'survived';
  anchor: Date | undefined;
  anchorSource: RunInfo['anchorSource'] | 'run-id' | undefined;
  /** The folder was removed: its process is dead and no segment file was left in it. */
  removed: boolean;
}

/** Every segment of every recoverable run of a source, oldest first. Never throws. */
export async function recoverRuns(spoolDir: string, sourceId: string, opts: RecoverOptions = {}): Promise<SegmentFile[]> {
  return (await recoverRunsDetailed(spoolDir, sourceId, opts)).flatMap((r) => r.segments);
}

export async function recoverRunsDetailed(spoolDir: string, sourceId: string, opts: RecoverOptions = {}): Promise<RecoveredRun[]> {
  const log = opts.log ?? silentLogger;
  const out: RecoveredRun[] = [];
  for (const runDir of await listRunDirs(spoolDir, sourceId)) {
    if (isActive(runDir)) continue;
    try {
      const r = await recoverRun(runDir, sourceId, opts, log);
      if (r.segments.length || r.skipped.length || r.stopped !== 'not-running') {
        log.info('recovered a capture run', {
          runId: r.runId,
          segments: r.segments.length,
          partial: r.segments.filter((s) => s.partial).length,
          stopped: r.stopped,
          anchorSource: r.anchorSource,
          ...(r.skipped.length ? { skipped: r.skipped } : {}),
        });
      }
      out.push(r);
    } catch (err) {
      log.error('could not recover a capture run; its files are left in place', { runDir, err: describe(err) });
    }
  }
  return out;
}

interface Placed {
  index: number;
  path: string;
  start: number;
  end: number;
  partial: boolean;
  suspect?: string;
}

async function readList(runDir: string): Promise<{ entries: ListedSegment[]; mtime: number | undefined; bad: number }> {
  try {
    const path = join(runDir, SEGMENT_LIST);
    const [text, st] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    // A last line without its newline was cut by a crash mid-write: it is not trusted.
    const { entries, bad } = parseSegmentList(text);
    return { entries, mtime: st.mtimeMs, bad };
  } catch {
    return { entries: [], mtime: undefined, bad: 0 };
  }
}

function listAnchor(list: { entries: ListedSegment[]; mtime: number | undefined }): number | undefined {
  const last = list.entries[list.entries.length - 1];
  return last && list.mtime !== undefined ? list.mtime - last.end * 1000 : undefined;
}

async function recoverRun(runDir: string, sourceId: string, opts: RecoverOptions, log: Logger): Promise<RecoveredRun> {
  const runId = basename(runDir);
  const info = await readRunInfo(runDir);
  if (!info) log.warn('run folder has no readable run.json; recovering its segments from the files alone', { runDir });

  let stopped: RecoveredRun['stopped'] = 'not-running';
  let anchorMs = info?.anchor ? Date.parse(info.anchor) : undefined;
  let anchorSource: RecoveredRun['anchorSource'] = anchorMs !== undefined ? (info?.anchorSource ?? 'segment-list') : undefined;
  if (info && isAlive(info.pid) && isRunProcess(info.pid, runDir)) {
    if (anchorMs === undefined) {
      // Measured before the stop: the line ffmpeg writes on SIGINT ends at the stop, not on a frame boundary.
      anchorMs = listAnchor(await readList(runDir));
      if (anchorMs !== undefined) anchorSource = 'segment-list';
    }
    stopped = await stopRunProcess(info.pid, opts.stopGraceMs ?? 1000);
    if (stopped === 'survived') log.error('a previous run\'s ffmpeg survived SIGKILL; its last segment may still grow', { runDir, pid: info.pid });
  }

  const list = await readList(runDir);
  if (list.bad) log.warn('segment list has lines that are not segments; ignored', { runDir, lines: list.bad });
  if (anchorMs === undefined) {
    anchorMs = listAnchor(list);
    if (anchorMs !== undefined) anchorSource = 'segment-list';
  }

  const primary = info?.kind === 'microphone' ? 'audio' : 'video';
  const listed = new Map(list.entries.map((e) => [e.index, e]));
  const files = new Map((await listSegmentFiles(runDir)).map((f) => [f.index, f]));
  const indexes = [...new Set([...listed.keys(), ...files.keys()])].sort((a, b) => a - b);
  const skipped: RecoveredRun['skipped'] = [];
  const placed: Placed[] = [];
  const empty: string[] = [];
  // Timeline position where the next segment starts: the end of the one before it, listed or measured.
  let prevEnd = 0;
  let prevListed: { index: number; end: number } | undefined;
  let partialAnchor: number | undefined;
  for (const index of indexes) {
    const e = listed.get(index);
    const f = files.get(index);
    if (!f) {
      // Listed, file gone: already sealed or discarded by the recorder.
      if (e) prevEnd = e.end;
      if (e) prevListed = { index, end: e.end };
      continue;
    }
    let size: number;
    let mtime: number;
    try {
      const st = await stat(f.path);
      size = st.size;
      mtime = st.mtimeMs;
    } catch (err) {
      skipped.push({ path: f.path, reason: `unreadable: ${describe(err)}` });
      continue;
    }
    if (size === 0) {
      skipped.push({ path: f.path, reason: 'empty (ffmpeg had written nothing into it)' });
      empty.push(f.path);
      log.warn('skipping an empty segment file', { path: f.path });
      continue;
    }
    if (e) {
      const before = prevListed;
      prevEnd = e.end;
      prevListed = { index, end: e.end };
      if (wasEmitted(runDir, index)) {
        skipped.push({ path: f.path, reason: 'already handed over by this process' });
        continue;
      }
      const suspect = await checkMpegTs(f.path, { finished: true });
      const start = index === 0 ? await firstContentStart(f.path, primary, e.start, e.end, opts.ffprobePath) : listedStart(e, before);
      placed.push({ index, path: f.path, start, end: e.end, partial: false, ...(suspect ? { suspect } : {}) });
      continue;
    }
    const start = prevEnd;
    let end = start;
    let suspect = await checkMpegTs(f.path, { finished: false });
    try {
      const span = await probeSpan(f.path, primary, opts.ffprobePath);
      end = start + (span.end - span.first);
      partialAnchor ??= mtime - (start + (span.lastStart - span.first)) * 1000;
    } catch (err) {
      suspect ??= `its length could not be measured: ${describe(err)}`;
    }
    prevEnd = end;
    if (wasEmitted(runDir, index)) {
      skipped.push({ path: f.path, reason: 'already handed over by this process' });
      continue;
    }
    placed.push({ index, path: f.path, start, end, partial: true, ...(suspect ? { suspect } : {}) });
  }

  if (anchorMs === undefined && partialAnchor !== undefined) {
    anchorMs = partialAnchor;
    anchorSource = 'partial-segment';
  }
  if (anchorMs === undefined && info && Number.isFinite(Date.parse(info.startedAt))) {
    anchorMs = Date.parse(info.startedAt);
    anchorSource = 'spawn-time';
  }
  if (anchorMs === undefined) {
    anchorMs = runIdTime(runId);
    anchorSource = anchorMs !== undefined ? 'run-id' : undefined;
  }
  if (anchorMs !== undefined) anchorMs = Math.round(anchorMs);
  if (info && !info.anchor && anchorMs !== undefined && anchorSource !== 'run-id') {
    try {
      await writeRunInfo(runDir, { ...info, anchor: new Date(anchorMs).toISOString(), anchorSource: anchorSource as RunInfo['anchorSource'] });
    } catch (err) {
      log.warn('cannot record the recovered anchor in run.json', { runDir, err: describe(err) });
    }
  }

  const segments: SegmentFile[] = [];
  if (anchorMs === undefined) {
    for (const p of placed) skipped.push({ path: p.path, reason: 'no way to place it in time (no run.json, list or readable packets)' });
    log.error('segments of a run cannot be placed in time; left in place', { runDir });
  } else {
    for (const p of placed) {
      markEmitted(runDir, p.index);
      segments.push({
        sourceId,
        path: p.path,
        runId,
        index: p.index,
        start: new Date(anchorMs + p.start * 1000),
        end: new Date(anchorMs + p.end * 1000),
        partial: p.partial,
        ...(p.suspect ? { suspect: p.suspect } : {}),
        ...(info?.transcoded?.length ? { transcoded: info.transcoded } : {}),
      });
    }
  }

  let removed = false;
  const dead = stopped !== 'survived' && !(info && isAlive(info.pid) && isRunProcess(info.pid, runDir));
  // An empty segment of a dead run holds nothing and never will (a power cut just after ffmpeg opened it); left,
  // it would keep its run folder for ever, since a folder goes only once no segment file is in it.
  if (dead) for (const path of empty) await removeEmptySegment(path, log);
  if (dead && (await listSegmentFiles(runDir)).length === 0) removed = await removeRun(runDir).catch(() => false);
  return { runId, runDir, segments, skipped, stopped, anchor: anchorMs === undefined ? undefined : new Date(anchorMs), anchorSource, removed };
}

/** Delete a segment file that is still empty (checked again: only a dead run's files come here). Never throws. */
async function removeEmptySegment(path: string, log: Logger): Promise<void> {
  try {
    if ((await stat(path)).size !== 0) return;
    await unlink(path);
    log.info('removed an empty segment file of an ended run', { path });
  } catch (err) {
    log.warn('could not remove an empty segment file', { path, err: describe(err) });
  }
}
