// Uplink goodput: bytes of sealed segments per second that a gateway (`recgw run`) delivers through a real
// mosquitto (mutual TLS, CN as username, the uplink ACL) to `recgw receiver`, from the moment the gateway is
// connected to the broker until its last segment receipt is recorded in its ledger (so the hello, the entries, the
// receiver's hash check + fsync and the signed receipts coming back are all inside the time).
// Baseline, same run, same broker: raw mqtt.js QoS 1 publishing of the same bytes (the same sealed files, read in the
// same chunk size, 16 in flight, MQTT 5) from one process to a subscriber in another process, from the first
// publish until the subscriber has every byte. Target from issue 4: ratio >= 0.7.
// The queue is seeded with SEGMENTS sealed segments of SEGMENT_BYTES random bytes (the real Sealer), fresh for each
// repetition (a new device, a new receiver store). Best of REPS for each contender; medians and CPU use to stderr.
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
const SEGMENTS = 40;
const SEGMENT_BYTES = 4 * MiB;
const CHUNK_KIB = Number(process.env.RECGW_BENCH_CHUNK_KIB ?? 1024); // the config default
const WINDOW = 16;

export default async function uplinkGoodputBench() {
  const tmp = tempDir('recgw-bench-uplink-');
  const stops = [];
  try {
    progress('uplink-goodput: agency CA, broker, baseline clients');
    const ca = makeCa(tmp.dir);
    const broker = await startMosquitto({ caDir: ca.dir, receivers: ['receiver-1', 'bench-sub'], dir: join(tmp.dir, 'mosquitto') });
    stops.push(() => broker.stop());
    // The baseline's publisher is a device of its own (its certificate CN is its client ID and ACL user).
    const rawDev = uplinkGateway({ dir: join(tmp.dir, 'raw'), caDir: ca.dir, deviceId: 'bench-raw', broker: broker.url });
    const subRx = makeReceiver({ dir: join(tmp.dir, 'sub'), caDir: ca.dir, name: 'bench-sub', broker: broker.url });
    const topic = 'recgw/bench-raw/up/chunk';
    const sub = await startPeer('sub', { url: broker.url, ...receiverTls(subRx), topic, total: 0 });
    stops.push(() => sub.stop());
    const pub = await startPeer('pub', { url: broker.url, ...deviceTls(rawDev), topic });
    stops.push(() => pub.stop());

    const rates = { gateway: [], raw: [] };
    for (let r = 0; r < REPS; r++) {
      const repDir = join(tmp.dir, `rep-${r}`);
      const gw = uplinkGateway({
        dir: join(repDir, 'gw'),
        caDir: ca.dir,
        deviceId: `bench-gw-${r}`,
        broker: broker.url,
        uplink: { protocolVersion: 5, chunkKiB: CHUNK_KIB, window: WINDOW },
      });
      progress(`uplink-goodput rep ${r + 1}/${REPS}: sealing ${SEGMENTS} x ${SEGMENT_BYTES / MiB} MiB into the queue`);
      await seedSegments(gw, SEGMENTS, SEGMENT_BYTES);
      const segs = sealedSegments(gw);
      const total = segs.reduce((a, s) => a + s.size, 0);
      // The Sealer writes around the page cache; both contenders read the files from it (read once here).
      for (const s of segs) readFileSync(s.file);

      // The gateway, end to end.
      const rx = makeReceiver({ dir: join(repDir, 'rx'), caDir: ca.dir, name: 'receiver-1', broker: broker.url });
      const rxp = await startReceiverProcess(rx);
      await waitQuiet();
      const cpu0 = { broker: cpuSeconds(broker.pid), receiver: cpuSeconds(rxp.pid) };
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
          broker: cpuSeconds(broker.pid) - cpu0.broker,
        };
        const resent = rxp.records.filter((x) => x.msg === 'ignored a chunk').length;
        const timeouts = g.records.filter((x) => x.msg === 'receipts stopped coming; asking the receiver what it has' || x.msg === 'the receiver did not answer; asking again').length;
        progress(
          `  gateway: ${(total / MB).toFixed(1)} MB in ${secs.toFixed(2)} s = ${gwRate.toFixed(1)} MB/s; CPU s (approx., whole run) ` +
            `gateway ${cpu.gateway.toFixed(2)}, receiver ${cpu.receiver.toFixed(2)}, broker ${cpu.broker.toFixed(2)}; ` +
            `chunks ignored by the receiver ${resent}, answer timeouts ${timeouts}`,
        );
      } finally {
        await g.stop();
        await rxp.stop();
      }
      if (queueState(gw).receipts !== SEGMENTS) throw new Error(`expected ${SEGMENTS} receipts`);

      // Raw mqtt.js over the same broker, the same bytes (the same sealed files, in the page cache).
      await waitQuiet();
      sub.messages.length = 0;
      pub.messages.length = 0;
      sub.send({ type: 'reset', total });
      pub.send({ type: 'go', files: segs.map((x) => x.file), chunk: CHUNK_KIB * 1024, window: WINDOW });
      const done = await sub.waitMessage((m) => m.type === 'done', 60_000, 'all bytes at the subscriber');
      const published = await pub.waitMessage((m) => m.type === 'published', 60_000, 'the publisher done');
      const rawSecs = (done.t - published.t0) / 1000;
      const rawRate = done.bytes / MB / rawSecs;
      progress(`  raw mqtt.js: ${(done.bytes / MB).toFixed(1)} MB in ${rawSecs.toFixed(3)} s = ${rawRate.toFixed(1)} MB/s (${done.messages} messages)`);
      rates.gateway.push(gwRate);
      rates.raw.push(rawRate);
      rmSync(repDir, { recursive: true, force: true });
    }
    progress(`uplink-goodput medians: gateway ${median(rates.gateway).toFixed(1)}, raw mqtt.js ${median(rates.raw).toFixed(1)} MB/s`);
    report('uplink-goodput', Math.max(...rates.gateway), 'MB/s', Math.max(...rates.raw));
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    tmp.remove();
  }
}
