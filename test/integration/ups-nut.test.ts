/**
 * The NUT feed and the UPS monitor against a real upsd with the dummy-ups driver (Debian's nut-server, run by the
 * test on a free port): readings OL -> OB -> OB LB arrive and the monitor says the power is about to go; a login
 * counts in upsd and release() gives it back; and everything that can go wrong gives a clear log line and never a
 * crash: a UPS name upsd does not know, the driver gone, upsd gone and back, values that are not a reading, a
 * refused login. Answers that upsd itself never sends (garbage, half answers, silence) come from a TCP server of
 * the test's own on the port, because no real upsd can be made to send them.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { NutUpsFeed } from '../../src/hal/power/nut-feed.js';
import { UpsMonitor, type UpsLow } from '../../src/hal/power/ups-monitor.js';
import { cleanupTmp } from '../helpers/fixtures.js';
import { captureLogger, sleep, waitFor } from '../helpers/serial.js';
import { NUT_USER, UPS_NAME, startNut, type Nut } from '../helpers/nut.js';

const ONLINE = { 'ups.status': 'OL', 'battery.charge': 100, 'battery.runtime': 1800, 'ups.mfr': 'recgw test' };

function watch(port: number, opts: { name?: string; user?: string; password?: string } = {}): {
  feed: NutUpsFeed;
  ups: UpsMonitor;
  lows: UpsLow[];
  logs: ReturnType<typeof captureLogger>;
  stop: () => Promise<void>;
} {
  const logs = captureLogger();
  const feed = new NutUpsFeed({ host: '127.0.0.1', port, name: opts.name ?? UPS_NAME, pollMs: 200, timeoutMs: 1000, minBackoffMs: 100, maxBackoffMs: 400, log: logs.log, ...(opts.user ? { user: opts.user, password: opts.password ?? '' } : {}) });
  const ups = new UpsMonitor(feed, { thresholdPercent: 20, staleMs: 1500, log: logs.log });
  const lows: UpsLow[] = [];
  ups.on('low', (l) => lows.push(l));
  ups.start();
  feed.start();
  return {
    feed,
    ups,
    lows,
    logs,
    stop: async () => {
      ups.stop();
      await feed.stop();
    },
  };
}

const said = (logs: ReturnType<typeof captureLogger>, msg: RegExp): Record<string, unknown>[] => logs.lines().filter((l) => msg.test(l.msg));

describe('the NUT feed against a real upsd', () => {
  let nut: Nut;
  const stops: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    nut = await startNut(ONLINE);
  }, 30_000);
  afterEach(async () => {
    for (const s of stops.splice(0).reverse()) await s();
    await nut.set(ONLINE);
  });
  afterAll(async () => {
    await nut?.stop();
    cleanupTmp();
  });

  it('OL -> OB -> OB LB: readings reach the monitor, and LB on battery says the power is about to go', async () => {
    const w = watch(nut.port);
    stops.push(w.stop);
    await waitFor(() => w.ups.state()?.percent === 100, 'first reading');
    expect(w.ups.state()).toEqual({ percent: 100, onMains: true });
    expect(w.ups.preflightCheck()).toMatchObject({ ok: true, detail: 'UPS reporting: 100%, on mains' });
    expect(said(w.logs, /^connected to upsd$/)).toHaveLength(1);
    await nut.set({ 'ups.status': 'OB DISCHRG', 'battery.charge': 60, 'battery.runtime': 900 });
    await waitFor(() => w.ups.state()?.onMains === false, 'on battery');
    expect(w.lows).toEqual([]);
    await nut.set({ 'ups.status': 'OB LB', 'battery.charge': 30, 'battery.runtime': 300 });
    await waitFor(() => w.lows.length === 1, 'low');
    expect(w.lows[0]).toMatchObject({ cause: 'ups-low-battery', technical: 'ups.status "OB LB", battery.charge 30, battery.runtime 300' });
    expect(w.ups.status()).toMatchObject({ link: { kind: 'nut', where: `${UPS_NAME}@127.0.0.1:${nut.port}`, connected: true, lastError: null, garbage: 0 } });
  });

  it('a UPS name upsd does not know: the log names the ones it has, and pre-flight fails', async () => {
    const w = watch(nut.port, { name: 'nosuch' });
    stops.push(w.stop);
    await waitFor(() => said(w.logs, /has no UPS named/).length > 0, 'refusal logged');
    expect(said(w.logs, /has no UPS named/)[0]!.msg).toBe(
      `upsd at 127.0.0.1:${nut.port} has no UPS named "nosuch" (it has: ${UPS_NAME}): upsd has no UPS of that name: set power.nut.name to one that \`upsc -l HOST:PORT\` lists`,
    );
    await sleep(500);
    // Logged once, however often it is asked.
    expect(said(w.logs, /has no UPS named/)).toHaveLength(1);
    expect(w.ups.preflightCheck()).toMatchObject({ ok: false, detail: expect.stringContaining('no usable reading lately (upsd at 127.0.0.1') });
  });

  it('the driver gone and back: a log line saying what to check, then readings again', async () => {
    const w = watch(nut.port);
    stops.push(w.stop);
    await waitFor(() => w.ups.state() !== undefined, 'first reading');
    await nut.stopDriver();
    await waitFor(() => said(w.logs, /DRIVER-NOT-CONNECTED|DATA-STALE/).length > 0, 'driver loss logged', 8000);
    expect(said(w.logs, /DRIVER-NOT-CONNECTED|DATA-STALE/)[0]!.msg).toMatch(/^upsd refused to read dummy@127\.0\.0\.1:\d+ \(ERR (DRIVER-NOT-CONNECTED|DATA-STALE)\): .*check/);
    await waitFor(() => w.ups.state() === undefined, 'readings stale', 4000);
    await nut.startDriver();
    await waitFor(() => said(w.logs, /^the UPS reports again through upsd$/).length > 0, 'back', 10_000);
    await waitFor(() => w.ups.state() !== undefined, 'readings again');
  }, 30_000);

  it('upsd killed and started again: the loss is logged, pre-flight names upsd, and the feed reconnects by itself', async () => {
    const w = watch(nut.port);
    stops.push(w.stop);
    await waitFor(() => w.ups.state() !== undefined, 'first reading');
    await nut.stopUpsd('SIGKILL');
    await waitFor(() => said(w.logs, /^lost the connection to upsd; reconnecting$/).length > 0, 'loss logged');
    await waitFor(() => said(w.logs, /^cannot reach upsd; retrying with backoff$/).length > 0, 'retrying logged');
    await waitFor(() => w.ups.state() === undefined, 'stale', 4000);
    expect(w.ups.preflightCheck()).toMatchObject({ ok: false, detail: expect.stringMatching(new RegExp(`^the UPS reports no charge: upsd \\(dummy@127\\.0\\.0\\.1:${nut.port}\\) is not connected \\(cannot connect to .*ECONNREFUSED.*\\): check upsd`)) });
    await sleep(1000);
    // Retries are not each a warning.
    expect(said(w.logs, /^cannot reach upsd/)).toHaveLength(1);
    await nut.startUpsd();
    await waitFor(() => said(w.logs, /^connected to upsd$/).length === 2, 'reconnected', 5000);
    await waitFor(() => w.ups.state() !== undefined, 'readings again');
  }, 30_000);

  it('values that are not a reading are logged and skipped, then a good one counts again', async () => {
    const w = watch(nut.port);
    stops.push(w.stop);
    await waitFor(() => w.ups.state() !== undefined, 'first reading');
    await nut.set({ 'ups.status': 'OL', 'battery.charge': 'lots' });
    await waitFor(() => said(w.logs, /not a usable reading/).length > 0, 'logged');
    expect(said(w.logs, /not a usable reading/)[0]!.msg).toBe(`upsd's answer for dummy@127.0.0.1:${nut.port} is not a usable reading: battery.charge "lots" is not a percentage`);
    await nut.set({ 'ups.status': 'OB', 'battery.charge': 70 });
    await waitFor(() => w.ups.state()?.percent === 70, 'good again');
    expect(w.ups.status().link.garbage).toBeGreaterThan(0);
  });

  it('a login counts in upsd (NUMLOGINS) until release(); a refused one is logged and reading goes on', async () => {
    expect(await nut.ask(`GET NUMLOGINS ${UPS_NAME}`)).toBe(`NUMLOGINS ${UPS_NAME} 0`);
    const w = watch(nut.port, NUT_USER);
    stops.push(w.stop);
    await waitFor(() => w.ups.state() !== undefined, 'first reading');
    expect(said(w.logs, /^logged in to upsd/)).toHaveLength(1);
    expect(await nut.ask(`GET NUMLOGINS ${UPS_NAME}`)).toBe(`NUMLOGINS ${UPS_NAME} 1`);
    expect(w.feed.link().login).toBe('logged-in');
    // A forced shutdown: once the gateway is ready, it logs out.
    await nut.set({ 'ups.status': 'FSD OB LB', 'battery.charge': 5 });
    await waitFor(() => w.ups.lowPower()?.forcedShutdown, 'FSD seen');
    await w.feed.release();
    expect(await nut.ask(`GET NUMLOGINS ${UPS_NAME}`)).toBe(`NUMLOGINS ${UPS_NAME} 0`);
    expect(said(w.logs, /^logged out of upsd for the forced shutdown/)).toHaveLength(1);
    // Reading goes on, without logging in again while the UPS is in FSD.
    await sleep(800);
    expect(said(w.logs, /^logged in to upsd/)).toHaveLength(1);
    expect(await nut.ask(`GET NUMLOGINS ${UPS_NAME}`)).toBe(`NUMLOGINS ${UPS_NAME} 0`);
    expect(w.ups.state()).toEqual({ percent: 5, onMains: false });
    // The UPS back on line (upsd restarted after the power returned): counted in again.
    await nut.set(ONLINE);
    await waitFor(() => said(w.logs, /^logged in to upsd/).length === 2, 'logged in again');
    expect(await nut.ask(`GET NUMLOGINS ${UPS_NAME}`)).toBe(`NUMLOGINS ${UPS_NAME} 1`);
    expect(w.feed.link().login).toBe('logged-in');

    const bad = watch(nut.port, { user: NUT_USER.user, password: 'wrong' });
    stops.push(bad.stop);
    await waitFor(() => bad.ups.state() !== undefined, 'reads without the login');
    expect(said(bad.logs, /^upsd refused the login/)[0]).toMatchObject({ level: 'error', err: 'ERR ACCESS-DENIED', fix: expect.stringContaining('upsd.users') });
    expect(bad.feed.link().login).toBe('refused');
  });
});

/** A stranger on upsd's port: answers each connection's lines with what `script` returns (undefined: silence). */
async function fakeUpsd(script: (line: string, s: Socket) => string | undefined): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const out = script(line, s);
        if (out !== undefined && !s.destroyed) s.write(out);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

const GOOD = `BEGIN LIST VAR ${UPS_NAME}\nVAR ${UPS_NAME} ups.status "OB"\nVAR ${UPS_NAME} battery.charge "55"\nEND LIST VAR ${UPS_NAME}\n`;

describe('garbled answers (a stranger on the port)', () => {
  it.each([
    ['a line that is not the protocol', 'HTTP/1.1 400 Bad Request\r\n\r\n', /expected BEGIN LIST VAR dummy/],
    ['binary junk', '\u0000\u00ff\u0010junk\n', /expected BEGIN LIST VAR dummy/],
    ['an unterminated quote', `BEGIN LIST VAR ${UPS_NAME}\nVAR ${UPS_NAME} ups.status "OB\n`, /expected VAR dummy <name> "<value>"/],
    ['another UPS\'s variables', `BEGIN LIST VAR ${UPS_NAME}\nVAR other ups.status "OB"\n`, /expected VAR dummy/],
    ['a line far too long', `BEGIN LIST VAR ${UPS_NAME}\n${'x'.repeat(10_000)}`, /a line longer than 4096 bytes/],
    ['an answer that never ends', `BEGIN LIST VAR ${UPS_NAME}\n${`VAR ${UPS_NAME} x "y"\n`.repeat(2100)}`, /END LIST VAR dummy within 2000 lines/],
  ])('%s: logged, counted, the connection dropped and made again; a good answer then counts', async (_what, garbage, why) => {
    let n = 0;
    const srv = await fakeUpsd((line) => (line.startsWith('LIST VAR') ? (n++ < 2 ? garbage : GOOD) : 'ERR UNKNOWN-COMMAND\n'));
    const w = watch(srv.port);
    try {
      await waitFor(() => w.ups.state()?.percent === 55, 'a good reading after the garbage', 8000);
      const lines = said(w.logs, /^ignored a garbled answer from upsd; reconnecting$/);
      expect(lines.length).toBeGreaterThanOrEqual(1);
      expect(String(lines[0]!.what)).toMatch(why);
      expect(w.ups.status().link.garbage).toBeGreaterThanOrEqual(1);
    } finally {
      await w.stop();
      await srv.close();
    }
  });

  it('silence: the time limit ends the wait, the log says so, and the next connection is tried', async () => {
    let n = 0;
    const srv = await fakeUpsd((line) => (line.startsWith('LIST VAR') ? (n++ < 1 ? undefined : GOOD) : undefined));
    const w = watch(srv.port);
    try {
      await waitFor(() => w.ups.state()?.percent === 55, 'a reading after the silence', 8000);
      expect(said(w.logs, /^lost the connection to upsd; reconnecting$/)[0]).toMatchObject({ reason: 'upsd did not answer LIST within 1000 ms' });
    } finally {
      await w.stop();
      await srv.close();
    }
  });

  it('a connection closed in the middle of an answer: logged, reconnected', async () => {
    let n = 0;
    const srv = await fakeUpsd((line, s) => {
      if (!line.startsWith('LIST VAR')) return undefined;
      if (n++ >= 1) return GOOD;
      s.end(`BEGIN LIST VAR ${UPS_NAME}\nVAR ${UPS_NAME} ups.status "OB"\n`);
      return undefined;
    });
    const w = watch(srv.port);
    try {
      await waitFor(() => w.ups.state()?.percent === 55, 'a reading after the cut', 8000);
      expect(said(w.logs, /^lost the connection to upsd; reconnecting$/)[0]).toMatchObject({ reason: 'upsd closed the connection' });
    } finally {
      await w.stop();
      await srv.close();
    }
  });
});
