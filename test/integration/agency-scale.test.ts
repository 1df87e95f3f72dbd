/**
 * bench/agency-scale's load generator speaks the uplink protocol as the real gateway does: a fleet of three
 * simulated gateways (src/demo/fleet.ts: enrolled devices, signed ledgers, one segment sealed once and reused)
 * played by bench/agency-gateways.js against a real mosquitto and two `recgw receiver` processes sharing one store:
 * every segment is stored once and receipted, and the store verifies (with the agency key: the reused sealed file
 * opens under every manifest).
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildFleet } from '../../src/demo/fleet.js';
import { tmp } from '../helpers/fixtures.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { verify } from '../helpers/evidence.js';
import { makeReceiver, startReceiver, storeReceipts, storedSegments, type ReceiverProcess } from '../helpers/uplink-world.js';

const GEN = join(import.meta.dirname, '../../bench/agency-gateways.js');

interface GenResult {
  type: 'result';
  released: number;
  receipted: number;
  missing: number;
  latencies: number[];
}

function runGenerator(opts: Record<string, unknown>): Promise<GenResult> {
  return new Promise((resolve, reject) => {
    const p = fork(GEN, [JSON.stringify(opts)], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    p.on('message', (m: { type: string }) => {
      if (m.type === 'ready') p.send({ type: 'go' });
      if (m.type === 'result') {
        p.send({ type: 'exit' });
        resolve(m as GenResult);
      }
    });
    p.on('exit', (code) => code !== 0 && reject(new Error(`the generator exited with ${code}: ${err}`)));
  });
}

describe('agency-scale load generator', () => {
  let broker: Mosquitto | undefined;
  const receivers: ReceiverProcess[] = [];
  afterAll(async () => {
    for (const r of receivers) await r.stop();
    await broker?.stop();
  });

  it('three gateways through two receivers: every segment stored once and receipted, the store verifies', async () => {
    const fleet = await buildFleet({ dir: tmp('recgw-fleet-'), devices: 3, segmentsPerDevice: 3, segmentBytes: 300_000 });
    broker = await startMosquitto({ caDir: fleet.caDir, receivers: ['receiver:1', 'receiver:2'] });
    const store = join(tmp('recgw-agency-store-'), 'store');
    for (const name of ['receiver:1', 'receiver:2']) receivers.push(await startReceiver(makeReceiver(fleet.caDir, name, broker.url, { store })));

    const r = await runGenerator({ url: broker.url, fleet: join(fleet.caDir, '..', 'fleet.json'), mode: 'burst', segments: 3, chunkKiB: 64, window: 4, answerTimeoutMs: 2000 });
    expect(r).toMatchObject({ released: 9, receipted: 9, missing: 0 });

    for (const d of fleet.devices) {
      expect(storedSegments(store, d.deviceId)).toEqual(d.segments.map((s) => `${s.name}.seg`).sort());
      const seg = storeReceipts(store, d.deviceId).filter((x) => x.kind === 'segment').map((x) => x.name);
      expect(seg.sort()).toEqual(d.segments.map((s) => s.name).sort());
    }
    // The receivers publish the agency log's files after their commits, at most once a second: stopped, they have.
    for (const rx of receivers.splice(0)) await rx.stop();
    const report = await verify(store, fleet.caCert, fleet.agencyEncKey);
    expect(report.findings).toEqual([]);
    expect(report.ok).toBe(true);
  }, 60_000);
});
