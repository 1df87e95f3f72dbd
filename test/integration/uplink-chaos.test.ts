/**
 * Issue 4 acceptance, breaks mid-upload: broker killed and restarted, network cut mid-chunk, receiver killed and
 * restarted, gateway kill -9. Each time every item arrives exactly once in the store, every receipt comes back, the
 * verifier passes, and what was sent again is bounded by the chunks in flight at each break.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeCa } from '../helpers/fixtures.js';
import { withBroker } from '../helpers/mosquitto.js';
import { startProxy } from '../helpers/tcp-proxy.js';
import { startGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { sleep, verify } from '../helpers/evidence.js';
import {
  makeReceiver,
  queueState,
  seedSegments,
  startReceiver,
  storeReceipts,
  storedSegments,
  uplinkGateway,
  waitDelivered,
  type ReceiverProcess,
} from '../helpers/uplink-world.js';
import type { Provisioned } from '../../src/demo/provision.js';
import { maxChunkLength } from '../../src/uplink/wire.js';

const CRASH_RECEIVER = join(import.meta.dirname, '../helpers/crash-receiver.js');
const COUNT = 16;
const SIZE = 400_000;
const CHUNK_KIB = 32;
const WINDOW = 8;
/** Slow enough (about 4 s for the whole queue) that each break lands mid-upload. */
const RATE = 1_600_000;

/** What a receiver logged as its totals when it stopped. */
function receiverTotals(log: string): { chunkBytes: number; refused: number } {
  const line = log.split('\n').find((l) => l.includes('"stopped cleanly"'));
  if (!line) throw new Error(`the receiver did not log its totals:\n${log.slice(-2000)}`);
  return JSON.parse(line) as { chunkBytes: number; refused: number };
}

async function waitReceipts(gw: Provisioned, n: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (queueState(gw).receipts < n) {
    if (Date.now() > deadline) throw new Error(`fewer than ${n} receipts within ${timeoutMs} ms: ${JSON.stringify(queueState(gw))}`);
    await sleep(50);
  }
}

describe('uplink breaks mid-upload', () => {
  const ca = makeCa();
  const broker = withBroker({ caDir: ca.dir, receivers: ['receiver:1'] });

  async function world(deviceId: string, brokerUrl = broker.url): Promise<{ gw: Provisioned; names: string[]; rx: ReturnType<typeof makeReceiver> }> {
    const gw = uplinkGateway(ca.dir, deviceId, brokerUrl, { chunkKiB: CHUNK_KIB, window: WINDOW, maxBytesPerSecond: RATE });
    const names = await seedSegments(gw, COUNT, SIZE);
    return { gw, names, rx: makeReceiver(ca.dir, 'receiver:1', broker.url) };
  }

  /** Exactly once in the store, one receipt each, and the chain verifies. */
  async function checkWhole(deviceId: string, names: string[], store: string): Promise<void> {
    expect(storedSegments(store, deviceId)).toEqual(names.map((n) => `${n}.seg`).sort());
    const seg = storeReceipts(store, deviceId).filter((r) => r.kind === 'segment').map((r) => r.name);
    expect(seg.sort()).toEqual([...names].sort());
    expect((await verify(store, ca.paths.caCert, ca.paths.agencyKey)).findings).toEqual([]);
  }

  /** checkWhole, and resends stayed within `breaks` windows. */
  async function check(deviceId: string, names: string[], store: string, rxLogs: string[], breaks: number): Promise<void> {
    await checkWhole(deviceId, names, store);
    const received = rxLogs.map(receiverTotals).reduce((a, t) => a + t.chunkBytes, 0);
    const sealedBytes = COUNT * (SIZE + 16);
    expect(received).toBeGreaterThanOrEqual(sealedBytes);
    expect(received - sealedBytes).toBeLessThanOrEqual(breaks * WINDOW * maxChunkLength(CHUNK_KIB * 1024));
  }

  it('broker killed and restarted', async () => {
    const { gw, names, rx } = await world('chaos-broker');
    const r = await startReceiver(rx);
    const g = await startGateway(gw.configPath, gw.config.control.socket);
    try {
      await waitReceipts(gw, 3);
      broker.kill();
      await sleep(1500);
      await broker.restart();
      await waitDelivered(gw, 40_000, () => g.log());
    } finally {
      expect(await g.stop()).toBe(0);
      expect(await r.stop()).toBe(0);
    }
    await check('chaos-broker', names, rx.config.store, [r.log()], 1);
  }, 90_000);

  it('network cut mid-chunk, then down for two seconds', async () => {
    const proxy = await startProxy(broker.port);
    const { gw, names, rx } = await world('chaos-net', `mqtts://127.0.0.1:${proxy.port}`);
    const r = await startReceiver(rx);
    const g = await startGateway(gw.configPath, gw.config.control.socket);
    try {
      await waitReceipts(gw, 3);
      proxy.pause();
      await sleep(2000);
      expect(queueState(gw).unreceipted).toBeGreaterThan(0);
      proxy.resume();
      await waitDelivered(gw, 40_000, () => g.log());
    } finally {
      expect(await g.stop()).toBe(0);
      expect(await r.stop()).toBe(0);
      await proxy.stop();
    }
    await check('chaos-net', names, rx.config.store, [r.log()], 1);
  }, 90_000);

  it('receiver killed (-9) and restarted', async () => {
    const { gw, names, rx } = await world('chaos-rx');
    let r: ReceiverProcess = await startReceiver(rx);
    const g = await startGateway(gw.configPath, gw.config.control.socket);
    const killed = { log: '' };
    try {
      await waitReceipts(gw, 3);
      await r.kill9();
      killed.log = r.log();
      await sleep(1000);
      r = await startReceiver(rx);
      await waitDelivered(gw, 40_000, () => g.log() + r.log());
    } finally {
      expect(await g.stop()).toBe(0);
      expect(await r.stop()).toBe(0);
    }
    // The killed receiver logged no totals; count only that the store is whole, and the restarted one's resends.
    expect(killed.log).not.toContain('stopped cleanly');
    await checkWhole('chaos-rx', names, rx.config.store);
  }, 90_000);

  // Crashes at a precise step of storing a file (test/helpers/crash-receiver.js), then a receiver started again.
  const steps = [
    // A claim in receiver.db for bytes never written: the next receiver must not wait for it to go stale.
    ['claimed', 'after claiming a chunk and before writing it'],
    // Every byte there, no receipt: the gateway, told the receiver has it all, sends nothing.
    ['last-chunk', 'after the last chunk of a file and before storing it'],
    // The file in segments/, receiver.db still saying partial.
    ['renamed', 'after renaming a file into the store and before recording it stored'],
    // Stored and receipted in receiver.db, receipts.jsonl without it: the next one writes it there at start.
    ['committed', 'after recording a file stored and before writing its receipt'],
    // Its receipt written and fsynced, that not yet recorded: the next one writes no second one.
    ['filed', 'after writing a receipt to receipts.jsonl and before recording that'],
    // An entries receipt committed, its filing waiting for its segment's receipt: neither in receipts.jsonl nor sent.
    ['lingering', 'while an entries receipt waits to be filed with its segment\'s'],
  ] as const;
  for (const [step, when] of steps) {
    it(`receiver killed (-9) ${when}: the next one stores it`, async () => {
      const deviceId = `chaos-rx-${step}`;
      const { gw, names, rx } = await world(deviceId);
      let r: ReceiverProcess = await startReceiver(rx, 15_000, { path: CRASH_RECEIVER, args: [step] });
      const g = await startGateway(gw.configPath, gw.config.control.socket);
      try {
        if (r.proc.exitCode === null && r.proc.signalCode === null) await new Promise((resolve) => r.proc.once('exit', resolve));
        expect(r.proc.signalCode).toBe('SIGKILL');
        expect(storeReceipts(rx.config.store, deviceId).filter((x) => x.kind === 'segment')).toHaveLength(step === 'filed' ? 1 : 0);
        r = await startReceiver(rx);
        await waitDelivered(gw, 40_000, () => g.log() + r.log());
      } finally {
        expect(await g.stop()).toBe(0);
        expect(await r.stop()).toBe(0);
      }
      await checkWhole(deviceId, names, rx.config.store);
    }, 90_000);
  }

  it('gateway killed (-9) mid-upload and started again', async () => {
    const { gw, names, rx } = await world('chaos-gw');
    const r = await startReceiver(rx);
    let g: GatewayProcess = await startGateway(gw.configPath, gw.config.control.socket);
    try {
      await waitReceipts(gw, 3);
      await g.kill9();
      expect(queueState(gw).unreceipted).toBeGreaterThan(0);
      g = await startGateway(gw.configPath, gw.config.control.socket);
      await waitDelivered(gw, 40_000, () => g.log());
    } finally {
      expect(await g.stop()).toBe(0);
      expect(await r.stop()).toBe(0);
    }
    await check('chaos-gw', names, rx.config.store, [r.log()], 1);
  }, 90_000);
});
