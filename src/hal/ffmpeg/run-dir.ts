/**
 * The run folder: `<spoolDir>/<sourceId>/<runId>/` with run.json, ffmpeg.log, segments.csv and the segments.
 * runIds sort by time (`20261122T101500123Z`), so a plain sort of the folder names is the order of the runs.
 */
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../../util/fsx.js';
import { isErrno } from '../../util/errors.js';
import { SEGMENT_FILE_RE } from './args.js';
import type { Transcoded } from '../capture.js';

/** What a run folder says about its process: enough for a later gateway to find, stop and place it. */
export interface RunInfo {
  version: 1;
  sourceId: string;
  runId: string;
  kind: 'camera' | 'microphone';
  driver: string;
  /** The spawned process, leader of its own process group (ffmpeg, or the sh of an rpicam pipeline). */
  pid: number;
  command: string;
  args: string[];
  /** When we spawned it (wall clock). */
  startedAt: string;
  segmentSeconds: number;
  /** Wall-clock time of the run's timeline 0; written once, when first known. */
  anchor?: string;
  /** How the anchor was estimated: see watch.ts and recover.ts. */
  anchorSource?: 'segment-list' | 'partial-segment' | 'spawn-time';
  /** Streams this run re-encodes (absent: everything copied or encoded from raw); every segment of it says so. */
  transcoded?: Transcoded[];
}

export const RUN_ID_RE = /^\d{8}T\d{9}Z(?:-\d+)?$/;

export function runIdFor(d: Date): string {
  return d.toISOString().replace(/[-:.]/g, '');
}

/** Wall time encoded in a runId (its spawn time), or undefined. */
export function runIdTime(runId: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z/.exec(runId);
  if (!m) return undefined;
  const t = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!);
  return Number.isFinite(t) ? t : undefined;
}

/** Make a fresh run folder; two runs started in the same millisecond get a suffix. */
export async function createRunDir(sourceDir: string, at: Date): Promise<{ runId: string; runDir: string }> {
  await mkdir(sourceDir, { recursive: true });
  const base = runIdFor(at);
  for (let n = 0; ; n++) {
    const runId = n === 0 ? base : `${base}-${n}`;
    const runDir = join(sourceDir, runId);
    try {
      await mkdir(runDir);
      return { runId, runDir };
    } catch (err) {
      if (!isErrno(err, 'EEXIST') || n > 100) throw err;
    }
  }
}

export const RUN_INFO = 'run.json';

export async function writeRunInfo(runDir: string, info: RunInfo): Promise<void> {
  await writeFileAtomic(join(runDir, RUN_INFO), JSON.stringify(info, null, 2) + '\n');
}

/** run.json, or undefined when it is missing or not a run description (never throws). */
export async function readRunInfo(runDir: string): Promise<RunInfo | undefined> {
  let raw: string;
  try {
    raw = await readFile(join(runDir, RUN_INFO), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const v = JSON.parse(raw) as Partial<RunInfo> | null;
    if (!v || typeof v !== 'object' || typeof v.pid !== 'number' || !Number.isInteger(v.pid) || v.pid <= 0) return undefined;
    if (typeof v.startedAt !== 'string' || !Array.isArray(v.args)) return undefined;
    if (v.anchor !== undefined && !Number.isFinite(Date.parse(v.anchor))) delete v.anchor;
    return v as RunInfo;
  } catch {
    return undefined;
  }
}

export interface SegmentFileName {
  index: number;
  name: string;
  path: string;
}

/** The segment files in a run folder, by index. */
export async function listSegmentFiles(runDir: string): Promise<SegmentFileName[]> {
  let names: string[];
  try {
    names = await readdir(runDir);
  } catch {
    return [];
  }
  const out: SegmentFileName[] = [];
  for (const name of names) {
    const m = SEGMENT_FILE_RE.exec(name);
    if (m) out.push({ index: Number(m[1]), name, path: join(runDir, name) });
  }
  return out.sort((a, b) => a.index - b.index);
}

/** Run folders of a source, oldest first. */
export async function listRunDirs(spoolDir: string, sourceId: string): Promise<string[]> {
  const dir = join(spoolDir, sourceId);
  try {
    const ents = await readdir(dir, { withFileTypes: true });
    return ents.filter((e) => e.isDirectory() && RUN_ID_RE.test(e.name)).map((e) => join(dir, e.name)).sort();
  } catch {
    return [];
  }
}

/**
 * Remove a run folder once it holds no segment file any more (they were sealed or discarded). Returns whether it
 * was removed. Refuses anything that is not named like a run folder, so a wrong path cannot delete other data.
 */
export async function removeRun(runDir: string): Promise<boolean> {
  if (!RUN_ID_RE.test(basename(runDir))) throw new Error(`${runDir} is not a run folder (its name must be a run id)`);
  let names: string[];
  try {
    names = await readdir(runDir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return true;
    throw err;
  }
  if (names.some((n) => n.endsWith('.ts'))) return false;
  await rm(runDir, { recursive: true, force: true });
  return true;
}
