/**
 * Whether NTP keeps this host's clock, read from the tools a Raspberry Pi OS / Debian host has: chrony
 * (`chronyc -c tracking`, which gives the offset) or, failing that, systemd (`timedatectl show`, which gives only
 * the kernel's synchronised flag; `timedatectl show-timesync` adds the server for the log). Parsers are pure and
 * exported for tests; probeNtp() runs the tools through an injectable runner.
 */
import { execFile } from 'node:child_process';
import type { ClockState } from '../../evidence/types.js';

export type LeapStatus = 'Normal' | 'Insert second' | 'Delete second' | 'Not synchronised';

/** `chronyc -c tracking`, one CSV line of 14 fields (chrony's print_report in CSV mode). */
export interface ChronyTracking {
  refId: string;
  refName: string;
  stratum: number;
  /** Time of the last measurement, seconds since the epoch. */
  refTime: number;
  /** "System time": true time minus system time, seconds (chrony prints it positive when the clock is slow). */
  offsetS: number;
  lastOffsetS: number;
  rmsOffsetS: number;
  frequencyPpm: number;
  residualFreqPpm: number;
  skewPpm: number;
  rootDelayS: number;
  rootDispersionS: number;
  updateIntervalS: number;
  leap: string;
}

/** chrony's reference ID when it serves its own clock (`local` directive): not synchronised to anything. */
const CHRONY_LOCAL_REFID = '7F7F0101';

export function parseChronyTracking(stdout: string): ChronyTracking | null {
  const line = stdout.split('\n').find((l) => l.trim() !== '');
  if (!line) return null;
  const f = line.trim().split(',');
  if (f.length !== 14) return null;
  const nums = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((i) => Number(f[i]));
  if (nums.some((n) => !Number.isFinite(n)) || !/^[0-9A-Fa-f]{8}$/.test(f[0] as string)) return null;
  const [stratum, refTime, offsetS, lastOffsetS, rmsOffsetS, frequencyPpm, residualFreqPpm, skewPpm, rootDelayS, rootDispersionS, updateIntervalS] = nums as [
    number, number, number, number, number, number, number, number, number, number, number,
  ];
  return {
    refId: (f[0] as string).toUpperCase(),
    refName: f[1] as string,
    stratum,
    refTime,
    offsetS,
    lastOffsetS,
    rmsOffsetS,
    frequencyPpm,
    residualFreqPpm,
    skewPpm,
    rootDelayS,
    rootDispersionS,
    updateIntervalS,
    leap: f[13] as string,
  };
}

/**
 * chrony's view as a ClockState. Synchronised needs a real reference (leap status not "Not synchronised", not
 * the local-clock fallback) and a worst-case error within maxOffsetMs: |offset| + root delay/2 + root dispersion
 * (chrony's own bound; dispersion grows while the servers are unreachable, so an offline unit drifts out of sync).
 */
export function chronyClockState(t: ChronyTracking, maxOffsetMs: number): ClockState & { maxErrorMs: number } {
  const offsetMs = round3(t.offsetS * 1000);
  const maxErrorMs = round3((Math.abs(t.offsetS) + t.rootDelayS / 2 + t.rootDispersionS) * 1000);
  if (t.leap === 'Not synchronised' || t.refId === '00000000' || t.refId === CHRONY_LOCAL_REFID) {
    return { source: 'rtc', synced: false, maxErrorMs };
  }
  return { source: 'ntp', synced: maxErrorMs <= maxOffsetMs, offsetMs, maxErrorMs };
}

/** systemd's `Key=Value` lines (the first `=` splits; values may contain more). */
export function parseKeyValues(stdout: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const raw of stdout.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const eq = line.indexOf('=');
    if (eq > 0) m.set(line.slice(0, eq).trim(), line.slice(eq + 1));
  }
  return m;
}

const yesNo = (v: string | undefined): boolean | undefined => (v === 'yes' ? true : v === 'no' ? false : undefined);

export interface TimedatectlShow {
  /** The kernel's "clock synchronised" flag (cleared by chrony or timesyncd when in sync). */
  ntpSynchronized: boolean;
  /** Whether an NTP service is enabled. */
  ntp?: boolean;
  canNtp?: boolean;
  timezone?: string;
}

/** `timedatectl show`; null when it has no NTPSynchronized (not a timedatectl answer). */
export function parseTimedatectlShow(stdout: string): TimedatectlShow | null {
  const kv = parseKeyValues(stdout);
  const synced = yesNo(kv.get('NTPSynchronized'));
  if (synced === undefined) return null;
  const out: TimedatectlShow = { ntpSynchronized: synced };
  const ntp = yesNo(kv.get('NTP'));
  if (ntp !== undefined) out.ntp = ntp;
  const canNtp = yesNo(kv.get('CanNTP'));
  if (canNtp !== undefined) out.canNtp = canNtp;
  const tz = kv.get('Timezone');
  if (tz) out.timezone = tz;
  return out;
}

export interface Timesync {
  serverName?: string;
  serverAddress?: string;
  /** NTP leap indicator of the last reply: 3 means the server itself is unsynchronised. */
  leap?: number;
  stratum?: number;
  rootDelayMs?: number;
  rootDispersionMs?: number;
  jitterMs?: number;
  /** timesyncd received the reply but refused it (root distance too large and the like). */
  ignored?: boolean;
  packetCount?: number;
}

/** A systemd duration as printed in NTPMessage ("21.499ms", "244us", "0", "1.5s", "1min 4s") in ms. */
export function parseSystemdDurationMs(v: string): number | undefined {
  const s = v.trim();
  if (s === '0') return 0;
  let total = 0;
  let matched = false;
  for (const part of s.split(/\s+/)) {
    const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|min|h)$/.exec(part);
    if (!m) return undefined;
    matched = true;
    const n = Number(m[1]);
    const unit = m[2] as string;
    total += n * ({ ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1e3, min: 60e3, h: 3600e3 } as Record<string, number>)[unit]!;
  }
  return matched ? round3(total) : undefined;
}

/**
 * `timedatectl show-timesync` (systemd-timesyncd). Its NTPMessage is `{ Key=Value, ... }` with human timestamps of
 * one-second resolution (so no offset can be computed from them) and, in some systemd versions, a missing comma
 * ("Ignored=no PacketCount=7"): keys are found by `Word=`, not by splitting on commas.
 */
export function parseTimesync(stdout: string): Timesync {
  const kv = parseKeyValues(stdout);
  const out: Timesync = {};
  const name = kv.get('ServerName');
  if (name) out.serverName = name;
  const addr = kv.get('ServerAddress');
  if (addr) out.serverAddress = addr;
  const msg = kv.get('NTPMessage');
  if (msg) {
    const inner = msg.trim().replace(/^\{/, '').replace(/\}$/, '');
    const keys = [...inner.matchAll(/(?:^|[\s,])([A-Z][A-Za-z]*)=/g)];
    const fields = new Map<string, string>();
    keys.forEach((k, i) => {
      const start = (k.index ?? 0) + k[0].length;
      const end = i + 1 < keys.length ? (keys[i + 1]!.index ?? inner.length) : inner.length;
      fields.set(k[1] as string, inner.slice(start, end).replace(/[\s,]+$/, '').trim());
    });
    const int = (k: string): number | undefined => {
      const v = fields.get(k);
      return v !== undefined && /^-?\d+$/.test(v) ? Number(v) : undefined;
    };
    const dur = (k: string): number | undefined => {
      const v = fields.get(k);
      return v === undefined ? undefined : parseSystemdDurationMs(v);
    };
    const set = <K extends keyof Timesync>(k: K, v: Timesync[K] | undefined): void => {
      if (v !== undefined) out[k] = v;
    };
    set('leap', int('Leap'));
    set('stratum', int('Stratum'));
    set('rootDelayMs', dur('RootDelay'));
    set('rootDispersionMs', dur('RootDispersion'));
    set('jitterMs', dur('Jitter'));
    set('ignored', yesNo(fields.get('Ignored')));
    set('packetCount', int('PacketCount'));
  }
  return out;
}

export interface CommandResult {
  /** Exit code; null when the command could not run or was killed (timeout). */
  code: number | null;
  stdout: string;
  stderr: string;
  /** Why it did not run or finish (ENOENT, timeout), if so. */
  error?: string;
}
export type CommandRunner = (cmd: string, args: string[]) => Promise<CommandResult>;

/** Runs a system tool with a 5 s limit in the C locale (so that output is parseable), never rejecting. */
export const runCommand: CommandRunner = (cmd, args) =>
  new Promise((resolve) => {
    execFile(cmd, args, { timeout: 5_000, env: { ...process.env, LC_ALL: 'C' }, maxBuffer: 256 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve({ code: 0, stdout, stderr });
      const e = err as NodeJS.ErrnoException & { code?: unknown; killed?: boolean };
      resolve({
        code: typeof e.code === 'number' ? e.code : null,
        stdout: stdout ?? '',
        stderr: stderr ?? '',
        error: e.killed ? 'timed out' : typeof e.code === 'string' ? e.code : e.message,
      });
    });
  });

export interface NtpProbeResult {
  /** What answered: chrony, timedatectl (the kernel flag via systemd), or nothing. */
  via: 'chrony' | 'timedatectl' | 'none';
  state: ClockState;
  /** For the log and status: the tool's numbers, or why nothing answered. */
  detail: Record<string, unknown>;
}

const firstLine = (s: string): string => s.trim().split('\n')[0]?.slice(0, 200) ?? '';

/**
 * chrony first (it knows the offset); timedatectl when chronyc is missing or chronyd is not running; otherwise the
 * clock runs on its RTC alone and is not synchronised.
 */
export async function probeNtp(run: CommandRunner, maxOffsetMs: number): Promise<NtpProbeResult> {
  // -n: no DNS lookups (a slow resolver must not stall the probe); CSV gives the signed offset.
  const chrony = await run('chronyc', ['-c', '-n', 'tracking']);
  const tracking = chrony.code === 0 ? parseChronyTracking(chrony.stdout) : null;
  if (tracking) {
    const { maxErrorMs, ...state } = chronyClockState(tracking, maxOffsetMs);
    return {
      via: 'chrony',
      state,
      detail: { ref: tracking.refName || tracking.refId, stratum: tracking.stratum, leap: tracking.leap, offsetMs: round3(tracking.offsetS * 1000), maxErrorMs },
    };
  }
  const chronyWhy = chrony.error ?? (chrony.code === 0 ? 'unparseable output' : firstLine(chrony.stderr || chrony.stdout) || `exit ${chrony.code}`);

  const show = await run('timedatectl', ['show']);
  const parsed = show.code === 0 ? parseTimedatectlShow(show.stdout) : null;
  if (parsed) {
    const detail: Record<string, unknown> = { ntpService: parsed.ntp, chrony: chronyWhy };
    if (parsed.ntpSynchronized) {
      // Optional: who timesyncd talks to, for the log. Absent with chrony or older systemd; that is fine.
      const ts = await run('timedatectl', ['show-timesync']);
      if (ts.code === 0) Object.assign(detail, parseTimesync(ts.stdout));
    }
    return { via: 'timedatectl', state: parsed.ntpSynchronized ? { source: 'ntp', synced: true } : { source: 'rtc', synced: false }, detail };
  }
  const tdWhy = show.error ?? (firstLine(show.stderr || show.stdout) || `exit ${show.code}`);
  return { via: 'none', state: { source: 'rtc', synced: false }, detail: { chrony: chronyWhy, timedatectl: tdWhy } };
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000 || 0; // || 0: no -0 in evidence
}
