// A raw mqtt.js client (MQTT 5, QoS 1, mutual TLS) run as a child process of a benchmark, for the baselines.
//   node bench/mqtt-peer.js ROLE 'JSON options'
// It talks to its parent over the IPC channel: it sends {type:'ready'} once connected (and subscribed), then
// does what it is told. Roles:
//   sub   subscribe to `topic`, count payload bytes; at `total` bytes send {type:'done', t, bytes, messages}
//         ({type:'reset', total} starts counting again).
//   pub   on {type:'go', files, chunk, window}: read the files in `chunk`-byte pieces, cut where the gateway cuts
//         them, and publish each to `topic` with at most `window` awaiting PUBACK; then {type:'published', t0, t1,
//         bytes, messages}.
//   echo  subscribe to recgw/<device>/up/ping and publish each payload back on recgw/<device>/down/pong.
//   ping  on {type:'ping', count, size, gapMs}: publish to recgw/<device>/up/ping one at a time and wait for the pong
//         each time; then {type:'pings', rtts: [ms, ...]}.
// A message {type:'exit'} (or the parent going away) ends it.
import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import process from 'node:process';
import { Buffer } from 'node:buffer';
import { setTimeout } from 'node:timers';
import mqtt from 'mqtt';
import { chunkLength } from '../dist/uplink/wire.js';

const [role, json] = process.argv.slice(2);
const o = JSON.parse(json);
const send = (m) => process.send?.(m);
process.on('disconnect', () => process.exit(0));

const client = mqtt.connect(o.url, {
  protocolVersion: 5,
  clean: true,
  reconnectPeriod: 0,
  connectTimeout: 10_000,
  ...(o.clientId ? { clientId: o.clientId } : {}),
  key: readFileSync(o.key),
  cert: readFileSync(o.cert),
  ca: readFileSync(o.ca),
  rejectUnauthorized: true,
});
client.on('error', (err) => {
  send({ type: 'error', error: String(err?.message ?? err) });
  process.exit(1);
});

const subscribe = (topic) =>
  new Promise((resolve, reject) =>
    client.subscribe(topic, { qos: 1 }, (err, granted) => {
      if (err) reject(err);
      else if (granted?.some((g) => g.qos > 2)) reject(new Error(`subscription to ${topic} refused: ${JSON.stringify(granted)}`));
      else resolve();
    }),
  );

const publish = (topic, payload) => new Promise((resolve, reject) => client.publish(topic, payload, { qos: 1 }, (err) => (err ? reject(err) : resolve())));

client.once('connect', async () => {
  try {
    await roles[role]();
  } catch (err) {
    send({ type: 'error', error: String(err?.stack ?? err) });
    process.exit(1);
  }
});

const onParent = (fn) =>
  process.on('message', (m) => {
    if (m.type === 'exit') {
      client.end(false, {}, () => process.exit(0));
      return;
    }
    Promise.resolve(fn(m)).catch((err) => {
      send({ type: 'error', error: String(err?.stack ?? err) });
      process.exit(1);
    });
  });

const roles = {
  async sub() {
    let total = o.total;
    let bytes = 0;
    let messages = 0;
    client.on('message', (_topic, payload) => {
      bytes += payload.length;
      messages++;
      if (total > 0 && bytes >= total) {
        send({ type: 'done', t: Date.now(), bytes, messages });
        total = 0;
      }
    });
    await subscribe(o.topic);
    onParent((m) => {
      if (m.type === 'reset') {
        total = m.total;
        bytes = 0;
        messages = 0;
      }
    });
    send({ type: 'ready' });
  },

  async pub() {
    onParent(async (m) => {
      if (m.type !== 'go') return;
      const t0 = Date.now();
      let inflight = 0;
      let bytes = 0;
      let messages = 0;
      let wake;
      let failed;
      const settle = (err) => {
        inflight--;
        if (err) failed = err;
        wake?.();
      };
      for (const file of m.files) {
        const fh = await open(file, 'r');
        try {
          const { size } = await fh.stat();
          // The gateway's message boundaries (a short tail goes with the chunk before it).
          for (let off = 0, len = 0; off < size; off += len) {
            len = chunkLength(off, size, m.chunk);
            const buf = Buffer.allocUnsafe(len);
            const { bytesRead } = await fh.read(buf, 0, len, off);
            if (bytesRead !== len) throw new Error(`short read of ${file}`);
            while (inflight >= m.window) await new Promise((r) => (wake = r));
            if (failed) throw failed;
            inflight++;
            client.publish(o.topic, buf, { qos: 1 }, settle);
            bytes += len;
            messages++;
          }
        } finally {
          await fh.close();
        }
      }
      while (inflight > 0) await new Promise((r) => (wake = r));
      if (failed) throw failed;
      send({ type: 'published', t0, t1: Date.now(), bytes, messages });
    });
    send({ type: 'ready' });
  },

  async echo() {
    client.on('message', (_topic, payload) => {
      client.publish(`recgw/${o.device}/down/pong`, payload, { qos: 1 });
    });
    await subscribe(`recgw/${o.device}/up/ping`);
    onParent(() => {});
    send({ type: 'ready' });
  },

  async ping() {
    let pending;
    client.on('message', (_topic, payload) => {
      if (pending && payload.subarray(0, 16).equals(pending.id)) pending.resolve(process.hrtime.bigint());
    });
    await subscribe(`recgw/${o.device}/down/pong`);
    onParent(async (m) => {
      if (m.type !== 'ping') return;
      const rtts = [];
      for (let i = 0; i < m.count; i++) {
        const payload = randomBytes(m.size);
        const id = payload.subarray(0, 16);
        const back = new Promise((resolve) => (pending = { id, resolve }));
        const t0 = process.hrtime.bigint();
        await publish(`recgw/${o.device}/up/ping`, payload);
        const t1 = await Promise.race([back, new Promise((r) => setTimeout(() => r(null), 5000))]);
        pending = undefined;
        if (t1 !== null) rtts.push(Number(t1 - t0) / 1e6);
        if (m.gapMs) await new Promise((r) => setTimeout(r, m.gapMs));
      }
      send({ type: 'pings', rtts });
    });
    send({ type: 'ready' });
  },
};
