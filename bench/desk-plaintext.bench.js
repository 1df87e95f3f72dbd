// What the desk's way of sending a segment from a bucket costs (dist/desk/plaintext.js: the sealed object streamed
// through openSealed twice, once to check its tag and plaintext hash and record each 1 MiB block's digest, once to
// send it block by block, each checked against its digest) against one pass that keeps the
// plaintext in memory until the tag checks and then sends it: the same SDK, the same throwaway radosgw (Ceph 16,
// memstore OSD) started for the run, the same sealed segments. Throughput of the whole segment, best of the runs,
// alternating; on stderr the time to the first byte sent and the memory each holds per segment being sent.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import process from 'node:process';
import { startThrowawayRadosgw } from '../dist/demo/throwaway-radosgw.js';
import { S3Store } from '../dist/store/s3-store.js';
import { sealFile } from '../dist/evidence/seal.js';
import { openSealed } from '../dist/evidence/open-sealed.js';
import { hashHex } from '../dist/evidence/segment-scheme.js';
import { gateBlocks, recordBlocks } from '../dist/evidence/plain-blocks.js';
import { closeSealWorker } from '../dist/evidence/seal-worker.js';
import { MB, progress, report, tempDir } from './lib.js';

const SHAPES = [
  { name: '4MiB', size: 4 << 20 },
  { name: '64MiB', size: 64 << 20 },
];

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/**
 * Wall time in seconds, the time to the first byte sent, and the most memory (array buffers) held above the start.
 * `gcEach` (an untimed run, node --expose-gc): garbage collected before each sample, so the peak is what is held.
 */
async function measure(fn, gcEach = false) {
  const gc = globalThis.gc ?? (() => {});
  gc();
  const base = process.memoryUsage().arrayBuffers;
  let peak = 0;
  const sample = () => {
    if (gcEach) gc();
    peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
  };
  const t0 = process.hrtime.bigint();
  let first = 0;
  const send = async (chunk) => {
    if (first === 0) first = Number(process.hrtime.bigint() - t0) / 1e9;
    sample();
    await new Promise((resolve) => globalThis.setImmediate(resolve)); // a client taking the bytes: one turn of the loop per chunk
    void chunk;
  };
  await fn(send, sample);
  return { s: Number(process.hrtime.bigint() - t0) / 1e9, first, peak };
}

export default async function () {
  const reps = Math.min(5, Number(process.env.RECGW_BENCH_REPS ?? 5));
  const src = tempDir('recgw-bench-desk-plain-');
  const rgwDir = tempDir('recgw-bench-rgw-');
  const rgw = await startThrowawayRadosgw({ dir: rgwDir.dir, monPort: await freePort(), port: await freePort(), memBytes: 1024 ** 3 });
  const store = new S3Store({ endpoint: rgw.endpoint, bucket: rgw.bucket, prefix: 'desk/', accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey });
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  try {
    for (const shape of SHAPES) {
      const plain = join(src.dir, `${shape.name}.ts`);
      writeFileSync(plain, randomBytes(shape.size));
      const sealed = join(src.dir, `${shape.name}.seg`);
      const { enc, plain: hashed } = await sealFile(plain, sealed, publicKey);
      const name = `dev/segments/${shape.name}.seg`;
      await store.putOnce(name, { file: sealed });
      const check = (r) => {
        if (!r.ok || r.hash !== hashHex(hashed)) throw new Error(`the segment did not check out: ${r.reason ?? r.hash}`);
      };
      // The desk's way: check without sending (recording each 1 MiB block's digest), then send as it decrypts a
      // second time, a block at a time once its digest is the recorded one.
      const twoPass = (send, sample) => async () => {
        const record = recordBlocks();
        check(
          await openSealed(await store.stream(name), enc, privateKey, (c) => {
            sample();
            return record.add(c);
          }),
        );
        const gate = gateBlocks(await record.end(), send);
        check(await openSealed(await store.stream(name), enc, privateKey, (c) => gate.add(c)));
        await gate.end();
      };
      // One pass: the plaintext held until the tag checks, then sent.
      const onePass = (send, sample) => async () => {
        const held = [];
        check(
          await openSealed(await store.stream(name), enc, privateKey, async (c) => {
            held.push(c);
            sample();
          }),
        );
        for (const c of held) await send(c);
      };
      const best = { two: Infinity, one: Infinity };
      const seen = { two: { first: 0 }, one: { first: 0 } };
      for (let r = 0; r < reps; r++) {
        for (const [k, way] of r % 2 === 0 ? [['two', twoPass], ['one', onePass]] : [['one', onePass], ['two', twoPass]]) {
          const m = await measure((send, sample) => way(send, sample)());
          if (m.s < best[k]) {
            best[k] = m.s;
            seen[k] = { first: m.first };
          }
        }
        progress(`desk-plaintext ${shape.name} run ${r + 1}/${reps}: best two passes ${(shape.size / MB / best.two).toFixed(1)} MB/s, one pass in memory ${(shape.size / MB / best.one).toFixed(1)} MB/s`);
      }
      const mib = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;
      const held = globalThis.gc
        ? `; memory held at most ${mib((await measure((send, sample) => twoPass(send, sample)(), true)).peak)} / ${mib((await measure((send, sample) => onePass(send, sample)(), true)).peak)}`
        : ' (run with node --expose-gc for the memory held)';
      progress(`desk-plaintext ${shape.name}: first byte after ${(seen.two.first * 1000).toFixed(0)} ms (two passes) / ${(seen.one.first * 1000).toFixed(0)} ms (one pass)${held}`);
      report(`desk-plaintext-${shape.name}`, shape.size / MB / best.two, 'MB/s', shape.size / MB / best.one);
    }
  } finally {
    await store.close();
    await rgw.stop();
    await closeSealWorker();
    src.remove();
    rgwDir.remove();
  }
}
