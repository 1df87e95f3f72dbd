/**
 * The UPS or battery monitor, whatever the readings travel by (a serial line, src/hal/serial/ups.ts; NUT's upsd,
 * nut-feed.ts). Feeds pre-flight and status through the recorder's BatteryMonitor interface, warns before a running
 * session would lose power (a falling charge on battery raises a risk event while there is still time to connect
 * mains power), and says when the power is about to go: 'low' when the UPS reports LB (low battery) while on
 * battery, or the charge or runtime on battery falls to its limit, or the UPS is in forced shutdown (FSD); 'restored'
 * only when it is on mains again (and not in FSD), so a charge that wobbles around a limit does not flap.
 */
import { EventEmitter } from 'node:events';
import type { BatteryMonitor, PowerLow } from '../../recorder/recorder.js';
import { silentLogger, type Logger } from '../../util/log.js';

export interface UpsReading {
  percent: number;
  onMains: boolean;
  /** The UPS's own runtime estimate, when it sends one. */
  minutesLeft: number | null;
  /** NUT: ups.status as the UPS reported it (e.g. "OB LB"). */
  status?: string;
  /** NUT: LB, the UPS's own low-battery flag. */
  lowBattery?: boolean;
  /** NUT: FSD, forced shutdown: the UPS will cut the power (upsmon's primary decided so). */
  forcedShutdown?: boolean;
}

/** Where readings come from, as status and pre-flight name it. */
export interface UpsLinkState {
  kind: 'serial' | 'nut';
  /** The serial port's path, or ups@host:port. */
  where: string;
  connected: boolean;
  lastError: string | null;
  /** Input that was not a reading (garbled lines or answers), since start. */
  garbage: number;
  /** NUT with a user: logged in to the UPS, refused, or logged out for a forced shutdown. */
  login?: 'none' | 'logged-in' | 'refused' | 'released';
}

/** A source of readings: SerialUpsFeed or NutUpsFeed. */
export interface UpsFeed {
  on(event: 'reading', listener: (r: UpsReading) => void): unknown;
  off(event: 'reading', listener: (r: UpsReading) => void): unknown;
  link(): UpsLinkState;
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

/** The power is about to go: what the recorder records (PowerLow) and the reading behind it. */
export interface UpsLow extends PowerLow {
  percent: number;
  minutesLeft: number | null;
  /** What the UPS says, in a phrase (the text adds what the gateway does about it). */
  zh: string;
  en: string;
}

export interface UpsStatus {
  link: UpsLinkState;
  /** The latest reading, with its time; null before the first. */
  reading: (UpsReading & { at: string }) | null;
  /** No reading for longer than staleMs: state() reports nothing. */
  stale: boolean;
  risk: RiskLevel | null;
  /** Set from 'low' until 'restored'. */
  low: UpsLow | null;
}

export interface UpsOptions {
  /** recording.minBatteryPercent: a start is refused below it, and a session should not drop below it. */
  thresholdPercent: number;
  /** power.lowBatteryPercent: on battery at or below this charge the power is about to go (default 10). */
  lowBatteryPercent?: number;
  /** power.lowRuntimeSeconds: on battery with the UPS's runtime estimate at or below this, likewise (default 120). */
  lowRuntimeSeconds?: number;
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
  /** The power is about to go (once, until 'restored'; again if it becomes a forced shutdown). */
  low: [UpsLow];
  /** On mains again after 'low'. */
  restored: [{ percent: number }];
}

/** How much history the discharge rate is estimated from: recent enough to follow a change of load. */
const RATE_WINDOW_MS = 3 * 60_000;
const RANK: Record<RiskLevel, number> = { warning: 1, critical: 2 };

export class UpsMonitor extends EventEmitter<Events> implements BatteryMonitor {
  private readonly o: Required<UpsOptions>;
  private last: (UpsReading & { at: number }) | null = null;
  /** Readings since mains power was lost, for the discharge rate. */
  private samples: { at: number; percent: number }[] = [];
  private risk: RiskLevel | null = null;
  private low: UpsLow | null = null;
  private staleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly feed: UpsFeed,
    opts: UpsOptions,
  ) {
    super();
    this.o = { lowBatteryPercent: 10, lowRuntimeSeconds: 120, warnMarginPercent: 10, warnMinutes: 10, staleMs: 15_000, log: silentLogger, now: Date.now, ...opts };
  }

  start(): void {
    this.feed.on('reading', this.reading);
  }

  stop(): void {
    this.feed.off('reading', this.reading);
    clearTimeout(this.staleTimer);
  }

  /** BatteryMonitor: the charge and power source, or undefined when the UPS has not reported lately. */
  state(): { percent: number; onMains: boolean } | undefined {
    const r = this.fresh();
    return r ? { percent: r.percent, onMains: r.onMains } : undefined;
  }

  /** The power is about to go (since 'low', until 'restored'), or null. */
  lowPower(): UpsLow | null {
    return this.low;
  }

  status(): UpsStatus {
    const l = this.last;
    return {
      link: this.feed.link(),
      reading: l ? { ...l, at: new Date(l.at).toISOString() } : null,
      stale: this.fresh() === null,
      risk: this.risk,
      low: this.low,
    };
  }

  /**
   * A pre-flight check of its own: a configured UPS that reports nothing must not pass as "no battery monitored",
   * which is what the recorder's battery check concludes from state() === undefined; nor may a start pass when the
   * power is about to go (recording would stop at once).
   */
  preflightCheck(): { ok: boolean; detail: string; zh: string } {
    const r = this.fresh();
    const link = this.feed.link();
    if (this.low) {
      return { ok: false, detail: `${this.low.en}: recording would stop at once; connect mains power`, zh: `${this.low.zh}：录制会立即中断，请接通市电` };
    }
    // A reading from just before an unplug is still fresh, but nothing more will come: that is a failed check.
    if (r && link.connected) {
      return { ok: true, detail: `UPS reporting: ${r.percent}%, ${r.onMains ? 'on mains' : 'on battery'}`, zh: `UPS 正常报告：${r.percent}%，${r.onMains ? '市电供电' : '电池供电'}` };
    }
    const via = link.kind === 'serial' ? { en: `its serial port ${link.where}`, zh: `串口 ${link.where}` } : { en: `upsd (${link.where})`, zh: `upsd（${link.where}）` };
    const why = !link.connected ? `${via.en} is not connected (${link.lastError ?? 'nothing received yet'})` : link.lastError ? `no usable reading lately (${link.lastError})` : 'no reading has arrived lately';
    const whyZh = !link.connected ? `${via.zh} 未连接` : link.lastError ? `近期没有可用读数：${link.lastError}` : '近期没有收到读数';
    const fix = link.kind === 'serial' ? 'check its cable and power' : 'check upsd, the UPS driver and the UPS (upsc NAME@HOST:PORT)';
    const fixZh = link.kind === 'serial' ? '请检查其线缆和电源' : '请检查 upsd、UPS 驱动及 UPS（upsc 名称@主机:端口）';
    return { ok: false, detail: `the UPS reports no charge: ${why}: ${fix}`, zh: `UPS 未报告电量（${whyZh}）：${fixZh}` };
  }

  private fresh(): (UpsReading & { at: number }) | null {
    return this.last && this.o.now() - this.last.at <= this.o.staleMs ? this.last : null;
  }

  private readonly reading = (r: UpsReading): void => {
    const at = this.o.now();
    // Compared with the last reading even when stale: a silent spell is not a change of power source.
    const prev = this.last;
    const wasStale = this.fresh() === null;
    this.last = { ...r, at };
    clearTimeout(this.staleTimer);
    this.staleTimer = setTimeout(() => {
      this.o.log.warn('the UPS stopped reporting', { ups: this.feed.link().where, staleMs: this.o.staleMs, ...(this.low ? { low: 'still treated as about to lose power' } : {}) });
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
    this.judgeLow(r);
    if (!prev || wasStale || prev.percent !== r.percent || prev.onMains !== r.onMains || prev.status !== r.status) this.emit('changed', this.status());
  };

  private judgeLow(r: UpsReading): void {
    const now = lowWords(r, this.o);
    if (now && (!this.low || (now.forcedShutdown && !this.low.forcedShutdown))) {
      this.low = now;
      this.o.log.error('the power is about to go: recording stops and what was recorded is sealed', { cause: now.cause, technical: now.technical });
      this.emit('low', now);
    } else if (this.low && r.onMains && !r.forcedShutdown) {
      this.low = null;
      this.o.log.warn('mains power is back after low battery: recording may resume', { percent: r.percent });
      this.emit('restored', { percent: r.percent });
    }
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

/**
 * Whether this reading means the power is about to go, and why in words (pure). The order is the order of
 * certainty: a forced shutdown will cut the power whatever the charge; the UPS's own LB comes next (upsmon shuts
 * systems down on "OB LB"); then our own limits on charge and runtime, for UPSes whose LB comes late.
 */
export function lowWords(r: UpsReading, o: { lowBatteryPercent: number; lowRuntimeSeconds: number }): UpsLow | null {
  const secondsLeft = r.minutesLeft === null ? null : Math.round(r.minutesLeft * 60);
  const left = secondsLeft === null ? '' : `，剩余约 ${secondsLeft} 秒`;
  const leftEn = secondsLeft === null ? '' : `, about ${secondsLeft} s left`;
  const technical = `ups.status ${JSON.stringify(r.status ?? (r.onMains ? 'ONLINE' : 'ONBATT'))}, battery.charge ${r.percent}${secondsLeft === null ? '' : `, battery.runtime ${secondsLeft}`}`;
  const base = { percent: r.percent, minutesLeft: r.minutesLeft, technical };
  const said = (cause: string, zh: string, en: string, forcedShutdown = false): UpsLow => ({
    ...base,
    cause,
    forcedShutdown,
    zh,
    en,
    text: `${zh}：停止录制并封存已录内容，以免断电丢失`,
  });
  if (r.forcedShutdown) {
    return said('ups-forced-shutdown', `不间断电源已下达强制关机（FSD），即将断电，电量 ${r.percent}%`, `the UPS is in forced shutdown (FSD) at ${r.percent}%: the power will be cut`, true);
  }
  if (r.onMains) return null;
  if (r.lowBattery) return said('ups-low-battery', `不间断电源报告电池电量低（LB），电量 ${r.percent}%${left}`, `the UPS reports low battery (LB) at ${r.percent}%${leftEn}`);
  if (r.percent <= o.lowBatteryPercent) {
    return said('battery-charge-low', `电池电量 ${r.percent}%，已降至停止录制的下限 ${o.lowBatteryPercent}%${left}`, `the battery is at ${r.percent}%, at or below the ${o.lowBatteryPercent}% limit${leftEn}`);
  }
  if (secondsLeft !== null && secondsLeft <= o.lowRuntimeSeconds) {
    return said(
      'battery-runtime-low',
      `电池剩余运行时间约 ${secondsLeft} 秒，已降至下限 ${o.lowRuntimeSeconds} 秒，电量 ${r.percent}%`,
      `about ${secondsLeft} s of battery left at ${r.percent}%, at or below the ${o.lowRuntimeSeconds} s limit`,
    );
  }
  return null;
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
