/**
 * Issue 20, the receiver on an S3 store: a gateway (`recgw run`) uploads through a real mosquitto to `recgw receiver`
 * whose store is a bucket on a real radosgw (Ceph 16). Every segment is stored once with the bytes its manifest
 * names, every receipt comes back, and the bucket's contents check VALID with the verifier. With radosgw stopped
 * mid-upload no receipt is issued for a file the bucket does not hold, and after it is started again everything
 * arrives. (The verifier reads a folder copied from the bucket: `recgw verify s3://` is not written yet, and the
 * agency log's files are still in the receiver's working folder, docs/object-store.md "Not yet".)
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadReceiverConfig } from '../../src/receiver/config.js';
import { S3Store } from '../../src/store/s3-store.js';
import type { EvidenceStore } from '../../src/store/store.js';
import type { ProvisionedReceiver } from '../../src/demo/provision.js';
import { makeCa, tmp } from '../helpers/fixtures.js';
import { withBroker } from '../helpers/mosquitto.js';
import { withRadosgw } from '../helpers/radosgw.js';
import { startGateway } from '../helpers/gateway-process.js';
import { sleep, verify } from '../helpers/evidence.js';
import { makeReceiver, queueState, seedSegments, startReceiver, uplinkGateway, waitDelivered } from '../helpers/uplink-world.js';

describe('uplink into an S3 store on radosgw', () => {
  const ca = makeCa();
  const broker = withBroker({ caDir: ca.dir, receivers: ['receiver:1'] });
  const rgw = withRadosgw();

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

  /** The bucket's objects as a folder (append-only files joined by the store), with the log from the working folder. */
  async function copyOut(store: EvidenceStore, work: string): Promise<string> {
    const out = tmp('recgw-s3-copy-');
    const walk = async (dir: string): Promise<void> => {
      for (const e of await store.list(dir)) {
        const name = dir === '' ? e : `${dir}/${e}`;
        if (e.endsWith('/')) await walk(name.slice(0, -1));
        else {
          mkdirSync(dirname(join(out, name)), { recursive: true });
          writeFileSync(join(out, name), (await store.read(name))!);
        }
      }
    };
    await walk('');
    cpSync(join(work, 'log'), join(out, 'log'), { recursive: true });
    return out;
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
    const store = bucket();
    try {
      await checkStored(store, deviceId, names);
      // The ledger went up as write-once pieces; read back, it is the gateway's ledger.
      expect((await store.list(deviceId)).sort()).toEqual(['head.json', 'ledger.jsonl', 'receipts.jsonl', 'segments/'].sort());
      const report = await verify(await copyOut(store, rx.config.work), ca.paths.caCert, ca.paths.agencyKey);
      expect(report.findings).toEqual([]);
    } finally {
      await store.close();
    }
  }, 120_000);

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
    const store = bucket();
    try {
      await checkStored(store, deviceId, names);
      const report = await verify(await copyOut(store, rx.config.work), ca.paths.caCert, ca.paths.agencyKey);
      expect(report.findings).toEqual([]);
    } finally {
      await store.close();
    }
  }, 180_000);
});
