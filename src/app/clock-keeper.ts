/**
 * Keeps the gateway's time (src/hal/time/timeline.ts) true when the system clock is stepped. The step watch notices
 * a step (the system clock against the monotonic clock); the keeper has the clock monitor measure again and then:
 *
 * - follows, when a measurement taken after the step finds the clock synchronised (NTP or GPS set it right): the
 *   gateway's time is anchored to the system clock again; the recorder stops the sources around it, so that no
 *   segment mixes the two, and records the jump of its times (clock.stepped with `held: false`);
 * - holds, when nothing confirms the new time (someone ran `date`, a faulty source, a clock whose sync is only
 *   assumed): the gateway's times go on counting from their anchor on the monotonic clock, so segments, sessions and
 *   entries stay true; the step is recorded (clock.stepped with `held: true`).
 *
 * During a recording session either one is a clock-jump interruption over the step's span. While holding, the keeper
 * looks again every interval: a system clock back within the step threshold of the gateway's time agrees again; a
 * later measurement that confirms the system clock makes the gateway follow it.
 */
import type { ClockMonitor, ClockStep, ClockStepWatch } from '../hal/clock.js';
import type { Timeline } from '../hal/time/timeline.js';
import type { Logger } from '../util/log.js';
import { describe } from '../util/errors.js';

/** What the keeper has recorded: the recorder does it (ledger entry, interruption, the sources cut for a follow). */
export interface ClockStepRecorder {
  /** A step the gateway's time did not follow (`held`), or `held: false` for one it followed. */
  clockStepped(step: ClockStep & { held: true }): Promise<void>;
  /** Stop the sources, re-anchor the gateway's time with `rebase`, record the jump, start them again. */
  followClock(rebase: () => { old: number; new: number }): Promise<void>;
}

export interface ClockKeeperOptions {
  timeline: Timeline;
  monitor: ClockMonitor;
  watch: ClockStepWatch;
  recorder: ClockStepRecorder;
  /** config time.stepThresholdMs */
  thresholdMs: number;
  log: Logger;
  /** How often a held time looks for confirmation. Default 5 s. */
  intervalMs?: number;
  /** How long a step waits for the monitor's fresh measurement. Default 6 s (the tools' own limit is 5 s). */
  refreshWaitMs?: number;
}

export class ClockKeeper {
  private readonly o: ClockKeeperOptions;
  /** Monotonic instant of the step being held: a measurement from then on may confirm the system clock. */
  private heldSince: number | undefined;
  private queue: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly onStep = (st: ClockStep): void => void this.serial(() => this.stepped(st));

  constructor(o: ClockKeeperOptions) {
    this.o = o;
  }

  start(): void {
    this.o.watch.on('step', this.onStep);
    this.o.watch.start();
    this.timer = setInterval(() => void this.serial(() => this.check()), this.o.intervalMs ?? 5_000);
    this.timer.unref();
  }

  /** Stops watching; resolves once a step being recorded is done. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.o.watch.off('step', this.onStep);
    this.o.watch.stop();
    await this.queue;
  }

  /** The system clock minus the gateway's time while a step is held (ms), else undefined (for status and manifests). */
  heldMs(): number | undefined {
    return this.heldSince === undefined ? undefined : this.o.timeline.heldMs();
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(fn).catch((err: unknown) => this.o.log.error('handling a clock step failed', { err: describe(err) }));
    return this.queue;
  }

  private async stepped(st: ClockStep): Promise<void> {
    const { timeline, monitor, log, thresholdMs } = this.o;
    if (Math.abs(timeline.heldMs()) <= thresholdMs) {
      // The step brought the system clock back to the gateway's time (a held step undone).
      this.heldSince = undefined;
      log.info('the system clock was stepped back to the gateway time', { ...st });
      await this.o.recorder.clockStepped({ ...st, held: true });
      return;
    }
    const since = timeline.mono();
    await waitAtMost(monitor.refresh?.(), this.o.refreshWaitMs ?? 6_000);
    if (monitor.confirmedSince?.(since)) {
      log.warn('the system clock was stepped and the clock source confirms the new time: the gateway time follows it', { ...st });
      await this.follow();
      return;
    }
    this.heldSince ??= since;
    log.warn('the system clock was stepped and nothing confirms the new time: the gateway keeps its own time on the monotonic clock', {
      ...st,
      heldMs: timeline.heldMs(),
    });
    await this.o.recorder.clockStepped({ ...st, held: true });
  }

  private async check(): Promise<void> {
    if (this.heldSince === undefined) return;
    const { timeline, monitor, log, thresholdMs } = this.o;
    if (Math.abs(timeline.heldMs()) <= thresholdMs) {
      this.heldSince = undefined;
      log.info('the system clock agrees with the gateway time again');
    } else if (monitor.confirmedSince?.(this.heldSince)) {
      log.warn('the clock source now confirms the system clock: the gateway time follows it', { heldMs: timeline.heldMs() });
      await this.follow();
    }
  }

  private async follow(): Promise<void> {
    this.heldSince = undefined;
    await this.o.recorder.followClock(() => this.o.timeline.rebase());
  }
}

async function waitAtMost(p: Promise<void> | undefined, ms: number): Promise<void> {
  if (!p) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
