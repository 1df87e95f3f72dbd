/**
 * Issue 3 acceptance: pre-flight refusals each give their reason, and a start forced past a failed check is
 * recorded in the ledger with that check. Clock and battery states come from constructor-injected monitors (the
 * HAL's real ones are tested with gpsd and serial devices); storage and sources are real.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { cleanupTmp, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { Gateway } from '../../src/app/gateway.js';
import { silentLogger } from '../../src/util/log.js';
import type { ClockMonitor } from '../../src/hal/clock.js';
import { RecgwError } from '../../src/util/errors.js';
import { entries, exportDevice } from '../helpers/evidence.js';

const officers = [{ name: '王五', badge: '13010005' }];
const sim = (extra: Record<string, unknown> = {}) => ({
  time: { source: 'host', assumeSynchronised: true },
  recording: { segmentSeconds: 2, expectedSessionMinutes: 1, sources: [{ id: 'cam1', kind: 'camera', driver: 'sim', width: 320, height: 180, fps: 10 }], ...extra },
});
const unsyncedClock: ClockMonitor = { state: () => ({ source: 'rtc', synced: false }), start: async () => undefined, stop: () => undefined };

describe('pre-flight', () => {
  const ca = makeCa();
  afterAll(cleanupTmp);

  async function refusal(gw: Gateway): Promise<string> {
    try {
      await gw.recorderInterface.startSession({ matter: 'inspection', caseRef: 'P-1', officers });
    } catch (err) {
      expect(err).toBeInstanceOf(RecgwError);
      return (err as Error).message;
    }
    throw new Error('the start was not refused');
  }

  it('refuses an unsynchronised clock, and a forced start records the failed check', async () => {
    const p = makeGateway(ca.dir, { config: sim() });
    const gw = new Gateway(p.config, silentLogger, { clock: unsyncedClock });
    await gw.start();
    try {
      expect(await refusal(gw)).toMatch(/clock: clock not synchronised/);
      const r = await gw.recorderInterface.startSession({ matter: 'inspection', caseRef: 'P-1', officers, force: true });
      expect(r.forced.map((c) => c.check)).toEqual(['clock']);
      await gw.recorderInterface.stopSession();
    } finally {
      await gw.stop();
    }
    const out = tmp();
    exportDevice(p.configPath, out);
    const opened = entries(join(out, p.config.deviceId)).find((e) => e.type === 'session.opened')!;
    expect(opened.body.forced).toEqual([expect.objectContaining({ check: 'clock', ok: false })]);
  });

  it('refuses a low battery', async () => {
    const p = makeGateway(ca.dir, { config: sim() });
    const gw = new Gateway(p.config, silentLogger, { battery: { state: () => ({ percent: 12, onMains: false }) } });
    await gw.start();
    try {
      expect(await refusal(gw)).toMatch(/battery: battery at 12%, below the 20% needed/);
    } finally {
      await gw.stop();
    }
  });

  it('refuses when the storage cannot hold the expected duration', async () => {
    const p = makeGateway(ca.dir, { config: sim({ expectedSessionMinutes: 600, storageQuotaMB: 1 }) });
    const gw = new Gateway(p.config, silentLogger);
    await gw.start();
    try {
      expect(await refusal(gw)).toMatch(/storage: only \d+ MB free under the storage quota, \d+ MB needed for 600 min/);
    } finally {
      await gw.stop();
    }
  });

  it('refuses a source that produces no frames, naming it', async () => {
    const p = makeGateway(ca.dir, {
      config: sim({ sources: [{ id: 'cam1', kind: 'camera', driver: 'sim', width: 320, height: 180, fps: 10 }, { id: 'cam9', kind: 'camera', driver: 'v4l2', device: '/dev/video-missing' }] }),
    });
    const gw = new Gateway(p.config, silentLogger);
    await gw.start();
    try {
      const msg = await refusal(gw);
      expect(msg).toMatch(/sources: cam9 is not producing frames/);
      expect(msg).not.toMatch(/cam1 is not producing/);
    } finally {
      await gw.stop();
    }
  }, 30_000);
});
