/**
 * Notices the wall clock being stepped (set by NTP, GPS, an operator or a dying RTC). Every interval it compares
 * how far the wall clock advanced with how far the monotonic clock advanced: those agree except when the wall
 * clock is set (slewing is at most 83 ms/s, chrony's default maxslewrate, and 0.5 ms/s for the kernel's own
 * discipline: below the smallest threshold config allows, 100 ms per 1 s interval). An event-loop stall
 * moves both alike, so a busy gateway gives no false steps. The wall clock is read between two monotonic readings,
 * and a reading the scheduler split (the two monotonic ones more than a tenth of the threshold apart) is not used:
 * on a loaded machine a thread taken off the CPU between two reads would otherwise look like a step.
 *
 * Caveat: the monotonic clock (CLOCK_MONOTONIC) stops during system suspend, so a suspend shows up as a forward
 * step; a recording gateway does not suspend, and if one did, the ledger should say so anyway.
 */
import { EventEmitter } from 'node:events';
import { silentLogger, type Logger } from '../../util/log.js';

/** The ledger's clock.stepped payload: what the wall clock should have read, what it read, and the jump. */
export interface ClockStep {
  /** ISO: the wall time expected now, had the clock not been stepped. */
  old: string;
  /** ISO: the wall time now. */
  new: string;
  /** new - old, ms: positive when the clock jumped forward. */
  deltaMs: number;
}

export interface ClockStepWatchOptions {
  /** A jump larger than this (absolute, ms) is a step: config time.stepThresholdMs. */
  thresholdMs: number;
  /** How often to compare. Default 1000 ms. */
  intervalMs?: number;
  /** Wall clock, ms since the epoch; injectable so tests can step it (the real one cannot be set there). */
  wallClock?: () => number;
  /** Monotonic clock, ms. Default performance.now. */
  monotonic?: () => number;
  log?: Logger;
}

export class ClockStepWatch extends EventEmitter<{ step: [ClockStep] }> {
  private readonly thresholdMs: number;
  private readonly intervalMs: number;
  private readonly wall: () => number;
  private readonly mono: () => number;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private base: { wall: number; mono: number } | undefined;

  constructor(opts: ClockStepWatchOptions) {
    super();
    if (!(opts.thresholdMs > 0)) throw new Error('clock step threshold must be positive');
    this.thresholdMs = opts.thresholdMs;
    this.intervalMs = opts.intervalMs ?? 1_000;
    this.wall = opts.wallClock ?? Date.now;
    this.mono = opts.monotonic ?? (() => performance.now());
    this.log = opts.log ?? silentLogger;
  }

  start(): void {
    if (this.timer) return;
    this.base = this.read();
    this.timer = setInterval(() => this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.base = undefined;
  }

  /** Compares now (the timer calls this; tests may too). Emits and returns the step, if there was one. */
  check(): ClockStep | null {
    const now = this.read();
    const prev = this.base;
    if (now === undefined) return null; // split reading: compare at the next interval, against the same base
    this.base = now;
    if (!prev) return null;
    const { wall, mono } = now;
    // Whole milliseconds, so that deltaMs is exactly new - old as a reader of the ledger computes it.
    const expected = Math.round(prev.wall + (mono - prev.mono));
    const deltaMs = Math.round(wall) - expected;
    if (Math.abs(deltaMs) <= this.thresholdMs) return null;
    const step: ClockStep = { old: isoOrRaw(expected), new: isoOrRaw(wall), deltaMs };
    this.log.warn('the wall clock was stepped', { ...step });
    this.emit('step', step);
    return step;
  }

  /** The wall clock and the monotonic time it was read at, or undefined when the reading was split. */
  private read(): { wall: number; mono: number } | undefined {
    const before = this.mono();
    const wall = this.wall();
    const after = this.mono();
    if (after - before > this.thresholdMs / 10) return undefined;
    return { wall, mono: (before + after) / 2 };
  }
}

function isoOrRaw(ms: number): string {
  const d = new Date(Math.round(ms));
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}
