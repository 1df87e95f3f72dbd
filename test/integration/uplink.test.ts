/**
 * Issue 4 acceptance, the main path: a gateway (`recgw run`) delivers its ledger and sealed segments through a
 * real mosquitto (TLS, client certificates, per-device ACL) to `recgw receiver`; every item arrives exactly once,
 * every receipt comes back and is recorded, and the receiver's store passes the verifier as it is.
 */
import { describe, expect, it } from 'vitest';
import { makeCa } from '../helpers/fixtures.js';
import { withBroker } from '../helpers/mosquitto.js';
import { startGateway } from '../helpers/gateway-process.js';
import { entries, sleep, verify } from '../helpers/evidence.js';
import { makeReceiver, seedSegments, startReceiver, storeReceipts, storedSegments, uplinkGateway, waitDelivered } from '../helpers/uplink-world.js';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { receiverMqttOptions } from '../helpers/mqtt-clients.js';
import { topics } from '../../src/uplink/wire.js';

describe('uplink to the receiver through mosquitto', () => {
  const ca = makeCa();
  const broker = withBroker({ caDir: ca.dir, receivers: ['receiver:1', 'receiver:2'] });

  for (const protocolVersion of [5, 4] as const) {
    it(`delivers every entry and segment exactly once, with receipts, over MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}`, async () => {
      const deviceId = `room-v${protocolVersion}`;
      const gw = uplinkGateway(ca.dir, deviceId, broker.url, { protocolVersion, chunkKiB: 64 });
      // MQTT 5: segments of whole chunks, whose 16-byte tags go with their last chunks; 3.1.1: a ragged last chunk.
      const size = protocolVersion === 5 ? 4 * 65536 : 300_000;
      const names = await seedSegments(gw, 6, size);
      const rx = makeReceiver(ca.dir, 'receiver:1', broker.url, { protocolVersion });
      const r = await startReceiver(rx);
      const g = await startGateway(gw.configPath, gw.config.control.socket);
      try {
        await waitDelivered(gw, 30_000, () => g.log() + r.log());
        // `recgw status` shows the upload queue beside the recorder's state.
        const st = await g.call<{ uplink: { connected: boolean; queue: { files: number; entries: number } } }>('status');
        expect(st.uplink).toMatchObject({ connected: true, queue: { files: 0 } });
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
      // Chunks as the gateway cuts them, each taken once.
      const totals = JSON.parse(r.log().split('\n').find((l) => l.includes('"stopped cleanly"'))!) as { chunks: number };
      const perFile = protocolVersion === 5 ? 4 : 5;
      expect(totals.chunks).toBe(names.length * perFile);
    }, 60_000);
  }

  it('keeps to the bandwidth cap, and the retained status says online, empty queue, then offline (clean stop and last will)', async () => {
    const deviceId = 'room-capped';
    const RATE = 300_000;
    const gw = uplinkGateway(ca.dir, deviceId, broker.url, { chunkKiB: 32, maxBytesPerSecond: RATE });
    await seedSegments(gw, 4, 200_000);
    const rx = makeReceiver(ca.dir, 'receiver:1', broker.url);
    const r = await startReceiver(rx);
    // A watcher allowed to read status topics (receivers are), keeping the latest status. It has a receiver
    // identity of its own: the broker takes the certificate's name as the client id, so with the running
    // receiver's certificate each would keep throwing the other off the broker.
    const eye = makeReceiver(ca.dir, 'receiver:2', broker.url).config.tls;
    const watcher = await mqtt.connectAsync(broker.url, { ...receiverMqttOptions(eye.cert, eye.key, ca.paths.caCert), protocolVersion: 5 });
    const seen: { state: string; queue?: { files: number; entries: number } }[] = [];
    watcher.on('message', (_t, p) => seen.push(JSON.parse(p.toString()) as (typeof seen)[number]));
    await watcher.subscribeAsync(topics.status(deviceId), { qos: 1 });
    try {
      let g = await startGateway(gw.configPath, gw.config.control.socket);
      await waitDelivered(gw, 30_000, () => g.log() + r.log());
      // Timed by the receiver's own receipts (uploading starts before the gateway's socket answers): from the
      // first file stored to the last, the other three files pass the cap, less at most one burst of tokens.
      const stored = storeReceipts(rx.config.store, deviceId)
        .filter((x) => x.kind === 'segment')
        .map((x) => Date.parse((x as unknown as { storedAt: string }).storedAt))
        .sort((a, b) => a - b);
      expect(stored).toHaveLength(4);
      const took = (stored[3]! - stored[0]!) / 1000;
      expect(took).toBeGreaterThan((3 * 200_016 - RATE) / RATE);
      const deadline = Date.now() + 5000;
      while (!seen.some((x) => x.state === 'online' && x.queue?.files === 0 && x.queue.entries === 0) && Date.now() < deadline) await sleep(100);
      expect(seen.some((x) => x.state === 'online' && x.queue?.files === 0)).toBe(true);
      expect(await g.stop()).toBe(0);
      await sleep(300);
      expect(seen.at(-1)?.state).toBe('offline');
      // The last will: the broker says offline for a gateway that vanished.
      g = await startGateway(gw.configPath, gw.config.control.socket);
      const online = Date.now() + 5000;
      while (seen.at(-1)?.state !== 'online' && Date.now() < online) await sleep(100);
      expect(seen.at(-1)?.state).toBe('online');
      await g.kill9();
      const will = Date.now() + 5000;
      while (seen.at(-1)?.state !== 'offline' && Date.now() < will) await sleep(100);
      expect(seen.at(-1)).toEqual({ v: 1, device: deviceId, state: 'offline' });
    } finally {
      await watcher.endAsync();
      expect(await r.stop()).toBe(0);
    }
  }, 60_000);
});
