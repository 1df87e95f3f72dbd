/**
 * What the gateway knows about its clock: the source of its time and whether it is synchronised. Every
 * manifest carries this, and pre-flight refuses an unsynchronised clock unless forced.
 *
 * ClockState.offsetMs, where known, is true time minus the local clock (positive: the local clock is behind):
 * chrony's "System time", or GPS time minus local time for the GPS clock. An unsynchronised clock reports source
 * "rtc": nothing disciplines it, whatever the config asked for.
 */
import type { Config } from '../config/types.js';
import type { ClockState } from '../evidence/types.js';
import type { Logger } from '../util/log.js';
import { GpsClock, type GpsTimeSource } from './time/gps-clock.js';
import { probeNtp, runCommand, type CommandRunner, type NtpProbeResult } from './time/ntp-status.js';

export { GpsClock, type GpsClockOptions, type GpsTimeSource } from './time/gps-clock.js';
export { ClockStepWatch, type ClockStep, type ClockStepWatchOptions } from './time/step-watch.js';

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

/** A battery-backed RTC and nothing else: declared, and never counts as synchronised. */
export class RtcClock implements ClockMonitor {
  state(): ClockState {
    return { source: 'rtc', synced: false };
  }
  async start(): Promise<void> {}
  stop(): void {}
}

export interface NtpClockOptions {
  /** config time.maxOffsetMs: chrony's worst-case error beyond this counts as unsynchronised. Default 500. */
  maxOffsetMs?: number;
  /** Probe interval. Default 60 s. */
  intervalMs?: number;
  /** Runs chronyc/timedatectl; injectable for tests. */
  run?: CommandRunner;
}

/**
 * NTP via chrony (`chronyc -c tracking`: leap status, offset, error bound) or, without a running chronyd, via
 * systemd (`timedatectl show`: the kernel's synchronised flag only, no offset). Probed at start and every minute.
 */
export class NtpClock implements ClockMonitor {
  private current: ClockState = { source: 'rtc', synced: false };
  private last: NtpProbeResult | undefined;
  private timer: NodeJS.Timeout | undefined;
  private probing: Promise<void> | undefined;
  private readonly maxOffsetMs: number;
  private readonly intervalMs: number;
  private readonly run: CommandRunner;

  constructor(
    private readonly log: Logger,
    opts: NtpClockOptions = {},
  ) {
    this.maxOffsetMs = opts.maxOffsetMs ?? 500;
    this.intervalMs = opts.intervalMs ?? 60_000;
    this.run = opts.run ?? runCommand;
  }

  state(): ClockState {
    return this.current;
  }

  /** The last probe: which tool answered and its numbers (for status). */
  detail(): NtpProbeResult | undefined {
    return this.last;
  }

  async start(): Promise<void> {
    await this.probe();
    if (this.timer) return;
    this.timer = setInterval(() => void this.probe(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Probes now (start() and the timer call this); concurrent calls share one probe. */
  probe(): Promise<void> {
    this.probing ??= this.doProbe().finally(() => (this.probing = undefined));
    return this.probing;
  }

  private async doProbe(): Promise<void> {
    let r: NtpProbeResult;
    try {
      r = await probeNtp(this.run, this.maxOffsetMs);
    } catch (err) {
      r = { via: 'none', state: { source: 'rtc', synced: false }, detail: { error: (err as Error).message } };
    }
    const prev = this.last;
    this.last = r;
    this.current = r.state;
    // Log changes only (a probe a minute would otherwise fill the journal): first result, sync flips, tool changes.
    if (!prev || prev.via !== r.via || prev.state.synced !== r.state.synced) {
      const fields = { via: r.via, synced: r.state.synced, offsetMs: r.state.offsetMs, ...r.detail };
      if (r.state.synced) this.log.info('the clock is synchronised by NTP', fields);
      else if (r.via === 'none') this.log.warn('cannot read the clock sync state (neither chronyc nor timedatectl answered); treating the clock as unsynchronised', fields);
      else this.log.warn('the clock is not synchronised', fields);
    }
  }
}

/**
 * The ClockMonitor for config time.source. "gps" needs the gpsd client (config gps); the GPS clock only listens to
 * it, so the caller starts and stops the client itself.
 */
export function createClockMonitor(
  time: Pick<Config['time'], 'source' | 'maxOffsetMs'>,
  deps: { log: Logger; gps?: GpsTimeSource; run?: CommandRunner },
): ClockMonitor {
  switch (time.source) {
    case 'host':
      return new HostClock();
    case 'rtc':
      return new RtcClock();
    case 'gps':
      if (!deps.gps) throw new Error('time.source "gps" needs gpsd: configure the "gps" section');
      return new GpsClock(deps.gps, { maxOffsetMs: time.maxOffsetMs, log: deps.log });
    case 'ntp':
      return new NtpClock(deps.log, { maxOffsetMs: time.maxOffsetMs, ...(deps.run ? { run: deps.run } : {}) });
  }
}
