/**
 * Issue 3, vehicle extras: with preEventSeconds the sources record all the time; a session starting claims the
 * last N seconds, older buffered segments are discarded, and nothing buffered reaches the ledger unclaimed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { startGateway } from '../helpers/gateway-process.js';
import { exportDevice, manifests, sleep, verify } from '../helpers/evidence.js';
import type { SessionSummary } from '../../src/recorder/recorder.js';

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile() && e.name.endsWith('.ts')) out.push(e.name);
  return out;
}

describe('pre-event buffer', () => {
  const ca = makeCa();
  afterAll(cleanupTmp);

  it('claims the last preEventSeconds at session start and discards older footage', async () => {
    const p = makeGateway(ca.dir, {
      config: {
        installation: 'vehicle',
        time: { source: 'host', assumeSynchronised: true },
        recording: { segmentSeconds: 2, preEventSeconds: 4, expectedSessionMinutes: 1, sources: [{ id: 'cam1', kind: 'camera', driver: 'sim', width: 320, height: 180, fps: 25 }] },
      },
    });
    const gw = await startGateway(p.configPath, p.config.control.socket);
    let session: SessionSummary;
    try {
      await sleep(12_000); // idle: footage is buffered, not recorded
      const spoolFiles = tsFiles(join(p.config.stateDir, 'spool')).length;
      expect(spoolFiles).toBeLessThanOrEqual(6); // about (4 + 2) s of 2 s segments plus the open one
      session = (await gw.call<{ session: SessionSummary }>('session.start', { matter: 'verification', caseRef: 'V-1', officers: [{ name: '赵六', badge: '13010006' }] })).session;
      await sleep(5000);
      await gw.call('session.stop');
    } finally {
      expect(await gw.stop()).toBe(0);
    }
    const out = tmp();
    exportDevice(p.configPath, out);
    const report = await verify(out, ca.paths.caCert, ca.paths.agencyKey);
    expect(report.findings).toEqual([]);
    const ms = manifests(join(out, p.config.deviceId)).sort((a, b) => a.seq - b.seq);
    const start = Date.parse(session.start);
    const pre = ms.filter((m) => m.preEvent);
    expect(pre.length).toBeGreaterThanOrEqual(1);
    for (const m of pre) expect(Date.parse(m.end)).toBeLessThanOrEqual(start);
    // Nothing older than the pre-event window (plus one segment that straddles its edge).
    expect(Date.parse(ms[0]!.start)).toBeGreaterThanOrEqual(start - (4 + 2) * 1000 - 200);
    expect(Date.parse(ms[0]!.end)).toBeGreaterThan(start - 4000);
    // Buffered footage does not linger in the spool after the service stops, nor do the folders of the runs.
    expect(tsFiles(join(p.config.stateDir, 'spool'))).toEqual([]);
    expect(readdirSync(join(p.config.stateDir, 'spool', 'cam1'))).toEqual([]);
  }, 60_000);
});
