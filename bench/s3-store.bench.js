// The S3 store's write of a segment file (dist/store/s3-store.js putOnce: Content-MD5 computed from the file, a
// conditional PUT with If-None-Match: *) against a raw PutObject of the same files by the same SDK (no digest, no
// condition), on a throwaway radosgw (Ceph 16, memstore OSD) started for the run. Both read the files from a local
// folder (the receiver's .partial/); best of the runs, alternating. What the store adds: reading each file once more
// for its MD5, and the server checking it.
import { createReadStream, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import process from 'node:process';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startThrowawayRadosgw } from '../dist/demo/throwaway-radosgw.js';
import { S3Store } from '../dist/store/s3-store.js';
import { MB, progress, report, tempDir, timeIt } from './lib.js';

const FILES = 16;
const SIZE = 4 * 1024 * 1024;

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

export default async function () {
  const reps = Math.min(5, Number(process.env.RECGW_BENCH_REPS ?? 5));
  const src = tempDir('recgw-bench-s3-src-');
  const rgwDir = tempDir('recgw-bench-rgw-');
  const rgw = await startThrowawayRadosgw({ dir: rgwDir.dir, monPort: await freePort(), port: await freePort(), memBytes: 2 * 1024 ** 3 });
  const keys = { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey };
  const raw = new S3Client({ endpoint: rgw.endpoint, region: rgw.region, forcePathStyle: true, credentials: keys, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  try {
    const files = Array.from({ length: FILES }, (_, i) => {
      const f = join(src.dir, `f${i}.seg`);
      writeFileSync(f, randomBytes(SIZE));
      return f;
    });
    const bytes = FILES * SIZE;
    const best = { store: Infinity, raw: Infinity };
    for (let r = 0; r < reps; r++) {
      const store = new S3Store({ endpoint: rgw.endpoint, bucket: rgw.bucket, prefix: `store${r}/`, ...keys });
      const t1 = await timeIt(async () => {
        for (const [i, file] of files.entries()) await store.putOnce(`dev/segments/${i}.seg`, { file });
      });
      await store.close();
      const t2 = await timeIt(async () => {
        for (const [i, file] of files.entries()) {
          await raw.send(new PutObjectCommand({ Bucket: rgw.bucket, Key: `raw${r}/dev/segments/${i}.seg`, Body: createReadStream(file), ContentLength: statSync(file).size }));
        }
      });
      best.store = Math.min(best.store, t1);
      best.raw = Math.min(best.raw, t2);
      progress(`s3-store run ${r + 1}/${reps}: store ${(bytes / MB / t1).toFixed(1)} MB/s, raw ${(bytes / MB / t2).toFixed(1)} MB/s`);
    }
    report('s3-store-put-4MiB', bytes / MB / best.store, 'MB/s', bytes / MB / best.raw);
  } finally {
    raw.destroy();
    await rgw.stop();
    src.remove();
    rgwDir.remove();
  }
}
