// s3-ingest: a receiver storing into a bucket on radosgw against `aws s3 cp`-style raw uploads of the same bytes by
// the same SDK, in the same run (issue 20's acceptance: ratio >= 0.8).
//
// A throwaway radosgw (src/demo/throwaway-radosgw.ts: Ceph 16, one mon, one memstore OSD) is started for the run.
// Each repetition (RECGW_BENCH_REPS, at most 3) runs, in an order that alternates between repetitions:
// - receiver: one `recgw receiver` whose config has `store: "s3://BUCKET/rx<r>"`, `s3 {…}` and a `work` folder,
//   behind a real mosquitto (mutual TLS, the uplink ACL), fed by bench/agency-gateways.js: G simulated gateways
//   (RECGW_BENCH_S3_GATEWAYS, default 4) of a cached fleet each release K pre-sealed segments at once
//   (RECGW_BENCH_S3_SEGMENTS, default 8) of RECGW_BENCH_S3_SEGMENT_MIB MiB (default 4), over the real uplink
//   protocol. The value is MB/s of segment bytes receipted: the segments' bytes over the time from the release to
//   the last segment receipt at the generator (bench/agency-scale.bench.js's runPhase, with the store in the bucket).
// - raw-seq: the same number of PutObject calls of the same sealed file (the fleet's one sealed segment, read from
//   disk as `aws s3 cp` reads a file), one after another, by the same SDK with the settings the S3 store uses
//   (path-style, checksums only where required), no condition and no Content-MD5.
// - raw-conc: the same, G uploads at a time (one stream of sequential PUTs per gateway): the concurrency the
//   receiver would have if only its per-device lock serialised its PUTs. The receiver handles several devices'
//   messages side by side and PUTs a segment before the transaction that records it, but on SQLite (the default,
//   receiver.db in `work`) its transactions queue in the process and the filing of receipts, head.json and the
//   ledger's pieces runs inside them: raw-seq is the baseline the acceptance names, raw-conc shows what a concurrent
//   writer gets from the same radosgw.
// - folder: the same receiver and feed with its store in a local folder (the default): what the receiver does per
//   segment without the object store, to tell the bucket's cost from the receiver's own.
// The best repetition of each is reported. Lines: `s3-ingest` (baseline raw-seq, goal ratio >= 0.8),
// `s3-ingest-vs-concurrent` (baseline raw-conc) and `s3-ingest-vs-folder` (baseline folder). On stderr: each process's CPU (receiver, broker, generator, radosgw,
// the OSD) over the receiver phase and what limited it (agency-scale's limit()), and the CPU per MB of each raw run.
import { createReadStream, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { DeleteObjectsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startThrowawayRadosgw } from '../dist/demo/throwaway-radosgw.js';
import { MB, median, progress, report, tempDir, timeIt } from './lib.js';
import { cpuSeconds, freePort, waitQuiet } from './lib-mqtt.js';
import { describe, fleetFor, limit, perSegment, runPhase } from './agency-scale.bench.js';

const env = process.env;
const REPS = Math.min(3, Number(env.RECGW_BENCH_REPS ?? 3));
const GATEWAYS = Number(env.RECGW_BENCH_S3_GATEWAYS ?? 4);
const SEGMENTS = Number(env.RECGW_BENCH_S3_SEGMENTS ?? 8);
const SEGMENT_MIB = Number(env.RECGW_BENCH_S3_SEGMENT_MIB ?? 4);
const GOAL = 0.8;

/** The Ceph daemons started from `dir` ({name, pid}, name = the command: radosgw, ceph-osd, ceph-mon), from /proc. */
export function cephDaemons(dir) {
  const out = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!argv.some((a) => a.startsWith(dir))) continue;
      const name = argv[0].split('/').pop();
      if (['radosgw', 'ceph-osd', 'ceph-mon'].includes(name)) out.push({ name, pid: Number(pid) });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/**
 * The S3 requests radosgw has answered so far, from its log (debug_rgw 1, Ceph's default, logs one `beast:` line per
 * request with the server's own latency): how many, and the sum of their latencies in seconds.
 */
export function rgwRequests(dir) {
  let count = 0;
  let latency = 0;
  let log;
  try {
    log = readFileSync(join(dir, 'log', 'client.rgw.log'), 'utf8');
  } catch {
    return { count, latency };
  }
  for (const m of log.matchAll(/ beast: .* latency=([0-9.]+)s/g)) {
    count++;
    latency += Number(m[1]);
  }
  return { count, latency };
}

/** Remove every object under a prefix, so the memstore OSD's RAM holds one repetition at a time. */
export async function emptyPrefix(client, bucket, prefix) {
  for (;;) {
    const l = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1000 }));
    const keys = (l.Contents ?? []).map((o) => ({ Key: o.Key }));
    if (keys.length === 0) return;
    await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
  }
}

/** `count` PutObjects of `file` under `prefix`, `streams` at a time; returns seconds. */
function rawUploads(client, bucket, prefix, file, size, count, streams) {
  let next = 0;
  const stream = async () => {
    for (let i = next++; i < count; i = next++) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}${i}.seg`, Body: createReadStream(file), ContentLength: size }));
    }
  };
  return timeIt(() => Promise.all(Array.from({ length: streams }, stream)));
}

/** A receiver's config as provisioned, with its store under `prefix` of the throwaway radosgw's bucket. */
export function inBucketConfig(c, dir, rgw, prefix) {
  return { ...c, store: `s3://${rgw.bucket}/${prefix}`, work: `${dir}/work`, s3: { endpoint: rgw.endpoint, accessKey: rgw.accessKeyId, secretKey: rgw.secretAccessKey } };
}

export default async function () {
  const { fleet, file } = await fleetFor(GATEWAYS, SEGMENTS, SEGMENT_MIB * (1 << 20));
  const n = GATEWAYS * SEGMENTS;
  const bytes = n * fleet.sealed.size;
  progress(`s3-ingest: ${GATEWAYS} gateways x ${SEGMENTS} segments of ${fleet.sealed.size} bytes (${(bytes / MB).toFixed(1)} MB) per run; starting radosgw`);
  const rgwDir = tempDir('recgw-bench-s3i-rgw-');
  const rgw = await startThrowawayRadosgw({ dir: rgwDir.dir, monPort: await freePort(), port: await freePort(), memBytes: 4 * 1024 ** 3 });
  const keys = { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey };
  // As src/store/s3-store.ts builds its client: the same SDK, path-style, checksums only where S3 requires them.
  const client = new S3Client({ endpoint: rgw.endpoint, region: rgw.region, forcePathStyle: true, credentials: keys, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  const daemons = cephDaemons(rgwDir.dir).filter((d) => d.name !== 'ceph-mon');
  const rates = { receiver: [], folder: [], seq: [], conc: [] };
  try {
    const receiverRun = async (r, key = 'receiver') => {
      const prefix = `rx${r}`;
      const inBucket = key === 'receiver';
      const req0 = rgwRequests(rgwDir.dir);
      const res = await runPhase(fleet, file, 1, { devices: GATEWAYS, mode: 'burst', segments: SEGMENTS }, {
        watch: daemons,
        configure: (c, dir) => (inBucket ? inBucketConfig(c, dir, rgw, prefix) : c),
      });
      if (res.missing > 0) throw new Error(`s3-ingest: ${res.missing} of ${res.released} segments had no receipt`);
      const mbps = res.bytes / MB / res.wall;
      rates[key].push(mbps);
      progress(`  receiver (${inBucket ? 'bucket' : 'folder store'}): ${res.receipted} segments, ${(res.bytes / MB).toFixed(1)} MB receipted in ${res.wall.toFixed(2)} s = ${mbps.toFixed(1)} MB/s`);
      describe(inBucket ? 'receiver into the bucket' : 'receiver into a folder', res);
      const c = perSegment(res);
      const perMB = (ms) => (ms / (fleet.sealed.size / MB)).toFixed(1);
      progress(`    CPU per MB receipted: receiver ${perMB(c.receivers)} ms, broker ${perMB(c.broker)} ms, generator ${perMB(c.generator)} ms, radosgw + OSD ${perMB(c.store)} ms`);
      progress(`    limit: ${limit(res, 1)}`);
      if (inBucket) {
        const req = rgwRequests(rgwDir.dir);
        const k = req.count - req0.count;
        progress(`    S3 requests (radosgw's log): ${k}, ${(k / res.receipted).toFixed(1)} per segment; radosgw's own latency summed ${(req.latency - req0.latency).toFixed(2)} s of the ${res.wall.toFixed(2)} s`);
      }
      if (inBucket) await emptyPrefix(client, rgw.bucket, `${prefix}/`);
    };
    const rawRun = async (r, streams, key) => {
      await waitQuiet({ maxMs: 5000 });
      const prefix = `raw${r}-${streams}/`;
      const before = daemons.map((d) => cpuSeconds(d.pid));
      const self0 = process.cpuUsage();
      const t = await rawUploads(client, rgw.bucket, prefix, fleet.sealed.file, fleet.sealed.size, n, streams);
      const self = process.cpuUsage(self0);
      const store = daemons.reduce((a, d, i) => a + cpuSeconds(d.pid) - before[i], 0);
      rates[key].push(bytes / MB / t);
      const ms = (s) => ((s * 1000) / (bytes / MB)).toFixed(1);
      progress(`  raw PutObject, ${streams} at a time: ${(bytes / MB / t).toFixed(1)} MB/s; CPU per MB: uploader ${ms((self.user + self.system) / 1e6)} ms, radosgw + OSD ${ms(store)} ms (${(store / t).toFixed(2)} cores)`);
      await emptyPrefix(client, rgw.bucket, prefix);
    };
    for (let r = 0; r < REPS; r++) {
      progress(`s3-ingest rep ${r + 1}/${REPS}${r % 2 ? ' (raw first)' : ''}`);
      const raws = async () => {
        await rawRun(r, 1, 'seq');
        await rawRun(r, GATEWAYS, 'conc');
        await receiverRun(r, 'folder');
      };
      if (r % 2) {
        await raws();
        await receiverRun(r);
      } else {
        await receiverRun(r);
        await raws();
      }
    }
    progress(`s3-ingest medians: receiver ${median(rates.receiver).toFixed(1)} (into a folder ${median(rates.folder).toFixed(1)}), raw sequential ${median(rates.seq).toFixed(1)}, raw ${GATEWAYS} at a time ${median(rates.conc).toFixed(1)} MB/s; goal ratio >= ${GOAL}`);
    report('s3-ingest', Math.max(...rates.receiver), 'MB/s', Math.max(...rates.seq));
    report('s3-ingest-vs-concurrent', Math.max(...rates.receiver), 'MB/s', Math.max(...rates.conc));
    report('s3-ingest-vs-folder', Math.max(...rates.receiver), 'MB/s', Math.max(...rates.folder));
  } finally {
    client.destroy();
    await rgw.stop();
    rgwDir.remove();
  }
}
