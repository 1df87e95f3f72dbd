/**
 * A sample recording for the evidence-core demo: ffmpeg's test picture and tone, cut into MPEG-TS segments
 * that start on key frames, with the segment list giving each one's start and end.
 */
import { spawn } from 'node:child_process';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { RecgwError } from '../util/errors.js';

export interface SampleSegment {
  path: string;
  startSec: number;
  endSec: number;
}

export async function recordSample(o: { dir: string; seconds: number; segmentSeconds: number; kind: 'camera' | 'microphone'; realtime: boolean }): Promise<SampleSegment[]> {
  mkdirSync(o.dir, { recursive: true });
  const list = join(o.dir, 'segments.csv');
  const input =
    o.kind === 'camera'
      ? ['-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=25`, '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-force_key_frames', `expr:gte(t,n_forced*${o.segmentSeconds})`]
      : ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-c:a', 'aac', '-b:a', '64k'];
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    ...(o.realtime ? ['-re'] : []),
    ...input,
    '-t', String(o.seconds),
    '-f', 'segment', '-segment_time', String(o.segmentSeconds), '-segment_format', 'mpegts',
    '-segment_list', list, '-segment_list_type', 'csv', '-reset_timestamps', '0',
    join(o.dir, 'seg-%06d.ts'),
  ];
  await new Promise<void>((resolve, reject) => {
    const p = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', (e) => reject(new RecgwError('hardware', `cannot run ffmpeg (${e.message}): install it with apt-get install ffmpeg`, { cause: e })));
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new RecgwError('hardware', `ffmpeg failed (${code}): ${err.trim()}`))));
  });
  return readFileSync(list, 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(','))
    .map(([f, s, e]) => ({ path: join(o.dir, f!), startSec: Number(s), endSec: Number(e) }));
}
