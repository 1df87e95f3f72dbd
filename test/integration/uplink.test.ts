/**
 * Issue 4 acceptance, the main path: a gateway (`recgw run`) delivers its ledger and sealed segments through a
 * real mosquitto (TLS, client certificates, per-device ACL) to `recgw receiver`; every item arrives exactly once,
 * every receipt comes back and is recorded, and the receiver's store passes the verifier as it is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTmp, makeCa } from '../helpers/fixtures.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { startGateway } from '../helpers/gateway-process.js';
import { entries, verify } from '../helpers/evidence.js';
import { makeReceiver, seedSegments, startReceiver, storeReceipts, storedSegments, uplinkGateway, waitDelivered } from '../helpers/uplink-world.js';
import { join } from 'node:path';

describe('uplink to the receiver through mosquitto', () => {
  const ca = makeCa();
  let broker: Mosquitto;

  beforeAll(async () => {
    broker = await startMosquitto({ caDir: ca.dir, receivers: ['receiver-1', 'receiver-2'] });
  });
  afterAll(async () => {
    await broker?.stop();
    cleanupTmp();
  });

  for (const protocolVersion of [5, 4] as const) {
    it(`delivers every entry and segment exactly once, with receipts, over MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}`, async () => {
      const deviceId = `room-v${protocolVersion}`;
      const gw = uplinkGateway(ca.dir, deviceId, broker.url, { protocolVersion, chunkKiB: 64 });
      const names = await seedSegments(gw, 6, 300_000);
      const rx = makeReceiver(ca.dir, 'receiver-1', broker.url, { protocolVersion });
      const r = await startReceiver(rx);
      const g = await startGateway(gw.configPath, gw.config.control.socket);
      try {
        await waitDelivered(gw, 30_000, () => g.log() + r.log());
      } finally {
        expect(await g.stop()).toBe(0);
        expect(await r.stop()).toBe(0);
      }
      const store = rx.config.store;
      expect(storedSegments(store, deviceId)).toEqual(names.map((n) => `${n}.seg`).sort());
      const segReceipts = storeReceipts(store, deviceId).filter((x) => x.kind === 'segment');
      expect(segReceipts.map((x) => x.name).sort()).toEqual([...names].sort());
      const report = await verify(store, ca.paths.caCert, ca.paths.agencyKey);
      expect(report.findings).toEqual([]);
      // The gateway recorded each receipt once, in its own ledger, and the receiver holds those entries too.
      const stored = entries(join(store, deviceId));
      expect(stored.filter((e) => e.type === 'receipt.received')).toHaveLength(names.length);
    }, 60_000);
  }
});
