/**
 * A real gpsd (3.22 on the build machine) for GPS tests, fed NMEA by a TCP server of the test's own, as
 * MACHINE.md describes: `gpsd -N -n -S <port> -F <dir>/gpsd.sock tcp://127.0.0.1:<feedport>`. The feed streams
 * GGA+RMC with the current date and time (gpsd wants recent dates) for a position and fix status the test sets.
 *
 * gpsd runs under a watchdog shell holding a pipe from the test process: when the test process dies, however it
 * dies, the pipe reaches EOF and gpsd is killed. gpsd must never outlive the test (it would keep its port).
 */
import type { ChildProcess } from 'node:child_process';
import { spawnWatched, waitListening } from './watched-process.js';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { freePort, tmp } from './fixtures.js';

export const GPSD = '/usr/sbin/gpsd';

// ---------------------------------------------------------------------------------------------------------------
// NMEA

export function nmeaChecksum(body: string): string {
  let c = 0;
  for (let i = 0; i < body.length; i++) c ^= body.charCodeAt(i);
  return c.toString(16).toUpperCase().padStart(2, '0');
}

/** `$body*CS\r\n` */
export function nmea(body: string): string {
  return `$${body}*${nmeaChecksum(body)}\r\n`;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** ddmm.mmmm / dddmm.mmmm (0.0001 minute is about 0.19 m: fine enough for geofence tests). */
function degMin(v: number, degDigits: number): string {
  const a = Math.abs(v);
  let d = Math.floor(a);
  let m = Number(((a - d) * 60).toFixed(4));
  if (m >= 60) {
    d += 1;
    m = 0;
  }
  return String(d).padStart(degDigits, '0') + m.toFixed(4).padStart(7, '0');
}

export interface FeedPosition {
  lat: number;
  lon: number;
  /** Metres above mean sea level. */
  alt?: number;
}

/**
 * One GGA+RMC pair for time t. Valid: quality 1 / status A. Invalid: what receivers send without a fix, empty
 * position fields with quality 0 / status V (gpsd reports mode 1 for it; a position with status V would still
 * come out as mode 3 without time).
 */
export function nmeaCycle(t: Date, pos: FeedPosition, valid: boolean): string {
  const time = `${pad2(t.getUTCHours())}${pad2(t.getUTCMinutes())}${pad2(t.getUTCSeconds())}.${pad2(Math.floor(t.getUTCMilliseconds() / 10))}`;
  const date = `${pad2(t.getUTCDate())}${pad2(t.getUTCMonth() + 1)}${pad2(t.getUTCFullYear() % 100)}`;
  if (!valid) return nmea(`GPGGA,${time},,,,,0,00,99.99,,,,,,`) + nmea(`GPRMC,${time},V,,,,,,,${date},,,N`);
  const lat = `${degMin(pos.lat, 2)},${pos.lat >= 0 ? 'N' : 'S'}`;
  const lon = `${degMin(pos.lon, 3)},${pos.lon >= 0 ? 'E' : 'W'}`;
  const alt = (pos.alt ?? 45).toFixed(1);
  return nmea(`GPGGA,${time},${lat},${lon},1,08,0.9,${alt},M,0.0,M,,`) + nmea(`GPRMC,${time},A,${lat},${lon},0.0,0.0,${date},,,A`);
}

export interface NmeaFeed {
  port: number;
  /** Move the simulated receiver (takes effect with the next cycle). */
  setPosition(p: FeedPosition): void;
  /** Fix (GGA quality 1, RMC A) or no fix (quality 0, V, empty position). */
  setValid(valid: boolean): void;
  /** How many times gpsd connected to the feed (each gpsd start opens the device anew). */
  connections(): number;
  close(): Promise<void>;
}

/** A TCP "receiver": every connection gets a cycle every intervalMs (default 200 ms, a 5 Hz receiver). */
export async function startNmeaFeed(opts: { position: FeedPosition; valid?: boolean; intervalMs?: number }): Promise<NmeaFeed> {
  let position = opts.position;
  let valid = opts.valid ?? true;
  const feed = await startTcpFeed((s) => {
    const timer = setInterval(() => s.write(nmeaCycle(new Date(), position, valid)), opts.intervalMs ?? 200);
    return () => clearInterval(timer);
  });
  return { ...feed, setPosition: (p) => (position = p), setValid: (v) => (valid = v) };
}

export interface TcpFeed {
  port: number;
  connections(): number;
  close(): Promise<void>;
}

/**
 * A TCP server playing a receiver for gpsd's tcp:// device: each connection is padded with text sentences (gpsd
 * eats the first bytes while it detects the packet type), then handed to `stream`, which returns its own stop.
 */
export async function startTcpFeed(stream: (s: Socket) => () => void): Promise<TcpFeed> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    count++;
    sockets.add(s);
    s.on('error', () => undefined);
    s.write(nmea('GPTXT,01,01,02,recgw test feed').repeat(3));
    const stop = stream(s);
    s.on('close', () => {
      stop();
      sockets.delete(s);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  if (!addr || typeof addr !== 'object') throw new Error('feed has no port');
  return {
    port: addr.port,
    connections: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// gpsd

export interface Gpsd {
  port: number;
  /** "127.0.0.1:PORT", as config gps.gpsd. */
  address: string;
  dir: string;
  /** SIGTERM, SIGKILL after 5 s; resolves when it has exited. */
  stop(): Promise<void>;
  /** SIGKILL now (a crashed gpsd); resolves when it has exited. */
  kill(): Promise<void>;
  /** Start again on the same port (after stop/kill); resolves when it accepts connections. */
  start(): Promise<void>;
  running(): boolean;
  output(): string;
}

export async function startGpsd(opts: { feedPort: number; port?: number; dir?: string }): Promise<Gpsd> {
  const dir = opts.dir ?? tmp('recgw-gpsd-');
  const port = opts.port ?? (await freePort());
  // -N foreground, -n open the device at once (not on the first client), -S our port, -F a control socket of our own.
  const args = ['-N', '-n', '-S', String(port), '-F', join(dir, 'gpsd.sock'), `tcp://127.0.0.1:${opts.feedPort}`];
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let out = '';

  const start = async (): Promise<void> => {
    if (proc) return;
    const w = spawnWatched(GPSD, args, (t) => (out += t));
    const p = w.proc;
    proc = p;
    exited = w.exited.then(() => {
      if (proc === p) proc = undefined;
    });
    await waitListening(w, port, 'gpsd', () => out.slice(-2000));
  };

  const signalAndWait = async (sig: NodeJS.Signals): Promise<void> => {
    const p = proc;
    if (!p) return exited;
    p.kill(sig);
    const t = setTimeout(() => p.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(t);
  };

  await start();
  return {
    port,
    address: `127.0.0.1:${port}`,
    dir,
    stop: () => signalAndWait('SIGTERM'),
    kill: () => signalAndWait('SIGKILL'),
    start,
    running: () => proc !== undefined,
    output: () => out,
  };
}


// ---------------------------------------------------------------------------------------------------------------
// A fake gpsd: a plain TCP server whose script the test writes (garbage, then sense).

export interface FakeGpsd {
  port: number;
  address: string;
  /** Called with each new connection (the client's). */
  onConnection(handler: (s: Socket) => void): void;
  /** Hang up on every client, keep listening. */
  dropClients(): void;
  close(): Promise<void>;
}

export async function startFakeGpsd(): Promise<FakeGpsd> {
  let handler: (s: Socket) => void = () => undefined;
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    handler(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address();
  if (!addr || typeof addr !== 'object') throw new Error('fake gpsd has no port');
  return {
    port: addr.port,
    address: `127.0.0.1:${addr.port}`,
    onConnection: (h) => (handler = h),
    dropClients: () => {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
