/**
 * A client for gpsd's JSON protocol over TCP (node:net; the npm gpsd packages do not build). It asks gpsd to
 * stream reports (`?WATCH={"enable":true,"json":true};`), keeps the latest usable TPV as a GpsFix for manifests,
 * and measures GPS time against the local wall clock for the GPS clock monitor. A fix whose time is further from
 * the wall clock than the tolerance is refused (fix-time.ts): not a fix for manifests, logged once per episode.
 *
 * Robustness is the point: gpsd may not be running yet, may restart, and a broken receiver or a stranger on the
 * port may send anything. The client reconnects with backoff (1 s doubling to 30 s), ignores bad lines (logged once
 * per kind, counted in status()), and never throws or emits 'error'.
 */
import { EventEmitter } from 'node:events';
import { Socket } from 'node:net';
import type { GpsFix } from '../../evidence/types.js';
import { silentLogger, type Logger } from '../../util/log.js';
import { DEFAULT_FIX_TIME_TOLERANCE_MS, FixTimeCheck, type FixTimeStatus } from './fix-time.js';

/** One comparison of GPS time with the local wall clock, taken when a TPV with a fix arrives. */
export interface GpsTimeSample {
  /** TPV time minus the local wall clock at receipt, ms. Positive: the local clock is behind GPS. Includes the
   * receiver's and gpsd's reporting latency (NMEA without PPS: typically tens to a few hundred ms). */
  offsetMs: number;
  /** The TPV's time, ISO. */
  gpsTime: string;
  /** Monotonic ms (performance.now()) at receipt: ages samples without trusting the wall clock. */
  receivedAt: number;
  mode: 2 | 3;
}

export interface GpsdClientEvents {
  /** Every accepted fix (mode 2 or 3, with a time that agrees with the wall clock), as it arrives. */
  fix: [GpsFix];
  /** Having a fix changed: a fix was acquired (the fix) or lost (null: a no-fix TPV, or no fix for maxFixAgeMs). */
  change: [GpsFix | null];
  /** A GPS-time sample, with every fix that has a time, refused or not (the GPS clock judges the offset itself). */
  time: [GpsTimeSample];
  /** gpsd answered (its VERSION banner arrived). */
  connected: [{ release: string }];
  /** An established connection ended; reconnecting follows unless stopped. */
  disconnected: [{ reason: string }];
}

export interface GpsdClientOptions {
  /** gpsd as "host:port" (config gps.gpsd). */
  address: string;
  log?: Logger;
  /** A fix older than this (by receipt, monotonic) no longer counts. Default 10 s. */
  maxFixAgeMs?: number;
  /** A fix whose time differs from the wall clock at receipt by more than this is refused (config
   * gps.fixTimeToleranceMs, never below time.maxOffsetMs). Default 5 s. */
  fixTimeToleranceMs?: number;
  /** Reconnect delay, doubling from min to max. Defaults 1 s and 30 s. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Give up a connect attempt, or a connection without gpsd's VERSION banner, after this long. Default 5 s. */
  connectTimeoutMs?: number;
  /** Wall clock (ms since the epoch) for the GPS-time offset; injectable for tests. Default Date.now. */
  wallClock?: () => number;
  /** Monotonic clock (ms) for ageing; injectable for tests. Default performance.now. */
  monotonic?: () => number;
}

export type BadLineKind = 'not-json' | 'no-class' | 'unknown-class' | 'bad-tpv' | 'fix-without-time' | 'too-long' | 'gpsd-error';

export interface GpsdStatus {
  address: string;
  connected: boolean;
  /** gpsd's release, once it answered. */
  release?: string;
  fix: GpsFix | null;
  /** Why the last connection attempt or connection failed, while not connected. */
  lastError?: string;
  /** Ignored input by kind, since construction. */
  badLines: Partial<Record<BadLineKind, number>>;
  /** Fixes refused for their time: the tolerance, how many, and the current episode. */
  fixTime: FixTimeStatus;
}

const WATCH = '?WATCH={"enable":true,"json":true};\n';
// gpsd's longest reports (SKY with many satellites, DEVICES) are a few KiB; anything far longer is not gpsd.
const MAX_LINE = 64 * 1024;
// Report classes gpsd 3.x may send; others are logged once as unknown (and otherwise harmless).
const KNOWN_CLASSES = new Set([
  'VERSION', 'DEVICES', 'DEVICE', 'WATCH', 'TPV', 'SKY', 'GST', 'ATT', 'IMU', 'TOFF', 'PPS', 'OSC', 'POLL',
  'ERROR', 'RTCM2', 'RTCM3', 'AIS', 'SUBFRAME', 'RAW', 'NMEA',
]);
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

export function parseGpsdAddress(address: string): { host: string; port: number } {
  const m = /^([^:]+):(\d{1,5})$/.exec(address.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) throw new Error(`gpsd address ${JSON.stringify(address)} is not host:port`);
  return { host: m[1] as string, port };
}

export type TpvResult =
  | { kind: 'fix'; fix: GpsFix; timeMs: number }
  | { kind: 'no-fix' }
  | { kind: 'fix-without-time' }
  | { kind: 'bad'; why: string };

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * A gpsd TPV report as a fix, a no-fix, or nonsense (pure; exported for tests). gpsd's `alt` is deprecated in
 * favour of altMSL (height above mean sea level, what people mean by altitude); eph falls back to the larger of
 * epx/epy, the conservative horizontal error.
 */
export function parseTpv(tpv: Record<string, unknown>): TpvResult {
  const mode = tpv.mode;
  if (!finite(mode) || !Number.isInteger(mode) || mode < 0 || mode > 3) return { kind: 'bad', why: `mode ${JSON.stringify(mode)}` };
  if (mode < 2) return { kind: 'no-fix' };
  const { lat, lon } = tpv;
  if (!finite(lat) || lat < -90 || lat > 90) return { kind: 'bad', why: `lat ${JSON.stringify(lat)}` };
  if (!finite(lon) || lon < -180 || lon > 180) return { kind: 'bad', why: `lon ${JSON.stringify(lon)}` };
  const alt = tpv.altMSL ?? tpv.alt;
  if (alt !== undefined && (!finite(alt) || alt < -12_000 || alt > 100_000)) return { kind: 'bad', why: `alt ${JSON.stringify(alt)}` };
  const errs: number[] = [];
  for (const k of ['eph', 'epx', 'epy'] as const) {
    const v = tpv[k];
    if (v === undefined) continue;
    if (!finite(v) || v < 0 || v > 1e7) return { kind: 'bad', why: `${k} ${JSON.stringify(v)}` };
  }
  const eph = finite(tpv.eph) ? tpv.eph : undefined;
  if (eph === undefined) for (const k of ['epx', 'epy'] as const) if (finite(tpv[k])) errs.push(tpv[k] as number);
  const time = tpv.time;
  // A fix cannot be dated without time (gpsd reports such TPVs for receivers that send a position with an
  // invalid status); the manifest needs the fix's time, so it does not count as a fix.
  if (time === undefined) return { kind: 'fix-without-time' };
  const timeMs = typeof time === 'string' && ISO_UTC.test(time) ? Date.parse(time) : NaN;
  if (!Number.isFinite(timeMs)) return { kind: 'bad', why: `time ${JSON.stringify(time)}` };
  const fix: GpsFix = { lat, lon, mode, time: new Date(timeMs).toISOString() };
  if (mode === 3 && alt !== undefined) fix.alt = alt as number;
  if (eph !== undefined) fix.eph = eph;
  else if (errs.length) fix.eph = Math.max(...errs);
  return { kind: 'fix', fix, timeMs };
}

/**
 * The recorder's GpsProvider (`fix()`), with start()/stop(). Construct, subscribe, start; stop() closes the
 * connection, cancels reconnecting and forgets the fix; start() again reconnects.
 */
export class GpsdClient extends EventEmitter<GpsdClientEvents> {
  private readonly host: string;
  private readonly port: number;
  private readonly log: Logger;
  private readonly maxFixAgeMs: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly connectTimeoutMs: number;
  private readonly wall: () => number;
  private readonly mono: () => number;

  private running = false;
  private socket: Socket | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private staleTimer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private answered = false;
  private release: string | undefined;
  private failuresInARow = 0;
  private lastError: string | undefined;
  private buffer = '';
  private skippingLongLine = false;
  private latest: { fix: GpsFix; at: number } | null = null;
  /** Whether listeners were last told "fix" by 'change' (so that acquired/lost alternate). */
  private announced = false;
  private readonly badCounts: Partial<Record<BadLineKind, number>> = {};
  private readonly fixTime: FixTimeCheck;

  constructor(private readonly opts: GpsdClientOptions) {
    super();
    const { host, port } = parseGpsdAddress(opts.address);
    this.host = host;
    this.port = port;
    this.log = opts.log ?? silentLogger;
    this.maxFixAgeMs = opts.maxFixAgeMs ?? 10_000;
    this.minBackoffMs = opts.minBackoffMs ?? 1_000;
    this.maxBackoffMs = opts.maxBackoffMs ?? 30_000;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 5_000;
    this.wall = opts.wallClock ?? Date.now;
    this.mono = opts.monotonic ?? (() => performance.now());
    this.backoffMs = this.minBackoffMs;
    this.fixTime = new FixTimeCheck(opts.fixTimeToleranceMs ?? DEFAULT_FIX_TIME_TOLERANCE_MS, this.log, { gpsd: opts.address });
  }

  /** The latest fix, or null: none yet, the last report said no fix, or it is older than maxFixAgeMs. */
  fix(): GpsFix | null {
    if (!this.latest) return null;
    return this.mono() - this.latest.at <= this.maxFixAgeMs ? this.latest.fix : null;
  }

  /** For status and pre-flight. */
  status(): GpsdStatus {
    return {
      address: this.opts.address,
      connected: this.answered,
      ...(this.release ? { release: this.release } : {}),
      fix: this.fix(),
      ...(!this.answered && this.lastError ? { lastError: this.lastError } : {}),
      badLines: { ...this.badCounts },
      fixTime: this.fixTime.status(),
    };
  }

  /** Starts connecting (and reconnecting) in the background; gpsd need not be running yet. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.backoffMs = this.minBackoffMs;
    this.failuresInARow = 0;
    this.connect();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    clearTimeout(this.staleTimer);
    this.staleTimer = undefined;
    const s = this.socket;
    this.socket = undefined;
    s?.destroy();
    this.answered = false;
    this.latest = null;
    this.announced = false;
    this.buffer = '';
    this.skippingLongLine = false;
    this.fixTime.reset('the gpsd client stopped');
  }

  private connect(): void {
    const s = new Socket();
    this.socket = s;
    this.answered = false;
    this.buffer = '';
    this.skippingLongLine = false;
    s.setEncoding('utf8');
    s.setTimeout(this.connectTimeoutMs, () => s.destroy(new Error(`no connection within ${this.connectTimeoutMs} ms`)));
    s.once('connect', () => {
      s.setTimeout(0);
      // A gpsd on another host that vanishes without a FIN is noticed by keepalive instead of never.
      s.setKeepAlive(true, 10_000);
      s.write(WATCH);
      // gpsd greets at once with VERSION; something else on the port (or a hung gpsd) is hung up on and retried.
      const banner = setTimeout(() => {
        if (this.socket === s && !this.answered) s.destroy(new Error(`no VERSION banner within ${this.connectTimeoutMs} ms: not gpsd?`));
      }, this.connectTimeoutMs);
      banner.unref();
      s.once('close', () => clearTimeout(banner));
    });
    s.on('data', (chunk: string) => {
      if (this.socket === s) this.onData(chunk);
    });
    s.on('error', (err: Error) => {
      this.lastError = err.message;
    });
    s.on('close', () => this.onClose(s));
    s.connect(this.port, this.host);
  }

  private onClose(s: Socket): void {
    if (this.socket !== s) return; // stopped, or an old socket
    this.socket = undefined;
    const wasAnswered = this.answered;
    this.answered = false;
    if (wasAnswered) {
      const reason = this.lastError ?? 'connection closed';
      this.fixTime.reset('the connection to gpsd ended');
      this.log.warn('lost the connection to gpsd; reconnecting', { gpsd: this.opts.address, reason });
      this.emit('disconnected', { reason });
    } else {
      this.failuresInARow++;
      // Once per outage at warn; gpsd may simply be starting after us, and a 30 s retry loop should not flood the journal.
      if (this.failuresInARow === 1) this.log.warn('cannot reach gpsd; retrying with backoff', { gpsd: this.opts.address, reason: this.lastError ?? 'closed before answering' });
      else this.log.debug('gpsd still unreachable', { gpsd: this.opts.address, reason: this.lastError, retryInMs: this.backoffMs });
    }
    if (!this.running) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.maxBackoffMs);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.running) this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  private onData(chunk: string): void {
    const receivedWall = this.wall();
    let start = 0;
    while (true) {
      const nl = chunk.indexOf('\n', start);
      if (nl < 0) break;
      const piece = chunk.slice(start, nl);
      start = nl + 1;
      if (this.skippingLongLine) {
        this.skippingLongLine = false;
        this.buffer = '';
        continue;
      }
      const line = (this.buffer + piece).replace(/\r$/, '');
      this.buffer = '';
      if (line.length > MAX_LINE) this.bad('too-long', line.slice(0, 120), `a line longer than ${MAX_LINE} bytes`);
      else if (line.trim()) this.onLine(line, receivedWall);
    }
    if (this.skippingLongLine) return;
    this.buffer += chunk.slice(start);
    if (this.buffer.length > MAX_LINE) {
      this.bad('too-long', this.buffer.slice(0, 120), `a line longer than ${MAX_LINE} bytes`);
      this.buffer = '';
      this.skippingLongLine = true;
    }
  }

  private onLine(line: string, receivedWall: number): void {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      this.bad('not-json', line, 'a line that is not JSON');
      return;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg) || typeof (msg as { class?: unknown }).class !== 'string') {
      this.bad('no-class', line, 'a JSON line without a class');
      return;
    }
    const m = msg as Record<string, unknown> & { class: string };
    switch (m.class) {
      case 'VERSION':
        this.onVersion(m);
        return;
      case 'TPV':
        this.onTpv(m, line, receivedWall);
        return;
      case 'ERROR':
        this.bad('gpsd-error', line, 'an ERROR report from gpsd');
        return;
      default:
        if (!KNOWN_CLASSES.has(m.class)) this.bad('unknown-class', line, `a report of unknown class ${JSON.stringify(m.class).slice(0, 40)}`);
    }
  }

  private onVersion(m: Record<string, unknown>): void {
    if (this.answered) return;
    this.answered = true;
    this.release = typeof m.release === 'string' ? m.release : 'unknown';
    this.lastError = undefined;
    this.backoffMs = this.minBackoffMs;
    this.failuresInARow = 0;
    this.log.info('connected to gpsd', { gpsd: this.opts.address, release: this.release });
    this.emit('connected', { release: this.release });
  }

  private onTpv(tpv: Record<string, unknown>, line: string, receivedWall: number): void {
    const r = parseTpv(tpv);
    switch (r.kind) {
      case 'bad':
        this.bad('bad-tpv', line, `a TPV with nonsense (${r.why})`);
        return;
      case 'fix-without-time':
        this.bad('fix-without-time', line, 'a TPV with a position but no time');
        this.drop('no fix');
        return;
      case 'no-fix':
        this.drop('no fix');
        return;
      case 'fix': {
        const at = this.mono();
        // Refused fixes are time samples too: with time.source "gps" that is how the clock learns it disagrees.
        this.emit('time', { offsetMs: r.timeMs - receivedWall, gpsTime: r.fix.time, receivedAt: at, mode: r.fix.mode === 3 ? 3 : 2 });
        if (!this.fixTime.check(r.fix.time, r.timeMs, receivedWall).ok) {
          // The position at some other time: forget the last good fix too, or it would stand in for up to maxFixAgeMs.
          this.drop('the fix time disagrees with the gateway clock');
          return;
        }
        this.latest = { fix: r.fix, at };
        this.armStaleTimer();
        this.emit('fix', r.fix);
        if (!this.announced) {
          this.announced = true;
          this.log.info('GPS fix acquired', { mode: r.fix.mode, eph: r.fix.eph });
          this.emit('change', r.fix);
        }
      }
    }
  }

  private armStaleTimer(): void {
    if (this.staleTimer) {
      this.staleTimer.refresh();
      return;
    }
    // Fires maxFixAgeMs after the latest fix (refresh() restarts it), so 'change' reports a fix that went stale
    // even when no report arrives at all; +5 ms so that fix() already answers null when it runs.
    this.staleTimer = setTimeout(() => {
      this.staleTimer = undefined;
      if (!this.latest) return;
      if (this.fix() === null) this.drop(`no fix for ${this.maxFixAgeMs} ms`);
      else this.armStaleTimer();
    }, this.maxFixAgeMs + 5);
    this.staleTimer.unref();
  }

  private drop(why: string): void {
    this.latest = null;
    clearTimeout(this.staleTimer);
    this.staleTimer = undefined;
    if (!this.announced) return;
    this.announced = false;
    this.log.info('GPS fix lost', { why });
    this.emit('change', null);
  }

  private bad(kind: BadLineKind, line: string, what: string): void {
    const n = (this.badCounts[kind] ?? 0) + 1;
    this.badCounts[kind] = n;
    // Once per kind: a receiver that babbles would otherwise fill the journal; status() keeps counting.
    if (n === 1) this.log.warn(`ignoring ${what} from gpsd (logged once; counted in status)`, { gpsd: this.opts.address, kind, line: line.slice(0, 200) });
  }
}
