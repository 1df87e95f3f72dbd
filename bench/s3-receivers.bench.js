// s3-receivers: 1, 2 and 4 stateless receivers sharing one bucket on radosgw and one PostgreSQL (issue 20's
// acceptance: "1, 2, 4 stateless receivers, ratio of 2 to 1 >= 1.8 where the object store is not the limit; say what
// is").
//
// A throwaway radosgw (src/demo/throwaway-radosgw.ts) and, unless RECGW_BENCH_RECEIVER_DATABASE names a server, a
// throwaway PostgreSQL (src/demo/throwaway-postgres.ts) are started for the run. Each phase runs R `recgw receiver`
// processes (each phase a database of its own on that server, each receiver's store `s3://BUCKET/<phase>` with its
// unfinished files staged in the bucket: receivers that keep nothing) behind one mosquitto, fed over the real uplink
// protocol by bench/agency-gateways.js: G gateways (RECGW_BENCH_S3R_GATEWAYS, default 8) each release K segments
// (RECGW_BENCH_S3R_SEGMENTS, default 4) of RECGW_BENCH_S3_SEGMENT_MIB MiB (default 4) at once. The broker's shared
// subscription hands each message to any receiver, so one file's chunks arrive at several receivers. Value: MB/s of
// segment bytes receipted (release to last receipt). Counts RECGW_BENCH_S3R_RECEIVERS (default 1,2,4), each
// RECGW_BENCH_REPS times (default 2, order reversed every other repetition), best kept.
// Lines: `s3-receivers-R<k>` (baseline: the 1-receiver rate). On stderr per phase: each process's CPU (receivers,
// broker, generator, radosgw, the OSD, PostgreSQL with its backends) in cores, the machine's busy share, what limited
// it (agency-scale's limit()), the S3 requests per segment from radosgw's log, and the receivers' PostgreSQL waits.
import { readdirSync, readFileSync } from 'node:fs';
import process from 'node:process';
import { startThrowawayRadosgw } from '../dist/demo/throwaway-radosgw.js';
import { startThrowawayPostgres } from '../dist/demo/throwaway-postgres.js';
import { MB, median, progress, report, tempDir } from './lib.js';
import { freePort } from './lib-mqtt.js';
import { describe, fleetFor, limit, perSegment, runPhase, ticks } from './agency-scale.bench.js';
import { describeWaits } from './pg-waits.js';
import { cephDaemons, emptyPrefix, inBucketConfig, rgwRequests } from './s3-ingest.bench.js';
import { S3Client } from '@aws-sdk/client-s3';

const env = process.env;
const REPS = Number(env.RECGW_BENCH_REPS ?? 2);
const GATEWAYS = Number(env.RECGW_BENCH_S3R_GATEWAYS ?? 8);
const SEGMENTS = Number(env.RECGW_BENCH_S3R_SEGMENTS ?? 4);
const SEGMENT_MIB = Number(env.RECGW_BENCH_S3_SEGMENT_MIB ?? 4);
const COUNTS = (env.RECGW_BENCH_S3R_RECEIVERS ?? '1,2,4').split(',').map(Number);
const GOAL_2V1 = 1.8;

/** The PostgreSQL server's CPU: the postmaster with its reaped children, and the backends alive now. */
function postgresTicks(postmaster) {
  return () => {
    let cpu = 0;
    let sys = 0;
    try {
      const f = readFileSync(`/proc/${postmaster}/stat`, 'utf8');
      const x = f.slice(f.lastIndexOf(')') + 2).split(' ');
      cpu += (Number(x[11]) + Number(x[12]) + Number(x[13]) + Number(x[14])) / 100;
      sys += (Number(x[12]) + Number(x[14])) / 100;
    } catch {
      return { cpu: NaN, sys: NaN, blkio: NaN };
    }
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const x = f.slice(f.lastIndexOf(')') + 2).split(' ');
        if (Number(x[1]) !== postmaster) continue;
        const t = ticks(Number(pid));
        cpu += t.cpu;
        sys += t.sys;
      } catch {
        /* gone meanwhile */
      }
    }
    return { cpu, sys, blkio: 0 };
  };
}

/** The postmaster of a throwaway cluster in `dir` (its command line names the data folder). */
function postmasterOf(dir) {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv[0].endsWith('postgres') && argv.some((a) => a.startsWith(dir))) return Number(pid);
    } catch {
      /* gone meanwhile */
    }
  }
  return undefined;
}

export default async function () {
  const { fleet, file } = await fleetFor(GATEWAYS, SEGMENTS, SEGMENT_MIB * (1 << 20));
  const bytes = GATEWAYS * SEGMENTS * fleet.sealed.size;
  progress(`s3-receivers: ${GATEWAYS} gateways x ${SEGMENTS} segments of ${fleet.sealed.size} bytes (${(bytes / MB).toFixed(1)} MB) per phase; receivers ${COUNTS.join(', ')}`);
  const rgwDir = tempDir('recgw-bench-s3r-rgw-');
  const pgDir = env.RECGW_BENCH_RECEIVER_DATABASE ? undefined : tempDir('recgw-bench-s3r-pg-');
  const rgw = await startThrowawayRadosgw({ dir: rgwDir.dir, monPort: await freePort(), port: await freePort(), memBytes: 4 * 1024 ** 3 });
  const pg = pgDir && (await startThrowawayPostgres({ dir: pgDir.dir, port: await freePort() }));
  const database = env.RECGW_BENCH_RECEIVER_DATABASE ?? pg.url;
  const client = new S3Client({ endpoint: rgw.endpoint, region: rgw.region, forcePathStyle: true, credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey }, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  const postmaster = pgDir && postmasterOf(pgDir.dir);
  const watch = [...cephDaemons(rgwDir.dir).filter((d) => d.name !== 'ceph-mon'), ...(postmaster ? [{ name: 'postgres', pid: postmaster, ticks: postgresTicks(postmaster) }] : [])];
  progress(`  PostgreSQL: ${pg ? `throwaway (no fsync), postmaster ${postmaster}` : database.replace(/\/\/[^@]*@/, '//')}`);
  const rates = new Map(COUNTS.map((k) => [k, []]));
  try {
    for (let r = 0; r < REPS; r++) {
      const order = r % 2 ? [...COUNTS].reverse() : COUNTS;
      for (const k of order) {
        const prefix = `r${r}k${k}`;
        const req0 = rgwRequests(rgwDir.dir);
        const res = await runPhase(fleet, file, k, { devices: GATEWAYS, mode: 'burst', segments: SEGMENTS }, { watch, database, configure: (c, dir) => inBucketConfig(c, dir, rgw, prefix) });
        if (res.missing > 0) throw new Error(`s3-receivers: ${res.missing} of ${res.released} segments had no receipt with ${k} receivers`);
        const mbps = res.bytes / MB / res.wall;
        rates.get(k).push(mbps);
        progress(`  rep ${r + 1}, ${k} receiver(s): ${res.receipted} segments, ${(res.bytes / MB).toFixed(1)} MB receipted in ${res.wall.toFixed(2)} s = ${mbps.toFixed(1)} MB/s`);
        describe(`${k} receiver(s)`, res);
        const c = perSegment(res);
        const perMB = (ms) => (ms / (fleet.sealed.size / MB)).toFixed(1);
        const pgMs = (res.cpu.filter((p) => p.name === 'postgres').reduce((a, p) => a + p.cpu, 0) * 1000) / Math.max(1, res.receipted);
        progress(`    CPU per MB receipted: receivers ${perMB(c.receivers)} ms, broker ${perMB(c.broker)} ms, generator ${perMB(c.generator)} ms, radosgw + OSD ${perMB(c.store)} ms, PostgreSQL ${perMB(pgMs)} ms`);
        if (res.waits) progress(`    receivers' PostgreSQL sessions (bench/pg-waits.js): ${describeWaits(res.waits)}`);
        progress(`    limit: ${limit(res, k)}`);
        const req = rgwRequests(rgwDir.dir);
        progress(`    S3 requests (radosgw's log): ${(req.count - req0.count) / res.receipted} per segment; radosgw's own latency summed ${(req.latency - req0.latency).toFixed(2)} s of the ${res.wall.toFixed(2)} s`);
        await emptyPrefix(client, rgw.bucket, `${prefix}/`);
      }
    }
    const best = (k) => Math.max(...rates.get(k));
    const one = rates.has(1) ? best(1) : undefined;
    progress(`s3-receivers medians: ${COUNTS.map((k) => `${k}: ${median(rates.get(k)).toFixed(1)}`).join(', ')} MB/s; goal: 2 receivers >= ${GOAL_2V1} x 1 where the object store is not the limit`);
    for (const k of COUNTS) report(`s3-receivers-R${k}`, best(k), 'MB/s', one ?? best(k));
  } finally {
    client.destroy();
    await rgw.stop();
    await pg?.stop();
    rgwDir.remove();
    pgDir?.remove();
  }
}
