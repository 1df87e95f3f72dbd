/**
 * Soak: uploads under random breaks, round after round, for RECGW_SOAK_MINUTES (default 10). Not part of `npm test`
 * (`npm run soak`, README). A real mosquitto (TLS, client certificates, ACL), a TCP proxy between the gateway and the
 * broker, one gateway (`recgw run`) and two receivers (`recgw receiver`) sharing one store through the shared
 * subscription. Each round seals more segments into the gateway's queue (the gateway stopped, as after a shift),
 * starts it, and while it uploads does random harm every 1-3 s: a receiver or the gateway killed (-9) or stopped and
 * started again, the network cut or held down, the broker killed and restarted. Then it waits for every receipt and
 * checks the store: each segment once with a receipt, nothing left half-written, the verifier passes, and no
 * process logged an error. RECGW_SOAK_SEED repeats a sequence of harm (its timing against the upload differs from
 * run to run).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { startProxy } from '../helpers/tcp-proxy.js';
import { startGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { sleep, verify } from '../helpers/evidence.js';
import { makeReceiver, seedSegments, startReceiver, storeReceipts, storedSegments, uplinkGateway, waitDelivered, type ReceiverProcess } from '../helpers/uplink-world.js';
import { partialDir } from '../../src/receiver/store-db.js';

const MINUTES = Number(process.env.RECGW_SOAK_MINUTES ?? 10);
const DEVICE = 'soak-gw';
const PER_ROUND = 16;
const SIZE = 300_000;
/** About 12 s of upload per round, so that several breaks land in each. */
const RATE = 400_000;
const HARMS_PER_ROUND = 5;

/** A small seeded generator (mulberry32): the same seed, the same harm. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const say = (line: string): void => void process.stderr.write(`[soak] ${line}\n`);

/** Lines a process logged at level error (a JSON log line with "level":"error"). */
const errorsIn = (log: string): string[] => log.split('\n').filter((l) => l.includes('"level":"error"'));

describe('uplink soak under random breaks', () => {
  afterAll(cleanupTmp);

  it(`delivers everything exactly once, with receipts, through ${MINUTES} minutes of breaks`, async () => {
    const seed = Number(process.env.RECGW_SOAK_SEED ?? Date.now() % 1_000_000);
    const rand = random(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    say(`seed ${seed} (RECGW_SOAK_SEED=${seed} repeats this run's sequence of harm), ${MINUTES} min`);

    const ca = makeCa();
    const broker = await startMosquitto({ caDir: ca.dir, receivers: ['receiver:1', 'receiver:2'] });
    const proxy = await startProxy(broker.port);
    const store = join(tmp('recgw-soak-store-'), 'store');
    const rxs = [makeReceiver(ca.dir, 'receiver:1', broker.url, { store }), makeReceiver(ca.dir, 'receiver:2', broker.url, { store })];
    const gw = uplinkGateway(ca.dir, DEVICE, `mqtts://127.0.0.1:${proxy.port}`, { chunkKiB: 32, window: 8, maxBytesPerSecond: RATE });
    const receivers: ReceiverProcess[] = [];
    let gateway: GatewayProcess | undefined;
    /** Logs of processes that have exited, kept for the error check. */
    const pastLogs: string[] = [];
    const logs = (): string => [...pastLogs, ...receivers.map((r) => r.log()), gateway?.log() ?? ''].join('\n');
    const names: string[] = [];
    const counts: Record<string, number> = {};

    /** Stop a gateway or receiver cleanly: exit code 0, or the failure shows the end of its log. */
    const stopCleanly = async (p: { stop(): Promise<number | null>; log(): string }, what: string): Promise<void> => {
      const code = await p.stop();
      expect(code, `${what} stopped with exit code ${code}; the end of its log:\n${p.log().slice(-6000)}`).toBe(0);
      pastLogs.push(p.log());
    };

    const harms: Record<string, () => Promise<void>> = {
      'receiver killed': async () => {
        const i = Math.floor(rand() * receivers.length);
        await receivers[i]!.kill9();
        pastLogs.push(receivers[i]!.log());
        await sleep(300 + rand() * 1200);
        receivers[i] = await startReceiver(rxs[i]!);
      },
      'receiver restarted': async () => {
        const i = Math.floor(rand() * receivers.length);
        await stopCleanly(receivers[i]!, 'recgw receiver');
        receivers[i] = await startReceiver(rxs[i]!);
      },
      'gateway killed': async () => {
        await gateway!.kill9();
        pastLogs.push(gateway!.log());
        await sleep(300 + rand() * 1000);
        gateway = await startGateway(gw.configPath, gw.config.control.socket);
      },
      'gateway restarted': async () => {
        await stopCleanly(gateway!, 'recgw run');
        gateway = await startGateway(gw.configPath, gw.config.control.socket);
      },
      'network cut': async () => {
        proxy.cut();
      },
      'network down': async () => {
        proxy.pause(pick(['refuse', 'stall'] as const));
        await sleep(1000 + rand() * 2000);
        proxy.resume();
      },
      'broker killed': async () => {
        broker.kill();
        await sleep(500 + rand() * 1000);
        await broker.restart();
      },
    };

    try {
      for (const rx of rxs) receivers.push(await startReceiver(rx));
      const end = Date.now() + MINUTES * 60_000;
      for (let round = 1; Date.now() < end; round++) {
        names.push(...(await seedSegments(gw, PER_ROUND, SIZE)));
        gateway = await startGateway(gw.configPath, gw.config.control.socket);
        const done: string[] = [];
        for (let h = 0; h < HARMS_PER_ROUND; h++) {
          await sleep(1000 + rand() * 2000);
          const name = pick(Object.keys(harms));
          await harms[name]!();
          counts[name] = (counts[name] ?? 0) + 1;
          done.push(name);
        }
        await waitDelivered(gw, 90_000, () => logs().slice(-6000));
        await stopCleanly(gateway, 'recgw run');
        gateway = undefined;

        // Each segment once in the store, each with a receipt; nothing left half-written.
        expect(storedSegments(store, DEVICE)).toEqual(names.map((n) => `${n}.seg`).sort());
        const receipted = new Set(storeReceipts(store, DEVICE).filter((r) => r.kind === 'segment').map((r) => r.name));
        expect(names.filter((n) => !receipted.has(n))).toEqual([]);
        const partial = partialDir(store, DEVICE);
        expect(existsSync(partial) ? readdirSync(partial) : []).toEqual([]);
        say(`round ${round}: ${names.length} segments stored and receipted after ${done.join(', ')}`);
      }
      const report = await verify(store, ca.paths.caCert, ca.paths.agencyKey);
      expect(report.findings).toEqual([]);
      expect(errorsIn(logs())).toEqual([]);
      say(`done: ${names.length} segments; harm done: ${JSON.stringify(counts)}`);
    } finally {
      await gateway?.kill9().catch(() => {});
      for (const r of receivers) await r.stop().catch(() => {});
      await proxy.stop();
      await broker.stop();
    }
  });
});
