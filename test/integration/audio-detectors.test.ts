/**
 * The microphone detectors on real ffmpeg, in every audio codec a camera or the gateway records: a dead microphone
 * (all-zero samples, encoded as the camera encodes them) is silence from when it died; a quiet room (pink noise at
 * -60 and -70 dBFS) never is. G.711 A-law has no zero: its digital silence decodes to +8 (-72 dBFS), which
 * silencedetect alone takes for sound (checked below, so the high-pass in front of it is known to be needed).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { pink } from '../helpers/sound.js';
import { audioDetectors, DETECTORS } from '../../src/hal/ffmpeg/args.js';
import { parseDetectorLine, type Observation } from '../../src/hal/ffmpeg/health.js';

const CODECS = [
  { codec: 'aac', rate: 48000, ext: 'm4a' },
  { codec: 'pcm_alaw', rate: 8000, ext: 'wav' },
  { codec: 'pcm_mulaw', rate: 8000, ext: 'wav' },
] as const;

/** Encode `graph` (a lavfi audio source) for `seconds` in the codec, as a camera would send it. */
function encode(dir: string, name: string, graph: string, seconds: number, c: (typeof CODECS)[number]): string {
  const file = join(dir, `${name}-${c.codec}.${c.ext}`);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', graph, '-t', String(seconds), '-ac', '1', '-ar', String(c.rate), '-c:a', c.codec, file]);
  return file;
}

/** What the detectors (`af`) say about a file, read as the gateway reads ffmpeg's log. */
function detect(file: string, af: string): Observation[] {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-nostdin', '-nostats', '-i', file, '-map', '0:a:0', '-af', af, '-f', 'null', '-'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stderr.split('\n').flatMap(parseDetectorLine);
}

describe('microphone detectors in every codec', () => {
  afterAll(cleanupTmp);
  const dir = tmp();

  for (const c of CODECS) {
    it(`${c.codec}: a microphone that dies is silent from then on; a quiet room at -60 and -70 dBFS never is`, () => {
      const dies = encode(dir, 'dies', `${pink(-60)},volume=volume=0:enable='gte(t,4)'`, 8, c);
      const starts = detect(dies, audioDetectors()).filter((o) => o.phase === 'start');
      expect(starts).toHaveLength(1);
      // AAC's encoder delay shifts it by a few ms; the high-pass turns A-law's constant into zeros within 30 ms.
      expect(Math.abs(starts[0]!.t - 4)).toBeLessThan(0.1);
      for (const db of [-60, -70]) expect(detect(encode(dir, `quiet${-db}`, pink(db), 8, c), audioDetectors()), `${db} dBFS`).toEqual([]);
    });
  }

  it('without the high-pass, A-law digital silence is taken for sound (why it is there)', () => {
    const zeros = encode(dir, 'zeros', 'anullsrc=r=48000:cl=mono', 6, CODECS[1]);
    expect(detect(zeros, `silencedetect=n=${DETECTORS.silenceDb}dB:d=${DETECTORS.silenceSeconds}`)).toEqual([]);
    expect(detect(zeros, audioDetectors()).filter((o) => o.phase === 'start')).toHaveLength(1);
  });
});
