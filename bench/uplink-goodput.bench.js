// Uplink goodput: bytes of sealed segments per second that a gateway (`recgw run`) delivers through a real
// mosquitto (mutual TLS, CN as username, the uplink ACL) to `recgw receiver`, from the moment the gateway is
// connected to the broker until its last segment receipt is recorded in its ledger (so the hello, the entries, the
// receiver's hash check + fsync and the signed receipts coming back are all inside the time).
// Baseline, same run, same broker: raw mqtt.js QoS 1 publishing of the same bytes (the same sealed files, read in the
// same chunk size, 16 in flight, MQTT 5) from one process, started for each run as the gateway is, to a subscriber in
// another process, from the first publish until the subscriber has every byte. Target from issue 4: ratio >= 0.7.
// The queue is seeded with SEGMENTS sealed segments of SEGMENT_BYTES random bytes (the real Sealer), fresh for each
// repetition (a new device and gateway process). The receiver runs for the whole bench, as an agency's does, and
// both contenders are warmed up first by one untimed round (a device of WARMUP_SEGMENTS; the raw clients sending the
// same files), so neither is timed while its code is still being compiled. Best of REPS for each contender; medians
// and CPU use to stderr.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { MB, median, progress, report, tempDir } from './lib.js';
import {
  MiB,
  cpuSeconds,
  deviceTls,
  makeCa,
  makeReceiver,
  queueState,
  receiptEntries,
  receiverTls,
  sealedSegments,
  seedSegments,
  startGatewayProcess,
  startMosquitto,
  startPeer,
  startReceiverProcess,
  uplinkGateway,
  waitDelivered,
  waitQuiet,
} from './lib-mqtt.js';

const REPS = Math.min(3, Number(process.env.RECGW_BENCH_REPS ?? 3));
// A backlog as a gateway meets it after a day in a vehicle or a broken link: long enough that the start of a new
// gateway process (each repetition's; a gateway in the field runs for months) weighs little (bench/README.md).
const SEGMENTS = Number(process.env.RECGW_BENCH_SEGMENTS ?? 160);
const SEGMENT_BYTES = 4 * MiB;
const CHUNK_KIB = Number(process.env.RECGW_BENCH_CHUNK_KIB ?? 1024); // the config default
const WINDOW = 16;
const WARMUP_SEGMENTS = 12;

export default async function uplinkGoodputBench() {
  const tmp = tempDir('recgw-bench-uplink-');
  const stops = [];
  try {
    progress('uplink-goodput: agency CA, broker, baseline clients');
    const ca = makeCa(tmp.dir);
    const broker = await startMosquitto({ caDir: ca.dir, receivers: ['receiver:1', 'receiver:bench-sub'], dir: join(tmp.dir, 'mosquitto') });
    stops.push(() => broker.stop());
    // The baseline's publisher is a device of its own (its certificate CN is its client ID and ACL user).
    const rawDev = uplinkGateway({ dir: join(tmp.dir, 'raw'), caDir: ca.dir, deviceId: 'bench-raw', broker: broker.url });
    const subRx = makeReceiver({ dir: join(tmp.dir, 'sub'), caDir: ca.dir, name: 'receiver:bench-sub', broker: broker.url });
    // Outside the receivers' subscription (recgw/+/up/#), so the running receiver gets none of it; the ACL lets the
    // device publish there and receivers read it.
    const topic = 'recgw/bench-raw/status';
    const sub = await startPeer('sub', { url: broker.url, ...receiverTls(subRx), topic, total: 0 });
    stops.push(() => sub.stop());

    const rx = makeReceiver({ dir: join(tmp.dir, 'rx'), caDir: ca.dir, name: 'receiver:1', broker: broker.url });
    const rxp = await startReceiverProcess(rx);
    stops.push(() => rxp.stop());
    /** A new device with `count` sealed segments in its queue, in the page cache as a just-sealed segment is. */
    const device = async (name, count) => {
      const gw = uplinkGateway({ dir: join(tmp.dir, name), caDir: ca.dir, deviceId: name, broker: broker.url, uplink: { protocolVersion: 5, chunkKiB: CHUNK_KIB, window: WINDOW } });
      await seedSegments(gw, count, SEGMENT_BYTES);
      const segs = sealedSegments(gw);
      // The Sealer writes around the page cache; both contenders read the files from it (read once here).
      for (const s of segs) readFileSync(s.file);
      return { gw, segs, total: segs.reduce((a, s) => a + s.size, 0) };
    };
    /**
     * The raw clients send the segments' bytes: a publisher started for the run, as each repetition's gateway is (a
     * fresh process and connection), to the long-running subscriber. Resolves to the seconds from the first publish
     * to the last byte, and the publisher's CPU seconds from its connection on.
     */
    const rawRun = async (segs, total) => {
      const pub = await startPeer('pub', { url: broker.url, ...deviceTls(rawDev), topic });
      try {
        const cpu0 = cpuSeconds(pub.pid);
        sub.messages.length = 0;
        sub.send({ type: 'reset', total });
        pub.send({ type: 'go', files: segs.map((x) => x.file), chunk: CHUNK_KIB * 1024, window: WINDOW });
        const done = await sub.waitMessage((m) => m.type === 'done', 60_000, 'all bytes at the subscriber');
        const published = await pub.waitMessage((m) => m.type === 'published', 60_000, 'the publisher done');
        return { secs: (done.t - published.t0) / 1000, bytes: done.bytes, messages: done.messages, pubCpu: cpuSeconds(pub.pid) - cpu0 };
      } finally {
        await pub.stop();
      }
    };

    progress(`uplink-goodput: warming up (${WARMUP_SEGMENTS} segments through each contender, untimed)`);
    {
      const { gw, segs, total } = await device('bench-warmup', WARMUP_SEGMENTS);
      const g = await startGatewayProcess(gw);
      try {
        await waitDelivered(gw, 110_000, { full: false, pollMs: 50, also: () => g.log().slice(-3000) + rxp.log().slice(-3000) });
      } finally {
        await g.stop();
      }
      await rawRun(segs, total);
    }

    const rates = { gateway: [], raw: [] };
    for (let r = 0; r < REPS; r++) {
      progress(`uplink-goodput rep ${r + 1}/${REPS}: sealing ${SEGMENTS} x ${SEGMENT_BYTES / MiB} MiB into the queue`);
      const { gw, segs, total } = await device(`bench-gw-${r}`, SEGMENTS);

      // The gateway, end to end.
      await waitQuiet();
      const cpu0 = { broker: cpuSeconds(broker.pid), receiver: cpuSeconds(rxp.pid), receiverKernel: cpuSeconds(rxp.pid, true) };
      const g = await startGatewayProcess(gw);
      let gwRate;
      try {
        const connected = await g.waitLog((x) => x.msg === 'connected to the broker', 20_000, "'connected to the broker'");
        const gwCpu0 = cpuSeconds(g.pid);
        const t0 = Date.parse(connected.t);
        const s = await waitDelivered(gw, 110_000, { full: false, pollMs: 50, also: () => g.log().slice(-3000) + rxp.log().slice(-3000) });
        const t1 = Date.parse(s.lastReceiptTime);
        const secs = (t1 - t0) / 1000;
        gwRate = total / MB / secs;
        const cpu = {
          gateway: cpuSeconds(g.pid) - gwCpu0,
          receiver: cpuSeconds(rxp.pid) - cpu0.receiver,
          receiverKernel: cpuSeconds(rxp.pid, true) - cpu0.receiverKernel,
          broker: cpuSeconds(broker.pid) - cpu0.broker,
        };
        // When the receipts came, by quarters of the files: a slow start shows here (a cold gateway process).
        const at = receiptEntries(gw).map((x) => Date.parse(x.time) - t0);
        const quarters = [1, 2, 3, 4].map((q) => at[Math.ceil((q * at.length) / 4) - 1]);
        const resent = rxp.records.filter((x) => x.msg === 'ignored a chunk').length;
        const timeouts = g.records.filter((x) => x.msg === 'receipts stopped coming; asking the receiver what it has' || x.msg === 'the receiver did not answer; asking again').length;
        progress(
          `  gateway: ${(total / MB).toFixed(1)} MB in ${secs.toFixed(2)} s = ${gwRate.toFixed(1)} MB/s; CPU s (approx., whole run) ` +
            `gateway ${cpu.gateway.toFixed(2)}, receiver ${cpu.receiver.toFixed(2)} (kernel ${cpu.receiverKernel.toFixed(2)}), broker ${cpu.broker.toFixed(2)}; ` +
            `chunks ignored by the receiver ${resent}, answer timeouts ${timeouts}; receipts of a quarter, half, three quarters, all files by ${quarters.join(', ')} ms`,
        );
      } finally {
        await g.stop();
      }
      if (queueState(gw).receipts !== SEGMENTS) throw new Error(`expected ${SEGMENTS} receipts`);

      // Raw mqtt.js over the same broker, the same bytes (the same sealed files, in the page cache). The receiver
      // is idle meanwhile (the raw topic is outside its subscription).
      await waitQuiet();
      const rawCpu0 = { sub: cpuSeconds(sub.pid), subKernel: cpuSeconds(sub.pid, true), broker: cpuSeconds(broker.pid) };
      const raw = await rawRun(segs, total);
      const rawRate = raw.bytes / MB / raw.secs;
      progress(
        `  raw mqtt.js: ${(raw.bytes / MB).toFixed(1)} MB in ${raw.secs.toFixed(3)} s = ${rawRate.toFixed(1)} MB/s (${raw.messages} messages); ` +
          `CPU s publisher ${raw.pubCpu.toFixed(2)}, subscriber ${(cpuSeconds(sub.pid) - rawCpu0.sub).toFixed(2)} (kernel ${(cpuSeconds(sub.pid, true) - rawCpu0.subKernel).toFixed(2)}), broker ${(cpuSeconds(broker.pid) - rawCpu0.broker).toFixed(2)}`,
      );
      rates.gateway.push(gwRate);
      rates.raw.push(rawRate);
      rmSync(join(tmp.dir, `bench-gw-${r}`), { recursive: true, force: true });
    }
    progress(`uplink-goodput medians: gateway ${median(rates.gateway).toFixed(1)}, raw mqtt.js ${median(rates.raw).toFixed(1)} MB/s`);
    report('uplink-goodput', Math.max(...rates.gateway), 'MB/s', Math.max(...rates.raw));
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    tmp.remove();
  }
}
