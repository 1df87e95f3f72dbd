/**
 * Issue 4 acceptance: what the receiver refuses or ignores (forged segment, replayed segment, forged device), and
 * two receivers sharing the load through a shared subscription without storing anything twice or out of order.
 * The "device" here is a raw mqtt.js client holding a real device's credentials, so it can send what a
 * compromised or buggy gateway might.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { makeCa } from '../helpers/fixtures.js';
import { withBroker } from '../helpers/mosquitto.js';
import { deviceMqttOptions, receiverMqttOptions } from '../helpers/mqtt-clients.js';
import { startGateway } from '../helpers/gateway-process.js';
import { sleep, verify } from '../helpers/evidence.js';
import { ledgerLines, makeReceiver, queueState, seedSegments, startReceiver, storeReceipts, storedSegments, uplinkGateway, waitDelivered, type ReceiverProcess } from '../helpers/uplink-world.js';
import { stateDbPath } from '../../src/app/evidence-core.js';
import { encodeChunk, topics } from '../../src/uplink/wire.js';
import { hostilePayloads } from '../helpers/fuzz.js';
import type { Provisioned } from '../../src/demo/provision.js';

const DEADLINE = new Date(Date.now() + 86_400_000).toISOString();

function sealedFiles(gw: Provisioned): { name: string; file: string; size: number; sha256: string }[] {
  const db = new Database(stateDbPath(gw.config.stateDir), { readonly: true });
  try {
    return db.prepare('SELECT name, file, stored_size AS size, stored_sha256 AS sha256 FROM segments ORDER BY name').all() as {
      name: string;
      file: string;
      size: number;
      sha256: string;
    }[];
  } finally {
    db.close();
  }
}

/** A device client that collects what the receiver sends it. */
async function deviceClient(gw: Provisioned, caCert: string, url: string): Promise<{ c: MqttClient; receipts: { kind: string; name?: string }[] }> {
  const c = await mqtt.connectAsync(url, { ...deviceMqttOptions(gw.config.stateDir, caCert), protocolVersion: 5 });
  const receipts: { kind: string; name?: string }[] = [];
  c.on('message', (_t, p) => receipts.push(JSON.parse(p.toString()) as { kind: string; name?: string }));
  await c.subscribeAsync(topics.receipt(gw.config.deviceId), { qos: 1 });
  return { c, receipts };
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const chunkOf = (deviceId: string, f: { name: string; size: number; sha256: string }, data: Buffer, sha = f.sha256): Buffer =>
  encodeChunk({ v: 1, device: deviceId, name: f.name, offset: 0, size: f.size, sha256: sha, deadline: DEADLINE }, data);

describe('receiver refusals and shared load', () => {
  const ca = makeCa();
  const foreign = makeCa();
  const broker = withBroker({ caDir: ca.dir, receivers: ['receiver:1', 'receiver:2'] });

  it('refuses a forged segment and ignores a replayed one, without receipts; stores the genuine one', async () => {
    const gw = uplinkGateway(ca.dir, 'forge-target', broker.url);
    await seedSegments(gw, 2, 50_000);
    const rx = makeReceiver(ca.dir, 'receiver:1', broker.url, { shareGroup: null });
    const r: ReceiverProcess = await startReceiver(rx);
    const { c, receipts } = await deviceClient(gw, ca.paths.caCert, broker.url);
    try {
      const d = gw.config.deviceId;
      await c.publishAsync(topics.entries(d), JSON.stringify({ v: 1, type: 'entries', device: d, deadline: DEADLINE, lines: ledgerLines(gw) }), { qos: 1 });
      await until(() => receipts.some((x) => x.kind === 'entries'), 5000, 'the entries receipt');
      const [f] = sealedFiles(gw);
      const genuine = readFileSync(f!.file);

      // Forged: the right size and the manifest's hash in the header, other bytes.
      await c.publishAsync(topics.chunk(d), chunkOf(d, f!, randomBytes(f!.size)), { qos: 1 });
      // Forged header: a hash other than the manifest's is refused on arrival.
      await c.publishAsync(topics.chunk(d), chunkOf(d, f!, genuine, 'ab'.repeat(32)), { qos: 1 });
      await sleep(800);
      expect(receipts.filter((x) => x.kind === 'segment')).toEqual([]);
      expect(r.log()).toMatch(/forged or damaged, not stored/);
      expect(r.log()).toMatch(/but its manifest says/);

      // The genuine file after the forgery is stored and receipted.
      await c.publishAsync(topics.chunk(d), chunkOf(d, f!, genuine), { qos: 1 });
      await until(() => receipts.some((x) => x.kind === 'segment'), 5000, 'the segment receipt');

      // Replayed: ignored and logged, no second receipt.
      await c.publishAsync(topics.chunk(d), chunkOf(d, f!, genuine), { qos: 1 });
      await sleep(800);
      expect(receipts.filter((x) => x.kind === 'segment')).toHaveLength(1);
      expect(r.log()).toMatch(/ignored a chunk.*already stored/);
      expect(storedSegments(rx.config.store, d)).toEqual([`${f!.name}.seg`]);
    } finally {
      await c.endAsync();
      expect(await r.stop()).toBe(0);
    }
  }, 60_000);

  it('takes 600 hostile messages from a device without falling over, each refused with its reason; then that device uploads everything', async () => {
    const gw = uplinkGateway(ca.dir, 'fuzz-dev', broker.url);
    const names = await seedSegments(gw, 2, 50_000);
    const rx = makeReceiver(ca.dir, 'receiver:1', broker.url, { shareGroup: null });
    const r = await startReceiver(rx);
    try {
      await hostile(gw, r, names);
    } finally {
      if (r.proc.exitCode === null) await r.stop();
    }
  }, 120_000);

  /** The device's hostile messages, then its genuine upload; the receiver `r` serves it throughout. */
  async function hostile(gw: Provisioned, r: ReceiverProcess, names: string[]): Promise<void> {
    const rx = r.rx;
    const { c } = await deviceClient(gw, ca.paths.caCert, broker.url);
    const d = gw.config.deviceId;
    try {
      const [f] = sealedFiles(gw);
      const lines = ledgerLines(gw);
      // Genuine messages of each kind, which the fuzzing takes apart (fast-check, a fixed seed: the same run each time).
      const hello = { v: 1, type: 'hello', device: d, id: 'fuzz', files: [{ name: f!.name, size: f!.size, sha256: f!.sha256, deadline: DEADLINE }], log: { size: 0 } };
      const entries = { v: 1, type: 'entries', device: d, deadline: DEADLINE, lines: lines.slice(0, 3) };
      const alert = { v: 1, type: 'alert', device: d, line: lines[0], cert: 'PEM', sent: DEADLINE, late: false };
      const header = { v: 1, device: d, name: f!.name, offset: 0, size: f!.size, sha256: f!.sha256, deadline: DEADLINE };
      const frame = (h: Buffer, data: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, (h.length >> 8) & 0xff, h.length & 0xff]), h, data]);
      const sample = <T>(a: fc.Arbitrary<T>, n: number, seed: number): T[] => fc.sample(a, { numRuns: n, seed });
      const sent: [string, Buffer][] = [
        ...sample(hostilePayloads(hello), 150, 1).map((p): [string, Buffer] => [topics.hello(d), p]),
        ...sample(hostilePayloads(entries), 150, 2).map((p): [string, Buffer] => [topics.entries(d), p]),
        ...sample(hostilePayloads(alert), 100, 3).map((p): [string, Buffer] => [topics.alert(d), p]),
        ...sample(fc.tuple(hostilePayloads(header), fc.uint8Array({ maxLength: 2048 })), 200, 4).map(([h, data]): [string, Buffer] => [topics.chunk(d), frame(h.subarray(0, 4096), Buffer.from(data))]),
      ];
      for (const [topic, payload] of sent) await c.publishAsync(topic, payload, { qos: 1 });
      // The receiver has read them all: the last one's effect is in its log, and it is still running.
      await until(() => (r.log().match(/"msg":"(refused|ignored)/g) ?? []).length >= 300, 20_000, 'the refusals to be logged');
      await sleep(1000);
      expect(r.proc.exitCode).toBeNull();
      const logged = r.log().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level?: string; msg: string; problem?: string; err?: string });
      // Every refusal names what was wrong; nothing reached the catch-all of an unexpected error.
      const refusals = logged.filter((l) => /^refused (a hello|an entries message|a ledger entry|an alert|a chunk)/.test(l.msg));
      expect(refusals.length).toBeGreaterThan(100);
      // Each names what was wrong, briefly: a hostile device does not choose the length of the receiver's log lines.
      for (const l of refusals) expect(l.problem ?? l.err ?? '', JSON.stringify(l).slice(0, 500)).toMatch(/^\S.{0,400}$/s);
      console.log(`${sent.length} hostile messages: ${refusals.length} refusals logged, e.g.\n${[...new Set(refusals.map((l) => `${l.msg}: ${l.problem ?? l.err}`))].slice(0, 12).join('\n')}`);
      expect(logged.filter((l) => /handling an upload failed|uncaught|unhandled/.test(l.msg))).toEqual([]);
    } finally {
      await c.endAsync();
    }
    // The same device, genuine now, uploads everything, and the store verifies.
    const g = await startGateway(gw.configPath, gw.config.control.socket);
    try {
      await waitDelivered(gw, 30_000, () => g.log() + r.log());
    } finally {
      expect(await g.stop()).toBe(0);
    }
    // Stopped first: the log's files are published at most once a second, and at the stop.
    expect(await r.stop()).toBe(0);
    expect(storedSegments(rx.config.store, d)).toEqual(names.map((n) => `${n}.seg`).sort());
    expect((await verify(rx.config.store, ca.paths.caCert, ca.paths.agencyKey)).findings).toEqual([]);
  }

  it("a gateway handed 500 hostile states and receipts on its topics goes on, each ignored with its reason; a genuine receiver then gets everything", async () => {
    const gw = uplinkGateway(ca.dir, 'fuzzed-gw', broker.url, { answerTimeoutSeconds: 2 });
    const names = await seedSegments(gw, 2, 50_000);
    const rx = makeReceiver(ca.dir, 'receiver:2', broker.url, { shareGroup: null });
    const g = await startGateway(gw.configPath, gw.config.control.socket);
    let r: ReceiverProcess | undefined;
    // Whoever holds a receiver's certificate may publish on any gateway's down/ topics (uplink-protocol.md §1).
    const hostile = await mqtt.connectAsync(broker.url, { ...receiverMqttOptions(rx.config.tls.cert, rx.config.tls.key, ca.paths.caCert), protocolVersion: 5 });
    try {
      const d = gw.config.deviceId;
      const [f] = sealedFiles(gw);
      const state = { v: 1, type: 'state', device: d, re: 'h', ledger: { seq: 2, hash: f!.sha256 }, files: { [f!.name]: { stored: true } }, receipts: [], log: { checkpoint: 'log\n9\nAAAA\n\n— log AAAA\n', consistency: [], cert: 'PEM' } };
      const receipt = { v: 1, type: 'receipt', kind: 'segment', device: d, name: f!.name, size: f!.size, sha256: f!.sha256, deadline: DEADLINE, storedAt: DEADLINE, receiver: 'receiver:2', cert: 'PEM', sig: 'AAAA' };
      const sample = (base: unknown, seed: number): Buffer[] => fc.sample(hostilePayloads(base), { numRuns: 250, seed });
      for (const p of sample(state, 5)) await hostile.publishAsync(topics.state(d), p, { qos: 1 });
      for (const p of sample(receipt, 6)) await hostile.publishAsync(topics.receipt(d), p, { qos: 1 });
      await sleep(1500);
      expect(g.proc.exitCode).toBeNull();
      const logged = g.log().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; problem?: string });
      const ignored = logged.filter((l) => /ignored a bad state|refused a receipt|ignored a receipt that is not JSON/.test(l.msg));
      expect(ignored.length).toBeGreaterThan(100);
      for (const l of ignored) expect(l.problem ?? l.msg, JSON.stringify(l).slice(0, 500)).toMatch(/^\S.{0,400}$/s);
      console.log(`500 hostile states and receipts: ${ignored.length} ignored or refused, e.g.\n${[...new Set(ignored.map((l) => `${l.msg}: ${l.problem ?? ''}`))].slice(0, 10).join('\n')}`);
      expect(logged.filter((l) => /handling a message failed|uncaught|unhandled/.test(l.msg))).toEqual([]);
      expect(queueState(gw).receipts).toBe(0);
      // A genuine receiver comes: everything is delivered and receipted, whatever the hostile states claimed.
      r = await startReceiver(rx);
      await waitDelivered(gw, 30_000, () => g.log() + r!.log());
    } finally {
      await hostile.endAsync();
      expect(await g.stop()).toBe(0);
      if (r) expect(await r.stop()).toBe(0);
    }
    expect(storedSegments(rx.config.store, gw.config.deviceId)).toEqual(names.map((n) => `${n}.seg`).sort());
  }, 120_000);

  it('refuses a device whose certificate is not from the agency CA, with a logged reason and no receipt', async () => {
    // The ledger is made under a foreign CA; it is sent over the broker with a genuine connection of the same ID.
    const fake = uplinkGateway(foreign.dir, 'forged-dev', broker.url);
    await seedSegments(fake, 1, 10_000);
    const real = uplinkGateway(ca.dir, 'forged-dev', broker.url);
    const rx = makeReceiver(ca.dir, 'receiver:1', broker.url, { shareGroup: null });
    const r = await startReceiver(rx);
    const { c, receipts } = await deviceClient(real, ca.paths.caCert, broker.url);
    try {
      await c.publishAsync(topics.entries('forged-dev'), JSON.stringify({ v: 1, type: 'entries', device: 'forged-dev', deadline: DEADLINE, lines: ledgerLines(fake) }), { qos: 1 });
      await until(() => r.log().includes('refused a ledger entry'), 5000, 'the refusal');
      await sleep(500);
      expect(receipts).toEqual([]);
      expect(r.log()).toMatch(/not issued by the agency CA/);
      expect(storedSegments(rx.config.store, 'forged-dev')).toEqual([]);
    } finally {
      await c.endAsync();
      expect(await r.stop()).toBe(0);
    }
  }, 60_000);

  it('two receivers on a shared subscription store each item once, each ledger in sequence order', async () => {
    const gw = uplinkGateway(ca.dir, 'shared-load', broker.url, { chunkKiB: 32 });
    const names = await seedSegments(gw, 20, 150_000);
    const rx1 = makeReceiver(ca.dir, 'receiver:1', broker.url);
    const rx2 = makeReceiver(ca.dir, 'receiver:2', broker.url, { store: rx1.config.store });
    const r1 = await startReceiver(rx1);
    const r2 = await startReceiver(rx2);
    const g = await startGateway(gw.configPath, gw.config.control.socket);
    try {
      await waitDelivered(gw, 40_000, () => g.log());
    } finally {
      expect(await g.stop()).toBe(0);
      expect(await r1.stop()).toBe(0);
      expect(await r2.stop()).toBe(0);
    }
    const store = rx1.config.store;
    const totals = [r1.log(), r2.log()].map((l) => JSON.parse(l.split('\n').find((x) => x.includes('"stopped cleanly"'))!) as { chunks: number; entries: number });
    // Both took a share, or the test would prove nothing about sharing.
    expect(totals.every((t) => t.chunks > 0)).toBe(true);
    expect(storedSegments(store, 'shared-load')).toEqual(names.map((n) => `${n}.seg`).sort());
    const seg = storeReceipts(store, 'shared-load').filter((x) => x.kind === 'segment').map((x) => x.name);
    expect(seg.sort()).toEqual([...names].sort());
    expect((await verify(store, ca.paths.caCert, ca.paths.agencyKey)).findings).toEqual([]);
  }, 90_000);
});
