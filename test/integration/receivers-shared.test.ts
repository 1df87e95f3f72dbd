/**
 * Issue 17's acceptance for the receivers: two and three `recgw receiver` processes, each with its own database
 * connections, on one shared store under the shared subscription, against a real PostgreSQL (`database` in their
 * config) and against SQLite (receiver.db beside the store), with one of them killed (SIGKILL) mid-upload while two
 * gateways upload: every item stored once, one receipt each, every ledger in order, one agency log, and the verifier
 * passes. With PostgreSQL, a second receiver of a running one's name is refused by the name lock in the database and
 * says where the running one is; the killed one's lock is free again for its restart.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { makeCa, tmp } from '../helpers/fixtures.js';
import { withBroker } from '../helpers/mosquitto.js';
import { createDatabase, withPostgres } from '../helpers/postgres.js';
import { startGateway } from '../helpers/gateway-process.js';
import { sleep, verify } from '../helpers/evidence.js';
import { ledgerLines, makeReceiver, queueState, seedSegments, startReceiver, storeReceipts, storedSegments, uplinkGateway, waitDelivered, type ReceiverProcess } from '../helpers/uplink-world.js';
import type { Provisioned } from '../../src/demo/provision.js';
import { LEDGER_FILE } from '../../src/evidence/head.js';

const BIN = join(import.meta.dirname, '../../bin/recgw.js');
const COUNT = 6;
const SIZE = 200_000;
/** Slow enough (about 2 s per gateway) that the kill lands mid-upload. */
const RATE = 900_000;
const NAMES = ['receiver:1', 'receiver:2', 'receiver:3'];

let run = 0;

describe('receivers sharing a store, one killed mid-upload', () => {
  const ca = makeCa();
  const broker = withBroker({ caDir: ca.dir, receivers: NAMES });
  const pgs = withPostgres();

  /**
   * `count` receivers on one store (and one database), two gateways uploading; the second receiver is killed -9 once
   * three receipts are back, and started again later. Returns after the checks.
   */
  async function scenario(count: number, backend: 'sqlite' | 'postgres'): Promise<void> {
    const tag = `${backend}-${count}-${++run}`;
    const database = backend === 'postgres' ? await createDatabase(pgs.server(), `rx_${run}`) : undefined;
    const store = join(tmp('recgw-shared-'), 'store');
    const rxs = NAMES.slice(0, count).map((name) => makeReceiver(ca.dir, name, broker.url, { store, ...(database ? { database } : {}) }));
    const gws: { gw: Provisioned; names: string[] }[] = [];
    for (const d of ['a', 'b']) {
      const gw = uplinkGateway(ca.dir, `shared-${tag}-${d}`, broker.url, { chunkKiB: 32, window: 8, maxBytesPerSecond: RATE });
      gws.push({ gw, names: await seedSegments(gw, COUNT, SIZE) });
    }
    const running: ReceiverProcess[] = await Promise.all(rxs.map((rx) => startReceiver(rx, 30_000)));
    const logs: (() => string)[] = running.map((r) => r.log);
    if (backend === 'postgres') {
      // A twin of a running receiver (same config) is refused by the lock in the database, naming where the other runs.
      const twin = spawnSync(process.execPath, [BIN, 'receiver', '--config', rxs[0]!.configPath], { encoding: 'utf8', timeout: 20_000 });
      expect(twin.status).toBe(2);
      expect(twin.stderr).toContain('receiver receiver:1 is already running on the PostgreSQL database');
      expect(twin.stderr).toContain(`held by the receiver process ${hostname()}:${running[0]!.proc.pid} (host:pid)`);
      expect(twin.stderr).not.toMatch(/postgres:\/\//);
    }
    const gateways = await Promise.all(gws.map(({ gw }) => startGateway(gw.configPath, gw.config.control.socket)));
    const all = (): string => [...gateways.map((g) => g.log()), ...logs.map((l) => l())].join('\n----\n').slice(-6000);
    try {
      for (const { gw } of gws) {
        for (let t = 0; queueState(gw).receipts < 3; t++) {
          if (t > 400) throw new Error(`no receipts within 20 s:\n${all()}`);
          await sleep(50);
        }
      }
      const victim = running[1]!;
      await victim.kill9();
      expect(gws.some(({ gw }) => queueState(gw).unreceipted > 0), 'the kill came mid-upload').toBe(true);
      await sleep(500);
      // Started again: its name is free (the flock, or the database session's advisory lock, went with the process).
      running[1] = await startReceiver(rxs[1]!, 30_000);
      logs.push(running[1].log);
      for (const { gw } of gws) await waitDelivered(gw, 40_000, all);
    } finally {
      for (const g of gateways) expect(await g.stop()).toBe(0);
      for (const r of running) expect(await r.stop()).toBe(0);
    }

    for (const { gw, names } of gws) {
      const device = gw.config.deviceId;
      // Every item once, one receipt each.
      expect(storedSegments(store, device)).toEqual(names.map((n) => `${n}.seg`).sort());
      const receipts = storeReceipts(store, device).filter((r) => r.kind === 'segment').map((r) => r.name);
      expect(receipts.sort()).toEqual([...names].sort());
      // The ledger in order: what the gateway holds, from its first line, as far as it was delivered.
      const stored = readFileSync(join(store, device, LEDGER_FILE), 'utf8').trimEnd().split('\n');
      expect(stored.length).toBeGreaterThan(COUNT);
      expect(stored).toEqual(ledgerLines(gw).slice(0, stored.length));
    }
    expect((await verify(store, ca.paths.caCert, ca.paths.agencyKey)).findings).toEqual([]);
  }

  for (const backend of ['postgres', 'sqlite'] as const) {
    it(`two receivers on ${backend}`, () => scenario(2, backend), 90_000);
    it(`three receivers on ${backend}`, () => scenario(3, backend), 90_000);
  }
});
