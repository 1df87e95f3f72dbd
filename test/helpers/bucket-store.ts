/**
 * A receiver store in a bucket on a real radosgw, for the tests of what reads a bucket (the desk, the evidence
 * disc): one device's session of real MPEG-TS segments (ffmpeg's test picture and tone, sealed through the Sealer),
 * received by the receiver's own code into a folder (ledger, receipts, the agency log), indexed, put into the bucket
 * under a prefix through the store interface (putFolder), and the folder then removed, so that whatever reads the
 * store can only read the bucket.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ThrowawayRadosgw } from '../../src/demo/throwaway-radosgw.js';
import { recordSample, type SampleSegment } from '../../src/demo/sample.js';
import { caPaths } from '../../src/pki/ca.js';
import { S3Store } from '../../src/store/s3-store.js';
import type { S3Access } from '../../src/store/open-store.js';
import { makeCa, tmp } from './fixtures.js';
import { cli } from './index-store.js';
import { putFolder } from './radosgw.js';
import { receiveDevice } from './receiver-store.js';
import { buildStore, type BuiltStore } from './store-fixture.js';

export interface BucketStore {
  caDir: string;
  built: BuiltStore;
  samples: { cam1: SampleSegment[]; mic1: SampleSegment[] };
  /** `s3://BUCKET/PREFIX` */
  location: string;
  s3: S3Access;
  /** The desk config's `s3` block for it. */
  s3Block: { endpoint: string; accessKey: string; secretKey: string };
  /** An SQLite index of the store, built before the folder went. */
  database: string;
  /** The store's folder before it went into the bucket: exportApproval and friends name it; it no longer exists. */
  folder: string;
  /** A client of the bucket through the store interface (close it). */
  open(): S3Store;
}

export async function bucketStore(rgw: ThrowawayRadosgw, prefix: string, o: { seconds: number; segmentSeconds: number; before?: (b: { folder: string; caDir: string; built: BuiltStore }) => Promise<void> }): Promise<BucketStore> {
  const caDir = makeCa().dir;
  const dir = tmp('recgw-bucket-samples-');
  const [cam1, mic1] = await Promise.all([
    recordSample({ dir: join(dir, 'cam1'), seconds: o.seconds, segmentSeconds: o.segmentSeconds, kind: 'camera', realtime: false }),
    recordSample({ dir: join(dir, 'mic1'), seconds: o.seconds, segmentSeconds: o.segmentSeconds, kind: 'microphone', realtime: false }),
  ]);
  const built = await buildStore({ caDir, samples: { cam1, mic1 } });
  const folder = tmp('recgw-bucket-folder-');
  await receiveDevice(built.deviceDir, folder, caDir);
  const database = `sqlite:${join(tmp('recgw-bucket-index-'), 'index.db')}`;
  const r = await cli('index', 'rebuild', '--store', folder, '--database', database, '--ca', caPaths(caDir).caCert, '--quiet');
  if (r.code !== 0) throw new Error(`index rebuild: ${r.err}`);
  await o.before?.({ folder, caDir, built });
  const s3: S3Access = { endpoint: rgw.endpoint, accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey };
  const open = (): S3Store => new S3Store({ ...s3, bucket: rgw.bucket, prefix: `${prefix}/` });
  const store = open();
  try {
    await putFolder(folder, store);
  } finally {
    await store.close();
  }
  rmSync(folder, { recursive: true, force: true });
  return {
    caDir,
    built,
    samples: { cam1, mic1 },
    location: `s3://${rgw.bucket}/${prefix}`,
    s3,
    s3Block: { endpoint: rgw.endpoint, accessKey: rgw.accessKeyId, secretKey: rgw.secretAccessKey },
    database,
    folder,
    open,
  };
}
