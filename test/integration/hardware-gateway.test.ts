/**
 * The gateway with its hardware wired in: a real gpsd (fed NMEA by the test) puts the fix into every manifest, the
 * tally lamp follows the session (simulated GPIO: this machine has none) and a door input marks an event. Clock
 * steps are stepped for real in clock-step.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { cleanupTmp, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { startGpsd, startNmeaFeed, type Gpsd, type NmeaFeed } from '../helpers/gpsd.js';
import { entries, exportDevice, manifests, sleep, verify } from '../helpers/evidence.js';
import { Gateway } from '../../src/app/gateway.js';
import { SimGpioBackend } from '../../src/hal/gpio/index.js';
import { silentLogger } from '../../src/util/log.js';

const LAMP = 17;
const DOOR = 22;

describe('the gateway with GPS and GPIO', () => {
  const ca = makeCa();
  let feed: NmeaFeed;
  let gpsd: Gpsd;

  beforeAll(async () => {
    feed = await startNmeaFeed({ position: { lat: 38.0428, lon: 114.5149, alt: 80 } });
    gpsd = await startGpsd({ feedPort: feed.port });
  });
  afterAll(async () => {
    await gpsd?.stop();
    await feed?.close();
    cleanupTmp();
  });

  it('fix in every manifest, lamp on while recording, door marked; the verifier passes', async () => {
    const p = makeGateway(ca.dir, {
      config: {
        time: { source: 'host', assumeSynchronised: true },
        gps: { gpsd: gpsd.address },
        gpio: { backend: 'sim', lamp: LAMP, inputs: [{ pin: DOOR, name: 'door', action: 'mark-event', debounceMs: 20 }] },
        recording: { segmentSeconds: 2 },
      },
    });
    const sim = new SimGpioBackend({ log: silentLogger });
    const gw = new Gateway(p.config, silentLogger, { simGpio: sim });
    await gw.start();
    try {
      await sleep(2500); // the first fixes through gpsd
      const rec = gw.recorderInterface;
      expect(sim.level(LAMP)).toBe(false);
      await rec.startSession({ matter: 'seizure', caseRef: 'HW-1', officers: [{ name: '张三', badge: '13010001' }] });
      await sleep(300);
      expect(sim.level(LAMP)).toBe(true);
      sim.drive(DOOR, 1);
      await sleep(4500);
      await rec.stopSession();
      await sleep(300);
      expect(sim.level(LAMP)).toBe(false);
    } finally {
      await gw.stop();
    }
    const out = tmp();
    exportDevice(p.configPath, out);
    const report = await verify(out, ca.paths.caCert);
    expect(report.findings).toEqual([]);
    const dev = join(out, p.config.deviceId);
    const ms = manifests(dev);
    expect(ms.length).toBeGreaterThan(2);
    for (const m of ms) {
      expect(m.gps, m.segment).not.toBeNull();
      expect(m.gps!.lat).toBeCloseTo(38.0428, 3);
      expect(m.gps!.lon).toBeCloseTo(114.5149, 3);
    }
    const es = entries(dev);
    expect(es.find((e) => e.type === 'event.marked')?.body).toMatchObject({ input: 'door', state: 'active' });
  }, 60_000);
});
