/**
 * Issue 20's acceptance for stateless receivers: two `recgw receiver` processes with no local state (their store a
 * bucket on a real radosgw, their database one real PostgreSQL, their working folders left empty) take two gateways'
 * uploads through a real mosquitto. Segments of 7 MiB go up as multipart uploads in parts of 5 MiB assembled from
 * the gateways' 1 MiB chunks, whichever receiver each chunk reached. One receiver is killed (SIGKILL) right after
 * sending a part, mid-multipart, and the other finishes; radosgw is stopped and started mid-upload. Every segment is
 * stored once with its manifest's bytes; every receipt went out only once the bucket held the whole object (each
 * receiver asks the bucket, HeadObject, before it sends a receipt: test/helpers/crash-receiver.js); nothing is left
 * staged or half-uploaded; the receivers' working folders hold nothing; and `recgw verify s3://…` passes the bucket.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { loadReceiverConfig } from '../../src/receiver/config.js';
import { S3Store } from '../../src/store/s3-store.js';
import type { Provisioned, ProvisionedReceiver } from '../../src/demo/provision.js';
import { makeCa, tmp } from '../helpers/fixtures.js';
import { withBroker } from '../helpers/mosquitto.js';
import { createDatabase, withPostgres } from '../helpers/postgres.js';
import { s3Client, withRadosgw } from '../helpers/radosgw.js';
import { startGateway } from '../helpers/gateway-process.js';
import { sleep } from '../helpers/evidence.js';
import { makeReceiver, queueState, seedSegments, startReceiver, uplinkGateway, waitDelivered, type ReceiverProcess } from '../helpers/uplink-world.js';

const BIN = join(import.meta.dirname, '../../bin/recgw.js');
const SCRIPT = join(import.meta.dirname, '../helpers/crash-receiver.js');
const MiB = 1024 * 1024;
/** Two parts each (5 MiB and the rest): a receiver dying after a part leaves its upload unfinished. */
const SIZE = 7 * MiB;
const COUNT = 3;
const NAMES = ['receiver:1', 'receiver:2'];

interface Witnessed {
  device: string;
  name: string;
  size: number;
  held: number | string | undefined;
  receiver: string;
}

describe('two stateless receivers sharing one bucket and one PostgreSQL', () => {
  const ca = makeCa();
  const broker = withBroker({ caDir: ca.dir, receivers: NAMES });
  const rgw = withRadosgw();
  const pgs = withPostgres();
  let run = 0;

  /** Both receivers' configs: the bucket under `prefix`, the database, a working folder each, parts of 5 MiB. */
  async function receivers(prefix: string): Promise<{ rxs: ProvisionedReceiver[]; works: string[] }> {
    const database = await createDatabase(pgs.server(), `multi_${run}`);
    const s = rgw.server();
    const works: string[] = [];
    const rxs = NAMES.map((name) => {
      const rx = makeReceiver(ca.dir, name, broker.url, { database });
      const obj = JSON.parse(readFileSync(rx.configPath, 'utf8')) as Record<string, unknown>;
      const work = tmp('recgw-rx-work-');
      works.push(work);
      obj.store = `s3://${s.bucket}/${prefix}`;
      obj.work = work;
      obj.s3 = { endpoint: s.endpoint, accessKey: s.accessKeyId, secretKey: s.secretAccessKey, partMiB: 5 };
      writeFileSync(rx.configPath, JSON.stringify(obj, null, 2));
      return { configPath: rx.configPath, config: loadReceiverConfig(rx.configPath) };
    });
    return { rxs, works };
  }

  async function gateways(tag: string, rate: number): Promise<{ gw: Provisioned; names: string[] }[]> {
    const out = [];
    for (const d of ['a', 'b']) {
      const gw = uplinkGateway(ca.dir, `multi-${tag}-${d}`, broker.url, { chunkKiB: 1024, window: 8, maxBytesPerSecond: rate });
      out.push({ gw, names: await seedSegments(gw, COUNT, SIZE) });
    }
    return out;
  }

  /** The bucket under `prefix`: each segment once with its receipt's bytes, nothing staged or half-uploaded. */
  async function checkBucket(prefix: string, gws: { gw: Provisioned; names: string[] }[], witness: string): Promise<void> {
    const s = rgw.server();
    const store = new S3Store({ endpoint: s.endpoint, bucket: s.bucket, prefix: `${prefix}/`, accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey });
    const raw = s3Client(s);
    try {
      for (const { gw, names } of gws) {
        const device = gw.config.deviceId;
        const receipts = (await store.read(`${device}/receipts.jsonl`))!
          .toString()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { kind: string; name?: string; size?: number; sha256?: string })
          .filter((r) => r.kind === 'segment');
        // One receipt each, one object each, the bytes the receipt (and so the manifest) names.
        expect(receipts.map((r) => r.name).sort()).toEqual([...names].sort());
        expect(await store.list(`${device}/segments`)).toEqual(names.map((n) => `${n}.seg`).sort());
        for (const r of receipts) {
          const bytes = (await store.read(`${device}/segments/${r.name}.seg`))!;
          // The sealed file: the recording's bytes and the seal's tag.
          expect(bytes.length).toBe(r.size);
          expect(r.size).toBeGreaterThan(SIZE);
          expect(createHash('sha256').update(bytes).digest('hex')).toBe(r.sha256);
        }
      }
      // Every receipt sent went out when the bucket held the whole object under its name.
      const seen = readFileSync(witness, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Witnessed);
      for (const { gw, names } of gws) for (const n of names) expect(seen.some((w) => w.device === gw.config.deviceId && w.name === n)).toBe(true);
      for (const w of seen) expect(w, `${w.receiver} sent a receipt for ${w.name}`).toMatchObject({ held: w.size });
      // Nothing staged, no upload left open.
      const staged = await raw.send(new ListObjectsV2Command({ Bucket: s.bucket, Prefix: `${prefix}/.partial/` }));
      expect(staged.Contents ?? []).toEqual([]);
      const open = await raw.send(new ListMultipartUploadsCommand({ Bucket: s.bucket, Prefix: `${prefix}/` }));
      expect(open.Uploads ?? []).toEqual([]);
    } finally {
      await store.close();
      raw.destroy();
    }
    const v = spawnSync(process.execPath, [BIN, 'verify', `s3://${s.bucket}/${prefix}`, '--s3-endpoint', s.endpoint, '--ca', ca.paths.caCert, '--agency-key', ca.paths.agencyKey, '--json'], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: s.accessKeyId, AWS_SECRET_ACCESS_KEY: s.secretAccessKey },
      encoding: 'utf8',
    });
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, findings: [] });
    expect(v.status).toBe(0);
  }

  /** Receivers run as test/helpers/crash-receiver.js: `step` for each, all witnessing their receipts into `witness`. */
  async function start(rx: ProvisionedReceiver, step: string, witness: string): Promise<ReceiverProcess> {
    process.env.RECGW_TEST_WITNESS = witness;
    try {
      return await startReceiver(rx, 30_000, { path: SCRIPT, args: [step] });
    } finally {
      delete process.env.RECGW_TEST_WITNESS;
    }
  }

  /** The keys of the multipart uploads open under `prefix`. */
  const uploadsOpen = async (prefix: string): Promise<string[]> => {
    const s = rgw.server();
    const raw = s3Client(s);
    try {
      return ((await raw.send(new ListMultipartUploadsCommand({ Bucket: s.bucket, Prefix: `${prefix}/` }))).Uploads ?? []).map((u) => u.Key!);
    } finally {
      raw.destroy();
    }
  };

  it('a receiver killed (-9) right after sending a part: the upload is finished, everything stored once, receipts only for whole objects', async () => {
    const prefix = `kill-${++run}`;
    const witness = join(tmp('recgw-witness-'), 'receipts.jsonl');
    const { rxs, works } = await receivers(prefix);
    const gws = await gateways(`kill${run}`, 8_000_000);
    const running = [await start(rxs[0]!, 'none', witness), await start(rxs[1]!, 'part', witness)];
    const open: string[] = [];
    const logs = running.map((r) => r.log);
    const gs = await Promise.all(gws.map(({ gw }) => startGateway(gw.configPath, gw.config.control.socket)));
    const all = (): string => [...gs.map((g) => g.log()), ...logs.map((l) => l())].join('\n----\n').slice(-8000);
    try {
      const victim = running[1]!;
      if (victim.proc.exitCode === null && victim.proc.signalCode === null) {
        const died = new Promise((resolve) => victim.proc.once('exit', resolve));
        if (!(await Promise.race([died.then(() => true), sleep(90_000).then(() => false)]))) throw new Error(`receiver:2 sent no part in 90 s:\n${all()}`);
      }
      expect(victim.proc.signalCode).toBe('SIGKILL');
      // It died with its part sent and the upload open: mid-multipart.
      open.push(...(await uploadsOpen(prefix)));
      expect(open.length).toBeGreaterThan(0);
      expect(gws.some(({ gw }) => queueState(gw).unreceipted > 0)).toBe(true);
      // The other goes on alone for a while, then the killed one comes back (without a crash step).
      await sleep(3_000);
      running[1] = await start(rxs[1]!, 'none', witness);
      logs.push(running[1].log);
      for (const { gw } of gws) await waitDelivered(gw, 90_000, all);
    } finally {
      for (const g of gs) expect(await g.stop()).toBe(0);
      for (const r of running) expect(await r.stop(), r.log().slice(-3000)).toBe(0);
    }
    await checkBucket(prefix, gws, witness);
    // The uploads open at the kill were finished (the object under their key is a receipted segment, checked above).
    const seen = readFileSync(witness, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Witnessed);
    for (const key of open) expect(seen.some((w) => key === `${prefix}/${w.device}/segments/${w.name}.seg`), key).toBe(true);
    for (const w of works) expect(readdirSync(w)).toEqual([]);
  }, 240_000);

  it('radosgw stopped and started mid-upload, a multipart upload open: no receipt while it is away, then everything stored once', async () => {
    const prefix = `outage-${++run}`;
    const witness = join(tmp('recgw-witness-'), 'receipts.jsonl');
    const { rxs, works } = await receivers(prefix);
    const gws = await gateways(`outage${run}`, 4_000_000);
    const running = await Promise.all(rxs.map((rx) => start(rx, 'none', witness)));
    const gs = await Promise.all(gws.map(({ gw }) => startGateway(gw.configPath, gw.config.control.socket)));
    const all = (): string => [...gs.map((g) => g.log()), ...running.map((r) => r.log())].join('\n----\n').slice(-8000);
    const s = rgw.server();
    const receipted = (): number => gws.reduce((n, { gw }) => n + queueState(gw).receipts, 0);
    try {
      for (let i = 0; !existsSync(witness); i++) {
        if (i > 600) throw new Error(`no receipt in 60 s:\n${all()}`);
        await sleep(100);
      }
      // Stopped while a segment's multipart upload is open (a part sent, the file not complete).
      for (let i = 0; (await uploadsOpen(prefix)).length === 0; i++) {
        if (i > 300) throw new Error(`no multipart upload open within 30 s:\n${all()}`);
        await sleep(100);
      }
      await s.stopGateway();
      await sleep(1_000);
      const before = receipted();
      await sleep(4_000);
      // Chunks kept coming but nothing could be staged or stored: nothing was receipted.
      expect(receipted()).toBe(before);
      expect(running.map((r) => r.log()).join('\n')).toMatch(/could not (write|read) s3:\/\//);
      await s.startGateway();
      for (const { gw } of gws) await waitDelivered(gw, 120_000, all);
    } finally {
      for (const g of gs) expect(await g.stop()).toBe(0);
      for (const r of running) expect(await r.stop(), r.log().slice(-3000)).toBe(0);
    }
    await checkBucket(prefix, gws, witness);
    for (const w of works) expect(readdirSync(w)).toEqual([]);
  }, 240_000);
});
