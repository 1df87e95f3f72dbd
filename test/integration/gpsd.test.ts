/**
 * The gpsd client against a REAL gpsd fed NMEA by the test (test/helpers/gpsd.ts): fixes, no fix, gpsd crashing
 * and coming back, the home-base geofence driven through gpsd, and garbage from a fake gpsd. The feed is a 5 Hz
 * receiver, so every wait below is a second or two at most.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventEmitter } from 'node:events';
import { GpsdClient } from '../../src/hal/gps/gpsd-client.js';
import { HomeBaseWatcher } from '../../src/hal/gps/home-base.js';
import type { GeofenceEvent } from '../../src/hal/gps/geofence.js';
import type { GpsProvider } from '../../src/recorder/recorder.js';
import type { GpsFix } from '../../src/evidence/types.js';
import { createLogger, type Logger } from '../../src/util/log.js';
import { cleanupTmp } from '../helpers/fixtures.js';
import { startFakeGpsd, startGpsd, startNmeaFeed, type Gpsd, type NmeaFeed } from '../helpers/gpsd.js';

const BASE = { lat: 39.9087, lon: 116.3975 };
/** A point `m` metres north of BASE (1° of latitude is about 111.2 km). */
const north = (m: number): { lat: number; lon: number } => ({ lat: BASE.lat + m / 111_195, lon: BASE.lon });

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function captureLog(): { log: Logger; lines: { level: string; msg: string; kind?: string }[] } {
  const lines: { level: string; msg: string; kind?: string }[] = [];
  return { lines, log: createLogger('test', { level: 'debug', sink: (l) => lines.push(JSON.parse(l)) }) };
}

/** The next `name` event whose payload passes `pred`, or a timeout naming what was awaited. */
function next<T>(em: EventEmitter, name: string, timeoutMs: number, pred: (v: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      em.off(name, on);
      reject(new Error(`no '${name}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (v: T): void => {
      if (!pred(v)) return;
      clearTimeout(t);
      em.off(name, on);
      resolve(v);
    };
    em.on(name, on);
  });
}

describe('gpsd client with a real gpsd', () => {
  let feed: NmeaFeed;
  let gpsd: Gpsd;
  const clients: GpsdClient[] = [];
  const client = (opts: Partial<ConstructorParameters<typeof GpsdClient>[0]> = {}): GpsdClient => {
    const c = new GpsdClient({ address: gpsd.address, ...opts });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    // The feed first: gpsd -n opens tcp://127.0.0.1:<feed> at once and gives up on the device if nobody listens.
    feed = await startNmeaFeed({ position: BASE });
    gpsd = await startGpsd({ feedPort: feed.port });
  });

  afterAll(async () => {
    for (const c of clients) c.stop();
    await gpsd?.stop();
    await feed?.close();
    cleanupTmp();
  });

  it('delivers a fix with lat/lon/mode/time, usable as the recorder GpsProvider', async () => {
    const c = client();
    const provider: GpsProvider = c; // the recorder's interface, checked by the compiler
    const firstTime = next<{ offsetMs: number }>(c, 'time', 5_000);
    const got = next<GpsFix | null>(c, 'change', 5_000, (f) => f !== null);
    c.start();
    const fix = (await got) as GpsFix;
    expect(fix.mode).toBe(3);
    expect(fix.lat).toBeCloseTo(BASE.lat, 5);
    expect(fix.lon).toBeCloseTo(BASE.lon, 5);
    expect(fix.alt).toBeCloseTo(45, 1);
    expect(typeof fix.eph).toBe('number');
    // The feed stamps sentences with the current time: the fix is seconds old at most.
    expect(Math.abs(Date.parse(fix.time) - Date.now())).toBeLessThan(3_000);
    expect(provider.fix()).toEqual(expect.objectContaining({ lat: fix.lat, lon: fix.lon, mode: 3 }));
    // GPS time vs local time: same clock here, so only NMEA/gpsd latency (and the feed's 10 ms resolution).
    expect(Math.abs((await firstTime).offsetMs)).toBeLessThan(1_000);
    expect(c.status()).toMatchObject({ connected: true, release: expect.any(String) });
    c.stop();
    expect(c.fix()).toBeNull();
  });

  it('reports no fix (RMC status V, GGA quality 0) as fix() null, and the fix again when it returns', async () => {
    const c = client();
    c.start();
    await next(c, 'change', 5_000, (f) => f !== null);
    const lost = next(c, 'change', 5_000, (f) => f === null);
    feed.setValid(false);
    await lost;
    expect(c.fix()).toBeNull();
    // No fix means no time samples either: the GPS clock must not count it.
    const noTime = next(c, 'time', 600).then(
      () => 'time',
      () => 'none',
    );
    expect(await noTime).toBe('none');
    const back = next<GpsFix | null>(c, 'change', 5_000, (f) => f !== null);
    feed.setValid(true);
    expect(await back).toMatchObject({ mode: 3 });
    c.stop();
  });

  it('reconnects after gpsd is killed and restarted; a client started while gpsd is down connects when it is back', async () => {
    // A short fix age so that the fix visibly goes stale while gpsd is gone.
    const c = client({ maxFixAgeMs: 1_500 });
    c.start();
    await next(c, 'change', 5_000, (f) => f !== null);
    const t0 = Date.now();
    const dropped = next(c, 'disconnected', 5_000);
    await gpsd.kill();
    await dropped;
    const stale = next(c, 'change', 5_000, (f) => f === null);
    const late = client();
    late.start(); // nothing listens now: it must keep retrying, not give up or throw
    await stale;
    expect(c.fix()).toBeNull();
    expect(late.status()).toMatchObject({ connected: false, lastError: expect.stringContaining('ECONNREFUSED') });

    const reconnected = next(c, 'connected', 10_000);
    const lateConnected = next(late, 'connected', 10_000);
    const fixAgain = next(c, 'change', 10_000, (f) => f !== null);
    await gpsd.start();
    await Promise.all([reconnected, lateConnected, fixAgain]);
    expect(c.fix()).not.toBeNull();
    // Backoff starts at 1 s and doubles (retries at 1, 3, 7 s): with gpsd down ~1.5 s, back by the 3 s retry,
    // or the 7 s one on a loaded machine; never the 30 s ceiling.
    expect(Date.now() - t0).toBeLessThan(12_000);
    expect(feed.connections()).toBeGreaterThanOrEqual(2); // the restarted gpsd reopened the "receiver"
    c.stop();
    late.stop();
  });

  it('moving across the home-base geofence gives entered and left, and jitter at the edge gives nothing', async () => {
    feed.setPosition(BASE);
    const c = client();
    // 100 m fence: leave beyond 125 m (radius + the 25 m minimum band); 3 fixes over at least 0.5 s (5 Hz feed).
    const home = new HomeBaseWatcher(c, { ...BASE, radiusM: 100 }, { confirmFixes: 3, confirmMs: 500 });
    const events: GeofenceEvent[] = [];
    home.on('entered', (e) => events.push(e));
    home.on('left', (e) => events.push(e));
    home.start();
    const initial = next<GeofenceEvent>(home, 'entered', 5_000);
    c.start();
    expect(await initial).toMatchObject({ type: 'entered', initial: true });
    expect(home.state()).toBe('inside');

    // 110 m: outside the radius but inside the leave band. Parked there (or jittering), the unit has not left.
    feed.setPosition(north(110));
    await new Promise((r) => setTimeout(r, 1_200));
    expect(home.state()).toBe('inside');
    expect(events).toHaveLength(1);

    const left = next<GeofenceEvent>(home, 'left', 5_000);
    feed.setPosition(north(1_000));
    const l = await left;
    expect(l.initial).toBe(false);
    expect(l.distanceM).toBeGreaterThan(900);

    const entered = next<GeofenceEvent>(home, 'entered', 5_000);
    feed.setPosition(north(20));
    const e = await entered;
    expect(e).toMatchObject({ type: 'entered', initial: false });
    expect(e.distanceM).toBeLessThan(30);
    expect(events.map((x) => x.type)).toEqual(['entered', 'left', 'entered']);
    home.stop();
    c.stop();
  });
});

describe('gpsd client against a fake gpsd speaking garbage', () => {
  it('ignores bad lines (logged once per kind), never crashes, and still takes the good ones', async () => {
    const fake = await startFakeGpsd();
    const { log, lines } = captureLog();
    const c = new GpsdClient({ address: fake.address, log, minBackoffMs: 100 });
    const now = new Date().toISOString();
    const garbage = [
      'hello gpsd',
      '{"class":"TPV","mode":3,"lat":',
      '[1,2,3]',
      '{"no":"class"}',
      '{"class":"WEIRD","x":1}',
      `{"class":"TPV","mode":3,"lat":999,"lon":10,"time":"${now}"}`,
      `{"class":"TPV","mode":3,"lat":10,"lon":10,"eph":-4,"time":"${now}"}`,
      `{"class":"TPV","mode":"3","lat":10,"lon":10,"time":"${now}"}`,
      '{"class":"TPV","mode":3,"lat":10,"lon":10,"time":"yesterday"}',
      '{"class":"ERROR","message":"unrecognized request"}',
      '\u0000\u00ff\u0007binary',
      'x'.repeat(70_000), // a runaway line: dropped, not buffered forever
    ];
    fake.onConnection((s) => {
      s.write('{"class":"VERSION","release":"fake","rev":"fake","proto_major":3,"proto_minor":14}\n');
      // Twice, to show "once per kind"; split mid-line across writes, as TCP may deliver it.
      const text = [...garbage, ...garbage].join('\n') + '\n';
      s.write(text.slice(0, 1000));
      setTimeout(() => {
        s.write(text.slice(1000));
        s.write(`{"class":"TPV","mode":2,"lat":31.2304,"lon":121.4737,"epx":12.5,"epy":20.25,"time":"${new Date().toISOString()}"}\n`);
      }, 50);
    });
    const gotFix = next<GpsFix | null>(c, 'change', 5_000, (f) => f !== null);
    c.start();
    const fix = (await gotFix) as GpsFix;
    expect(fix).toMatchObject({ lat: 31.2304, lon: 121.4737, mode: 2, eph: 20.25 });
    expect(fix.alt).toBeUndefined(); // a 2D fix has no altitude worth recording

    const st = c.status();
    expect(st.badLines).toEqual({ 'not-json': 6, 'no-class': 4, 'unknown-class': 2, 'bad-tpv': 8, 'gpsd-error': 2, 'too-long': 2 });
    const warnKinds = lines.filter((l) => l.level === 'warn' && l.kind).map((l) => l.kind);
    expect(warnKinds.sort()).toEqual(['bad-tpv', 'gpsd-error', 'no-class', 'not-json', 'too-long', 'unknown-class']);

    // The fake hangs up: the client reconnects (backoff 100 ms here) instead of giving up.
    const dropped = next(c, 'disconnected', 5_000);
    const again = next(c, 'connected', 5_000);
    fake.dropClients();
    await dropped;
    await again;
    c.stop();
    await fake.close();
  });

  it('refuses a fix dated away from the clock at once (the last good fix with it), still passes its time to the GPS clock, warns once', async () => {
    const fake = await startFakeGpsd();
    const { log, lines } = captureLog();
    const c = new GpsdClient({ address: fake.address, log, fixTimeToleranceMs: 5_000 });
    const times: number[] = [];
    c.on('time', (s) => times.push(s.offsetMs));
    let peer: import('node:net').Socket | undefined;
    fake.onConnection((s) => {
      peer = s;
      s.write('{"class":"VERSION","release":"fake","rev":"fake","proto_major":3,"proto_minor":14}\n');
    });
    const tpv = (offsetMs: number, lat = 31.2479): string =>
      `{"class":"TPV","mode":3,"lat":${lat},"lon":121.5874,"time":"${new Date(Date.now() + offsetMs).toISOString()}"}\n`;
    const good = next<GpsFix | null>(c, 'change', 5_000, (f) => f !== null);
    c.start();
    await next(c, 'connected', 5_000);
    peer!.write(tpv(-200));
    expect((await good)?.lat).toBe(31.2479);
    // Seconds within the tolerance are still the position at the time.
    const ok = next<GpsFix>(c, 'fix', 5_000);
    peer!.write(tpv(4_000, 31.25));
    expect((await ok).lat).toBe(31.25);

    const lost = next(c, 'change', 5_000, (f) => f === null);
    peer!.write(tpv(-1024 * 7 * 86_400_000) + tpv(-1024 * 7 * 86_400_000 + 1000) + tpv(-1024 * 7 * 86_400_000 + 2000));
    await lost;
    expect(c.fix()).toBeNull(); // not the refused fix, and not the good one before it either
    await sleep(100);
    expect(times).toHaveLength(5); // every fix's time reached the GPS clock, refused or not
    expect(Math.abs(times[1]!)).toBeLessThan(5_000);
    expect(Math.round(times[4]! / 86_400_000)).toBe(-1024 * 7); // 1024 weeks behind, as a rollover bug would be
    expect(c.status().fixTime).toMatchObject({ toleranceMs: 5_000, refused: 3, refusing: { fixes: 3, lastFixTime: expect.stringMatching(/^20(06|07)-/) } });
    const warns = lines.filter((l) => l.level === 'warn' && l.msg.startsWith('refusing GPS fixes'));
    expect(warns).toHaveLength(1);
    expect(warns[0]!.msg).toContain('19.6 years behind the gateway clock');

    const back = next<GpsFix | null>(c, 'change', 5_000, (f) => f !== null);
    peer!.write(tpv(0));
    await back;
    expect(c.status().fixTime).toMatchObject({ refused: 3, refusing: null });
    expect(lines.some((l) => l.level === 'info' && l.msg.startsWith('a fix agrees with the gateway clock again'))).toBe(true);
    c.stop();
    await fake.close();
  });

  it('hangs up on a silent peer that never sends the VERSION banner, and keeps retrying', async () => {
    const fake = await startFakeGpsd();
    let connections = 0;
    fake.onConnection(() => connections++); // accepts, says nothing: not gpsd, or a hung one
    const c = new GpsdClient({ address: fake.address, connectTimeoutMs: 300, minBackoffMs: 100 });
    c.start();
    const deadline = Date.now() + 5_000;
    while (connections < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(connections).toBeGreaterThanOrEqual(2);
    expect(c.status()).toMatchObject({ connected: false, lastError: expect.stringContaining('VERSION') });
    c.stop();
    await fake.close();
  });
});
