/**
 * Retention attacks over the receiver's own interface (issue 18 part 4): nothing a device sends over MQTT removes a
 * stored file. A real mosquitto and `recgw receiver`; a raw mqtt.js client holding a real device's credentials
 * uploads its ledger and sealed files, then sends a deletion event signed with its device key (on an uplink topic of
 * its own that no receiver handles, and inside an entries message), an empty chunk and a forged chunk for a stored
 * file. Every file stays, byte for byte; no deletions.jsonl appears; the store verifies VALID. And the receiver's own
 * start finishes a retention deletion an earlier run logged but did not finish (the crash between event and removal).
 */
import { describe, expect, it } from 'vitest';
import { createHash, createPrivateKey, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { makeCa } from '../helpers/fixtures.js';
import { withBroker } from '../helpers/mosquitto.js';
import { deviceMqttOptions } from '../helpers/mqtt-clients.js';
import { sleep, verify } from '../helpers/evidence.js';
import { ledgerLines, makeReceiver, seedSegments, startReceiver, storedSegments, uplinkGateway } from '../helpers/uplink-world.js';
import { stateDbPath } from '../../src/app/evidence-core.js';
import { encodeChunk, topics } from '../../src/uplink/wire.js';
import { identityPaths } from '../../src/pki/identity.js';
import { KeySigner } from '../../src/evidence/signer.js';
import { DELETIONS_FILE, encodeDeletion, signDeletion } from '../../src/evidence/deletion-event.js';
import { attestedOrder, withRemover } from '../helpers/retention.js';

const DEADLINE = new Date(Date.now() + 86_400_000).toISOString();
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

type Sealed = { name: string; file: string; size: number; sha256: string };

/**
 * A raw client with the device's credentials uploads its whole ledger and every sealed file, and waits for the
 * segment receipts. Returns the client (still connected) and the files.
 */
async function upload(gw: ReturnType<typeof uplinkGateway>, url: string, caCert: string): Promise<{ c: mqtt.MqttClient; files: Sealed[] }> {
  const d = gw.config.deviceId;
  const c = await mqtt.connectAsync(url, { ...deviceMqttOptions(gw.config.stateDir, caCert), protocolVersion: 5 });
  const receipts: { kind: string }[] = [];
  c.on('message', (_t, p) => receipts.push(JSON.parse(p.toString()) as { kind: string }));
  await c.subscribeAsync(topics.receipt(d), { qos: 1 });
  const db = new Database(stateDbPath(gw.config.stateDir), { readonly: true });
  const files = db.prepare('SELECT name, file, stored_size AS size, stored_sha256 AS sha256 FROM segments ORDER BY name').all() as Sealed[];
  db.close();
  await c.publishAsync(topics.entries(d), JSON.stringify({ v: 1, type: 'entries', device: d, deadline: DEADLINE, lines: ledgerLines(gw) }), { qos: 1 });
  for (const f of files) {
    await c.publishAsync(topics.chunk(d), encodeChunk({ v: 1, device: d, name: f.name, offset: 0, size: f.size, sha256: f.sha256, deadline: DEADLINE }, readFileSync(f.file)), { qos: 1 });
  }
  const end = Date.now() + 10_000;
  while (receipts.filter((x) => x.kind === 'segment').length < files.length && Date.now() < end) await sleep(50);
  return { c, files };
}

describe('retention over the receiver interface', () => {
  const ca = makeCa();
  const broker = withBroker({ caDir: ca.dir, receivers: ['receiver:1'] });

  it('a device cannot delete a stored file by any message', async () => {
    const gw = uplinkGateway(ca.dir, 'delete-attempt', broker.url);
    await seedSegments(gw, 2, 40_000);
    const rx = makeReceiver(ca.dir, 'receiver:1', broker.url, { shareGroup: null });
    const r = await startReceiver(rx);
    const d = gw.config.deviceId;
    const { c, files } = await upload(gw, broker.url, ca.paths.caCert);
    try {
      const stored = storedSegments(rx.config.store, d);
      expect(stored).toHaveLength(files.length);
      const before = stored.map((n) => sha(readFileSync(join(rx.config.store, d, 'segments', n))));

      // A deletion event in the agency's format, signed with the device's key.
      const id = identityPaths(gw.config.stateDir);
      const forged = encodeDeletion(
        signDeletion(
          {
            id: 'forged', device: d, session: 'any', class: 'non-evidence', sessionEnd: '2020-01-01T00:00:00.000Z', termYears: 1, expired: '2021-01-01T00:00:00.000Z',
            approval: { id: 'forged', proposer: 'x', approver: 'y', approvedAt: '2021-01-02T00:00:00.000Z' },
            files: files.map((f) => ({ file: `segments/${f.name}.seg`, segment: f.name, size: f.size, hash: f.sha256, alg: 'sha256' as const })),
            time: new Date().toISOString(), receiver: 'receiver:1',
          },
          new KeySigner(createPrivateKey(readFileSync(id.key, 'utf8')), readFileSync(id.cert, 'utf8')),
        ),
      );
      await c.publishAsync(`recgw/${d}/up/deletion`, forged, { qos: 1 });
      await c.publishAsync(`recgw/${d}/up/delete`, JSON.stringify({ v: 1, type: 'delete', device: d, files: files.map((f) => f.name) }), { qos: 1 });
      await c.publishAsync(topics.entries(d), JSON.stringify({ v: 1, type: 'entries', device: d, deadline: DEADLINE, lines: [forged] }), { qos: 1 });
      // An empty and a forged chunk for a stored file: write-once, nothing replaces or truncates it.
      const f = files[0]!;
      await c.publishAsync(topics.chunk(d), encodeChunk({ v: 1, device: d, name: f.name, offset: 0, size: 0, sha256: sha(Buffer.alloc(0)), deadline: DEADLINE }, Buffer.alloc(0)), { qos: 1 });
      await c.publishAsync(topics.chunk(d), encodeChunk({ v: 1, device: d, name: f.name, offset: 0, size: f.size, sha256: f.sha256, deadline: DEADLINE }, randomBytes(f.size)), { qos: 1 });
      await sleep(1500);

      expect(storedSegments(rx.config.store, d)).toEqual(stored);
      expect(stored.map((n) => sha(readFileSync(join(rx.config.store, d, 'segments', n))))).toEqual(before);
      expect(existsSync(join(rx.config.store, d, DELETIONS_FILE))).toBe(false);
      expect((await verify(rx.config.store, ca.paths.caCert)).findings).toEqual([]);
    } finally {
      await c.endAsync();
      expect(await r.stop()).toBe(0);
    }
  }, 90_000);

  it('a receiver starting after a crash between the logged event and the removal finishes the removal', async () => {
    const gw = uplinkGateway(ca.dir, 'crash-finish', broker.url);
    await seedSegments(gw, 2, 30_000);
    const rx = makeReceiver(ca.dir, 'receiver:1', broker.url, { shareGroup: null });
    const d = gw.config.deviceId;
    let r = await startReceiver(rx);
    let files: Sealed[];
    try {
      const up = await upload(gw, broker.url, ca.paths.caCert);
      files = up.files;
      await up.c.endAsync();
    } finally {
      expect(await r.stop()).toBe(0);
    }
    const store = rx.config.store;
    expect(storedSegments(store, d)).toHaveLength(files.length);
    // What `recgw retention apply` does first, two years on; then it dies: the event is logged, every file still there.
    const opened = ledgerLines(gw).map((l) => JSON.parse(l) as { type: string; body: { sessionId: string } }).find((e) => e.type === 'session.opened')!;
    const session = opened.body.sessionId;
    const later = Date.now() + 2 * 366 * 86_400_000;
    await withRemover(ca.dir, store, () => later, (remover) =>
      remover.record(attestedOrder(ca.dir, { request: 'crash-test', device: d, session, termYears: 1, approval: { id: 'crash-test', proposer: 'officer1', approver: 'leader1', approvedAt: new Date(later).toISOString() } })),
    );
    expect(storedSegments(store, d)).toHaveLength(files.length);
    expect(existsSync(join(store, d, DELETIONS_FILE))).toBe(true);

    r = await startReceiver(rx);
    try {
      expect(r.log()).toMatch(/finished the retention deletions an earlier run logged/);
    } finally {
      expect(await r.stop()).toBe(0);
    }
    expect(storedSegments(store, d)).toEqual([]);
    const v = await verify(store, ca.paths.caCert);
    expect(v.findings).toEqual([]);
    expect(v.devices.find((x) => x.deviceId === d)!.retentionDeleted).toBe(files.length);
  }, 90_000);
});
