/**
 * Issue 14, item 6: one device cannot exhaust the store all devices share. An attacker holding a device's key
 * and certificate publishes on a real mosquitto (TLS, the per-device ACL) to a real `recgw receiver` with small
 * limits: chunks for names no manifest describes until the limit, a chunk at offset 2^40, and a flood of
 * out-of-order ledger lines, as its own device and as the genuine gateway's device before that gateway starts.
 * Each is refused and logged naming the device and the config key, the store's disk and rows stay within the
 * limits, the unfinished junk is discarded after its age, and the genuine gateway (a `recgw run` process) uploads
 * its whole session with receipts while the attack goes on.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { makeCa } from '../helpers/fixtures.js';
import { withBroker } from '../helpers/mosquitto.js';
import { deviceMqttOptions } from '../helpers/mqtt-clients.js';
import { startGateway } from '../helpers/gateway-process.js';
import { sleep, verify } from '../helpers/evidence.js';
import { ledgerLines, makeReceiver, seedSegments, startReceiver, storeReceipts, storedSegments, uplinkGateway, waitDelivered } from '../helpers/uplink-world.js';
import { encodeChunk, topics } from '../../src/uplink/wire.js';
import { partialDir, receiverDbPath } from '../../src/receiver/store-db.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const DEADLINE = new Date(Date.now() + 86_400_000).toISOString();
const GENUINE = 'limits-genuine';
const ATTACKER = 'limits-attacker';
const LIMITS = { unmanifestedMiB: 2, unmanifestedFiles: 100, heldLines: 40, heldAhead: 100, unmanifestedHours: 10 / 3600 };

/** A line that parses and names `device`, at `seq`: held ahead of a gap, it can never be appended. */
const junkLine = (line: string, device: string, seq: number): string => line.replace(/"device":"[^"]+","seq":\d+,/, `"device":"${device}","seq":${seq},`);

const diskBytes = (dir: string): number => (existsSync(dir) ? readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).blocks * 512, 0) : 0);

function rowsOf(store: string, device: string): { files: number; held: number } {
  const db = new Database(receiverDbPath(store), { readonly: true });
  try {
    const files = (db.prepare(`SELECT COUNT(*) AS n FROM files WHERE device = ? AND state = 'partial'`).get(device) as { n: number }).n;
    const held = (db.prepare('SELECT COUNT(*) AS n FROM held WHERE device = ?').get(device) as { n: number }).n;
    return { files, held };
  } finally {
    db.close();
  }
}

/** What a device holding `device`'s key can send: junk files, a far chunk, a flood of lines. */
class Attack {
  private files = 0;
  constructor(
    private readonly c: MqttClient,
    private readonly device: string,
  ) {}

  /** `count` junk files of 256 KiB each, every byte sent (4 chunks of 64 KiB), under names no manifest has. */
  async junkFiles(count: number): Promise<void> {
    for (let i = 0; i < count; i++, this.files++) {
      const name = `junk-${this.device}-${this.files}`;
      for (let off = 0; off < 256 * KiB; off += 64 * KiB) {
        const h = { v: 1 as const, device: this.device, name, offset: off, size: 256 * KiB, sha256: 'ab'.repeat(32), deadline: DEADLINE };
        await this.c.publishAsync(topics.chunk(this.device), encodeChunk(h, randomBytes(64 * KiB)), { qos: 1 });
      }
    }
  }

  async farChunk(): Promise<void> {
    const at = 2 ** 40;
    const h = { v: 1 as const, device: this.device, name: `far-${this.device}`, offset: at, size: at + 64 * KiB, sha256: 'ab'.repeat(32), deadline: DEADLINE };
    await this.c.publishAsync(topics.chunk(this.device), encodeChunk(h, randomBytes(64 * KiB)), { qos: 1 });
  }

  /** Lines at seqs from..to (the device's ledger lacks `from - 1` at least), in messages of 50. */
  async flood(template: string, from: number, to: number): Promise<void> {
    for (let s = from; s <= to; s += 50) {
      const lines = [];
      for (let q = s; q <= Math.min(to, s + 49); q++) lines.push(junkLine(template, this.device, q));
      await this.c.publishAsync(topics.entries(this.device), JSON.stringify({ v: 1, type: 'entries', device: this.device, deadline: DEADLINE, lines }), { qos: 1 });
    }
  }
}

describe('bounded cost per device at the receiver', () => {
  const ca = makeCa();
  const broker = withBroker({ caDir: ca.dir, receivers: ['receiver:1'] });

  it('refuses and logs junk files, a chunk at 2^40 and a flood of lines, keeps the store bounded, and the genuine gateway uploads completely', async () => {
    const gw = uplinkGateway(ca.dir, GENUINE, broker.url, { chunkKiB: 64 });
    const names = await seedSegments(gw, 6, 200_000);
    const template = ledgerLines(gw)[2]!;
    const atk = uplinkGateway(ca.dir, ATTACKER, broker.url);
    const rx = makeReceiver(ca.dir, 'receiver:1', broker.url, { shareGroup: null });
    writeFileSync(rx.configPath, JSON.stringify({ ...(JSON.parse(readFileSync(rx.configPath, 'utf8')) as object), limits: LIMITS }));
    const store = rx.config.store;
    const r = await startReceiver(rx);
    const logs = (): Record<string, unknown>[] =>
      r.log().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const refusals = (device: string, re: RegExp): number => logs().filter((l) => l.device === device && String(l.msg).startsWith('refused') && re.test(String(l.problem))).length;
    const attacker = await mqtt.connectAsync(broker.url, { ...deviceMqttOptions(atk.config.stateDir, ca.paths.caCert), protocolVersion: 5 });
    try {
      // As the genuine gateway's own device, before it starts (its stolen key): junk, a far chunk, lines ahead.
      const asGenuine = await mqtt.connectAsync(broker.url, { ...deviceMqttOptions(gw.config.stateDir, ca.paths.caCert), protocolVersion: 5 });
      const g = new Attack(asGenuine, GENUINE);
      await g.junkFiles(12);
      await g.farChunk();
      await g.flood(template, 3, 300);
      await asGenuine.endAsync();

      // As the attacker's device: 40 junk files (10 MiB) against a limit of 2 MiB, the far chunk, 500 lines.
      const a = new Attack(attacker, ATTACKER);
      await a.junkFiles(40);
      await a.farChunk();
      await a.flood(template, 1, 500);
      await sleep(1000);

      for (const d of [GENUINE, ATTACKER]) {
        expect(refusals(d, /limits\.unmanifestedMiB \(2 MiB\)/), d).toBeGreaterThan(0);
        expect(refusals(d, new RegExp(`^far-${d} declares 1099511693312 bytes .*limits\\.fileMiB`)), d).toBe(1);
        expect(refusals(d, /limits\.heldLines \(40\)/), d).toBeGreaterThan(0);
      }
      expect(refusals(ATTACKER, /limits\.heldAhead \(100\)/)).toBeGreaterThan(0);
      // 256 KiB files against 2 MiB: eight are held, every chunk of the rest refused.
      expect(refusals(ATTACKER, /limits\.unmanifestedMiB/)).toBe(32 * 4);
      expect(diskBytes(partialDir(store, ATTACKER))).toBeLessThanOrEqual(2 * MiB);
      expect(rowsOf(store, ATTACKER)).toEqual({ files: 8, held: 40 });

      // The genuine gateway uploads its session while the attacker goes on.
      const gateway = await startGateway(gw.configPath, gw.config.control.socket);
      let attacking = true;
      const going = (async () => {
        while (attacking) {
          await a.junkFiles(2);
          await a.flood(template, 1, 100);
        }
      })();
      try {
        const s = await waitDelivered(gw, 40_000, () => gateway.log() + r.log());
        expect(s.receipts).toBe(names.length);
      } finally {
        attacking = false;
        await going;
        expect(await gateway.stop()).toBe(0);
      }
      expect(storedSegments(store, GENUINE)).toEqual(names.map((n) => `${n}.seg`).sort());
      expect(storeReceipts(store, GENUINE).filter((x) => x.kind === 'segment').map((x) => x.name).sort()).toEqual([...names].sort());
      expect(diskBytes(partialDir(store, ATTACKER))).toBeLessThanOrEqual(2 * MiB);

      // Unfinished junk is discarded after limits.unmanifestedHours (10 s here), with its rows.
      const end = Date.now() + 20_000;
      while (rowsOf(store, ATTACKER).files + rowsOf(store, GENUINE).files > 0 && Date.now() < end) await sleep(200);
      expect(rowsOf(store, ATTACKER).files).toBe(0);
      expect(rowsOf(store, GENUINE).files).toBe(0);
      expect(diskBytes(partialDir(store, ATTACKER))).toBe(0);
      expect(logs().some((l) => l.device === ATTACKER && String(l.msg).startsWith('discarded a partial file') && l.limit === 'limits.unmanifestedHours')).toBe(true);
    } finally {
      await attacker.endAsync();
      expect(await r.stop()).toBe(0);
    }
    expect(r.log()).not.toMatch(/handling an upload failed/);
    expect((await verify(store, ca.paths.caCert, ca.paths.agencyKey)).findings).toEqual([]);
  }, 120_000);
});
