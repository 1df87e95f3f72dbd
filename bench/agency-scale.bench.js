// agency-scale: the agency side under many gateways (issue 17's acceptance). A load generator
// (bench/agency-gateways.js, one process) plays N simulated gateways of a fleet (src/demo/fleet.ts: each device
// enrolled with its own key and certificate, its own signed ledger, the segments sealed once and reused under a
// name per manifest) against a real mosquitto (bench/lib-mqtt.js: mutual TLS, the uplink ACL) and 1, 2 or 4
// `recgw receiver` processes under the shared subscription, sharing one store folder (and receiver.db in it).
//
// Two parts, each phase with a fresh broker, fresh receivers and an empty store:
// 1. Throughput, for R = 1, 2, 4 receivers (RECGW_BENCH_AGENCY_RECEIVERS, default "1,2,4"): G gateways
//    (RECGW_BENCH_AGENCY_GATEWAYS, default 32) each release K segments at once (RECGW_BENCH_AGENCY_SEGMENTS,
//    default 4) of 2 MiB (RECGW_BENCH_AGENCY_SEGMENT_MIB), a backlog after a day out of coverage; the time runs
//    from the release to the last segment receipt. Lines: `agency-scale-receipts-R<R>` (segment receipts/s) and
//    `agency-scale-MBps-R<R>` (MB/s of sealed segments stored), baseline the same with one receiver (ratio: the
//    speed-up), and `agency-scale-2v1` (2 receivers against 1, baseline the goal 1.8).
// 2. Latency ramp with RECGW_BENCH_AGENCY_RAMP_RECEIVERS receivers (default 2): N gateways (RECGW_BENCH_AGENCY_RAMP,
//    default "16,24,32,48,64,96,128") each record a 4 Mbit/s camera, one segment of 2 MiB every 4 s
//    (RECGW_BENCH_AGENCY_PERIOD_MS), phases spread, for RECGW_BENCH_AGENCY_STEP_SECONDS (default 20); seal (the
//    release) -> receipt at the generator. `agency-scale-p99-N<N>`: p99 in ms against the goal of 2,000 ms (lower is
//    better); the ramp stops at the first step over the goal or with a segment not receipted within 30 s after the
//    last release. `agency-scale-gateways-held`: the most gateways held under the goal, baseline the most tried.
//
// Per phase, stderr shows (receivers on PostgreSQL) what their sessions waited for, sampled (bench/pg-waits.js),
// how many log appends (sequencings: distinct checkpoints in the segment receipts' proofs)
// the segment receipts came from, each process's CPU seconds from /proc (utime + stime; kernel share; block I/O delay when
// the kernel keeps delay accounting) over the timed part, as cores used (CPU s / wall s), and the machine's busy
// share (/proc/stat) and load average, so the limit can be named: the broker (one thread: ~1 core), a receiver
// (one JS thread each: ~1 core), the disk (I/O delay), or the database (receivers neither busy nor waiting on the
// disk: waiting on receiver.db's write lock), or the machine's two cores.
//
// The fleet (keys, certificates, ledgers, the sealed segment) takes ~1 s a device to enrol on this VM and is kept
// under .bench/agency-scale/ keyed by its shape. RECGW_BENCH_RECEIVER_DATABASE=postgres://…/postgres (a server the
// user may create databases on) runs the receivers on PostgreSQL: each phase gets a new database on that server,
// named in every receiver's config `database` (issue 17), dropped after it.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import process from 'node:process';
import { URL } from 'node:url';
import pg from 'pg';
import { buildFleet, loadFleet } from '../dist/demo/fleet.js';
import { provisionReceiver } from '../dist/demo/provision.js';
import { MB, median, progress, report, tempDir } from './lib.js';
import { spawnTracked, startMosquitto, startReceiverProcess, waitQuiet } from './lib-mqtt.js';
import { describeWaits, sampleWaits } from './pg-waits.js';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = join(here, '..');
const GEN = join(here, 'agency-gateways.js');
const env = process.env;
const list = (s) => s.split(',').map(Number).filter((n) => n > 0);
const RECEIVERS = list(env.RECGW_BENCH_AGENCY_RECEIVERS ?? '1,2,4');
const GATEWAYS = Number(env.RECGW_BENCH_AGENCY_GATEWAYS ?? 32);
const SEGMENTS = Number(env.RECGW_BENCH_AGENCY_SEGMENTS ?? 4);
const SEGMENT_MIB = Number(env.RECGW_BENCH_AGENCY_SEGMENT_MIB ?? 2);
const RAMP = list(env.RECGW_BENCH_AGENCY_RAMP ?? '16,24,32,48,64,96,128');
const RAMP_RECEIVERS = Number(env.RECGW_BENCH_AGENCY_RAMP_RECEIVERS ?? 2);
const PERIOD_MS = Number(env.RECGW_BENCH_AGENCY_PERIOD_MS ?? 4000);
const STEP_SECONDS = Number(env.RECGW_BENCH_AGENCY_STEP_SECONDS ?? 20);
const DATABASE = env.RECGW_BENCH_RECEIVER_DATABASE;
/** Devices enrolled in the cached fleet (at least the most any phase plays). */
const FLEET = Math.max(Number(env.RECGW_BENCH_AGENCY_FLEET ?? 128), GATEWAYS, ...RAMP);
const GOAL_RATIO = 1.8;
const GOAL_P99_MS = 2000;

/** The fleet, from the cache or built once. */
export async function fleetFor(devices, segmentsPerDevice, segmentBytes) {
  const dir = join(ROOT, '.bench', 'agency-scale', `fleet-${devices}x${segmentsPerDevice}x${segmentBytes}`);
  const o = { dir, devices, segmentsPerDevice, segmentBytes };
  const cached = loadFleet(o);
  if (cached) return { fleet: cached, file: join(dir, 'fleet.json') };
  progress(`enrolling a fleet of ${devices} simulated gateways into ${dir} (~1 s each, once)`);
  const fleet = await buildFleet({ ...o, onProgress: (n) => n % 16 === 0 && progress(`  ${n} of ${devices}`) });
  return { fleet, file: join(dir, 'fleet.json') };
}

export const ticks = (pid) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const x = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return { cpu: (Number(x[11]) + Number(x[12])) / 100, sys: Number(x[12]) / 100, blkio: Number(x[39]) / 100 };
  } catch {
    return { cpu: NaN, sys: NaN, blkio: NaN };
  }
};
const machine = () => {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { idle: f[3] + (f[4] ?? 0), iowait: f[4] ?? 0, total: f.reduce((a, b) => a + b, 0) };
};
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/**
 * One phase: a broker, `receivers` receivers on one store, the generator with `gen` options; returns its result
 * with the CPU each process used over the timed part.
 */
/** A new database on the server of RECGW_BENCH_RECEIVER_DATABASE for one phase: its URL, and how to drop it. */
async function phaseDatabase(server = DATABASE) {
  if (!server) return undefined;
  const name = `recgw_agency_${process.pid}_${Date.now()}`;
  const admin = async (sql) => {
    const c = new pg.Client({ connectionString: server });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE DATABASE "${name}"`);
  const url = new URL(server);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}

/**
 * `configure(config, dir)`: the receiver's config as provisioned, returned as it should run (bench/s3-ingest puts
 * its store in a bucket); `watch`: other processes ({name, pid}) whose CPU the phase reports, such as radosgw;
 * `database`: the PostgreSQL server of the phase's database (default RECGW_BENCH_RECEIVER_DATABASE).
 */
export async function runPhase(fleet, fleetFile, receivers, gen, { quiet = true, configure, watch = [], database } = {}) {
  const t = tempDir('recgw-agency-');
  const db = await phaseDatabase(database);
  const names = Array.from({ length: receivers }, (_, i) => `receiver:${i + 1}`);
  const started = [];
  let broker;
  try {
    broker = await startMosquitto({ caDir: fleet.caDir, receivers: names, dir: join(t.dir, 'broker') });
    const store = join(t.dir, 'store');
    for (const name of names) {
      const rx = provisionReceiver({ dir: join(t.dir, name.replace(':', '-')), caDir: fleet.caDir, name, broker: broker.url, store });
      if (db || configure) {
        let c = JSON.parse(readFileSync(rx.configPath, 'utf8'));
        if (db) c = { ...c, database: db.url };
        if (configure) c = configure(c, dirname(rx.configPath));
        writeFileSync(rx.configPath, JSON.stringify(c, null, 2) + '\n');
      }
      started.push({ name, p: await startReceiverProcess(rx) });
    }
    const g = spawnTracked(process.execPath, [GEN, JSON.stringify({ url: broker.url, fleet: fleetFile, ...gen })], { ipc: true });
    started.push({ name: 'generator', p: g });
    const ready = await g.waitMessage((m) => m.type === 'ready', 180_000, 'the generator ready');
    if (quiet) await waitQuiet({ maxMs: 5000 });
    const procs = [{ name: 'broker', pid: broker.pid }, ...started.map((s) => ({ name: s.name, pid: s.p.pid })), ...watch];
    // A watched process may count its own CPU (`ticks`: PostgreSQL's server with its backends, s3-receivers).
    const cpuOf = (p) => (p.ticks ? p.ticks() : ticks(p.pid));
    const before = procs.map(cpuOf);
    const m0 = machine();
    const load0 = loadavg();
    const sampler = db ? await sampleWaits(db.url) : undefined;
    g.send({ type: 'go' });
    const result = await g.waitMessage((m) => m.type === 'result', 600_000, 'the generator result');
    const waits = await sampler?.stop();
    const m1 = machine();
    const wall = result.seconds;
    const cpu = procs.map((p, i) => {
      const a = cpuOf(p);
      return { name: p.name, cpu: a.cpu - before[i].cpu, sys: a.sys - before[i].sys, blkio: a.blkio - before[i].blkio };
    });
    const busy = 1 - (m1.idle - m0.idle) / Math.max(1, m1.total - m0.total);
    const iowait = (m1.iowait - m0.iowait) / Math.max(1, m1.total - m0.total);
    g.send({ type: 'exit' });
    return { ...result, wall, cpu, busy, iowait, load: `${load0} -> ${loadavg()}`, connectMs: ready.connectMs, waits };
  } finally {
    for (const s of started.reverse()) await s.p.stop(10_000);
    await broker?.stop();
    await db?.drop();
    t.remove();
  }
}

const pct = (xs, q) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
};

export function describe(label, r) {
  const perCore = r.cpu.map((c) => `${c.name} ${(c.cpu / r.wall).toFixed(2)} (sys ${(c.sys / r.wall).toFixed(2)}${c.blkio > 0 ? `, blkio ${(c.blkio / r.wall).toFixed(2)}` : ''})`);
  progress(`  ${label}: ${r.receipted}/${r.released} receipts in ${r.wall.toFixed(2)} s, re-hellos ${r.hellos}; machine busy ${(r.busy * 100).toFixed(0)}% (iowait ${(r.iowait * 100).toFixed(0)}%), load ${r.load}`);
  progress(`    cores used (CPU s / wall s): ${perCore.join(', ')}; sum ${(r.cpu.reduce((a, c) => a + c.cpu, 0) / r.wall).toFixed(2)} of 2`);
}

/** CPU milliseconds per segment receipted, by role (receivers together), over a phase. */
export function perSegment(r) {
  const ms = (n) => (r.cpu.filter((c) => c.name.startsWith(n)).reduce((a, c) => a + c.cpu, 0) * 1000) / Math.max(1, r.receipted);
  return { receivers: ms('receiver'), broker: ms('broker'), generator: ms('generator'), store: ms('radosgw') + ms('ceph-osd') };
}

/**
 * What limited a phase, from the cores each process used and the machine's busy share. Other sessions' work on
 * this shared 2-core VM takes whatever our processes leave, so "the machine" names how much of it was ours.
 */
export function limit(r, receivers) {
  const used = (n) => r.cpu.filter((c) => c.name.startsWith(n)).reduce((a, c) => a + c.cpu, 0) / r.wall;
  const broker = used('broker');
  const rx = used('receiver');
  const gen = used('generator');
  const store = used('radosgw') + used('ceph-osd');
  const sum = broker + rx + gen + store;
  const perRx = rx / receivers;
  const blk = r.cpu.filter((c) => c.name.startsWith('receiver')).reduce((a, c) => a + c.blkio, 0) / r.wall;
  if (store > 0.85) return `the object store (radosgw and its OSD: ${store.toFixed(2)} cores)`;
  if (broker > 0.85) return `the broker (mosquitto, one thread: ${broker.toFixed(2)} cores)`;
  if (perRx > 0.85) return `receiver CPU (${perRx.toFixed(2)} cores each)`;
  if (r.busy > 0.9) {
    const others = Math.max(0, 2 * r.busy - sum);
    return `the machine's two cores (${(r.busy * 100).toFixed(0)}% busy: ours ${sum.toFixed(2)} cores — receivers ${rx.toFixed(2)}, broker ${broker.toFixed(2)}, generator ${gen.toFixed(2)}${store > 0 ? `, object store ${store.toFixed(2)}` : ''} — and ${others.toFixed(2)} cores of other work)`;
  }
  if (blk > 0.3) return `the disk (receivers waiting ${blk.toFixed(2)} s per s on block I/O)`;
  const on = store > 0.05 ? "the object store's answers, fsync or receiver.db's lock" : "fsync or receiver.db's lock";
  return `not CPU (receivers ${perRx.toFixed(2)} cores each, broker ${broker.toFixed(2)}, machine ${(r.busy * 100).toFixed(0)}% busy): waiting, on ${on}`;
}

export default async function () {
  const need = Math.max(8, SEGMENTS, Math.ceil((STEP_SECONDS * 1000) / PERIOD_MS) + 1);
  const { fleet, file } = await fleetFor(FLEET, need, SEGMENT_MIB * (1 << 20));
  progress(`fleet: ${fleet.devices.length} devices, ${need} segments each of ${fleet.sealed.size} bytes${DATABASE ? `; receivers on ${DATABASE.replace(/\/\/[^@]*@/, '//')}` : '; receivers on SQLite (receiver.db)'}`);

  // 1. Throughput per receiver count.
  const rates = new Map();
  for (const k of RECEIVERS) {
    progress(`throughput: ${GATEWAYS} gateways x ${SEGMENTS} segments, ${k} receiver(s)`);
    const r = await runPhase(fleet, file, k, { devices: GATEWAYS, mode: 'burst', segments: SEGMENTS });
    describe(`${k} receiver(s)`, r);
    if (r.missing > 0) progress(`    ${r.missing} segments had no receipt within the drain time`);
    // One checkpoint per log append: how many segment leaves each append (sequencing) took, on average.
    if (r.checkpoints > 0) progress(`    log appends: the ${r.receipted} segment receipts are against ${r.checkpoints} checkpoints, ${(r.receipted / r.checkpoints).toFixed(2)} segments per append`);
    if (r.waits) progress(`    receivers' PostgreSQL sessions (bench/pg-waits.js): ${describeWaits(r.waits)}`);
    const lim = limit(r, k);
    progress(`    limit: ${lim}`);
    const c = perSegment(r);
    progress(`    CPU per segment receipted: receivers ${c.receivers.toFixed(1)} ms, broker ${c.broker.toFixed(1)} ms, generator ${c.generator.toFixed(1)} ms`);
    rates.set(k, { receipts: r.receipted / r.wall, mbps: r.bytes / MB / r.wall, limit: lim, cost: c });
  }
  const one = rates.get(1);
  for (const [k, x] of rates) {
    report(`agency-scale-receipts-R${k}`, x.receipts, 'receipts/s', one?.receipts ?? x.receipts);
    report(`agency-scale-MBps-R${k}`, x.mbps, 'MB/s', one?.mbps ?? x.mbps);
  }
  if (rates.has(1) && rates.has(2)) {
    report('agency-scale-2v1', rates.get(2).receipts / one.receipts, 'x', GOAL_RATIO);
    // What the CPU allows on two idle cores, from the costs measured with one receiver: one receiver is one JS
    // thread (at most a core); everything (receivers, broker, generator) shares the two cores.
    const c = one.cost;
    const all = c.receivers + c.broker + c.generator;
    const r1 = Math.min(1000 / c.receivers, 2000 / all);
    const r2 = Math.min(2000 / c.receivers, 2000 / all);
    const bound = `${r1.toFixed(0)} receipts/s with one receiver and ${r2.toFixed(0)} with two: a ratio of at most ${(r2 / r1).toFixed(2)}`;
    progress(`on two idle cores these CPU costs would allow at most ${bound}${2000 / all < 1000 / c.receivers ? ' (one receiver alone would already fill the machine with the broker and the generator)' : ''}`);
  }

  // 2. The ramp.
  let held = 0;
  for (const n of RAMP) {
    if (n > fleet.devices.length) break;
    progress(`ramp: ${n} gateways recording (a ${fleet.sealed.size}-byte segment every ${PERIOD_MS} ms each) for ${STEP_SECONDS} s, ${RAMP_RECEIVERS} receiver(s)`);
    const r = await runPhase(fleet, file, RAMP_RECEIVERS, { devices: n, mode: 'steady', seconds: STEP_SECONDS, periodMs: PERIOD_MS }, { quiet: false });
    describe(`${n} gateways`, r);
    const lat = [...r.latencies, ...Array(r.missing).fill(Infinity)];
    const p99 = pct(lat, 0.99);
    progress(`    seal -> receipt: median ${median(r.latencies).toFixed(0)} ms, p95 ${pct(lat, 0.95).toFixed(0)}, p99 ${p99.toFixed(0)}, max ${Math.max(...lat).toFixed(0)}; ${(r.bytes / MB / STEP_SECONDS).toFixed(1)} MB/s offered; limit if saturated: ${limit(r, RAMP_RECEIVERS)}`);
    report(`agency-scale-p99-N${n}`, Number.isFinite(p99) ? p99 : 1e9, 'ms', GOAL_P99_MS);
    if (!(p99 < GOAL_P99_MS)) break;
    held = n;
  }
  const tried = RAMP.filter((n) => n <= fleet.devices.length);
  if (tried.length > 0) report('agency-scale-gateways-held', held, 'gateways', Math.max(...tried));
}

// `node bench/agency-scale.bench.js --fleet` only builds (or checks) the cached fleet.
if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--fleet') {
  const need = Math.max(8, SEGMENTS, Math.ceil((STEP_SECONDS * 1000) / PERIOD_MS) + 1);
  await fleetFor(FLEET, need, SEGMENT_MIB * (1 << 20));
}
