/**
 * Issue 20, the receiver on an S3 store: a gateway (`recgw run`) uploads through a real mosquitto to `recgw receiver`
 * whose store is a bucket on a real radosgw (Ceph 16). Every segment is stored once with the bytes its manifest
 * names, every receipt comes back, and the bucket's contents check VALID with the verifier. With radosgw stopped
 * mid-upload no receipt is issued for a file the bucket does not hold, and after it is started again everything
 * arrives. `recgw verify s3://…` checks the bucket as a user runs it (it reads the bucket through the store into a
 * temporary folder; docs/object-store.md).
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadReceiverConfig } from '../../src/receiver/config.js';
import { S3Store } from '../../src/store/s3-store.js';
import type { EvidenceStore } from '../../src/store/store.js';
import type { ProvisionedReceiver } from '../../src/demo/provision.js';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { dumpIndex } from '../helpers/index-store.js';
import { copyOut } from '../../src/store/copy-out.js';
import { openIndexDb } from '../../src/index/database.js';
import { withBroker } from '../helpers/mosquitto.js';
import { s3Client, withRadosgw } from '../helpers/radosgw.js';
import { startGateway } from '../helpers/gateway-process.js';
import { sleep } from '../helpers/evidence.js';
import { ledgerLines, makeReceiver, queueState, seedSegments, startReceiver, uplinkGateway, waitDelivered } from '../helpers/uplink-world.js';

const BIN = join(import.meta.dirname, '../../bin/recgw.js');
const CRASH_RECEIVER = join(import.meta.dirname, '../helpers/crash-receiver.js');

describe('uplink into an S3 store on radosgw', () => {
  const ca = makeCa();
  const broker = withBroker({ caDir: ca.dir, receivers: ['receiver:1'] });
  const rgw = withRadosgw();
  afterAll(cleanupTmp);

  /** A receiver whose store is s3://BUCKET/PREFIX on the test's radosgw, with a working folder of its own. */
  function s3Receiver(prefix: string): { rx: ProvisionedReceiver; bucket: () => EvidenceStore } {
    const rx = makeReceiver(ca.dir, 'receiver:1', broker.url);
    const s = rgw.server();
    const obj = JSON.parse(readFileSync(rx.configPath, 'utf8')) as Record<string, unknown>;
    obj.store = `s3://${s.bucket}/${prefix}`;
    obj.work = join(dirname(rx.configPath), 'work');
    obj.s3 = { endpoint: s.endpoint, accessKey: s.accessKeyId, secretKey: s.secretAccessKey };
    writeFileSync(rx.configPath, JSON.stringify(obj, null, 2));
    return {
      rx: { configPath: rx.configPath, config: loadReceiverConfig(rx.configPath) },
      bucket: () => new S3Store({ endpoint: s.endpoint, bucket: s.bucket, prefix: `${prefix}/`, accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey }),
    };
  }

  /**
   * `recgw verify s3://…` on the bucket, as a user runs it: its exit status and report. With the agency key the
   * segments are decrypted (the whole bucket copied to a temporary folder); without, they are hashed as they stream
   * from the bucket and only the ledgers and the log are copied.
   */
  function verifyBucket(prefix: string, agencyKey = true): { status: number | null; report: { ok: boolean; findings: unknown[] }; stderr: string } {
    const s = rgw.server();
    const r = spawnSync(process.execPath, [BIN, 'verify', `s3://${s.bucket}/${prefix}`, '--s3-endpoint', s.endpoint, '--ca', ca.paths.caCert, ...(agencyKey ? ['--agency-key', ca.paths.agencyKey] : []), '--json', '--progress'], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: s.accessKeyId, AWS_SECRET_ACCESS_KEY: s.secretAccessKey },
      encoding: 'utf8',
    });
    return { status: r.status, report: JSON.parse(r.stdout) as { ok: boolean; findings: unknown[] }, stderr: r.stderr };
  }

  /**
   * `recgw index rebuild s3://…` on the bucket and on the bucket copied to a folder (copy-out.ts), into SQLite: the
   * rows of both, which the caller compares.
   */
  async function indexBucketAndCopy(prefix: string, store: EvidenceStore): Promise<[Record<string, unknown[]>, Record<string, unknown[]>]> {
    const s = rgw.server();
    const copy = tmp('recgw-uplink-s3-copy-');
    await copyOut(store, copy);
    const urls = [`sqlite:${join(tmp('recgw-uplink-s3-idx-'), 'index.db')}`, `sqlite:${join(tmp('recgw-uplink-s3-idx-'), 'index.db')}`];
    // The SDK's notice that its releases after January 2027 need Node 22 is not the rebuild's to judge.
    const env = { ...process.env, AWS_ACCESS_KEY_ID: s.accessKeyId, AWS_SECRET_ACCESS_KEY: s.secretAccessKey, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
    for (const [from, url] of [[`s3://${s.bucket}/${prefix}`, urls[0]!], [copy, urls[1]!]]) {
      const r = spawnSync(process.execPath, [BIN, 'index', 'rebuild', from!, '--s3-endpoint', s.endpoint, '--database', url!, '--ca', ca.paths.caCert, '--quiet'], { env, encoding: 'utf8' });
      expect([r.status, r.stderr]).toEqual([0, '']);
    }
    const dumps = [];
    for (const url of urls) {
      const db = await openIndexDb(url);
      dumps.push(await dumpIndex(db).finally(() => db.close()));
    }
    return [dumps[0]!, dumps[1]!];
  }

  /** Each receipted segment is in the bucket once, with the size and hash its receipt (and so its manifest) names. */
  async function checkStored(store: EvidenceStore, deviceId: string, names: string[]): Promise<void> {
    const receipts = (await store.read(`${deviceId}/receipts.jsonl`))!
      .toString()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { kind: string; name?: string; size?: number; sha256?: string });
    const segReceipts = receipts.filter((r) => r.kind === 'segment');
    expect(segReceipts.map((r) => r.name).sort()).toEqual([...names].sort());
    expect(await store.list(`${deviceId}/segments`)).toEqual(names.map((n) => `${n}.seg`).sort());
    for (const r of segReceipts) {
      const bytes = (await store.read(`${deviceId}/segments/${r.name}.seg`))!;
      expect(bytes.length).toBe(r.size);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(r.sha256);
    }
  }

  /** checkStored, anything `more` checks, then `recgw verify` passes the bucket. */
  async function checkBucket(store: EvidenceStore, prefix: string, deviceId: string, names: string[], more?: (store: EvidenceStore) => Promise<void>): Promise<void> {
    try {
      await checkStored(store, deviceId, names);
      await more?.(store);
    } finally {
      await store.close();
    }
    for (const key of [true, false]) {
      const v = verifyBucket(prefix, key);
      expect(v.report.findings).toEqual([]);
      expect(v.status).toBe(0);
      if (!key) expect(v.stderr).toMatch(/without their segments into .*; the segments are hashed in the bucket/);
    }
  }

  it('stores every entry and segment once in the bucket, with receipts; the bucket verifies VALID', async () => {
    const deviceId = 'room-s3';
    const gw = uplinkGateway(ca.dir, deviceId, broker.url, { chunkKiB: 64 });
    const names = await seedSegments(gw, 5, 4 * 65536);
    const { rx, bucket } = s3Receiver('main');
    const r = await startReceiver(rx);
    const g = await startGateway(gw.configPath, gw.config.control.socket);
    try {
      await waitDelivered(gw, 45_000, () => g.log() + r.log());
    } finally {
      expect(await g.stop()).toBe(0);
      expect(await r.stop()).toBe(0);
    }
    await checkBucket(bucket(), 'main', deviceId, names, async (store) => {
      // The ledger went up as write-once pieces; read back, it is the gateway's ledger as far as it was sent.
      expect((await store.list(deviceId)).sort()).toEqual(['head.json', 'ledger.jsonl', 'receipts.jsonl', 'segments/'].sort());
      const stored = (await store.read(`${deviceId}/ledger.jsonl`))!.toString();
      expect(stored.split('\n').length).toBeGreaterThan(names.length);
      expect(ledgerLines(gw).map((l) => `${l}\n`).join('').startsWith(stored)).toBe(true);
      expect(await store.list('log')).toEqual(expect.arrayContaining(['checkpoint', 'log-cert.pem', 'tile/']));
      // The agency index rebuilt from the bucket: the rows of the same store copied to a folder, every segment receipted.
      const [fromBucket, fromCopy] = await indexBucketAndCopy('main', store);
      expect(fromBucket).toEqual(fromCopy);
      expect(fromBucket.segments).toHaveLength(names.length);
      expect(fromBucket.segments!.every((row) => !String(row).includes('["stored_ms",null]'))).toBe(true);
    });
    // The attacker's edit: a segment's bytes replaced in the bucket behind the receiver's back. The verifier sees it.
    const s = rgw.server();
    const raw = s3Client(s);
    try {
      const key = `main/${deviceId}/segments/${names[0]}.seg`;
      await raw.send(new PutObjectCommand({ Bucket: s.bucket, Key: key, Body: Buffer.alloc(4 * 65536 + 16, 7) }));
    } finally {
      raw.destroy();
    }
    for (const key of [true, false]) {
      const tampered = verifyBucket('main', key);
      expect(tampered.status).toBe(1);
      expect(JSON.stringify(tampered.report.findings)).toContain(names[0]);
    }
  }, 120_000);

  // The crash points of storing a file where a bucket makes them differ from a folder: the object written (a
  // conditional PUT) before the commit that records it, and a receipt's piece of receipts.jsonl written before the
  // commit that records it filed.
  for (const [step, when] of [
    ['renamed', 'after writing a segment into the bucket and before recording it stored'],
    ['filed', 'after writing a receipt into the bucket and before recording that'],
  ] as const) {
    it(`receiver killed (-9) ${when}: the next one stores everything once`, async () => {
      const deviceId = `room-s3-crash-${step}`;
      const gw = uplinkGateway(ca.dir, deviceId, broker.url, { chunkKiB: 64 });
      const names = await seedSegments(gw, 4, 4 * 65536);
      const { rx, bucket } = s3Receiver(`crash-${step}`);
      let r = await startReceiver(rx, 30_000, { path: CRASH_RECEIVER, args: [step] });
      const g = await startGateway(gw.configPath, gw.config.control.socket);
      try {
        if (r.proc.exitCode === null && r.proc.signalCode === null) await new Promise((resolve) => r.proc.once('exit', resolve));
        expect(r.proc.signalCode).toBe('SIGKILL');
        r = await startReceiver(rx, 30_000);
        await waitDelivered(gw, 60_000, () => g.log() + r.log());
      } finally {
        expect(await g.stop()).toBe(0);
        expect(await r.stop()).toBe(0);
      }
      await checkBucket(bucket(), `crash-${step}`, deviceId, names);
    }, 150_000);
  }

  it('radosgw stopped mid-upload: no receipt while the bucket is away, and after its return everything arrives once', async () => {
    const deviceId = 'room-s3-outage';
    const gw = uplinkGateway(ca.dir, deviceId, broker.url, { chunkKiB: 64, maxBytesPerSecond: 1_000_000 });
    const names = await seedSegments(gw, 8, 8 * 65536);
    const { rx, bucket } = s3Receiver('outage');
    const r = await startReceiver(rx);
    const g = await startGateway(gw.configPath, gw.config.control.socket);
    const s = rgw.server();
    try {
      // Wait for the first segment receipt, then take the object store away.
      for (let i = 0; queueState(gw).receipts < 1; i++) {
        if (i > 300) throw new Error(`no receipt in 30 s:\n${g.log()}${r.log()}`);
        await sleep(100);
      }
      await s.stopGateway();
      await sleep(500);
      const before = queueState(gw).receipts;
      expect(before).toBeLessThan(names.length);
      await sleep(5_000);
      // Chunks kept coming and files completed, but nothing could be stored, so nothing was receipted.
      expect(queueState(gw).receipts).toBe(before);
      expect(r.log()).toMatch(/could not (write|read) s3:\/\//);
      await s.startGateway();
      await waitDelivered(gw, 90_000, () => g.log() + r.log());
    } finally {
      expect(await g.stop()).toBe(0);
      expect(await r.stop()).toBe(0);
    }
    await checkBucket(bucket(), 'outage', deviceId, names);
  }, 180_000);
});
