/**
 * The room's speaker: plays the standard announcement (「为保护您的合法权益，监督我们的执法行为，本次执法全程录音录像」,
 * 004 规定 §6) at a session's start, and a short tone that asks the officers to state the reason for an interruption
 * after a resume. ffmpeg sends the sound to an ALSA device. The announcement is played from bytes in memory, so what
 * its ledger entry hashes is exactly what was played; a play can be stopped (the session ends, the service stops).
 */
import { spawn } from 'node:child_process';

/** `startedAt`: when the sound device was open and the sound began (ms), when ffmpeg got that far. */
export type PlayResult = ({ ok: true } | { ok: false; error: string; stopped?: true }) & { startedAt?: number };

export interface Announcer {
  /** Play audio (any format ffmpeg reads); resolves when it has played, failed, or been stopped by `signal`. Never rejects. */
  play(audio: Buffer, signal?: AbortSignal): Promise<PlayResult>;
  /** A short tone (two notes, under a second). */
  tone(signal?: AbortSignal): Promise<PlayResult>;
}

/** Longest a play may take before it is taken for hung. */
const TIMEOUT_MS = 120_000;
const TONE = 'sine=frequency=880:duration=0.25:sample_rate=48000[a];sine=frequency=660:duration=0.35:sample_rate=48000[b];[a][b]concat=n=2:v=0:a=1,volume=-12dB';

export class AlsaAnnouncer implements Announcer {
  constructor(
    private readonly device: string,
    private readonly ffmpegPath = 'ffmpeg',
  ) {}

  play(audio: Buffer, signal?: AbortSignal): Promise<PlayResult> {
    return this.run(['-i', 'pipe:0'], audio, signal);
  }

  tone(signal?: AbortSignal): Promise<PlayResult> {
    return this.run(['-f', 'lavfi', '-i', TONE], undefined, signal);
  }

  private run(input: string[], stdin: Buffer | undefined, signal?: AbortSignal): Promise<PlayResult> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve({ ok: false, error: 'stopped before it began', stopped: true });
      // At info level ffmpeg says "Output #0, alsa" once the device is open, just before the sound goes to it.
      const child = spawn(this.ffmpegPath, ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info', ...input, '-f', 'alsa', this.device], {
        stdio: [stdin ? 'pipe' : 'ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      let startedAt: number | undefined;
      let ended: 'stopped' | 'timeout' | undefined;
      const end = (why: 'stopped' | 'timeout'): void => {
        ended ??= why;
        child.kill('SIGTERM');
      };
      const stop = (): void => end('stopped');
      const timer = setTimeout(() => end('timeout'), TIMEOUT_MS);
      signal?.addEventListener('abort', stop, { once: true });
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (d: string) => {
        stderr = (stderr + d).slice(-4000);
        if (startedAt === undefined && /^Output #0, alsa/m.test(stderr)) startedAt = Date.now();
      });
      if (stdin) {
        // ffmpeg closes its input when stopped: EPIPE then is expected, not a failure of its own.
        child.stdin!.on('error', () => undefined);
        child.stdin!.end(stdin);
      }
      const done = (r: PlayResult): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', stop);
        resolve(startedAt === undefined ? r : { ...r, startedAt });
      };
      child.on('error', (err) => done({ ok: false, error: `cannot run ${this.ffmpegPath}: ${err.message}` }));
      child.on('close', (code, sig) => {
        if (ended === 'stopped') return done({ ok: false, error: 'stopped', stopped: true });
        if (ended === 'timeout') return done({ ok: false, error: `took longer than ${TIMEOUT_MS / 1000} s and was stopped` });
        if (code === 0) return done({ ok: true });
        const last = stderr.trim().split('\n').filter((l) => !/^\s/.test(l)).slice(-1)[0];
        done({ ok: false, error: `ffmpeg could not play to ALSA device ${this.device} (${sig ?? `exit ${code}`})${last ? `: ${last}` : ''}` });
      });
    });
  }
}
