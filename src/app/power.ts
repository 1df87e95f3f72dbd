/**
 * The installation's UPS (config `serial.ups` for the line protocol, or `power.nut` for a UPS that Network UPS
 * Tools serves), assembled for the composition root: its readings feed the recorder's battery state and pre-flight,
 * its warnings reach the log and the panel, and when the power is about to go the recorder records the low-battery
 * interruption and seals what it has (Recorder.batteryLow) - then, on a forced shutdown, the gateway logs out of
 * upsd so the UPS need not wait for it. docs/operations.md §16.
 */
import type { Config } from '../config/types.js';
import type { Logger } from '../util/log.js';
import type { Recorder } from '../recorder/recorder.js';
import type { CheckResult } from '../recorder/preflight.js';
import { LinePort } from '../hal/serial/line-port.js';
import { SerialUpsFeed } from '../hal/serial/ups.js';
import { NutUpsFeed } from '../hal/power/nut-feed.js';
import { UpsMonitor, type UpsLow, type UpsRisk } from '../hal/power/ups-monitor.js';

/** The serial UPS sends a reading every few seconds; silence this long is unplugged. */
const UPS_SILENCE_MS = 15_000;

export class PowerWatch {
  readonly ups: UpsMonitor | undefined;
  private readonly port: LinePort | undefined;
  private readonly serialFeed: SerialUpsFeed | undefined;
  private readonly nut: NutUpsFeed | undefined;
  private readonly detach: (() => void)[] = [];

  constructor(
    config: Config,
    private readonly log: Logger,
    /** Shows an alarm where officers see it (the panel). */
    private readonly alert: (code: string, text: string) => void,
  ) {
    const p = config.power ?? { lowBatteryPercent: 10, lowRuntimeSeconds: 120 };
    const limits = { thresholdPercent: config.recording.minBatteryPercent, lowBatteryPercent: p.lowBatteryPercent, lowRuntimeSeconds: p.lowRuntimeSeconds, log };
    if (config.serial?.ups) {
      this.port = new LinePort({ ...config.serial.ups, silenceMs: UPS_SILENCE_MS, log: log.child('port') });
      this.serialFeed = new SerialUpsFeed(this.port, { log });
      this.ups = new UpsMonitor(this.serialFeed, limits);
    } else if (p.nut) {
      const { host, port, name, user, password, pollSeconds } = p.nut;
      this.nut = new NutUpsFeed({ host, port, name, ...(user ? { user, password: password ?? '' } : {}), pollMs: pollSeconds * 1000, log: log.child('nut') });
      // Three missed polls, and never less than the serial line's 15 s.
      this.ups = new UpsMonitor(this.nut, { ...limits, staleMs: Math.max(UPS_SILENCE_MS, pollSeconds * 3000 + 5000) });
    }
  }

  /** Pre-flight: the UPS answering, and not about to lose power. */
  checks(): (() => Promise<CheckResult>)[] {
    const ups = this.ups;
    return ups ? [() => Promise.resolve({ check: 'ups', ...ups.preflightCheck() })] : [];
  }

  /** Before the recorder: it asks the UPS for the battery state. */
  start(): void {
    if (!this.ups) return;
    this.port?.start();
    this.serialFeed?.start();
    this.nut?.start();
    this.ups.start();
    const ups = this.ups;
    const risk = (r: UpsRisk): void => {
      this.log.warn('battery running low: recording will be interrupted unless mains power returns', { ...r });
      this.alert('battery', r.zh);
    };
    ups.on('risk', risk);
    this.detach.push(() => ups.off('risk', risk));
  }

  /** After the recorder started: the power about to go interrupts its session, mains power back resumes it. */
  attach(recorder: Recorder): void {
    const ups = this.ups;
    if (!ups) return;
    const low = (l: UpsLow): void => {
      this.alert('battery', l.text);
      void recorder
        .batteryLow({ text: l.text, cause: l.cause, technical: l.technical, forcedShutdown: l.forcedShutdown })
        .then(() => (l.forcedShutdown ? this.nut?.release() : undefined))
        .catch((err: unknown) => this.log.error('recording the low battery failed', { err: String(err) }));
    };
    const restored = (): void => {
      void recorder.batteryOk().catch((err: unknown) => this.log.error('resuming after mains power returned failed', { err: String(err) }));
    };
    ups.on('low', low);
    ups.on('restored', restored);
    this.detach.push(() => {
      ups.off('low', low);
      ups.off('restored', restored);
    });
    // The first readings may have come while the recorder started.
    const now = ups.lowPower();
    if (now) low(now);
  }

  status(): Record<string, unknown> {
    return this.ups ? { ups: this.ups.status() } : {};
  }

  async stop(): Promise<void> {
    for (const d of this.detach.splice(0)) d();
    this.ups?.stop();
    this.serialFeed?.stop();
    await this.nut?.stop();
    await this.port?.stop();
  }
}
