/**
 * What the gateway knows about its clock: the source of its time and whether it is synchronised. Every
 * manifest carries this, and pre-flight refuses an unsynchronised clock unless forced.
 *
 * ClockState.offsetMs, where known, is true time minus the local clock (positive: the local clock is behind):
 * chrony's "System time", or GPS time minus local time for the GPS clock. An unsynchronised clock reports source
 * "rtc": nothing disciplines it, whatever the config asked for (the host clock excepted: it stays "system").
 */
import type { Config } from '../config/types.js';
import type { ClockState } from '../evidence/types.js';
import type { Logger } from '../util/log.js';
import { GpsClock, type GpsTimeSource } from './time/gps-clock.js';
import { probeNtp, runCommand, type CommandRunner, type NtpProbeResult } from './time/ntp-status.js';

export { GpsClock, type GpsClockOptions, type GpsTimeSource } from './time/gps-clock.js';
export { ClockStepWatch, type ClockStep, type ClockStepWatchOptions } from './time/step-watch.js';
export { Timeline } from './time/timeline.js';

export interface ClockMonitor {
  state(): ClockState;
  start(): Promise<void>;
  stop(): void;
  /**
   * Whether a measurement taken at or after monotonic instant `sinceMono` (performance.now, ms) found the system
   * clock synchronised: what lets the gateway's time follow a stepped system clock (src/app/clock-keeper.ts). An
   * assumption (time.assumeSynchronised) is no measurement. Absent: never.
   */
  confirmedSince?(sinceMono: number): boolean;
  /** Measure now rather than at the next interval (after a step). */
  refresh?(): Promise<void>;
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
  /** Monotonic clock (ms) that dates each probe. Default performance.now. */
  monotonic?: () => number;
}

const UNPROBED: NtpProbeResult = { via: 'none', state: { source: 'rtc', synced: false }, detail: {} };

/**
 * NTP via chrony (`chronyc -c tracking`: leap status, offset, error bound) or, without a running chronyd, via
 * systemd (`timedatectl show`: the kernel's synchronised flag only, no offset). Probed at start and every minute.
 */
export class NtpClock implements ClockMonitor {
  /** Undefined until the first probe answers: then what nothing answering gives. */
  private current: ClockState | undefined;
  private last: NtpProbeResult | undefined;
  /** Monotonic time at which the last probe began. */
  private lastAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private probing: Promise<void> | undefined;
  private readonly maxOffsetMs: number;
  private readonly intervalMs: number;
  private readonly run: CommandRunner;
  private readonly mono: () => number;

  constructor(
    protected readonly log: Logger,
    opts: NtpClockOptions = {},
  ) {
    this.maxOffsetMs = opts.maxOffsetMs ?? 500;
    this.intervalMs = opts.intervalMs ?? 60_000;
    this.run = opts.run ?? runCommand;
    this.mono = opts.monotonic ?? (() => performance.now());
  }

  state(): ClockState {
    return this.current ?? this.stateOf(UNPROBED);
  }

  /** The last probe: which tool answered and its numbers (for status). */
  detail(): NtpProbeResult | undefined {
    return this.last;
  }

  confirmedSince(sinceMono: number): boolean {
    return this.lastAt !== undefined && this.lastAt >= sinceMono && this.last?.state.synced === true;
  }

  refresh(): Promise<void> {
    return this.probe();
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

  /** The ClockState a probe's result gives (the host clock labels it differently). */
  protected stateOf(r: NtpProbeResult): ClockState {
    return r.state;
  }

  /** Logs a first result and each change of what answered or of the sync state. */
  protected logChange(r: NtpProbeResult): void {
    const fields = { via: r.via, synced: r.state.synced, offsetMs: r.state.offsetMs, ...r.detail };
    if (r.state.synced) this.log.info('the clock is synchronised by NTP', fields);
    else if (r.via === 'none') this.log.warn('cannot read the clock sync state (neither chronyc nor timedatectl answered); treating the clock as unsynchronised', fields);
    else this.log.warn('the clock is not synchronised', fields);
  }

  private async doProbe(): Promise<void> {
    const at = this.mono();
    let r: NtpProbeResult;
    try {
      r = await probeNtp(this.run, this.maxOffsetMs);
    } catch (err) {
      r = { via: 'none', state: { source: 'rtc', synced: false }, detail: { error: (err as Error).message } };
    }
    const prev = this.last;
    this.last = r;
    this.lastAt = at;
    this.current = this.stateOf(r);
    // Log changes only (a probe a minute would otherwise fill the journal): first result, sync flips, tool changes.
    if (!prev || prev.via !== r.via || prev.state.synced !== r.state.synced) this.logChange(r);
  }
}

export interface HostClockOptions extends NtpClockOptions {
  /** config time.assumeSynchronised: count the clock as synchronised when the OS does not say it is. */
  assumeSynchronised?: boolean;
}

/**
 * The host keeps time (a VM, or a container whose host is synchronised): recorded as source "system" so a reader of
 * the evidence knows the time came from the host, not from our own sync. Synchronised only when the OS says so, read
 * as for NTP: chrony, or systemd's `timedatectl`, whose NTPSynchronized is the kernel's flag (adjtimex(2) without
 * STA_UNSYNC). A container without systemd or chrony cannot tell, so its clock is unsynchronised unless the
 * installation says the host keeps time (config time.assumeSynchronised): manifests then record `"assumed": true`.
 */
export class HostClock extends NtpClock {
  private readonly assume: boolean;

  constructor(log: Logger, opts: HostClockOptions = {}) {
    super(log, opts);
    this.assume = opts.assumeSynchronised === true;
  }

  protected override stateOf(r: NtpProbeResult): ClockState {
    if (r.state.synced) return { ...r.state, source: 'system' };
    return this.assume ? { source: 'system', synced: true, assumed: true } : { source: 'system', synced: false };
  }

  protected override logChange(r: NtpProbeResult): void {
    const fields = { via: r.via, osSynced: r.state.synced, offsetMs: r.state.offsetMs, assumeSynchronised: this.assume, ...r.detail };
    if (r.state.synced) this.log.info('the OS says the host clock is synchronised', fields);
    else if (this.assume) {
      this.log.warn('the OS does not confirm that the host clock is synchronised; it counts as synchronised because time.assumeSynchronised is set (manifests record "assumed": true)', fields);
    } else if (r.via === 'none') {
      this.log.warn(
        "cannot read the host clock's sync state (neither chronyc nor timedatectl answered), so it counts as unsynchronised; where the host keeps time out of sight (a container), set time.assumeSynchronised",
        fields,
      );
    } else this.log.warn('the OS says the host clock is not synchronised', fields);
  }
}

/**
 * The ClockMonitor for config time.source. "gps" needs the gpsd client (config gps); the GPS clock only listens to
 * it, so the caller starts and stops the client itself.
 */
export function createClockMonitor(
  time: Pick<Config['time'], 'source' | 'maxOffsetMs'> & { assumeSynchronised?: boolean },
  deps: { log: Logger; gps?: GpsTimeSource; run?: CommandRunner },
): ClockMonitor {
  const run = deps.run ? { run: deps.run } : {};
  switch (time.source) {
    case 'host':
      return new HostClock(deps.log, { maxOffsetMs: time.maxOffsetMs, assumeSynchronised: time.assumeSynchronised === true, ...run });
    case 'rtc':
      return new RtcClock();
    case 'gps':
      if (!deps.gps) throw new Error('time.source "gps" needs gpsd: configure the "gps" section');
      return new GpsClock(deps.gps, { maxOffsetMs: time.maxOffsetMs, log: deps.log });
    case 'ntp':
      return new NtpClock(deps.log, { maxOffsetMs: time.maxOffsetMs, ...run });
  }
}
