/**
 * Plays the standard announcement (「为保护您的合法权益，监督我们的执法行为，本次执法全程录音录像」) through the
 * room's speaker: an audio file sent to an ALSA device by ffmpeg.
 */
import { execFile } from 'node:child_process';

export interface Announcer {
  play(file: string): Promise<{ ok: true } | { ok: false; error: string }>;
}

export class AlsaAnnouncer implements Announcer {
  constructor(private readonly device: string) {}

  play(file: string): Promise<{ ok: true } | { ok: false; error: string }> {
    return new Promise((resolve) => {
      execFile(
        'ffmpeg',
        ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', file, '-f', 'alsa', this.device],
        { timeout: 60_000 },
        (err, _out, stderr) => resolve(err ? { ok: false, error: (stderr || err.message).trim().split('\n').slice(-1)[0] ?? 'failed' } : { ok: true }),
      );
    });
  }
}
