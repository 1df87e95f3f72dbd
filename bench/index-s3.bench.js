// `recgw index rebuild` from a bucket against the same rebuild from a folder holding the same store, in the same
// run: entries/s of rebuildIndex (dist/index/rebuild.js) into a fresh SQLite file, best of the runs, alternating.
//   index-s3-rebuild-<n>   the bucket (a throwaway radosgw, Ceph 16 on memstore, started for the run), baseline the
//                          folder: what reading through S3 costs the rebuild.
// The store is verify-scale's synthetic one-device store of n entries (cached under .bench/verify-scale/), put
// into the bucket through the store interface as a receiver appends it: the ledger in pieces of PIECE_LINES lines
// (RECGW_BENCH_INDEX_S3_PIECE_LINES, default 32). Its segments are not put in the bucket: the rebuild reads none
// (test/integration/index-s3.test.ts proves it), and the folder's are tiny hard links.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import process from 'node:process';
import { startThrowawayRadosgw } from '../dist/demo/throwaway-radosgw.js';
import { S3Store } from '../dist/store/s3-store.js';
import { openIndexDb } from '../dist/index/database.js';
import { rebuildIndex } from '../dist/index/rebuild.js';
import { progress, report, tempDir, timeIt } from './lib.js';
import { store as syntheticStore } from './verify-scale.bench.js';

const SIZES = (process.env.RECGW_BENCH_INDEX_S3_SIZES ?? '10000,100000').split(',').map(Number);
const PIECE_LINES = Number(process.env.RECGW_BENCH_INDEX_S3_PIECE_LINES ?? 32);
const DEVICE = 'room-1';

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** The ledger appended to the bucket PIECE_LINES lines at a time; returns the number of pieces. */
async function putLedger(bucket, bytes) {
  let at = 0;
  let pieces = 0;
  while (at < bytes.length) {
    let end = at;
    for (let n = 0; n < PIECE_LINES && end < bytes.length; n++) {
      const nl = bytes.indexOf(10, end);
      end = nl < 0 ? bytes.length : nl + 1;
    }
    await bucket.append(`${DEVICE}/ledger.jsonl`, at, bytes.subarray(at, end));
    at = end;
    pieces++;
  }
  return pieces;
}

async function rebuildOnce(from, caPems) {
  const tmp = tempDir('recgw-bench-index-s3-db-');
  const db = await openIndexDb(`sqlite:${join(tmp.dir, 'index.db')}`);
  try {
    return await timeIt(() => rebuildIndex(db, from, { caPems }));
  } finally {
    await db.close();
    tmp.remove();
  }
}

export default async function indexS3Bench() {
  const reps = Math.min(3, Number(process.env.RECGW_BENCH_REPS ?? 3));
  const rgwDir = tempDir('recgw-bench-rgw-');
  const rgw = await startThrowawayRadosgw({ dir: rgwDir.dir, monPort: await freePort(), port: await freePort(), memBytes: 1024 ** 3 });
  const keys = { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey };
  try {
    for (const n of SIZES) {
      const s = syntheticStore(n);
      const caPems = [readFileSync(s.caCert, 'utf8')];
      const bucket = new S3Store({ endpoint: rgw.endpoint, bucket: rgw.bucket, prefix: `n${n}/`, ...keys });
      try {
        const pieces = await putLedger(bucket, readFileSync(join(s.storeDir, DEVICE, 'ledger.jsonl')));
        progress(`index-s3-rebuild-${n}: ledger in ${pieces} pieces of ${PIECE_LINES} lines`);
        const best = { bucket: Infinity, folder: Infinity };
        for (let r = 0; r < reps; r++) {
          const tb = await rebuildOnce(bucket, caPems);
          const tf = await rebuildOnce(s.storeDir, caPems);
          best.bucket = Math.min(best.bucket, tb);
          best.folder = Math.min(best.folder, tf);
          progress(`  run ${r + 1}/${reps}: bucket ${tb.toFixed(2)} s, folder ${tf.toFixed(2)} s`);
        }
        report(`index-s3-rebuild-${n}`, n / best.bucket, 'entries/s', n / best.folder);
      } finally {
        await bucket.close();
      }
    }
  } finally {
    await rgw.stop();
    rgwDir.remove();
  }
}
