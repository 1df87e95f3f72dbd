/**
 * Keeps the ffmpeg log of each run that ended without being asked to, after the run's folder is removed:
 * `<spoolDir>/<sourceId>/failed-runs/<runId>.log`, its last 256 KiB without the voice meter's frames, the newest
 * KEEP of them. A technician reads the cause there (the interruption entry names the file), and `recgw status` and
 * the console point at it.
 */
import { mkdir, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../util/log.js';
import { describe } from '../../util/errors.js';
import { isVoiceLine } from './voice.js';
import { redactUrl } from './redact.js';

export const FAILED_RUNS_DIR = 'failed-runs';
const KEEP = 20;
const TAIL_BYTES = 256 * 1024;
/** A microphone's log is mostly its voice meter's frames (ten a second): read this much to keep TAIL_BYTES without them. */
const READ_BYTES = 4 * 1024 * 1024;

/** Copy the end of `logPath` for run `runId`; returns the copy's path, or undefined when there was nothing to keep. */
export async function keepFailedLog(sourceDir: string, runId: string, logPath: string, log: Logger): Promise<string | undefined> {
  const dir = join(sourceDir, FAILED_RUNS_DIR);
  const target = join(dir, `${runId}.log`);
  try {
    await mkdir(dir, { recursive: true });
    const fh = await open(logPath, 'r');
    try {
      const size = (await fh.stat()).size;
      const n = Math.min(size, READ_BYTES);
      const buf = Buffer.alloc(n);
      await fh.read(buf, 0, n, size - n);
      // What a technician reads: the log without the meter's frames or a camera's password, its last TAIL_BYTES.
      const kept = Buffer.from(redactUrl(buf.toString('utf8').split('\n').filter((l) => !isVoiceLine(l)).join('\n')), 'utf8');
      const out = await open(target, 'w');
      try {
        await out.writeFile(kept.subarray(Math.max(0, kept.length - TAIL_BYTES)));
      } finally {
        await out.close();
      }
    } finally {
      await fh.close();
    }
    // runIds sort by time: the oldest go first.
    const old = (await readdir(dir)).filter((n) => n.endsWith('.log')).sort().slice(0, -KEEP);
    for (const n of old) await rm(join(dir, n), { force: true });
    return target;
  } catch (err) {
    log.warn("could not keep the failed run's ffmpeg log", { runId, err: describe(err) });
    return undefined;
  }
}
