/**
 * Logs garbage received on a serial line without letting it flood the journal: a noisy cable can deliver thousands
 * of bad lines a minute, and the log must still show that it happens and what it looks like. No serialport here.
 */
import type { Logger } from '../../util/log.js';

export class NoiseLog {
  private windowStart = 0;
  private inWindow = 0;
  /** Garbage seen since start: shown in status. */
  total = 0;

  constructor(
    private readonly log: Logger,
    private readonly perMinute = 10,
    private readonly now: () => number = Date.now,
  ) {}

  garbage(reason: string, sample: string | Buffer): void {
    this.total++;
    const t = this.now();
    if (t - this.windowStart >= 60_000) {
      const suppressed = this.inWindow - this.perMinute;
      if (suppressed > 0) this.log.warn('more garbage was ignored on the serial line', { suppressed });
      this.windowStart = t;
      this.inWindow = 0;
    }
    this.inWindow++;
    if (this.inWindow > this.perMinute) return;
    const shown = typeof sample === 'string' ? JSON.stringify(sample.slice(0, 80)) : sample.subarray(0, 32).toString('hex');
    this.log.warn('ignored garbage on the serial line', { reason, sample: shown, total: this.total });
  }
}
