/**
 * The throwaway radosgw the object-store tests run on: it starts in a temp folder, answers S3 with the user and
 * bucket it made, refuses a second write of a name under If-None-Match: * (what the store's write-once rests on),
 * survives a restart of radosgw alone with its objects, and stop() leaves no daemon and no folder.
 */
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { s3Client, startRadosgw } from '../helpers/radosgw.js';
import { accepts } from '../helpers/watched-process.js';
import { cleanupTmp } from '../helpers/fixtures.js';

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
});
