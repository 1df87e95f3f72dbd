/**
 * time.source "gps": the local clock is checked against GPS time as gpsd reports it. Each TPV with a fix gives a
 * sample (TPV time minus local time at receipt); the clock counts as synchronised while recent samples exist and
 * their median is within maxOffsetMs. The median of a few samples, because NMEA arrives with a latency that
 * varies by sentence order and serial load; one late sentence must not flip the state.
 *
 * Without a recent sample (no fix, gpsd down) the clock runs on its RTC: source "rtc", not synchronised, as NtpClock
 * reports an unsynchronised clock.
 */
import type { ClockState } from '../../evidence/types.js';
import { silentLogger, type Logger } from '../../util/log.js';
import type { ClockMonitor } from '../clock.js';
import type { GpsTimeSample } from '../gps/gpsd-client.js';

/** What the GPS clock needs from gpsd (the GpsdClient fits). */
export interface GpsTimeSource {
  on(event: 'time', listener: (s: GpsTimeSample) => void): unknown;
  off(event: 'time', listener: (s: GpsTimeSample) => void): unknown;
}

export interface GpsClockOptions {
  /** config time.maxOffsetMs */
  maxOffsetMs: number;
  /** Samples older than this (monotonic) are forgotten. Default 10 s, as the gpsd client's fix age. */
  maxAgeMs?: number;
  /** How many recent samples the median takes. Default 5. */
  window?: number;
  /** Monotonic clock, ms; the same one the samples' receivedAt used. Default performance.now. */
  monotonic?: () => number;
  log?: Logger;
}

export class GpsClock implements ClockMonitor {
  private readonly maxOffsetMs: number;
  private readonly maxAgeMs: number;
  private readonly window: number;
  private readonly mono: () => number;
  private readonly log: Logger;
  private samples: GpsTimeSample[] = [];
  private lastSynced: boolean | undefined;
  private readonly onSample = (s: GpsTimeSample): void => {
    if (!Number.isFinite(s.offsetMs)) return;
    this.samples.push(s);
    if (this.samples.length > this.window) this.samples.splice(0, this.samples.length - this.window);
  };
  private listening = false;

  constructor(
    private readonly gps: GpsTimeSource,
    opts: GpsClockOptions,
  ) {
    this.maxOffsetMs = opts.maxOffsetMs;
    this.maxAgeMs = opts.maxAgeMs ?? 10_000;
    this.window = Math.max(1, opts.window ?? 5);
    this.mono = opts.monotonic ?? (() => performance.now());
    this.log = opts.log ?? silentLogger;
  }

  state(): ClockState {
    const now = this.mono();
    this.samples = this.samples.filter((s) => now - s.receivedAt <= this.maxAgeMs);
    let st: ClockState;
    if (this.samples.length === 0) {
      st = { source: 'rtc', synced: false };
    } else {
      const offsetMs = Math.round(median(this.samples.map((s) => s.offsetMs)));
      st = { source: 'gps', synced: Math.abs(offsetMs) <= this.maxOffsetMs, offsetMs };
    }
    if (st.synced !== this.lastSynced) {
      // Logged where it is noticed: state() runs for every manifest and pre-flight, often enough.
      if (this.lastSynced !== undefined || !st.synced) {
        const fields = { source: st.source, offsetMs: st.offsetMs, maxOffsetMs: this.maxOffsetMs };
        if (st.synced) this.log.info('the clock agrees with GPS time', fields);
        else this.log.warn(st.source === 'gps' ? 'the clock disagrees with GPS time' : 'no recent GPS time; the clock is unsynchronised', fields);
      }
      this.lastSynced = st.synced;
    }
    return st;
  }

  /** GPS time received since `sinceMono` agrees with the system clock (measured after a step: the step was right). */
  confirmedSince(sinceMono: number): boolean {
    const fresh = this.samples.filter((s) => s.receivedAt >= sinceMono && this.mono() - s.receivedAt <= this.maxAgeMs);
    return fresh.length > 0 && Math.abs(median(fresh.map((s) => s.offsetMs))) <= this.maxOffsetMs;
  }

  async start(): Promise<void> {
    if (this.listening) return;
    this.listening = true;
    this.gps.on('time', this.onSample);
  }

  stop(): void {
    if (!this.listening) return;
    this.listening = false;
    this.gps.off('time', this.onSample);
    this.samples = [];
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
