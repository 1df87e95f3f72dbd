// The load generator of bench/agency-scale: one process that plays N simulated gateways of a fleet (fleet.json,
// built by src/demo/fleet.ts) against a broker, speaking the uplink protocol of docs/uplink-protocol.md as the real
// gateway does: each device its own MQTT 5 connection with mutual TLS under its own enrolled device certificate
// (the CN is its username and client ID), `hello` after every connect and whenever an answer is overdue, `entries`
// with its signed ledger lines (the manifests go before their files), binary `chunk`s of its sealed segments with
// at most `window` awaiting PUBACK, and the `state` and `receipt` answers on recgw/<d>/down/. The segments are
// sealed once (the fleet's one sealed file, under a name per manifest); "sealing" a segment here is releasing it:
// its manifest goes out as entries and its chunks are queued, as the gateway's Sealer and uploader do. What a real
// gateway also does and this one does not: verify each receipt's signature and log proof and record it in its
// ledger (it checks that the receipt names the segment, its size and hash, and counts it).
//
//   node bench/agency-gateways.js '{"url":"mqtts://127.0.0.1:P","fleet":"/…/fleet.json","devices":N,
//                                   "mode":"burst","segments":K}'            every device releases K segments at once
//                                 '{…,"mode":"steady","seconds":S,"periodMs":P}'   each device one segment every P ms
//                                                                                  (phases spread) for S s
// Over IPC (or, without a parent, on stdout as JSON lines): {type:'ready', connectMs} once every device has
// connected and its first entries are receipted; then, after the parent's {type:'go'} (at once without a
// parent), {type:'result', t0, t1, released, receipted, bytes, latencies: [ms…], missing, entriesReceipts,
// checkpoints (distinct checkpoints the segment receipts are proved against: the log appends), hellos}; {type:'exit'} or the parent going away ends it.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { Buffer } from 'node:buffer';
import { setTimeout, setInterval, clearInterval } from 'node:timers';
import mqtt from 'mqtt';

const o = JSON.parse(process.argv[2]);
const fleet = JSON.parse(readFileSync(o.fleet, 'utf8'));
const CHUNK = (o.chunkKiB ?? 1024) * 1024;
const WINDOW = o.window ?? 16;
/** Chunks awaiting PUBACK over all devices: the generator's memory (each a copy of up to a chunk). */
const GLOBAL_WINDOW = o.globalWindow ?? 256;
// The gateway config's default uplink.answerTimeoutSeconds (15).
const ANSWER_TIMEOUT_MS = o.answerTimeoutMs ?? 15_000;
/** How long after the last release to wait for the receipts: a backlog (burst) is all released at once. */
const DRAIN_MS = o.drainMs ?? (o.mode === 'burst' ? 600_000 : 30_000);
const sealed = readFileSync(fleet.sealed.file);
const caPem = readFileSync(fleet.caCert);
const hasParent = typeof process.send === 'function';
const send = (m) => (hasParent ? process.send(m) : process.stdout.write(`${JSON.stringify(m)}\n`));
if (hasParent) process.on('disconnect', () => process.exit(0));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// As src/uplink/wire.ts: a last piece of at most a sixteenth of a chunk goes with the chunk before it.
const chunkLength = (offset, size) => (size - offset <= CHUNK + Math.floor(CHUNK / 16) ? size - offset : CHUNK);
const topic = (d, kind) => `recgw/${d}/${kind}`;

let globalInflight = 0;
const waiting = new Set();
function pumpWaiting() {
  for (const d of waiting) {
    if (globalInflight >= GLOBAL_WINDOW) return;
    waiting.delete(d);
    d.pump();
  }
}

// checkpoints: the distinct signed checkpoints the segment receipts' log proofs are against, one per log append
// (sequencing) that issued any of them; with batched sequencing fewer than the receipts.
const stats = { receipted: 0, entriesReceipts: 0, hellos: 0, latencies: [], lastReceipt: 0, checkpoints: new Set() };

class SimGateway {
  constructor(dev) {
    this.dev = dev;
    this.id = dev.deviceId;
    this.released = 0;
    this.entriesSent = -1; // last seq sent in an entries message
    this.entriesReceipted = -1;
    this.pending = new Map(); // segment name -> { seg, releasedAt }
    this.queue = []; // { seg, offset, len }
    this.inflight = 0;
    this.helloId = null;
    this.synced = false;
    this.lastProgress = Date.now();
  }

  connect() {
    return new Promise((resolve, reject) => {
      const c = mqtt.connect(o.url, {
        protocolVersion: 5,
        clean: true,
        reconnectPeriod: 2000,
        connectTimeout: 30_000,
        keepalive: 30,
        clientId: this.id,
        key: readFileSync(this.dev.key),
        cert: readFileSync(this.dev.cert),
        ca: caPem,
        rejectUnauthorized: true,
      });
      this.client = c;
      let first = true;
      c.on('connect', () => {
        c.stream?.setNoDelay?.(true);
        c.subscribe(topic(this.id, 'down/#'), { qos: 1 }, (err) => {
          if (err) return first ? reject(err) : undefined;
          this.hello();
          if (first) resolve();
          first = false;
        });
      });
      c.on('message', (t, payload) => this.onMessage(t, payload));
      c.on('error', (err) => {
        if (first) reject(err);
        else process.stderr.write(`[gateways] ${this.id}: ${err.message}\n`);
      });
      c.on('close', () => {
        this.synced = false;
      });
    });
  }

  hello() {
    stats.hellos++;
    this.synced = false;
    this.helloId = randomBytes(8).toString('hex');
    const files = [...this.pending.values()].slice(0, 256).map((p) => ({ name: p.seg.name, size: fleet.sealed.size, sha256: fleet.sealed.sha256 }));
    this.lastProgress = Date.now();
    this.publish(topic(this.id, 'up/hello'), JSON.stringify({ v: 1, type: 'hello', device: this.id, id: this.helloId, files, log: { size: 0 } }));
  }

  publish(t, payload, cb = () => {}) {
    this.client.publish(t, payload, { qos: 1 }, cb);
  }

  /**
   * The seq through which the ledger is released: the opening lines, then each released segment's manifest, and
   * once every segment is released the lines after the last (the session's close).
   */
  through() {
    if (this.released === this.dev.segments.length) return this.dev.lines.length - 1;
    return this.released > 0 ? this.dev.segments[this.released - 1].seq : this.dev.segments[0].seq - 1;
  }

  sendEntries() {
    const through = this.through();
    if (through <= this.entriesSent) return;
    const lines = this.dev.lines.slice(this.entriesSent + 1, through + 1);
    const next = this.dev.segments.find((s) => s.seq > this.entriesSent);
    const deadline = next ? next.deadline : new Date(Date.now() + 24 * 3600_000).toISOString();
    this.entriesSent = through;
    this.publish(topic(this.id, 'up/entries'), JSON.stringify({ v: 1, type: 'entries', device: this.id, deadline, lines }));
  }

  enqueueFile(seg, from) {
    for (let off = from; off < fleet.sealed.size; ) {
      const len = chunkLength(off, fleet.sealed.size);
      this.queue.push({ seg, offset: off, len });
      off += len;
    }
  }

  release() {
    const seg = this.dev.segments[this.released];
    if (!seg) return false;
    this.released++;
    this.pending.set(seg.name, { seg, releasedAt: performance.now() });
    if (this.synced) {
      this.sendEntries();
      this.enqueueFile(seg, 0);
      this.pump();
    }
    return true;
  }

  pump() {
    while (this.queue.length > 0 && this.inflight < WINDOW && this.synced) {
      if (globalInflight >= GLOBAL_WINDOW) {
        waiting.add(this);
        return;
      }
      const { seg, offset, len } = this.queue.shift();
      if (!this.pending.has(seg.name)) continue;
      const head = Buffer.from(JSON.stringify({ v: 1, device: this.id, name: seg.name, offset, size: fleet.sealed.size, sha256: fleet.sealed.sha256, deadline: seg.deadline }));
      const frame = Buffer.allocUnsafe(4 + head.length + len);
      frame.writeUInt32BE(head.length, 0);
      head.copy(frame, 4);
      sealed.copy(frame, 4 + head.length, offset, offset + len);
      this.inflight++;
      globalInflight++;
      this.publish(topic(this.id, 'up/chunk'), frame, () => {
        this.inflight--;
        globalInflight--;
        this.lastProgress = Date.now();
        this.pump();
        pumpWaiting();
      });
    }
  }

  onMessage(t, payload) {
    let m;
    try {
      m = JSON.parse(payload.toString('utf8'));
    } catch {
      return;
    }
    if (t.endsWith('/down/state') && m.type === 'state' && m.re === this.helloId) this.onState(m);
    else if (t.endsWith('/down/receipt') && m.type === 'receipt') this.onReceipt(m);
  }

  onState(st) {
    this.lastProgress = Date.now();
    for (const r of st.receipts ?? []) this.onReceipt(r);
    this.synced = true;
    this.entriesSent = st.ledger ? st.ledger.seq : -1;
    this.sendEntries();
    this.queue = [];
    for (const p of this.pending.values()) {
      const f = st.files?.[p.seg.name];
      if (f?.stored) continue; // its receipt came with the state
      this.enqueueFile(p.seg, f?.have ?? 0);
    }
    this.pump();
  }

  onReceipt(r) {
    if (r.device !== this.id) return;
    this.lastProgress = Date.now();
    if (r.kind === 'entries') {
      if (r.through?.seq > this.entriesReceipted) {
        this.entriesReceipted = r.through.seq;
        stats.entriesReceipts++;
      }
      return;
    }
    const p = this.pending.get(r.name);
    if (!p || r.size !== fleet.sealed.size || r.sha256 !== fleet.sealed.sha256) return;
    this.pending.delete(r.name);
    if (typeof r.log === 'string') stats.checkpoints.add(r.log.slice(r.log.indexOf('\n\n') + 2));
    const now = performance.now();
    stats.latencies.push(now - p.releasedAt);
    stats.receipted++;
    stats.lastReceipt = now;
  }

  /** Something is owed an answer and nothing moved for a while: ask again, as the gateway does. */
  checkOverdue(now) {
    const owed = this.pending.size > 0 || this.entriesReceipted < this.entriesSent;
    if (owed && this.client.connected && now - this.lastProgress > ANSWER_TIMEOUT_MS) this.hello();
  }
}

const devices = fleet.devices.slice(0, o.devices ?? fleet.devices.length).map((d) => new SimGateway(d));
const t0connect = performance.now();
// Connect in batches: a TLS handshake with a client certificate costs both sides a few ms of CPU.
for (let i = 0; i < devices.length; i += 32) await Promise.all(devices.slice(i, i + 32).map((d) => d.connect()));
const overdue = setInterval(() => {
  const now = Date.now();
  for (const d of devices) d.checkOverdue(now);
}, 1000);
// Ready once each device's ledger head (its opening lines) is stored and receipted.
for (;;) {
  if (devices.every((d) => d.entriesReceipted >= d.through())) break;
  if (performance.now() - t0connect > 120_000) throw new Error('the devices\' first entries were not receipted within 120 s');
  await sleep(50);
}
send({ type: 'ready', connectMs: performance.now() - t0connect, devices: devices.length });
if (hasParent) await new Promise((resolve) => process.on('message', (m) => m?.type === 'go' && resolve()));
stats.hellos = 0;
stats.entriesReceipts = 0;

const t0 = performance.now();
let released = 0;
if (o.mode === 'burst') {
  for (const d of devices) for (let k = 0; k < o.segments; k++) released += d.release() ? 1 : 0;
} else if (o.mode === 'steady') {
  const period = o.periodMs;
  const end = t0 + o.seconds * 1000;
  const timers = devices.map((d, i) => {
    const phase = (i * period) / devices.length;
    return { d, next: t0 + phase };
  });
  while (performance.now() < end) {
    const now = performance.now();
    for (const tm of timers) {
      if (tm.next <= now && tm.next < end) {
        released += tm.d.release() ? 1 : 0;
        tm.next += period;
      }
    }
    await sleep(5);
  }
} else {
  throw new Error(`unknown mode ${o.mode}`);
}
const drainUntil = performance.now() + DRAIN_MS;
while (stats.receipted < released && performance.now() < drainUntil) await sleep(20);
clearInterval(overdue);
const t1 = stats.receipted > 0 ? stats.lastReceipt : performance.now();
const missing = released - stats.receipted;
send({
  type: 'result',
  t0,
  t1,
  seconds: (t1 - t0) / 1000,
  released,
  receipted: stats.receipted,
  bytes: stats.receipted * fleet.sealed.size,
  latencies: stats.latencies,
  missing,
  entriesReceipts: stats.entriesReceipts,
  checkpoints: stats.checkpoints.size,
  hellos: stats.hellos,
});
const finish = async () => {
  await Promise.all(devices.map((d) => new Promise((r) => d.client.end(false, {}, r))));
  process.exit(0);
};
if (hasParent) process.on('message', (m) => m?.type === 'exit' && finish());
else await finish();
