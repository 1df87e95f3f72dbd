/**
 * Issue 15 item 7: a fix is "the position at the time" only when its time agrees with the gateway clock. gpsd's own
 * regression logs of real receivers (test/fixtures/gpsd: a BeiDou receiver with $BD talkers, two u-blox, a
 * SiRFstarV) go through a real gpsd (3.22, on a tcp:// feed of the test's own: test/helpers/gpsd-logs.ts) into a
 * `recgw run` gateway recording a simulated camera in 2 s segments, with gpsd as its clock (time.source "gps").
 *
 * Refused: the logs as the receivers sent them. gpsd 3.22 dates the BeiDou log's fixes 2034 (its week-rollover
 * correction moves 2015 forward by 1024 weeks), the u-blox UBX log's 2017 and the SiRF binary log's 2019.
 * Accepted: the NMEA logs with each cycle's time and date set to the moment the feed sends it. We rewrite the
 * dates rather than run the gateway under libfaketime at the log's date: the gateway's certificate, the CA and the
 * ledger all live in today's time, and faking 2015 for them would test the fake, not the gateway. The rewrite
 * changes only time, date and checksum (test/unit/gpsd-logs-retime.test.ts), so what reaches gpsd is still the
 * receiver's positions, fix status, satellites and talkers.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { cleanupTmp, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { startGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { exportDevice, manifests, sleep, verify } from '../helpers/evidence.js';
import { startGpsd, type Gpsd } from '../helpers/gpsd.js';
import { firstFixCycle, nmeaCycles, startLogFeed, type LogFeed, type Playback } from '../helpers/gpsd-logs.js';
import type { GpsdStatus } from '../../src/hal/gps/gpsd-client.js';
import type { RecorderStatus } from '../../src/recorder/recorder.js';
import type { SegmentManifest } from '../../src/evidence/types.js';

const BIN = join(import.meta.dirname, '../../bin/recgw.js');
const YEAR = 365.25 * 86_400_000;

type Status = RecorderStatus & { gpsd: GpsdStatus };

interface Phase {
  name: string;
  play: Playback;
  /** Agrees: where the log's receiver was. Refused: the year gpsd 3.22 puts on its fixes. */
  expect: { agrees: true; lat: number; lon: number } | { agrees: false; year: string };
}

const retimed = (log: string): Playback => ({ mode: 'retimed', log, from: firstFixCycle(nmeaCycles(log)) });

const PHASES: Phase[] = [
  { name: 'BeiDou, dated now', play: retimed('beidou-bd.log'), expect: { agrees: true, lat: 31.2479, lon: 121.5874 } },
  { name: 'BeiDou, as logged', play: { mode: 'raw', log: 'beidou-bd.log' }, expect: { agrees: false, year: '2034' } },
  { name: 'u-blox UBX, as logged', play: { mode: 'raw', log: 'ublox-neo-m8n.log' }, expect: { agrees: false, year: '2017' } },
  { name: 'SiRF binary, as logged', play: { mode: 'raw', log: 'sirfstarv.log' }, expect: { agrees: false, year: '2019' } },
  { name: 'u-blox NMEA, dated now', play: retimed('ublox-lea-4s.log'), expect: { agrees: true, lat: 38.4268, lon: 27.1423 } },
  { name: 'SiRF NMEA, dated now', play: retimed('sirfstarv-nmea.log'), expect: { agrees: true, lat: 44.0689, lon: -121.3143 } },
];
// Per phase, after the gateway shows the phase's state: long enough for at least one whole 2 s segment to end.
const PHASE_MS = 3_500;

const near = (a: number, b: number): boolean => Math.abs(a - b) < 0.01;

/** The phase's state has reached the gateway: its fix (and the GPS clock synchronised), or its fixes refused. */
function established(st: Status, p: Phase): boolean {
  const g = st.gpsd;
  if (p.expect.agrees) return !!g.fix && near(g.fix.lat, p.expect.lat) && near(g.fix.lon, p.expect.lon) && st.clock.synced;
  return g.fix === null && !!g.fixTime.refusing?.lastFixTime.startsWith(p.expect.year) && !st.clock.synced;
}

describe('GPS fix times: gpsd regression logs through a real gpsd into a recording', () => {
  const ca = makeCa();
  let feed: LogFeed | undefined;
  let gpsd: Gpsd | undefined;
  let gw: GatewayProcess | undefined;
  afterAll(async () => {
    await gw?.kill9().catch(() => undefined);
    await gpsd?.stop();
    await feed?.close();
    cleanupTmp();
  });

  it('fixes go into manifests when their time agrees, are refused (logged once per episode, in status and health) when not', async () => {
    feed = await startLogFeed(PHASES[0]!.play);
    gpsd = await startGpsd({ feedPort: feed.port });
    const p = makeGateway(ca.dir, {
      config: {
        time: { source: 'gps' },
        gps: { gpsd: gpsd.address },
        recording: { segmentSeconds: 2, sources: [{ id: 'cam1', kind: 'camera', driver: 'sim', width: 320, height: 180, fps: 25 }] },
      },
    });
    process.env.RECGW_HEALTH_SECONDS = '1';
    try {
      gw = await startGateway(p.configPath, p.config.control.socket);
    } finally {
      delete process.env.RECGW_HEALTH_SECONDS;
    }
    const status = (): Promise<Status> => gw!.call<Status>('status');
    const windows: { phase: Phase; from: number; to: number; st: Status }[] = [];
    let statusText = '';
    for (const [i, phase] of PHASES.entries()) {
      if (i > 0) {
        await gpsd.stop();
        feed.play(phase.play);
        await gpsd.start();
      }
      const deadline = Date.now() + 12_000;
      let st = await status();
      while (!established(st, phase)) {
        if (Date.now() > deadline) throw new Error(`${phase.name}: not established within 12 s: ${JSON.stringify({ clock: st.clock, gpsd: st.gpsd })}`);
        await sleep(200);
        st = await status();
      }
      const from = Date.now();
      // A GPS clock that agrees is synchronised: pre-flight lets the session start without force.
      if (i === 0) await gw.call('session.start', { matter: 'inspection', caseRef: 'GPS-15', officers: [{ name: '王五', badge: '13010005' }] });
      await sleep(PHASE_MS);
      if (phase.name === 'SiRF binary, as logged') {
        const r = spawnSync(process.execPath, [BIN, 'status', '--config', p.configPath], { encoding: 'utf8' });
        statusText = r.stdout + r.stderr;
      }
      windows.push({ phase, from, to: Date.now(), st: await status() });
    }
    await gw.call('session.stop');
    expect(await gw.stop()).toBe(0);
    const log = gw
      .log()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown> & { msg: string; level: string });
    gw = undefined;

    const out = tmp();
    exportDevice(p.configPath, out);
    const report = await verify(out, ca.paths.caCert);
    expect(report.findings).toEqual([]);
    const ms = manifests(join(out, p.config.deviceId));

    for (const w of windows) {
      // Segments that ended inside the window had their fix taken inside it too (a second at most after the end).
      const inside = ms.filter((m: SegmentManifest) => Date.parse(m.end) >= w.from && Date.parse(m.end) <= w.to - 1000);
      expect(inside.length, w.phase.name).toBeGreaterThanOrEqual(1);
      const e = w.phase.expect;
      if (e.agrees) {
        for (const m of inside) {
          expect(m.gps, `${w.phase.name} ${m.segment}`).not.toBeNull();
          expect(near(m.gps!.lat, e.lat) && near(m.gps!.lon, e.lon), `${w.phase.name}: ${JSON.stringify(m.gps)}`).toBe(true);
          // The position at the time: dated within a couple of seconds of the segment's end (1 Hz receiver).
          expect(Math.abs(Date.parse(m.gps!.time) - Date.parse(m.end)), w.phase.name).toBeLessThan(3_000);
          expect(m.clock, w.phase.name).toMatchObject({ source: 'gps', synced: true });
        }
        expect(w.st.gpsd.fixTime.refusing).toBeNull();
      } else {
        for (const m of inside) {
          expect(m.gps, `${w.phase.name} ${m.segment}`).toBeNull();
          // The same fixes' times told the GPS clock that it disagrees with the gateway clock by years.
          expect(m.clock, w.phase.name).toMatchObject({ source: 'gps', synced: false });
          expect(Math.abs(m.clock.offsetMs!), w.phase.name).toBeGreaterThan(YEAR);
        }
        expect(w.st.gpsd.fixTime.refusing, w.phase.name).toMatchObject({ lastFixTime: expect.stringMatching(new RegExp(`^${e.year}-`)) });
        expect(w.st.gpsd.fixTime.refusing!.fixes, w.phase.name).toBeGreaterThan(3);
      }
    }
    // Nothing of the refused fixes reached any manifest.
    for (const m of ms) if (m.gps) expect(m.gps.time.slice(0, 4)).toBe(new Date(Date.parse(m.end)).toISOString().slice(0, 4));

    // Logged once per episode (each refused log is one: it ends when gpsd restarts), not once per fix.
    const refusing = log.filter((l) => l.level === 'warn' && l.msg.startsWith('refusing GPS fixes'));
    expect(refusing.map((l) => String(l.fixTime).slice(0, 4))).toEqual(['2034', '2017', '2019']);
    expect(refusing[0]!.msg).toMatch(/years ahead of the gateway clock \(tolerance 5 s\)/);
    const ended = log.filter((l) => l.msg.startsWith('no longer refusing GPS fixes'));
    expect(ended).toHaveLength(3);
    for (const l of ended) expect(l.refused).toBeGreaterThan(3);
    const refusedTotal = windows.at(-1)!.st.gpsd.fixTime.refused;
    expect(refusedTotal).toBeGreaterThan(30);

    // The health line names it as a problem while it lasts, and not when fixes agree.
    const health = log.filter((l) => l.msg === 'health') as unknown as { t: string; gps?: { refusing?: { lastFixTime: string } }; problems: string[] }[];
    for (const year of ['2034', '2017', '2019']) {
      expect(health.some((h) => h.gps?.refusing?.lastFixTime.startsWith(year) && h.problems.some((x) => x.startsWith('GPS fixes refused since')))).toBe(true);
    }
    const lastAgree = windows.at(-1)!;
    const calm = health.filter((h) => Date.parse(h.t) > lastAgree.from && Date.parse(h.t) < lastAgree.to);
    expect(calm.length).toBeGreaterThan(0);
    for (const h of calm) expect(h.problems.filter((x) => x.startsWith('GPS'))).toEqual([]);

    // recgw status says what is refused and why, in words.
    expect(statusText).toMatch(/gps: REFUSING fixes since .*: their time is [\d.]+ years behind the gateway clock \(latest 2019-04-24T/);
  }, 90_000);
});
