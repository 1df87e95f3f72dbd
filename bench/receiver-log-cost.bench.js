// What the agency log costs the receiver's ingest (issue 14: at most 10%). The receiver-ingest setup (the receiver
// pinned to CPU 1, the gateway and mosquitto on CPU 0 feeding it a queue of sealed segments) run in pairs in the same
// run, alternating which goes first: the receiver with its agency log, and the same receiver code with a stand-in
// that does none of the log's work (bench/receiver-launch.js; receipts then carry no log proof, as from a receiver
// before the log). The log starts with LOG_LEAVES leaves already in it (the size of an agency's log after a while,
// with its tiles two levels up partly filled), so that the costs that grow with the log are inside.
// Rate: bytes of stored segments per second on the receiver's side, from its first entries receipt (the storedAt of
// the manifests' receipt) or its first chunk (whichever came first) to its last segment receipt. Best of PAIRS for
// each; the ratio is with / without (higher is better; the goal is >= 0.9). A second line gives the receiver's CPU
// time per MB, medians, with against without (lower is better; the goal <= 1.1). Stderr: each run, the pairs'
// ratios, and what the log's own steps cost per entries message and per segment (timed inside the receiver).
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { createHash, createPrivateKey } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import process from 'node:process';
import { MB, median, progress, report, tempDir } from './lib.js';
import { deliverTo, makeCa, makeReceiver, seedSegments, startMosquitto, startReceiverProcess, storedIngest, uplinkGateway } from './lib-mqtt.js';
import { openReceiverDb } from '../dist/receiver/store-db.js';
import { AgencyLog } from '../dist/receiver/agency-log.js';
import { caPaths, logOrigin } from '../dist/pki/ca.js';

const here = dirname(fileURLToPath(import.meta.url));
const LAUNCHER = join(here, 'receiver-launch.js');
const PAIRS = Math.max(1, Number(process.env.RECGW_BENCH_REPS ?? 5));
const SEGMENTS = Number(process.env.RECGW_BENCH_SEGMENTS ?? 40);
const SEGMENT_BYTES = Number(process.env.RECGW_BENCH_SEGMENT_KIB ?? 4096) * 1024;
// 130,000: tile level 0 208 wide (a full tile completes during the run), level 1 251 wide, level 2 one hash.
const LOG_LEAVES = Number(process.env.RECGW_BENCH_LOG_LEAVES ?? 130_000);
const RECEIVER_CPU = 1;
const FEED_CPU = 0;
const DEVICE = 'bench-log-cost';

export default async function receiverLogCostBench() {
  const tmp = tempDir('recgw-bench-logcost-');
  const stops = [];
  try {
    progress(`receiver-log-cost: agency CA, broker (CPU ${FEED_CPU}); the receiver runs on CPU ${RECEIVER_CPU}`);
    const ca = makeCa(tmp.dir);
    const broker = await startMosquitto({ caDir: ca.dir, receivers: ['receiver:1'], dir: join(tmp.dir, 'mosquitto'), cpu: FEED_CPU });
    stops.push(() => broker.stop());

    // One gateway queue and one receiver store, each copied before every run, so that all runs start alike.
    const gwDir = join(tmp.dir, 'gw');
    const gw = uplinkGateway({ dir: gwDir, caDir: ca.dir, deviceId: DEVICE, broker: broker.url, uplink: { protocolVersion: 5 } });
    progress(`receiver-log-cost: sealing ${SEGMENTS} x ${SEGMENT_BYTES / 1024} KiB into the queue; a log of ${LOG_LEAVES} leaves`);
    await seedSegments(gw, SEGMENTS, SEGMENT_BYTES);
    const gwSeeded = join(tmp.dir, 'gw-seeded');
    cpSync(gwDir, gwSeeded, { recursive: true });
    const rx = makeReceiver({ dir: join(tmp.dir, 'rx'), caDir: ca.dir, name: 'receiver:1', broker: broker.url });
    const storeSeeded = join(tmp.dir, 'store-seeded');
    prefillLog(storeSeeded, ca.dir, LOG_LEAVES);

    const runs = { with: [], without: [] };
    const pairRatios = [];
    for (let r = 0; r < PAIRS; r++) {
      const order = r % 2 === 0 ? ['with', 'without'] : ['without', 'with'];
      const rates = {};
      for (const mode of order) {
        rmSync(gwDir, { recursive: true, force: true });
        cpSync(gwSeeded, gwDir, { recursive: true });
        rmSync(rx.config.store, { recursive: true, force: true });
        cpSync(storeSeeded, rx.config.store, { recursive: true });
        const res = await ingest(gw, rx, mode, `pair ${r + 1}/${PAIRS} ${mode} the log`);
        runs[mode].push(res);
        rates[mode] = res.rate;
      }
      pairRatios.push(rates.with / rates.without);
      progress(`  pair ${r + 1}: with / without = ${(rates.with / rates.without).toFixed(3)}`);
    }
    const best = (m) => Math.max(...runs[m].map((x) => x.rate));
    const cpuPerMB = (m) => median(runs[m].map((x) => (x.cpu * 1000) / x.mb));
    progress(
      `receiver-log-cost medians: with ${median(runs.with.map((x) => x.rate)).toFixed(1)}, without ${median(runs.without.map((x) => x.rate)).toFixed(1)} MB/s; ` +
        `pairs with / without ${pairRatios.map((x) => x.toFixed(3)).join(', ')} (median ${median(pairRatios).toFixed(3)}); ` +
        `receiver CPU ${cpuPerMB('with').toFixed(2)} against ${cpuPerMB('without').toFixed(2)} ms/MB`,
    );
    const costs = runs.with.map((x) => x.costs).filter(Boolean);
    if (costs.length > 0) {
      const per = (k) => median(costs.map((c) => (c[k].n ? c[k].ms / c[k].n : 0)));
      progress(
        `  the log's steps in the receiver (medians of runs): append + proof ${per('entries').toFixed(2)} ms per entries message ` +
          `(${median(costs.map((c) => c.entries.leaves / Math.max(1, c.entries.n))).toFixed(0)} leaves), ${per('segment').toFixed(2)} ms per segment; ` +
          `publishing the files ${per('publish').toFixed(2)} ms each time (${median(costs.map((c) => c.publish.n))} times a run)`,
      );
    }
    report('receiver-log-cost', best('with'), 'MB/s', best('without'));
    report('receiver-log-cost-cpu', cpuPerMB('with'), 'ms/MB', cpuPerMB('without'));
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    tmp.remove();
  }
}

/** A receiver store whose log already holds `leaves` leaves (entries of earlier devices), appended as the receiver does. */
function prefillLog(store, caDir, leaves) {
  const p = caPaths(caDir);
  const db = openReceiverDb(store);
  try {
    const log = new AgencyLog(db, createPrivateKey(readFileSync(p.logKey, 'utf8')), logOrigin(readFileSync(p.caCert, 'utf8')));
    const accepted = new Date().toISOString();
    for (let from = 0; from < leaves; from += 4096) {
      const batch = [];
      for (let i = from; i < Math.min(leaves, from + 4096); i++) {
        batch.push({ v: 1, kind: 'entry', device: `earlier-${i % 64}`, seq: Math.floor(i / 64), hash: createHash('sha256').update(String(i)).digest('hex'), accepted });
      }
      db.transaction(() => log.append(batch)).immediate();
    }
  } finally {
    db.close();
  }
}

/** One timed ingest of the seeded queue by a fresh receiver process, with or without the log. */
async function ingest(gw, rx, mode, label) {
  const rxp = await startReceiverProcess(rx, { cpu: RECEIVER_CPU, launcher: [LAUNCHER, mode], timeoutMs: 60_000 });
  let rxCpu;
  try {
    rxCpu = await deliverTo(gw, rxp, { cpu: FEED_CPU });
  } finally {
    await rxp.stop();
  }
  const costs = rxp.records.find((x) => x.msg === 'log costs');

  const { receipts, bytes, firstChunk, lastReceipt } = storedIngest(rx.config.store, DEVICE, SEGMENTS);
  // The comparison is only what it says when one run had the log and the other none of it.
  const proven = receipts.filter((x) => typeof x.log === 'string').length;
  if (mode === 'with' ? proven !== receipts.length : proven !== 0) throw new Error(`${mode} the log, but ${proven} of ${receipts.length} receipts carry a log proof`);
  const firstEntries = Math.min(...receipts.filter((x) => x.kind === 'entries').map((x) => Date.parse(x.storedAt)));
  const mb = bytes / MB;
  const secs = (lastReceipt - Math.min(firstEntries, firstChunk)) / 1000;
  const rate = mb / secs;
  progress(
    `  ${label}: ${mb.toFixed(1)} MB in ${secs.toFixed(3)} s = ${rate.toFixed(1)} MB/s; receiver CPU ${rxCpu.toFixed(2)} s ` +
      `(${((rxCpu * 1000) / mb).toFixed(2)} ms/MB)` +
      (costs ? `; log: ${costs.segment.ms.toFixed(0)} ms in ${costs.segment.n} segment appends, ${costs.entries.ms.toFixed(0)} ms in ${costs.entries.n} entries appends, ${costs.publish.ms.toFixed(0)} ms in ${costs.publish.n} publications` : ''),
  );
  return { rate, cpu: rxCpu, mb, costs };
}
