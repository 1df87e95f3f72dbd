/**
 * A UPS or battery monitor on a serial line (docs/panel-protocol.md, appendix A): `BATT <percent> <ONLINE|ONBATT>
 * [<minutes left>]`, optionally with the panel protocol's `*CCCC` checksum, sent every 1-5 s. Feeds pre-flight and
 * status through the recorder's BatteryMonitor interface, and warns before a running session would lose power: a
 * falling charge on battery raises a risk event while there is still time to connect mains power.
 */
import { EventEmitter } from 'node:events';
import type { BatteryMonitor } from '../../recorder/recorder.js';
import { silentLogger, type Logger } from '../../util/log.js';
import { frameLine, unframeLine } from './frame.js';
import { NoiseLog } from './noise.js';
import type { PortState } from './supervised-port.js';

export interface UpsReading {
  percent: number;
  onMains: boolean;
  /** The UPS's own runtime estimate, when it sends one. */
  minutesLeft: number | null;
}

export type UpsParse = { ok: true; reading: UpsReading } | { ok: false; reason: string };

/** Parses one UPS line (without CRLF). Never throws. */
export function parseUpsLine(line: string): UpsParse {
  const u = unframeLine(line, { required: false });
  if (!u.ok) return u;
  const m = /^BATT ([0-9]{1,3}(?:\.[0-9])?) (ONLINE|ONBATT)(?: ([0-9]{1,4}))?$/.exec(u.body);
  if (!m) return { ok: false, reason: 'not a BATT line' };
  const percent = Number(m[1]);
  if (percent > 100) return { ok: false, reason: `charge ${percent}% is over 100%` };
  return { ok: true, reading: { percent, onMains: m[2] === 'ONLINE', minutesLeft: m[3] === undefined ? null : Number(m[3]) } };
}

/** Encodes a reading as a UPS would send it (simulators, docs). */
export function encodeUpsLine(r: UpsReading, opts: { checksum?: boolean } = {}): string {
  const body = `BATT ${r.percent} ${r.onMains ? 'ONLINE' : 'ONBATT'}${r.minutesLeft === null ? '' : ` ${r.minutesLeft}`}`;
  return opts.checksum ? frameLine(body) : body;
}

export type RiskLevel = 'warning' | 'critical';

export interface UpsRisk {
  level: RiskLevel;
  percent: number;
  /** The charge below which pre-flight refuses a start (recording.minBatteryPercent). */
  thresholdPercent: number;
  /** Estimated minutes until the charge reaches the threshold, from the measured discharge or the UPS's estimate. */
  minutesToThreshold: number | null;
  zh: string;
  en: string;
}

export interface UpsStatus {
  port: PortState | null;
  /** The latest reading, with its time; null before the first. */
  reading: (UpsReading & { at: string }) | null;
  /** No reading for longer than staleMs: state() reports nothing. */
  stale: boolean;
  risk: RiskLevel | null;
  garbage: number;
}

/** The line source; LinePort satisfies it. */
export interface UpsLink {
  on(event: 'line', listener: (line: string) => void): unknown;
  off(event: 'line', listener: (line: string) => void): unknown;
  state?(): PortState;
}

export interface UpsOptions {
  /** recording.minBatteryPercent: a start is refused below it, and a session should not drop below it. */
  thresholdPercent: number;
  /** Warn when on battery and within this many points of the threshold (default 10). */
  warnMarginPercent?: number;
  /** Warn when on battery and the threshold is estimated this many minutes away or less (default 10). */
  warnMinutes?: number;
  /** A reading older than this counts as none (default 15 s: three missed readings at 5 s). */
  staleMs?: number;
  log?: Logger;
  now?: () => number;
}

interface Events {
  /** A new reading changed the charge or the power source, or readings went stale. */
  changed: [UpsStatus];
  /** Mains power lost or back. */
  mains: [{ onMains: boolean; percent: number }];
  /** On battery and heading for the threshold: once per level until mains power returns. */
  risk: [UpsRisk];
}

/** How much history the discharge rate is estimated from: recent enough to follow a change of load. */
const RATE_WINDOW_MS = 3 * 60_000;
const RANK: Record<RiskLevel, number> = { warning: 1, critical: 2 };

export class UpsMonitor extends EventEmitter<Events> implements BatteryMonitor {
  private readonly o: Required<UpsOptions>;
  private readonly noise: NoiseLog;
  private last: (UpsReading & { at: number }) | null = null;
  /** Readings since mains power was lost, for the discharge rate. */
  private samples: { at: number; percent: number }[] = [];
  private risk: RiskLevel | null = null;
  private staleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly link: UpsLink,
    opts: UpsOptions,
  ) {
    super();
    this.o = { warnMarginPercent: 10, warnMinutes: 10, staleMs: 15_000, log: silentLogger, now: Date.now, ...opts };
    this.noise = new NoiseLog(this.o.log, 10, this.o.now);
  }

  start(): void {
    this.link.on('line', this.onLine);
  }

  stop(): void {
    this.link.off('line', this.onLine);
    clearTimeout(this.staleTimer);
  }

  /** BatteryMonitor: the charge and power source, or undefined when the UPS has not reported lately. */
  state(): { percent: number; onMains: boolean } | undefined {
    const r = this.fresh();
    return r ? { percent: r.percent, onMains: r.onMains } : undefined;
  }

  status(): UpsStatus {
    return {
      port: this.link.state?.() ?? null,
      reading: this.last ? { percent: this.last.percent, onMains: this.last.onMains, minutesLeft: this.last.minutesLeft, at: new Date(this.last.at).toISOString() } : null,
      stale: this.fresh() === null,
      risk: this.risk,
      garbage: this.noise.total,
    };
  }

  /**
   * A pre-flight check of its own: a configured UPS that reports nothing must not pass as "no battery monitored",
   * which is what the recorder's battery check concludes from state() === undefined.
   */
  preflightCheck(): { ok: boolean; detail: string; zh: string } {
    const r = this.fresh();
    const port = this.link.state?.();
    // A reading from just before an unplug is still fresh, but nothing more will come: that is a failed check.
    if (r && (!port || port.connected)) {
      return { ok: true, detail: `UPS reporting: ${r.percent}%, ${r.onMains ? 'on mains' : 'on battery'}`, zh: `UPS 正常报告：${r.percent}%，${r.onMains ? '市电供电' : '电池供电'}` };
    }
    const why = port && !port.connected ? `its serial port ${port.path} is not connected (${port.lastError ?? 'nothing received yet'})` : 'no reading has arrived lately';
    const whyZh = port && !port.connected ? `串口 ${port.path} 未连接` : '近期没有收到读数';
    return { ok: false, detail: `the UPS reports no charge: ${why}: check its cable and power`, zh: `UPS 未报告电量（${whyZh}）：请检查其线缆和电源` };
  }

  private fresh(): (UpsReading & { at: number }) | null {
    return this.last && this.o.now() - this.last.at <= this.o.staleMs ? this.last : null;
  }

  private readonly onLine = (line: string): void => {
    const p = parseUpsLine(line);
    if (!p.ok) return this.noise.garbage(p.reason, line);
    this.reading(p.reading);
  };

  private reading(r: UpsReading): void {
    const at = this.o.now();
    // Compared with the last reading even when stale: a silent spell is not a change of power source.
    const prev = this.last;
    const wasStale = this.fresh() === null;
    this.last = { ...r, at };
    clearTimeout(this.staleTimer);
    this.staleTimer = setTimeout(() => {
      this.o.log.warn('the UPS stopped reporting', { staleMs: this.o.staleMs });
      this.emit('changed', this.status());
    }, this.o.staleMs + 10);
    this.staleTimer.unref();

    if (!prev || prev.onMains !== r.onMains) {
      if (prev || !r.onMains) {
        this.o.log[r.onMains ? 'info' : 'warn'](r.onMains ? 'mains power is back' : 'running on battery', { percent: r.percent });
        this.emit('mains', { onMains: r.onMains, percent: r.percent });
      }
      this.samples = [];
      if (r.onMains) this.risk = null;
    }
    if (!r.onMains) {
      this.samples.push({ at, percent: r.percent });
      this.samples = this.samples.filter((s) => at - s.at <= RATE_WINDOW_MS);
      this.assess(r);
    }
    if (!prev || wasStale || prev.percent !== r.percent || prev.onMains !== r.onMains) this.emit('changed', this.status());
  }

  private assess(r: UpsReading): void {
    const t = this.o.thresholdPercent;
    const rate = dischargePerMinute(this.samples);
    const fromRate = rate !== null && rate > 0 ? Math.max(0, (r.percent - t) / rate) : null;
    // The UPS's own runtime estimate is to empty, not to the threshold: scale it by the share of charge above it.
    const fromUps = r.minutesLeft !== null && r.percent > 0 ? Math.max(0, (r.minutesLeft * (r.percent - t)) / r.percent) : null;
    const minutes = fromRate ?? fromUps;
    const level: RiskLevel | null =
      r.percent <= t ? 'critical' : r.percent <= t + this.o.warnMarginPercent || (minutes !== null && minutes <= this.o.warnMinutes) ? 'warning' : null;
    if (!level || (this.risk && RANK[this.risk] >= RANK[level])) return;
    this.risk = level;
    const mins = minutes === null ? null : Math.round(minutes);
    const risk: UpsRisk = {
      level,
      percent: r.percent,
      thresholdPercent: t,
      minutesToThreshold: mins,
      zh:
        level === 'critical'
          ? `电池电量 ${r.percent}% 已低于下限 ${t}%，录制即将中断，请立即接通电源`
          : `电池供电，电量 ${r.percent}%，${mins === null ? `接近下限 ${t}%` : `约 ${mins} 分钟后降至下限 ${t}%`}，录制可能中断，请接通电源`,
      en:
        level === 'critical'
          ? `battery at ${r.percent}%, below the ${t}% minimum: recording is about to stop, connect mains power now`
          : `on battery at ${r.percent}%, ${mins === null ? `near the ${t}% minimum` : `about ${mins} min from the ${t}% minimum`}: recording may stop, connect mains power`,
    };
    this.o.log.warn('battery risk', { level, percent: r.percent, threshold: t, minutesToThreshold: mins });
    this.emit('risk', risk);
  }
}

/** Least-squares slope of charge over time in points per minute (positive while discharging), from 60 s of data. */
export function dischargePerMinute(samples: { at: number; percent: number }[]): number | null {
  if (samples.length < 3) return null;
  const t0 = samples[0]!.at;
  if (samples.at(-1)!.at - t0 < 60_000) return null;
  const xs = samples.map((s) => (s.at - t0) / 60_000);
  const ys = samples.map((s) => s.percent);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? null : -num / den;
}
