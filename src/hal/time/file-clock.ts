/**
 * When a file was written, in the gateway's time (timeline.ts). ffmpeg tells when it listed a segment only through
 * the segment list's mtime, which the kernel stamps from the system clock; after a clock step the gateway's time is
 * not the system clock. Writing a probe file and reading its mtime gives the file system's clock at a known
 * monotonic instant, so `probe mtime - file mtime` is how long before that instant the file was written, whatever
 * the system clock did before: a real step moves both mtimes alike. It also holds when only this process's view of
 * the clock is stepped (libfaketime in the tests fakes what the process reads through libc, not the kernel's file
 * times, which Node reads with the statx system call).
 *
 * The probe costs one small write and a stat per segment list line read (every few seconds per source).
 */
import { stat, writeFile } from 'node:fs/promises';
import { describe } from '../../util/errors.js';
import type { Logger } from '../../util/log.js';
import type { Timeline } from './timeline.js';

/** The gateway's time (ms) at which the file system's clock read `fileMs`. */
export type FileTimeReader = (fileMs: number) => Promise<number>;

/**
 * A reader that probes with the file at `probePath` (on the same file system as the files it dates). When the probe
 * cannot be written (a full disk), it falls back to the process's system clock, which is right unless the clock
 * was stepped and held; that is logged once per reader.
 */
export function fileTimeReader(probePath: string, timeline: Timeline, log: Logger): FileTimeReader {
  let warned = false;
  return async (fileMs) => {
    try {
      const before = timeline.mono();
      await writeFile(probePath, 'x');
      const probe = (await stat(probePath)).mtimeMs;
      const after = timeline.mono();
      return timeline.at((before + after) / 2 - (probe - fileMs));
    } catch (err) {
      if (!warned) {
        warned = true;
        log.warn('cannot write the clock probe file; dating segments by the system clock instead', { probePath, err: describe(err) });
      }
      return Math.round(fileMs - timeline.heldMs());
    }
  };
}
