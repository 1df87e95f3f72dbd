/**
 * Sounds of a room for the speech tests, made with real tools: Mandarin speech from espeak-ng (`-v cmn`), room noise
 * and noises that are not speech from sox, mixed by sox at chosen levels. Everything is 48 kHz mono 16-bit WAV, the
 * microphones' rate. sox runs with -R (its own fixed random seed), so the same call makes the same file.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const RATE = 48000;

/** Explanations an officer might give after a resume. */
export const PHRASES = [
  '刚才因为转换执法场所暂停了录像，现在恢复录像',
  '中断原因是摄像机断电，现已恢复',
  '刚才当事人要求休息十分钟，现在继续询问',
  '录像设备出现故障，更换电池后继续录制',
  '因为停电录像中断，现在恢复',
] as const;
/** espeak-ng's Mandarin voice, male and a female variant. */
export const VOICES = ['cmn', 'cmn+f3'] as const;

const sox = (args: string[]): void => void execFileSync('sox', ['-R', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });

/** Speech of `text` at 48 kHz. */
export function speech(dir: string, text: string, voice: string, name: string): string {
  const raw = join(dir, `${name}.espeak.wav`);
  const out = join(dir, `${name}.wav`);
  if (existsSync(out)) return out;
  execFileSync('espeak-ng', ['-v', voice, '-w', raw, text]);
  sox([raw, '-r', String(RATE), out]);
  return out;
}

const stats = new Map<string, string>();

/** Level of a file in dBFS: its RMS (`rms`) or its highest sample (`peak`). */
export function levelDb(file: string, kind: 'rms' | 'peak'): number {
  // sox's stat effect reports on stderr.
  const text = stats.get(file) ?? spawnSync('sox', [file, '-n', 'stat'], { encoding: 'utf8' }).stderr;
  stats.set(file, text);
  const m = new RegExp(kind === 'rms' ? /RMS\s+amplitude:\s+([\d.]+)/.source : /Maximum amplitude:\s+([\d.]+)/.source).exec(text);
  if (!m) throw new Error(`sox stat gave no ${kind} level for ${file}`);
  return 20 * Math.log10(Number(m[1]));
}

export type Noise = 'pink' | 'fan' | 'door' | 'cough' | 'steps' | 'scrape' | 'typing' | 'tone' | 'beep';

/**
 * A noise of the room. pink: even room noise; fan: pink noise below 1.5 kHz with a 150 Hz blade hum; door: a slam
 * (a 0.35 s burst of low noise, reverberant); cough: three 0.25 s bursts of 300-3000 Hz noise 0.6 s apart; steps:
 * ten low thumps, one every 0.5 s; scrape: a chair dragged, 1.2 s of warbling 0.8-5 kHz noise; typing: 40 clicks,
 * 0.15 s apart; tone: a steady 1 kHz sine (what the simulated microphones play); beep: 0.4 s of it (a prompt tone).
 */
export function noise(dir: string, kind: Noise, seconds = 20): string {
  const out = join(dir, `noise-${kind}-${seconds}.wav`);
  if (existsSync(out)) return out;
  if (kind === 'fan') {
    sox(['-m', `|sox -R -n -p synth ${seconds} pinknoise lowpass 1500`, `|sox -R -n -p synth ${seconds} sine 150 vol 0.3`, '-r', String(RATE), '-b', '16', out]);
    return out;
  }
  // One sound made by sox's effects, then that many of it one after another.
  const [effects, times] = SOUNDS[kind](seconds);
  const one = join(dir, `${kind}-one.wav`);
  sox(['-n', '-r', String(RATE), '-c', '1', '-b', '16', one, ...effects.split(' ')]);
  sox([...Array<string>(times).fill(one), out]);
  return out;
}

const SOUNDS: Record<Exclude<Noise, 'fan'>, (seconds: number) => [string, number]> = {
  pink: (s) => [`synth ${s} pinknoise`, 1],
  door: () => ['synth 0.35 brownnoise fade q 0.005 0.35 0.33 reverb 50', 1],
  cough: () => ['synth 0.25 whitenoise sinc 300-3000 fade q 0.02 0.25 0.18 pad 0 0.6', 3],
  steps: () => ['synth 0.08 brownnoise fade q 0.002 0.08 0.07 lowpass 400 pad 0 0.42', 10],
  scrape: () => ['synth 1.2 whitenoise sinc 800-5000 tremolo 9 60 fade q 0.05 1.2 0.1', 1],
  typing: () => ['synth 0.01 whitenoise highpass 2000 fade q 0.001 0.01 0.008 pad 0 0.14', 40],
  tone: (s) => [`synth ${s} sine 1000`, 1],
  beep: () => ['synth 0.4 sine 1000', 1],
};

/** A sound placed in the mix: a file at a level (its RMS or its peak, dBFS), starting `at` seconds in. */
export interface Layer {
  file: string;
  db: number;
  by: 'rms' | 'peak';
  at: number;
}

/** The room's bed (a noise at an RMS level) with sounds placed in it, `seconds` long. */
export function mix(out: string, bed: { file: string; rmsDb: number }, layers: Layer[], seconds: number): string {
  const gain = (file: string, db: number, by: 'rms' | 'peak'): string => (db - levelDb(file, by)).toFixed(2);
  const inputs = [`|sox -R "${bed.file}" -p gain ${gain(bed.file, bed.rmsDb, 'rms')}`];
  for (const l of layers) inputs.push(`|sox -R "${l.file}" -p gain ${gain(l.file, l.db, l.by)} pad ${l.at} 0`);
  if (inputs.length === 1) sox([bed.file, '-b', '16', out, 'gain', gain(bed.file, bed.rmsDb, 'rms'), 'trim', '0', String(seconds)]);
  else sox(['-m', ...inputs.flatMap((i) => ['-v', '1', i]), '-b', '16', out, 'trim', '0', String(seconds)]);
  return out;
}
