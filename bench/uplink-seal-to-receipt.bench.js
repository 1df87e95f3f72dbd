// Seal-to-receipt latency while recording: a gateway (`recgw run`) records four sim sources (three 640x360 cameras
// and a microphone, 2 s segments) in a session started over its control socket, and uploads as it goes through a
// real mosquitto (mutual TLS, uplink ACL) to `recgw receiver`. For each segment: the ledger time of its
// segment.sealed entry to the ledger time of the receipt.received entry that names it, over RECORD_SECONDS of
// recording. Reported: the median (`uplink-seal-to-receipt`) and the p99 (`uplink-seal-to-receipt-p99`), in ms.
// Baseline, same run, same broker: the round-trip time of a QoS 1 publish of a receipt-sized message (2 KiB) from a
// device client to a subscriber in another process that publishes it back (QoS 1) to the device, median of PINGS
// sequential round trips measured before the gateway starts. ratio = latency / RTT: LOWER is better here.
// The RTT measured while the gateway records and uploads goes to stderr, with where the latency goes (sealed ->
// stored by the receiver -> receipt recorded by the gateway).
import { readFileSync } from 'node:fs';
import { setTimeout } from 'node:timers';
import { join } from 'node:path';
import { median, progress, report, tempDir } from './lib.js';
import {
  makeCa,
  makeReceiver,
  receiptEntries,
  receiverTls,
  deviceTls,
  sealedSegments,
  startGatewayProcess,
  startMosquitto,
  startPeer,
  startReceiverProcess,
  uplinkGateway,
  waitDelivered,
  waitQuiet,
} from './lib-mqtt.js';

const RECORD_SECONDS = 30;
const PINGS = 200;
const PING_BYTES = 2048;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The p-th percentile (0..100) by the nearest-rank method. */
function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export default async function sealToReceiptBench() {
  const tmp = tempDir('recgw-bench-s2r-');
  const stops = [];
  try {
    progress('uplink-seal-to-receipt: agency CA, broker, receiver, ping clients');
    const ca = makeCa(tmp.dir);
    const broker = await startMosquitto({ caDir: ca.dir, receivers: ['receiver:1', 'receiver:bench-echo'], dir: join(tmp.dir, 'mosquitto') });
    stops.push(() => broker.stop());
    const rx = makeReceiver({ dir: join(tmp.dir, 'rx'), caDir: ca.dir, name: 'receiver:1', broker: broker.url });
    const rxp = await startReceiverProcess(rx);
    stops.push(() => rxp.stop());

    // Baseline: publish -> subscriber in another process -> publish back, QoS 1 both ways.
    const pingDev = uplinkGateway({ dir: join(tmp.dir, 'ping'), caDir: ca.dir, deviceId: 'bench-ping', broker: broker.url });
    const echoRx = makeReceiver({ dir: join(tmp.dir, 'echo'), caDir: ca.dir, name: 'receiver:bench-echo', broker: broker.url });
    const echo = await startPeer('echo', { url: broker.url, ...receiverTls(echoRx), device: 'bench-ping' });
    stops.push(() => echo.stop());
    const pinger = await startPeer('ping', { url: broker.url, ...deviceTls(pingDev), device: 'bench-ping' });
    stops.push(() => pinger.stop());
    const pings = async (count, gapMs) => {
      pinger.messages.length = 0;
      pinger.send({ type: 'ping', count, size: PING_BYTES, gapMs });
      return (await pinger.waitMessage((m) => m.type === 'pings', 120_000, 'the ping results')).rtts;
    };
    await pings(20, 0); // warm-up
    await waitQuiet();
    const idleRtts = await pings(PINGS, 0);
    const rtt = median(idleRtts);
    progress(`  QoS 1 round trip, idle: median ${rtt.toFixed(2)} ms, p99 ${percentile(idleRtts, 99).toFixed(2)} ms (${idleRtts.length} pings of ${PING_BYTES} bytes)`);

    // The gateway, recording and uploading.
    const gw = uplinkGateway({
      dir: join(tmp.dir, 'gw'),
      caDir: ca.dir,
      deviceId: 'bench-rec',
      broker: broker.url,
      uplink: { protocolVersion: 5 },
      config: {
        recording: {
          segmentSeconds: 2,
          sources: [
            { id: 'cam1', kind: 'camera', driver: 'sim', width: 640, height: 360, fps: 25 },
            { id: 'cam2', kind: 'camera', driver: 'sim', width: 640, height: 360, fps: 25 },
            { id: 'cam3', kind: 'camera', driver: 'sim', width: 640, height: 360, fps: 25 },
            { id: 'mic1', kind: 'microphone', driver: 'sim', frequency: 440 },
          ],
        },
      },
    });
    const g = await startGatewayProcess(gw);
    stops.push(() => g.stop());
    await g.waitLog((x) => x.msg === 'connected to the broker', 20_000, "'connected to the broker'");
    progress('  starting a session (four sim sources, 2 s segments)');
    await g.call('session.start', {
      matter: 'site-inspection',
      caseRef: 'B-1',
      officers: [
        { name: '张三', badge: '13010001' },
        { name: '李四', badge: '13010002' },
      ],
    }, 60_000);
    const recordUntil = Date.now() + RECORD_SECONDS * 1000;
    // RTT while recording and uploading, a ping every 250 ms; then the rest of the recording time.
    const busyRtts = await pings(Math.floor(((RECORD_SECONDS - 5) * 1000) / 260), 250);
    await sleep(Math.max(0, recordUntil - Date.now()));
    await g.call('session.stop', {}, 60_000);
    progress('  session stopped; waiting for the last receipts');
    await waitDelivered(gw, 60_000, { full: false, pollMs: 200, also: () => g.log().slice(-3000) + rxp.log().slice(-3000) });
    const code = await g.stop();
    if (code !== 0) progress(`  recgw run exited with ${code}`);

    const sealed = sealedSegments(gw);
    const recorded = new Map(receiptEntries(gw).map((r) => [r.name, Date.parse(r.time)]));
    const storedAt = new Map(
      readFileSync(join(rx.config.store, 'bench-rec', 'receipts.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .filter((r) => r.kind === 'segment')
        .map((r) => [r.name, Date.parse(r.storedAt)]),
    );
    const lat = [];
    const toStored = [];
    const toRecorded = [];
    for (const s of sealed) {
      const t0 = Date.parse(s.sealedAt);
      const t1 = recorded.get(s.name);
      if (t1 === undefined) throw new Error(`no receipt.received for ${s.name}`);
      lat.push(t1 - t0);
      const ts = storedAt.get(s.name);
      if (ts !== undefined) {
        toStored.push(ts - t0);
        toRecorded.push(t1 - ts);
      }
    }
    const med = median(lat);
    const p99 = percentile(lat, 99);
    const bytes = sealed.reduce((a, s) => a + s.size, 0);
    progress(
      `  ${sealed.length} segments (${(bytes / 1e6).toFixed(1)} MB) in ${RECORD_SECONDS} s: seal -> receipt median ${med} ms, p99 ${p99} ms, max ${Math.max(...lat)} ms; ` +
        `seal -> stored by the receiver median ${median(toStored)} ms, stored -> receipt recorded median ${median(toRecorded)} ms`,
    );
    progress(`  QoS 1 round trip while recording: median ${median(busyRtts).toFixed(2)} ms, p99 ${percentile(busyRtts, 99).toFixed(2)} ms (${busyRtts.length} pings)`);
    report('uplink-seal-to-receipt', med, 'ms', rtt);
    report('uplink-seal-to-receipt-p99', p99, 'ms', rtt);
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    tmp.remove();
  }
}
