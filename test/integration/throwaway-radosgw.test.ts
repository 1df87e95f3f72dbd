/**
 * The throwaway radosgw the object-store tests run on: it starts in a temp folder, answers S3 with the user and
 * bucket it made, refuses a second write of a name under If-None-Match: * (what the store's write-once rests on),
 * survives a restart of radosgw alone with its objects, and stop() leaves no daemon and no folder. In a bucket with
 * versioning enabled (as S3 Object Lock requires) Ceph 16 does not refuse that second write, so the store and the
 * receiver refuse such a bucket.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, GetObjectCommand, ListObjectVersionsCommand, PutBucketVersioningCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { s3Client, startRadosgw } from '../helpers/radosgw.js';
import { accepts } from '../helpers/watched-process.js';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { ensureBuilt } from '../helpers/store-fixture.js';
import { provisionReceiver } from '../../src/demo/provision.js';
import { S3Store } from '../../src/store/s3-store.js';

const BIN = join(import.meta.dirname, '../../bin/recgw.js');

afterAll(cleanupTmp);

describe('throwaway radosgw', () => {
  it('starts, puts, gets, refuses an overwrite, restarts radosgw with the objects kept, stops and removes its folder', async () => {
    const rgw = await startRadosgw();
    const s3 = s3Client(rgw);
    const port = Number(new URL(rgw.endpoint).port);
    try {
      const body = Buffer.from('段 0001 — 第一段录像的字节');
      await s3.send(new PutObjectCommand({ Bucket: rgw.bucket, Key: 'p/segments/0001.mp4', Body: body, IfNoneMatch: '*' }));
      const got = await s3.send(new GetObjectCommand({ Bucket: rgw.bucket, Key: 'p/segments/0001.mp4' }));
      expect(Buffer.from(await got.Body!.transformToByteArray())).toEqual(body);

      // The attacker (or a second receiver) writing other bytes under a name already written: refused, bytes kept.
      const again = s3.send(new PutObjectCommand({ Bucket: rgw.bucket, Key: 'p/segments/0001.mp4', Body: 'forged', IfNoneMatch: '*' }));
      await expect(again).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
      const kept = await s3.send(new GetObjectCommand({ Bucket: rgw.bucket, Key: 'p/segments/0001.mp4' }));
      expect(Buffer.from(await kept.Body!.transformToByteArray())).toEqual(body);

      await rgw.stopGateway();
      expect(await accepts(port)).toBe(false);
      await expect(s3.send(new GetObjectCommand({ Bucket: rgw.bucket, Key: 'p/segments/0001.mp4' }))).rejects.toThrow();
      await rgw.startGateway();
      const after = await s3.send(new GetObjectCommand({ Bucket: rgw.bucket, Key: 'p/segments/0001.mp4' }));
      expect(Buffer.from(await after.Body!.transformToByteArray())).toEqual(body);
    } finally {
      s3.destroy();
      await rgw.stop();
    }
    expect(existsSync(rgw.dir)).toBe(false);
    expect(await accepts(port)).toBe(false);
  }, 120_000);

  it('with versioning on (as Object Lock needs), Ceph 16 keeps a second conditional write as a new version: the store and the receiver refuse such a bucket', async () => {
    ensureBuilt();
    const rgw = await startRadosgw();
    const s3 = s3Client(rgw);
    const store = (bucket: string): S3Store => new S3Store({ endpoint: rgw.endpoint, bucket, prefix: 'p/', accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey });
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'locked', ObjectLockEnabledForBucket: true }));
      await s3.send(new PutObjectCommand({ Bucket: 'locked', Key: 'p/segments/0001.mp4', Body: 'first', IfNoneMatch: '*' }));
      // What the store's write-once rests on does not hold here: the second write is taken, the first kept as a version.
      await s3.send(new PutObjectCommand({ Bucket: 'locked', Key: 'p/segments/0001.mp4', Body: 'forged', IfNoneMatch: '*' }));
      const got = await s3.send(new GetObjectCommand({ Bucket: 'locked', Key: 'p/segments/0001.mp4' }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).toString()).toBe('forged');
      expect((await s3.send(new ListObjectVersionsCommand({ Bucket: 'locked', Prefix: 'p/segments/0001.mp4' }))).Versions).toHaveLength(2);

      const versioned = store('locked');
      await expect(versioned.checkWriteOnce()).rejects.toThrow(/^bucket locked has versioning enabled \(as S3 Object Lock requires\): there a second write of a name is kept as a new version instead of refused \(Ceph 16 ignores If-None-Match: \* on it\)/);
      await versioned.close();
      const plain = store(rgw.bucket);
      expect(await plain.checkWriteOnce()).toBeUndefined();
      await plain.close();
      // Versioning suspended: Ceph refuses a second conditional write again, and the store takes the bucket.
      await s3.send(new CreateBucketCommand({ Bucket: 'suspended' }));
      await s3.send(new PutBucketVersioningCommand({ Bucket: 'suspended', VersioningConfiguration: { Status: 'Enabled' } }));
      await s3.send(new PutBucketVersioningCommand({ Bucket: 'suspended', VersioningConfiguration: { Status: 'Suspended' } }));
      await s3.send(new PutObjectCommand({ Bucket: 'suspended', Key: 'k', Body: 'first', IfNoneMatch: '*' }));
      await expect(s3.send(new PutObjectCommand({ Bucket: 'suspended', Key: 'k', Body: 'forged', IfNoneMatch: '*' }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
      const suspended = store('suspended');
      expect(await suspended.checkWriteOnce()).toBeUndefined();
      await suspended.close();

      // A receiver configured on the versioned bucket stops at start with the reason and the fix, before the broker.
      const ca = makeCa();
      const rx = provisionReceiver({ dir: tmp('recgw-rgw-rx-'), caDir: ca.dir, name: 'receiver:v', broker: 'mqtts://127.0.0.1:1', store: tmp('recgw-rgw-unused-') });
      const cfg = JSON.parse(readFileSync(rx.configPath, 'utf8')) as Record<string, unknown>;
      writeFileSync(rx.configPath, JSON.stringify({ ...cfg, store: 's3://locked/p', work: join(dirname(rx.configPath), 'work'), s3: { endpoint: rgw.endpoint, accessKey: rgw.accessKeyId, secretKey: rgw.secretAccessKey } }));
      const r = spawnSync(process.execPath, [BIN, 'receiver', '--config', rx.configPath], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).not.toBe(0);
      expect(r.stderr).toMatch(/bucket locked has versioning enabled .* Use a bucket without versioning, or suspend it \(aws s3api put-bucket-versioning --bucket locked --versioning-configuration Status=Suspended\)/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      s3.destroy();
      await rgw.stop();
    }
  }, 120_000);
});
