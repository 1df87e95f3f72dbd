/**
 * gpsd's own regression logs (test/fixtures/gpsd, see its README) replayed to a real gpsd through a TCP "receiver"
 * of the test's own, the way MACHINE.md feeds gpsd: `gpsd ... tcp://127.0.0.1:<feedport>` (startGpsd). Two ways:
 *
 * - `raw`: the log's bytes as the receiver sent them (NMEA text or SiRF/UBX binary), minus gpsd's `#` header,
 *   looped, at about 4 KB/s. gpsd parses them as it would from the receiver, dates and all.
 * - `retimed` (NMEA logs only): one cycle of the receiver's sentences a second, each with its time and date fields
 *   set to the moment it is sent and its checksum recomputed. Positions, fix status, satellites and talkers stay as
 *   the receiver sent them; only the date on them is today's. A sentence whose checksum was already wrong in the log
 *   is sent unchanged (still wrong), so the rewrite repairs nothing gpsd would have refused.
 *
 * Not gpsfake: gpsfake starts its own gpsd, which would outlive a test that is killed (the watchdog in
 * watched-process.ts kills the process it started, not gpsfake's child).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nmeaChecksum, startTcpFeed, type TcpFeed } from './gpsd.js';

export const GPSD_LOGS = join(import.meta.dirname, '../fixtures/gpsd');

/** A log's bytes without the leading `#` comment lines gpsd's logs start with. */
export function logBody(name: string): Buffer {
  const buf = readFileSync(join(GPSD_LOGS, name));
  let at = 0;
  while (at < buf.length && buf[at] === 0x23 /* # */) {
    const nl = buf.indexOf(0x0a, at);
    if (nl < 0) return Buffer.alloc(0);
    at = nl + 1;
  }
  return buf.subarray(at);
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** Which fields (after the address field) of a sentence type hold the UTC time and the date. */
const TIME_FIELDS: Record<string, { time: number; date?: number; zda?: true }> = {
  GGA: { time: 1 },
  RMC: { time: 1, date: 9 },
  GNS: { time: 1 },
  GLL: { time: 5 },
  GST: { time: 1 },
  GBS: { time: 1 },
  ZDA: { time: 1, zda: true },
  PSRFEPE: { time: 1 }, // SiRF's proprietary error estimate, timed like GGA
};

/** `$BODY*CS` split (after any leading blanks, which gpsd skips), or null when not a sentence or its checksum is wrong. */
function parseSentence(line: string): { lead: string; fields: string[] } | null {
  const m = /^(\s*)\$([^*]+)\*([0-9A-Fa-f]{2})$/.exec(line);
  if (!m || nmeaChecksum(m[2]!) !== m[3]!.toUpperCase()) return null;
  return { lead: m[1]!, fields: m[2]!.split(',') };
}

function kind(address: string): string {
  return address.startsWith('P') ? address : address.slice(2);
}

/** The time field's value of a sentence (the key that groups sentences into cycles), or undefined. */
export function sentenceTime(line: string): string | undefined {
  const s = parseSentence(line);
  const f = s && TIME_FIELDS[kind(s.fields[0]!)];
  return f ? s.fields[f.time] || undefined : undefined;
}

/** The sentence with its time and date fields set to `t` (as many fraction digits as it had), checksum recomputed. */
export function retime(line: string, t: Date): string {
  const s = parseSentence(line);
  const f = s && TIME_FIELDS[kind(s.fields[0]!)];
  if (!s || !f) return line;
  const fields = [...s.fields];
  const old = fields[f.time] ?? '';
  if (old) {
    const digits = old.includes('.') ? old.length - old.indexOf('.') - 1 : 0;
    const frac = digits ? '.' + String(t.getUTCMilliseconds()).padStart(3, '0').slice(0, digits).padEnd(digits, '0') : '';
    fields[f.time] = `${pad2(t.getUTCHours())}${pad2(t.getUTCMinutes())}${pad2(t.getUTCSeconds())}${frac}`;
  }
  if (f.date !== undefined && fields[f.date]) fields[f.date] = `${pad2(t.getUTCDate())}${pad2(t.getUTCMonth() + 1)}${pad2(t.getUTCFullYear() % 100)}`;
  if (f.zda && fields[2]) {
    fields[2] = pad2(t.getUTCDate());
    fields[3] = pad2(t.getUTCMonth() + 1);
    fields[4] = String(t.getUTCFullYear());
  }
  return `${s.lead}$${fields.join(',')}*${nmeaChecksum(fields.join(','))}`;
}

/** An NMEA log's sentences grouped into the receiver's cycles: a new cycle begins where the time changes. */
export function nmeaCycles(name: string): string[][] {
  const cycles: string[][] = [];
  let current: string[] = [];
  let time: string | undefined;
  for (const raw of logBody(name).toString('latin1').split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (!line.trimStart().startsWith('$')) continue;
    const t = sentenceTime(line);
    if (t !== undefined && time !== undefined && t !== time && current.length > 0) {
      cycles.push(current);
      current = [];
    }
    if (t !== undefined) time = t;
    current.push(line);
  }
  if (current.length > 0) cycles.push(current);
  return cycles;
}

/** The index of the first cycle in which the receiver reports a fix (RMC status A, or GGA quality above 0). */
export function firstFixCycle(cycles: string[][]): number {
  const i = cycles.findIndex((c) =>
    c.some((l) => {
      const f = parseSentence(l)?.fields;
      const k = f ? kind(f[0]!) : '';
      return (k === 'RMC' && f![2] === 'A') || (k === 'GGA' && Number(f![6]) > 0);
    }),
  );
  if (i < 0) throw new Error('the log has no cycle with a fix');
  return i;
}

/** raw: the log's bytes as they are. retimed: NMEA cycles dated now, from cycle `from` (default 0), looping over the rest. */
export type Playback = { mode: 'raw'; log: string } | { mode: 'retimed'; log: string; from?: number };

export interface LogFeed extends TcpFeed {
  /** What connections opened from now on are sent (gpsd opens the feed anew when it starts). */
  play(p: Playback): void;
}

const RAW_CHUNK = 200;
const RAW_EVERY_MS = 50;

export async function startLogFeed(first: Playback): Promise<LogFeed> {
  let playback = first;
  const feed = await startTcpFeed((s) => {
    const p = playback;
    let timer: NodeJS.Timeout;
    if (p.mode === 'raw') {
      const body = logBody(p.log);
      let at = 0;
      timer = setInterval(() => {
        s.write(body.subarray(at, at + RAW_CHUNK));
        at += RAW_CHUNK;
        if (at >= body.length) at = 0;
      }, RAW_EVERY_MS);
    } else {
      const cycles = nmeaCycles(p.log).slice(p.from ?? 0);
      let i = 0;
      timer = setInterval(() => {
        const now = new Date();
        s.write(cycles[i]!.map((l) => retime(l, now) + '\r\n').join(''));
        i = (i + 1) % cycles.length;
      }, 1000);
    }
    return () => clearInterval(timer);
  });
  return { ...feed, play: (p) => (playback = p) };
}
