// Receiver ingest: how fast `recgw receiver`, pinned to one CPU (taskset), stores verified segments: bytes of sealed
// segments stored per second, measured on the receiver's side from its first chunk (the creation time of the first
// partial file, which is renamed into segments/ and keeps its inode) to its last receipt (the latest `storedAt` in
// receipts.jsonl). Everything the receiver does per segment is inside: chunk bookkeeping in receiver.db, writing at
// offsets, hashing the finished file against its manifest, fsync, rename, signing and publishing the receipt.
// The gateway (`recgw run`) and mosquitto (mutual TLS, uplink ACL) run on the other CPU and feed it a queue of
// SEGMENTS x SEGMENT_BYTES sealed segments, chunks of 256 KiB, 16 in flight.
// Baseline, same run: `openssl dgst -sha256` over the same stored files, on the same CPU (wall time of the command,
// files read into the page cache first). Best of REPS for each; the receiver's CPU use goes to stderr (a share near 1 means it is
// CPU-bound on its core; well below, it waits for the disk or for the feed).
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { MB, median, progress, report, run, tempDir, timeIt } from './lib.js';
import {
  MiB,
  deliverTo,
  makeCa,
  makeReceiver,
  seedSegments,
  startMosquitto,
  startReceiverProcess,
  storedIngest,
  uplinkGateway,
  waitQuiet,
} from './lib-mqtt.js';

const REPS = Math.min(3, Number(process.env.RECGW_BENCH_REPS ?? 3));
const SEGMENTS = 40;
const SEGMENT_BYTES = 4 * MiB;
const RECEIVER_CPU = 1;
const FEED_CPU = 0;

export default async function receiverIngestBench() {
  const tmp = tempDir('recgw-bench-rx-');
  const stops = [];
  try {
    progress(`receiver-ingest: agency CA, broker (CPU ${FEED_CPU}); the receiver runs on CPU ${RECEIVER_CPU}`);
    const ca = makeCa(tmp.dir);
    const broker = await startMosquitto({ caDir: ca.dir, receivers: ['receiver:1'], dir: join(tmp.dir, 'mosquitto'), cpu: FEED_CPU });
    stops.push(() => broker.stop());
    const rates = { receiver: [], openssl: [] };
    for (let r = 0; r < REPS; r++) {
      const repDir = join(tmp.dir, `rep-${r}`);
      const deviceId = `bench-rx-${r}`;
      const gw = uplinkGateway({ dir: join(repDir, 'gw'), caDir: ca.dir, deviceId, broker: broker.url, uplink: { protocolVersion: 5 } });
      progress(`receiver-ingest rep ${r + 1}/${REPS}: sealing ${SEGMENTS} x ${SEGMENT_BYTES / MiB} MiB into the queue`);
      await seedSegments(gw, SEGMENTS, SEGMENT_BYTES);
      const rx = makeReceiver({ dir: join(repDir, 'rx'), caDir: ca.dir, name: 'receiver:1', broker: broker.url });
      const rxp = await startReceiverProcess(rx, { cpu: RECEIVER_CPU });
      const { cpu: rxCpu } = await deliverTo(gw, rxp, { cpu: FEED_CPU });
      await rxp.stop();

      const { files, bytes, firstChunk, lastReceipt } = storedIngest(rx.config.store, deviceId, SEGMENTS);
      const secs = (lastReceipt - firstChunk) / 1000;
      rates.receiver.push(bytes / MB / secs);
      progress(
        `  receiver: ${(bytes / MB).toFixed(1)} MB in ${secs.toFixed(3)} s = ${(bytes / MB / secs).toFixed(1)} MB/s; ` +
          `its CPU time ${rxCpu.toFixed(2)} s (share of the ingest time ~${(rxCpu / secs).toFixed(2)}, start-up and hello included)`,
      );

      // The receiver writes around the page cache (O_DIRECT): read the files once so openssl hashes from memory,
      // as the baseline is meant to (otherwise it would measure the disk).
      for (const f of files) readFileSync(f);
      await waitQuiet();
      const t = await timeIt(() => run('taskset', ['-c', String(RECEIVER_CPU), 'openssl', 'dgst', '-sha256', ...files]));
      rates.openssl.push(bytes / MB / t);
      progress(`  openssl dgst -sha256 on CPU ${RECEIVER_CPU}: ${(bytes / MB / t).toFixed(0)} MB/s`);
      rmSync(repDir, { recursive: true, force: true });
    }
    progress(`receiver-ingest medians: receiver ${median(rates.receiver).toFixed(1)}, openssl ${median(rates.openssl).toFixed(0)} MB/s`);
    report('receiver-ingest', Math.max(...rates.receiver), 'MB/s', Math.max(...rates.openssl));
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    tmp.remove();
  }
}
