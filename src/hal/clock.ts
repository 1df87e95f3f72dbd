/**
 * What the gateway knows about its clock: the source of its time and whether it is synchronised. Every
 * manifest carries this, and pre-flight refuses an unsynchronised clock unless forced.
 */
import { execFile } from 'node:child_process';
import type { ClockState } from '../evidence/types.js';
import type { Logger } from '../util/log.js';

export interface ClockMonitor {
  state(): ClockState;
  start(): Promise<void>;
  stop(): void;
}

/**
 * The host keeps time (a VM or container whose host is synchronised): declared in the config, and recorded as
 * source "system" so a reader of the evidence knows the time came from the host, not from our own sync.
 */
export class HostClock implements ClockMonitor {
  state(): ClockState {
    return { source: 'system', synced: true };
  }
  async start(): Promise<void> {}
  stop(): void {}
}

/** NTP via systemd-timesyncd or chrony, probed with timedatectl every minute. */
export class NtpClock implements ClockMonitor {
  private current: ClockState = { source: 'rtc', synced: false };
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly log: Logger) {}

  state(): ClockState {
    return this.current;
  }

  async start(): Promise<void> {
    await this.probe();
    this.timer = setInterval(() => void this.probe(), 60_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private probe(): Promise<void> {
    return new Promise((resolve) => {
      execFile('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { timeout: 5000 }, (err, stdout) => {
        if (err) {
          if (this.current.synced) this.log.warn('cannot read the clock sync state; treating the clock as unsynchronised', { err: err.message });
          this.current = { source: 'rtc', synced: false };
        } else {
          const synced = stdout.trim() === 'yes';
          this.current = { source: synced ? 'ntp' : 'rtc', synced };
        }
        resolve();
      });
    });
  }
}
