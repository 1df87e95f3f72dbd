/**
 * A room with a loudspeaker and a microphone for tests that run the real gateway (room-process.js holds the sound): the
 * gateway's speaker is a real ALSA device (an `asound.conf` the gateway reads through ALSA_CONFIG_PATH: the `file`
 * plugin writing into the room's FIFO, at a real-time pace the room sets), and its microphone a simulated source whose
 * ffmpeg reads the room's sound over TCP (`simFilter`). Why not ALSA for the microphone too: the `file` plugin's
 * capture side (`infile`) with a `null` slave delivered a fraction of the samples written to it (0.87 s of 3 s
 * measured here), and no loopback card (snd-aloop) exists on the build machine.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { RATE, mix, noise } from './room-sound.js';

const ROOM_JS = join(import.meta.dirname, 'room-process.js');

export interface Room {
  /** Give the gateway process this environment. */
  env: Record<string, string>;
  /** recording.speakerDevice */
  speakerDevice: string;
  /** A microphone source that hears the room. */
  microphone(id: string): Record<string, unknown>;
  /** Someone in the room says (plays) a 48 kHz WAV file, `db` louder or quieter than it is. */
  say(wav: string, db?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Raw 48 kHz mono 16-bit samples of a WAV file, as room-process.js reads them. */
export function rawOf(wav: string): string {
  const raw = wav.replace(/\.wav$/, '.raw');
  execFileSync('sox', [wav, '-t', 'raw', '-r', String(RATE), '-c', '1', '-b', '16', '-e', 'signed-integer', raw]);
  return raw;
}

/** A room whose own noise is pink noise at `bedDb` dBFS RMS; the speaker reaches the microphone `speakerDb` quieter. */
export async function startRoom(dir: string, o: { bedDb: number; speakerDb: number }): Promise<Room> {
  const bed = rawOf(mix(join(dir, 'room-bed.wav'), { file: noise(dir, 'pink', 10), rmsDb: o.bedDb }, [], 10));
  const fifo = join(dir, 'speaker.fifo');
  execFileSync('mkfifo', [fifo]);
  const alsa = join(dir, 'asound.conf');
  writeFileSync(
    alsa,
    [
      `pcm.speakerfile { type file; slave { pcm { type null } }; file "${fifo}"; format "raw" }`,
      `pcm.speaker { type plug; slave { pcm "speakerfile"; rate ${RATE}; format S16_LE; channels 1 } }`,
      '',
    ].join('\n'),
  );
  const proc: ChildProcess = spawn(process.execPath, [ROOM_JS, join(dir, 'room.port'), bed, fifo, String(o.speakerDb)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout! });
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (l) => waiting.shift()?.(l));
  const next = (): Promise<string> => new Promise((resolve) => waiting.push(resolve));
  const ready = await Promise.race([next(), new Promise<string>((_, reject) => proc.once('exit', (c) => reject(new Error(`room-process.js exited with ${c}`))))]);
  const port = Number(/^ready (\d+)$/.exec(ready)?.[1]);
  if (!port) throw new Error(`room-process.js said ${ready}`);
  return {
    env: { ALSA_CONFIG_PATH: alsa },
    speakerDevice: 'speaker',
    // Two levels of escaping: the graph's and amovie's own options'. probesize: start without reading ahead.
    microphone: (id) => ({ id, kind: 'microphone', driver: 'sim', simFilter: `amovie=tcp\\\\://127.0.0.1\\\\:${port}:f=wav:format_opts=probesize=32` }),
    async say(wav, db = 0) {
      const said = next();
      proc.stdin!.write(JSON.stringify({ say: rawOf(wav), db }) + '\n');
      await said;
    },
    async stop() {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.stdin!.end();
      await exited;
    },
  };
}
