/**
 * Looking at a segment file: a cheap MPEG-TS sanity check for every finished segment, and the real span of a
 * segment that was never listed (ffmpeg killed), measured from its packets with ffprobe.
 */
import { execFile } from 'node:child_process';
import { open } from 'node:fs/promises';
import { describe } from '../../util/errors.js';

const TS_PACKET = 188;
const CHECK_PACKETS = 16;

/**
 * Why the file does not look like MPEG-TS, or undefined. Checks the sync byte (0x47) of the first packets and,
 * for a finished (listed) segment, that it is whole packets.
 */
export async function checkMpegTs(path: string, opts: { finished: boolean }): Promise<string | undefined> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    return `cannot be read: ${describe(err)}`;
  }
  try {
    const size = (await fh.stat()).size;
    if (size === 0) return 'empty';
    if (size < TS_PACKET) return `only ${size} bytes, less than one MPEG-TS packet`;
    const n = Math.min(CHECK_PACKETS, Math.floor(size / TS_PACKET));
    const buf = Buffer.alloc(n * TS_PACKET);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    for (let i = 0; i * TS_PACKET < bytesRead; i++) {
      if (buf[i * TS_PACKET] !== 0x47) return `no MPEG-TS sync byte at offset ${i * TS_PACKET}: not MPEG-TS`;
    }
    if (opts.finished && size % TS_PACKET !== 0) return `size ${size} is not a whole number of 188-byte MPEG-TS packets`;
    return undefined;
  } finally {
    await fh.close();
  }
}

export interface PacketSpan {
  /** Presentation time of the first packet (seconds, the file's own clock). */
  first: number;
  /** Start of the last packet. */
  lastStart: number;
  /** End of the last packet (its start plus its duration). */
  end: number;
  packets: number;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} failed: ${stderr.trim().split('\n').slice(-1)[0] || err.message}`));
      else resolve(stdout);
    });
  });
}

/** Span of one stream's packets from `ffprobe -show_entries packet=pts_time,duration_time` output. */
export function spanFromPackets(csv: string): PacketSpan | undefined {
  const pts: number[] = [];
  const durs: number[] = [];
  let lastStart = -Infinity;
  let end = -Infinity;
  for (const line of csv.split('\n')) {
    const [p, d] = line.trim().split(',');
    const t = Number(p);
    if (!p || !Number.isFinite(t)) continue;
    const dur = Number(d);
    pts.push(t);
    if (d && Number.isFinite(dur) && dur > 0) durs.push(dur);
    if (t > lastStart) lastStart = t;
  }
  if (pts.length === 0) return undefined;
  // Packets without a duration (copied raw H.264) take the typical distance between packets.
  const sorted = [...pts].sort((a, b) => a - b);
  const gaps = sorted.slice(1).map((t, i) => t - sorted[i]!).filter((g) => g > 0).sort((a, b) => a - b);
  const typical = durs.length ? durs.sort((a, b) => a - b)[Math.floor(durs.length / 2)]! : (gaps[Math.floor(gaps.length / 2)] ?? 0);
  for (const t of pts) end = Math.max(end, t + typical);
  return { first: sorted[0]!, lastStart, end, packets: pts.length };
}

/** The span of the primary stream's packets in a segment file (video for cameras, audio for microphones). */
export async function probeSpan(path: string, primary: 'video' | 'audio', ffprobe = 'ffprobe'): Promise<PacketSpan> {
  const select = primary === 'video' ? 'v:0' : 'a:0';
  const out = await run(ffprobe, ['-v', 'error', '-select_streams', select, '-show_entries', 'packet=pts_time,duration_time', '-of', 'csv=p=0', path]);
  const span = spanFromPackets(out);
  if (!span) throw new Error(`${path} has no ${primary} packets`);
  return span;
}

/**
 * Where the content of a run's first listed segment starts on the timeline. ffmpeg lists it from 0, but a copied
 * stream's timeline starts at the first packet received, and packets before the first key frame are dropped: the
 * picture starts later (up to a GOP). Measured back from the listed end by the packets' span; never earlier than
 * the listed start. Falls back to the listed start when the file cannot be probed.
 */
export async function firstContentStart(path: string, primary: 'video' | 'audio', start: number, end: number, ffprobe = 'ffprobe'): Promise<number> {
  try {
    const span = await probeSpan(path, primary, ffprobe);
    const s = end - (span.end - span.first);
    return s > start ? Math.min(s, end) : start;
  } catch {
    return start;
  }
}
