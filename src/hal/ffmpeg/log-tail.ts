/**
 * Follows ffmpeg.log (ffmpeg's stdout and stderr, a file we opened with O_APPEND) and keeps it bounded.
 *
 * When the log passes `maxBytes`, its last part is kept as ffmpeg.log.1 and the log is truncated to zero; since
 * ffmpeg's descriptor appends, its next line lands at the new start (no hole). Lines written between our last
 * read and the truncation are lost from the log, a window of microseconds. With `-nostats` ffmpeg logs little
 * (start-up, detector lines, errors), so this only bites on a device that keeps complaining.
 */
import { open, stat, truncate, writeFile } from 'node:fs/promises';

const CHUNK = 1024 * 1024;
const MAX_CARRY = 64 * 1024;
const KEEP_ON_ROTATE = 256 * 1024;

export class LogTail {
  private offset = 0;
  private carry = '';
  private readonly recent: string[] = [];

  constructor(
    private readonly path: string,
    /** `unremarkable`: lines returned but kept out of tail() (the voice meter's frames, ten a second). */
    private readonly opts: { maxBytes: number; keepLines?: number; unremarkable?: (line: string) => boolean },
  ) {}

  /** New complete lines since the last call (at most ~1 MiB per call, the rest next time). */
  async read(final = false): Promise<string[]> {
    let fh;
    try {
      fh = await open(this.path, 'r');
    } catch {
      return [];
    }
    let text = '';
    let size: number;
    try {
      size = (await fh.stat()).size;
      if (size < this.offset) {
        this.offset = 0;
        this.carry = '';
      }
      const want = Math.min(CHUNK, size - this.offset);
      if (want > 0) {
        const buf = Buffer.alloc(want);
        const { bytesRead } = await fh.read(buf, 0, want, this.offset);
        this.offset += bytesRead;
        text = buf.subarray(0, bytesRead).toString('utf8');
      }
    } finally {
      await fh.close();
    }
    const parts = (this.carry + text).split(/\r\n|\n|\r/);
    this.carry = parts.pop() ?? '';
    if (this.carry.length > MAX_CARRY) {
      parts.push(this.carry);
      this.carry = '';
    }
    if (final && this.carry) {
      parts.push(this.carry);
      this.carry = '';
    }
    const lines = parts.filter((l) => l.trim() !== '');
    for (const l of lines) if (!this.opts.unremarkable?.(l)) this.remember(l);
    if (this.offset >= size && size > this.opts.maxBytes) await this.rotate();
    return lines;
  }

  /** The last lines seen, for an exit report. */
  tail(lines = 12): string {
    return this.recent.slice(-lines).join('\n');
  }

  private remember(line: string): void {
    this.recent.push(line.length > 500 ? line.slice(0, 500) + '…' : line);
    const keep = this.opts.keepLines ?? 40;
    if (this.recent.length > keep) this.recent.splice(0, this.recent.length - keep);
  }

  private async rotate(): Promise<void> {
    try {
      const size = (await stat(this.path)).size;
      const fh = await open(this.path, 'r');
      try {
        const n = Math.min(KEEP_ON_ROTATE, size);
        const buf = Buffer.alloc(n);
        await fh.read(buf, 0, n, size - n);
        await writeFile(`${this.path}.1`, buf);
      } finally {
        await fh.close();
      }
      await truncate(this.path, 0);
      this.offset = 0;
      this.carry = '';
    } catch {
      // A log we cannot rotate is not worth stopping a recording for; the next poll tries again.
    }
  }
}
