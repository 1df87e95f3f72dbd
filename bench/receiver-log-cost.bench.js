// What the agency log costs the receiver's ingest (issue 14: at most 10%). Two receivers run side by side for the
// whole bench, as an agency runs one, both pinned to CPU 1, each behind its own mosquitto on CPU 0: the receiver with
// its agency log, and the same receiver code with a stand-in that does none of the log's work
// (bench/receiver-launch.js; receipts then carry no log proof, as from a receiver before the log). Both stores start
// from the same store whose log already holds LOG_LEAVES leaves (the size of an agency's log after a while, with its
// tiles two levels up partly filled), so that the costs that grow with the log are inside. After an untimed warm-up
// delivery to each, pairs of timed deliveries alternate which goes first: each a new gateway (`recgw run` on CPU 0)
// with SEGMENTS sealed segments of SEGMENT_BYTES, as receiver-ingest feeds its receiver.
// Rate: bytes of stored segments per second on the receiver's side, from its first entries receipt (the storedAt of
// the manifests' receipt) or its first chunk (whichever came first) to its last segment receipt. Medians of PAIRS
// runs each (not the best: the two are compared with each other, and on a shared machine a best-of is decided by
// which of them happened on a quiet moment); the ratio is with / without (higher is better; the goal is >= 0.9). A
// second line gives the receiver's CPU time per MB over the delivery, medians, with against without (lower is
// better; the goal <= 1.1). Stderr: each run (rate, CPU, wall time per step, the log's own steps), each pair's
// ratios, the medians of the pairs' ratios and the best runs.
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import process from 'node:process';
import { setTimeout } from 'node:timers';
import { MB, median, progress, report, tempDir } from './lib.js';
import {
  BIN,
  deliverTo,
  freePort,
  makeCa,
  makeReceiver,
  seedSegments,
  spawnTracked,
  startMosquitto,
  startReceiverProcess,
  storedIngest,
  uplinkGateway,
} from './lib-mqtt.js';
import { openReceiverDb } from '../dist/receiver/store-db.js';
import { AgencyLog } from '../dist/receiver/agency-log.js';
import { SqliteReceiverSql } from '../dist/receiver/sqlite-receiver-sql.js';
import { LogFiles } from '../dist/receiver/log-files.js';
import { caPaths, logOrigin } from '../dist/pki/ca.js';

const here = dirname(fileURLToPath(import.meta.url));
const LAUNCHER = join(here, 'receiver-launch.js');
const PAIRS = Math.max(1, Number(process.env.RECGW_BENCH_REPS ?? 7));
const SEGMENTS = Number(process.env.RECGW_BENCH_SEGMENTS ?? 40);
const SEGMENT_BYTES = Number(process.env.RECGW_BENCH_SEGMENT_KIB ?? 4096) * 1024;
const WARM_SEGMENTS = 8;
// Witnesses the receiver with the log asks to cosign (`recgw witness serve`, on CPU 0), as issue 14 has two.
const WITNESSES = Number(process.env.RECGW_BENCH_WITNESSES ?? 2);
// 130,000: tile level 0 208 wide (full tiles complete during the runs), level 1 251 wide, level 2 one hash.
const LOG_LEAVES = Number(process.env.RECGW_BENCH_LOG_LEAVES ?? 130_000);
const RECEIVER_CPU = 1;
const FEED_CPU = 0;
const MODES = ['with', 'without'];

export default async function receiverLogCostBench() {
  const tmp = tempDir('recgw-bench-logcost-');
  const stops = [];
  try {
    progress(`receiver-log-cost: agency CA, a store with a log of ${LOG_LEAVES} leaves; brokers on CPU ${FEED_CPU}, receivers on CPU ${RECEIVER_CPU}`);
    const ca = makeCa(tmp.dir);
    const seeded = join(tmp.dir, 'store-seeded');
    await prefillLog(seeded, ca.dir, LOG_LEAVES);
    const witnesses = await startWitnesses(tmp.dir, ca.dir, WITNESSES, stops);
    const sides = {};
    for (const mode of MODES) {
      const broker = await startMosquitto({ caDir: ca.dir, receivers: ['receiver:1'], dir: join(tmp.dir, `mosquitto-${mode}`), cpu: FEED_CPU });
      stops.push(() => broker.stop());
      const rx = makeReceiver({ dir: join(tmp.dir, `rx-${mode}`), caDir: ca.dir, name: 'receiver:1', broker: broker.url });
      cpSync(seeded, rx.config.store, { recursive: true });
      if (mode === 'with' && witnesses.length > 0) {
        writeFileSync(rx.configPath, JSON.stringify({ ...JSON.parse(readFileSync(rx.configPath, 'utf8')), witnesses }, null, 2));
      }
      const rxp = await startReceiverProcess(rx, { cpu: RECEIVER_CPU, launcher: [LAUNCHER, mode], timeoutMs: 60_000 });
      stops.push(() => rxp.stop());
      sides[mode] = { mode, broker, rx, rxp, seen: new WeakSet() };
    }
    for (const mode of MODES) await deliver(tmp.dir, ca, sides[mode], `warm-${mode}`, WARM_SEGMENTS, `warm-up ${mode} the log (untimed)`);

    const runs = { with: [], without: [] };
    const pairRatios = [];
    for (let r = 0; r < PAIRS; r++) {
      const order = r % 2 === 0 ? MODES : [...MODES].reverse();
      const rates = {};
      for (const mode of order) {
        const res = await deliver(tmp.dir, ca, sides[mode], `pair${r}-${mode}`, SEGMENTS, `pair ${r + 1}/${PAIRS} ${mode} the log`);
        runs[mode].push(res);
        rates[mode] = res.rate;
      }
      pairRatios.push(rates.with / rates.without);
      progress(`  pair ${r + 1}: with / without = ${(rates.with / rates.without).toFixed(3)}`);
    }
    const rate = (m) => median(runs[m].map((x) => x.rate));
    const cpuPerMB = (m) => median(runs[m].map((x) => (x.cpu * 1000) / x.mb));
    const cpuPairs = runs.with.map((x, i) => (x.cpu / x.mb) / (runs.without[i].cpu / runs.without[i].mb));
    progress(
      `receiver-log-cost: pairs with / without ${pairRatios.map((x) => x.toFixed(3)).join(', ')} (median ${median(pairRatios).toFixed(3)}); ` +
        `CPU per MB with / without by pair: median ${median(cpuPairs).toFixed(3)}; ` +
        `best with ${Math.max(...runs.with.map((x) => x.rate)).toFixed(1)}, without ${Math.max(...runs.without.map((x) => x.rate)).toFixed(1)} MB/s`,
    );
    const steps = (m, k) => median(runs[m].map((x) => x[k])).toFixed(0);
    progress(
      `  receiver CPU per run (medians) in the steps where the log works (ledger ingest, storing files, publishing, cosignatures): ` +
        `with ${steps('with', 'logSteps')}, without ${steps('without', 'logSteps')} ms; in taking chunks (no log work): ` +
        `with ${steps('with', 'chunks')}, without ${steps('without', 'chunks')} ms`,
    );
    const per = (k) => median(runs.with.map((x) => (x.log[k].n ? x.log[k].ms / x.log[k].n : 0) * (k === 'publish' ? 2 : 1)));
    progress(
      `  the log's steps in the receiver (medians of runs, CPU): append + proof ${per('entries').toFixed(2)} ms per entries message, ` +
        `${per('segment').toFixed(2)} ms per segment; publishing the files ${per('publish').toFixed(2)} ms each time ` +
        `on the receiver's thread (${median(runs.with.map((x) => x.log.publish.n / 2))} times a run)`,
    );
    report('receiver-log-cost', rate('with'), 'MB/s', rate('without'));
    report('receiver-log-cost-cpu', cpuPerMB('with'), 'ms/MB', cpuPerMB('without'));
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    tmp.remove();
  }
}

/**
 * A receiver store whose log already holds `leaves` leaves (entries of earlier devices), appended as the receiver
 * does, with its files published: a receiver that starts on it only checks they are there, as after a restart.
 */
async function prefillLog(store, caDir, leaves) {
  const p = caPaths(caDir);
  const sql = new SqliteReceiverSql(openReceiverDb(store));
  try {
    const log = new AgencyLog(sql, createPrivateKey(readFileSync(p.logKey, 'utf8')), logOrigin(readFileSync(p.caCert, 'utf8')));
    const accepted = new Date().toISOString();
    for (let from = 0; from < leaves; from += 4096) {
      const batch = [];
      for (let i = from; i < Math.min(leaves, from + 4096); i++) {
        batch.push({ v: 1, kind: 'entry', device: `earlier-${i % 64}`, seq: Math.floor(i / 64), hash: createHash('sha256').update(String(i)).digest('hex'), accepted });
      }
      await sql.transaction((tx) => log.append(tx, batch));
    }
    await new LogFiles(store, log).republish(readFileSync(p.logCert, 'utf8'));
  } finally {
    await sql.close();
  }
}

/** `n` witnesses following the agency log, each `recgw witness serve` on FEED_CPU; their receiver config entries. */
async function startWitnesses(root, caDir, n, stops) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const dir = join(root, `witness-${i}`);
    const init = execFileSync(process.execPath, [BIN, 'witness', 'init', '--out', dir, '--name', `witness${i}.example/bench`, '--log', caPaths(caDir).logVkey], { encoding: 'utf8' });
    const port = await freePort();
    const w = spawnTracked(process.execPath, [BIN, 'witness', 'serve', '--state', dir, '--listen', `127.0.0.1:${port}`], { cpu: FEED_CPU });
    stops.push(() => w.stop());
    for (let t = 0; !/answering/.test(w.log()); t++) {
      if (t > 200 || w.proc.exitCode !== null) throw new Error(`witness ${i} did not start:\n${w.log()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    out.push({ url: `http://127.0.0.1:${port}`, vkey: init.trim().split('\n').at(-1) });
  }
  return out;
}

/** The receiver's counters now (bench/receiver-launch.js logs them on SIGUSR2). */
async function counters(side) {
  side.rxp.proc.kill('SIGUSR2');
  const c = await side.rxp.waitLog((x) => x.msg === 'counters' && !side.seen.has(x), 10_000, 'counters');
  side.seen.add(c);
  return c;
}

/** b - a for every number in the counters' tree. */
const minus = (b, a) => (typeof b === 'number' ? b - (a ?? 0) : Object.fromEntries(Object.entries(b).map(([k, v]) => [k, minus(v, a?.[k])])));

/** One delivery of a new gateway's queue of `segments` into a side's receiver, timed on the receiver's side. */
async function deliver(root, ca, side, device, segments, label) {
  const gwDir = join(root, device);
  const gw = uplinkGateway({ dir: gwDir, caDir: ca.dir, deviceId: device, broker: side.broker.url, uplink: { protocolVersion: 5 } });
  await seedSegments(gw, segments, SEGMENT_BYTES);
  const c0 = await counters(side);
  const { cpu, kernel } = await deliverTo(gw, side.rxp, { cpu: FEED_CPU });
  const c1 = await counters(side);
  const c = { stats: minus(c1.stats, c0.stats), wall: minus(c1.wall, c0.wall), cpu: c1.cpu && minus(c1.cpu, c0.cpu) };
  const store = side.rx.config.store;
  const { receipts, bytes, firstChunk, lastReceipt } = storedIngest(store, device, segments);
  // The comparison is only what it says when one run had the log and the other none of it.
  const proven = receipts.filter((x) => typeof x.log === 'string').length;
  if (side.mode === 'with' ? proven !== receipts.length : proven !== 0) throw new Error(`${side.mode} the log, but ${proven} of ${receipts.length} receipts carry a log proof`);
  // The sealed files are no longer needed; 168 MB a run would fill the disk over a long bench.
  rmSync(gwDir, { recursive: true, force: true });
  rmSync(join(store, device, 'segments'), { recursive: true, force: true });
  const firstEntries = Math.min(...receipts.filter((x) => x.kind === 'entries').map((x) => Date.parse(x.storedAt)));
  const mb = bytes / MB;
  const secs = (lastReceipt - Math.min(firstEntries, firstChunk)) / 1000;
  const rate = mb / secs;
  const w = (k) => (c.wall[k]?.n ? `${k} ${(c.wall[k].ms / c.wall[k].n).toFixed(2)} ms x ${c.wall[k].n} (CPU ${c.wall[k].cpu.toFixed(0)} ms)` : undefined);
  progress(
    `  ${label}: ${mb.toFixed(1)} MB in ${secs.toFixed(3)} s = ${rate.toFixed(1)} MB/s; receiver CPU ${cpu.toFixed(2)} s ` +
      `(${((cpu * 1000) / mb).toFixed(2)} ms/MB, ${kernel.toFixed(2)} s in the kernel); took ${c.stats.chunks} chunks, ${c.stats.entries} entries\n` +
      `[bench]     wall time in ${['ingest', 'chunk', 'finalize', 'publishInBackground', 'cosigned'].map(w).filter(Boolean).join(', ')}` +
      (c.cpu
        ? `; log CPU: ${c.cpu.segment.ms.toFixed(0)} ms in ${c.cpu.segment.n} segment appends, ${c.cpu.entries.ms.toFixed(0)} ms in ${c.cpu.entries.n} entries appends, ` +
          `${c.cpu.publish.ms.toFixed(0)} ms in ${c.cpu.publish.n / 2} publications`
        : ''),
  );
  const stepCpu = (...ks) => ks.reduce((a, k) => a + (c.wall[k]?.cpu ?? 0), 0);
  return { rate, cpu, mb, log: c.cpu, logSteps: stepCpu('ingest', 'finalize', 'planNext', 'finish', 'cosigned'), chunks: stepCpu('chunk') };
}
