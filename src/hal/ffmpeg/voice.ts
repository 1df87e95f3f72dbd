/**
 * The microphone's voice meter: a branch of each microphone run's filter graph that keeps the speech band
 * (300-3400 Hz), cuts the sound into 100 ms frames and logs each frame's RMS level, so the recorder can tell whether
 * anyone spoke after a resume (src/recorder/speech.ts decides what counts as speech). Every frame is logged, a quiet
 * room's too: the room's noise floor is what speech is measured against. That is 20 short lines a second, about
 * 6 MB an hour, into the run's log, which LogTail keeps bounded; the lines stay out of the excerpts people read.
 * ffmpeg's own filters measure, on the sound the run already decodes; why no VAD library does it instead is in
 * docs/operations.md §19.
 */
import { spawn } from 'node:child_process';

/** Length of one measured frame (s). Syllables come 4-8 a second, so 100 ms frames see the rise and fall of speech. */
export const VOICE_FRAME_SECONDS = 0.1;
const RATE = 16000;

/** One logged frame: where it starts on the run's timeline (s) and its RMS level in the speech band (dBFS). */
export interface VoiceFrame {
  t: number;
  db: number;
}

/** The filter chain (a logged frame per 100 ms); the caller sinks its output. */
export function voiceMeter(): string {
  return [
    `aresample=${RATE}`,
    'highpass=f=300',
    'lowpass=f=3400',
    `asetnsamples=n=${Math.round(RATE * VOICE_FRAME_SECONDS)}`,
    'astats=metadata=1:reset=1:measure_perchannel=none:measure_overall=RMS_level',
    'ametadata=mode=print:key=lavfi.astats.Overall.RMS_level',
  ].join(',');
}

// ametadata prints two lines per frame: "frame:N pts:P pts_time:T", then "lavfi.astats.Overall.RMS_level=L".
const PREFIX = /^\[(?:Parsed_)?ametadata(?:_\d+)? @ [^\]]*\]\s*/;
const FRAME = /^frame:\s*\d+\s+pts:\s*-?\d+\s+pts_time:\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*$/;
const LEVEL = /^lavfi\.astats\.Overall\.RMS_level=(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|-inf)\s*$/;

/** Is this a line of the voice meter's (kept out of the log excerpts people read)? */
export function isVoiceLine(line: string): boolean {
  return PREFIX.test(line.trim());
}

/** Pairs the meter's two lines into frames; any other line passes without effect. Never throws. */
export class VoiceLineParser {
  private t: number | undefined;

  push(raw: string): VoiceFrame | undefined {
    const line = raw.trim();
    const p = PREFIX.exec(line);
    if (!p) return undefined;
    const rest = line.slice(p[0].length);
    const f = FRAME.exec(rest);
    if (f) {
      this.t = Number(f[1]);
      return undefined;
    }
    const l = LEVEL.exec(rest);
    const t = this.t;
    this.t = undefined;
    if (!l || t === undefined || !Number.isFinite(t)) return undefined;
    return { t, db: l[1] === '-inf' ? -Infinity : Number(l[1]) };
  }
}

/** The meter's frames of an audio file: for measuring a room's sound. */
export function voiceFramesOfFile(file: string, o: { ffmpegPath?: string } = {}): Promise<VoiceFrame[]> {
  return new Promise((resolve, reject) => {
    const args = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info', '-i', file, '-map', '0:a:0', '-af', voiceMeter(), '-f', 'null', '-'];
    const child = spawn(o.ffmpegPath ?? 'ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const parser = new VoiceLineParser();
    const frames: VoiceFrame[] = [];
    let carry = '';
    let tail = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      const lines = (carry + chunk).split(/\r?\n/);
      carry = lines.pop() ?? '';
      for (const l of lines) {
        const f = parser.push(l);
        if (f) frames.push(f);
        else if (!isVoiceLine(l)) tail = l;
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const f = parser.push(carry);
      if (f) frames.push(f);
      if (code === 0) resolve(frames);
      else reject(new Error(`ffmpeg could not measure ${file} (exit ${code}): ${tail.trim()}`));
    });
  });
}
