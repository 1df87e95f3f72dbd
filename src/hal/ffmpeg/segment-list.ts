/**
 * ffmpeg's CSV segment list: one line per finished segment, `name,start,end` in seconds of the run's timeline.
 * Written by ffmpeg when a segment is closed, so a listed segment is complete. Garbage lines are skipped.
 */
import { basename } from 'node:path';
import { SEGMENT_FILE_RE } from './args.js';

export interface ListedSegment {
  name: string;
  index: number;
  /** Seconds on the run's timeline. */
  start: number;
  end: number;
}

/** One CSV line, or undefined if it is not a segment entry. */
export function parseSegmentLine(line: string): ListedSegment | undefined {
  const parts = line.trim().split(',');
  if (parts.length !== 3) return undefined;
  // ffmpeg quotes names containing commas or quotes; ours never do, so a quoted name is not ours.
  const name = basename(parts[0]!);
  const m = SEGMENT_FILE_RE.exec(name);
  if (!m) return undefined;
  const num = (s: string): number => (/^-?\d+(\.\d+)?$/.test(s.trim()) ? Number(s) : Number.NaN);
  const start = num(parts[1]!);
  const end = num(parts[2]!);
  if (!Number.isFinite(start) || !Number.isFinite(end) || end < start) return undefined;
  return { name, index: Number(m[1]), start, end };
}

/**
 * Where a listed segment starts on the timeline, given the end of the one listed before it in the same run. ffmpeg
 * lists a segment from the presentation time of the key frame that opened it, and the one before up to its last
 * picture shown. With an open GOP (HEVC from x265, some cameras) the pictures shown just before that key frame are
 * sent after it and so are written into the new segment: the list then shows a hole of a few frames that no
 * footage is missing from. Segments of one run are one continuous stream, so the next starts where the last ended.
 */
export function listedStart(e: ListedSegment, before: { index: number; end: number } | undefined): number {
  if (!before || before.index !== e.index - 1) return e.start;
  return before.end <= e.start && e.start - before.end < 1 ? before.end : e.start;
}

/**
 * Split a chunk of the list into complete entries and the unfinished tail (a line ffmpeg is still writing).
 * `bad` counts complete lines that were not entries.
 */
export function parseSegmentList(text: string): { entries: ListedSegment[]; rest: string; bad: number } {
  const lines = text.split('\n');
  const rest = lines.pop() ?? '';
  const entries: ListedSegment[] = [];
  let bad = 0;
  for (const line of lines) {
    if (line.trim() === '') continue;
    const e = parseSegmentLine(line);
    if (e) entries.push(e);
    else bad++;
  }
  return { entries, rest, bad };
}
