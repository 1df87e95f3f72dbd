// The uplink world for the benchmarks, without vitest: a real mosquitto configured as test/helpers/mosquitto.ts
// does it (mutual TLS against the agency CA, certificate CN as username, the ACL of docs/uplink-protocol.md §2),
// gateways and receivers provisioned with the real enrolment (dist/demo/provision.js) and run as `recgw run` /
// `recgw receiver` child processes, a queue seeded with sealed segments as test/helpers/uplink-world.ts does, and
// read-only looks into the gateway's state database. Every child process started here is killed when the bench
// process exits, however it exits short of SIGKILL; mosquitto also dies with it through a watchdog pipe.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { connect, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import Database from 'better-sqlite3';
import { initCa } from '../dist/pki/ca.js';
import { writeMosquittoConfig } from '../dist/demo/mosquitto-config.js';
import { provisionGateway, provisionReceiver } from '../dist/demo/provision.js';
import { startEvidenceCore, stateDbPath } from '../dist/app/evidence-core.js';
import { GATEWAY_NODE_FLAGS, SERVICE_ENV } from '../dist/app/service-env.js';
import { identityPaths } from '../dist/pki/identity.js';
import { ENTRY } from '../dist/evidence/types.js';
import { silentLogger } from '../dist/util/log.js';
import { call } from '../dist/control/client.js';

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = join(here, '..', 'bin', 'recgw.js');
export const PEER = join(here, 'mqtt-peer.js');
export const MOSQUITTO = '/usr/sbin/mosquitto';
export const MiB = 1 << 20;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const iso = (t) => new Date(t).toISOString();

// ---------------------------------------------------------------------------------------------------------------
// Child processes

const live = new Set();
let hookInstalled = false;
function installExitHook() {
  if (hookInstalled) return;
  hookInstalled = true;
  process.on('exit', () => {
    for (const p of live) p.kill('SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      for (const p of live) p.kill('SIGKILL');
      process.exit(130);
    });
  }
}

/**
 * Spawn a child that is killed on exit. `cpu` pins it to one CPU with taskset. Output (stdout + stderr) is kept;
 * JSON log lines (the recgw logger's) are parsed as they come and can be waited for with waitLog().
 */
/** The environment without SERVICE_ENV's keys (undefined values: spawn leaves them out). */
const withoutServiceEnv = () => Object.fromEntries(Object.keys(SERVICE_ENV).map((k) => [k, undefined]));

export function spawnTracked(cmd, args, { cpu, env, ipc = false } = {}) {
  installExitHook();
  const [file, argv] = cpu === undefined ? [cmd, args] : ['taskset', ['-c', String(cpu), cmd, ...args]];
  const merged = { ...process.env, ...env };
  for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
  const proc = spawn(file, argv, { stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'], env: merged });
  live.add(proc);
  let out = '';
  let partial = '';
  const records = [];
  const waiters = [];
  const onData = (d) => {
    const s = d.toString();
    out += s;
    if (out.length > 4e6) out = out.slice(-2e6);
    partial += s;
    let nl;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      try {
        const rec = JSON.parse(line);
        records.push(rec);
        for (const w of [...waiters]) w(rec);
      } catch {
        /* not a log line */
      }
    }
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  const exited = new Promise((resolve) =>
    proc.on('exit', (code, signal) => {
      live.delete(proc);
      resolve(code ?? signal);
    }),
  );
  const messages = [];
  const msgWaiters = [];
  if (ipc) {
    proc.on('message', (m) => {
      messages.push(m);
      for (const w of [...msgWaiters]) w(m);
    });
  }
  const waitFor = (list, waitList, pred, timeoutMs, what) =>
    new Promise((resolve, reject) => {
      const found = list.find(pred);
      if (found) return resolve(found);
      const t = setTimeout(() => {
        waitList.splice(waitList.indexOf(w), 1);
        reject(new Error(`${cmd}: no ${what} within ${timeoutMs} ms\n${out.slice(-3000)}`));
      }, timeoutMs);
      const w = (x) => {
        if (!pred(x)) return;
        clearTimeout(t);
        waitList.splice(waitList.indexOf(w), 1);
        resolve(x);
      };
      waitList.push(w);
      exited.then((code) => {
        if (waitList.includes(w)) {
          clearTimeout(t);
          waitList.splice(waitList.indexOf(w), 1);
          reject(new Error(`${cmd} exited (${code}) before ${what}\n${out.slice(-3000)}`));
        }
      });
    });
  return {
    proc,
    pid: proc.pid,
    exited,
    log: () => out,
    records,
    waitLog: (pred, timeoutMs = 20_000, what = 'such log line') => waitFor(records, waiters, pred, timeoutMs, what),
    messages,
    waitMessage: (pred, timeoutMs = 20_000, what = 'such message') => waitFor(messages, msgWaiters, pred, timeoutMs, what),
    send: (m) => proc.send(m),
    /** SIGTERM, SIGKILL after `graceMs`; resolves to the exit code or signal. */
    async stop(graceMs = 15_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

/**
 * CPU seconds a process has used so far (user + system, or with `kernelOnly` system alone), from /proc (Linux
 * clock ticks of 1/100 s).
 */
export function cpuSeconds(pid, kernelOnly = false) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((kernelOnly ? 0 : Number(f[11])) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

/** A TCP port nobody listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

function accepts(port) {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      s.destroy();
      resolve(false);
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// mosquitto, as test/helpers/mosquitto.ts configures it

/** The ACL of uplink-protocol.md §2, with one receiver block per name. */
export { uplinkAcl } from '../dist/demo/mosquitto-config.js';

// The shell becomes mosquitto (exec) and leaves a background watchdog reading a pipe from us: when this process
// dies, even by SIGKILL, the pipe reaches EOF and the watchdog kills mosquitto, which would otherwise hold its port.
const WRAPPER = `
exec 3<&0
me=$$
{ while read -r _; do :; done <&3; kill -9 "$me" 2>/dev/null; } </dev/null >/dev/null 2>&1 &
exec 3<&- 0</dev/null
exec "$1" -c "$2"
`;

/** mosquitto with mutual TLS, CN as username and the uplink ACL, in `dir`; `cpu` pins it to one CPU. */
export async function startMosquitto({ caDir, receivers = [], dir, cpu }) {
  installExitHook();
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const { confFile, logFile, caCert } = writeMosquittoConfig({ dir, caDir, port, receivers });
  const args = ['-c', WRAPPER, 'sh', MOSQUITTO, confFile];
  const proc = spawn(cpu === undefined ? '/bin/sh' : 'taskset', cpu === undefined ? args : ['-c', String(cpu), '/bin/sh', ...args], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  live.add(proc);
  proc.stdin.on('error', () => {});
  let err = '';
  proc.stderr.on('data', (d) => (err += d));
  const exited = new Promise((resolve) =>
    proc.on('exit', () => {
      live.delete(proc);
      proc.stdin.destroy();
      resolve();
    }),
  );
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`mosquitto exited at start: ${err}\n${existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`mosquitto did not accept connections on ${port} within 10 s`);
    }
    await sleep(50);
  }
  return {
    url: `mqtts://127.0.0.1:${port}`,
    port,
    caCert,
    logFile,
    pid: proc.pid,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Provisioning and the gateway's queue

/** A demo agency CA under `root`. */
export function makeCa(root) {
  const dir = join(root, 'ca');
  return { dir, paths: initCa({ out: dir }) };
}

/** An enrolled gateway under `dir` with an uplink to `broker`; `config` is merged over the demo's sim config. */
export function uplinkGateway({ dir, caDir, deviceId, broker, uplink = {}, config = {} }) {
  return provisionGateway({
    dir,
    caDir,
    deviceId,
    config: { time: { source: 'host', assumeSynchronised: true }, ...config, uplink: { broker, ...uplink } },
  });
}

export function makeReceiver({ dir, caDir, name, broker }) {
  return provisionReceiver({ dir, caDir, name, broker });
}

/**
 * Seal `count` segments of `size` random bytes into the gateway's queue, in one closed session of one camera,
 * with the real Sealer (as test/helpers/uplink-world.ts seedSegments does). Returns the segment names.
 */
export async function seedSegments(gw, count, size, segSeconds = 2) {
  const core = await startEvidenceCore(gw.config, silentLogger);
  const t0 = Date.now() - (count + 1) * segSeconds * 1000;
  const session = {
    sessionId: `S${t0}-${gw.config.deviceId}`,
    matter: 'site-inspection',
    caseRef: 'UP-BENCH-001',
    officers: [
      { name: '张三', badge: '13010001' },
      { name: '李四', badge: '13010002' },
    ],
    place: 'uplink bench room',
  };
  const names = [];
  try {
    core.ledger.append(ENTRY.sessionOpened, { ...session, start: iso(t0), sources: ['cam1'] });
    mkdirSync(join(core.dirs.spool, 'cam1'), { recursive: true });
    for (let i = 0; i < count; i++) {
      const name = `${session.sessionId}_cam1_${String(i).padStart(6, '0')}`;
      const plainPath = join(core.dirs.spool, 'cam1', `${name}.ts`);
      writeFileSync(plainPath, randomBytes(size));
      core.sealer.enqueue({
        name,
        plainPath,
        session,
        source: { id: 'cam1', kind: 'camera' },
        seq: i,
        start: iso(t0 + i * segSeconds * 1000),
        end: iso(t0 + (i + 1) * segSeconds * 1000),
        clock: { source: 'system', synced: false },
        gps: null,
      });
      names.push(name);
    }
    await core.sealer.drain();
    core.ledger.append(ENTRY.sessionClosed, { sessionId: session.sessionId, end: iso(t0 + count * segSeconds * 1000), reason: 'stopped' });
  } finally {
    await core.stop();
  }
  return names;
}

function readDb(gw, fn) {
  const db = new Database(stateDbPath(gw.config.stateDir), { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** The gateway's upload queue as its state database says (read-only; the gateway may be running). */
export function queueState(gw) {
  return readDb(gw, (db) => {
    const head = db.prepare('SELECT MAX(seq) AS s FROM ledger').get().s;
    const kv = db.prepare(`SELECT value FROM kv WHERE key = 'uplink.entries.through'`).get();
    const hasQueue = db.prepare(`SELECT name FROM sqlite_master WHERE name = 'uplink_files'`).get() !== undefined;
    const unreceipted = hasQueue
      ? db.prepare('SELECT COUNT(*) AS n FROM segments s LEFT JOIN uplink_files u ON u.name = s.name WHERE u.receipt_seq IS NULL').get().n
      : -1;
    const r = db.prepare(`SELECT COUNT(*) AS n, MAX(time) AS last FROM ledger WHERE type = 'receipt.received'`).get();
    return { head, entriesThrough: kv ? Number(kv.value) : -1, unreceipted, receipts: r.n, lastReceiptTime: r.last };
  });
}

/** Sealed segments of the gateway: name, sealed file, stored size, and the time of their segment.sealed entry. */
export function sealedSegments(gw) {
  return readDb(gw, (db) =>
    db
      .prepare('SELECT s.name, s.file, s.stored_size AS size, l.time AS sealedAt FROM segments s JOIN ledger l ON l.seq = s.ledger_seq ORDER BY s.name')
      .all(),
  );
}

/** receipt.received entries: segment name and ledger time. */
export function receiptEntries(gw) {
  return readDb(gw, (db) =>
    db
      .prepare(`SELECT time, line FROM ledger WHERE type = 'receipt.received' ORDER BY seq`)
      .all()
      .map((r) => ({ time: r.time, name: JSON.parse(r.line).body.receipt.name })),
  );
}

/**
 * Poll (read-only) until every file has its receipt and the entries are confirmed up to the head; `full: false`
 * stops as soon as every segment has its receipt. Rejects after timeoutMs.
 */
export async function waitDelivered(gw, timeoutMs, { full = true, pollMs = 50, also = () => '' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = queueState(gw);
    if (s.unreceipted === 0 && (!full || s.entriesThrough >= s.head)) return s;
    if (Date.now() > deadline) throw new Error(`not delivered within ${timeoutMs} ms: ${JSON.stringify(s)}\n${also()}`);
    await sleep(pollMs);
  }
}

/**
 * What a receiver store holds of one device after an ingest of `segments` files (throws unless each is stored and
 * receipted): the stored files and their bytes, every receipt, when the first chunk came (the creation time of the
 * first partial file, which is renamed into segments/ and keeps its inode) and the last segment receipt's storedAt.
 */
export function storedIngest(store, deviceId, segments) {
  const segDir = join(store, deviceId, 'segments');
  const files = readdirSync(segDir).map((f) => join(segDir, f));
  const receipts = readFileSync(join(store, deviceId, 'receipts.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const stored = receipts.filter((x) => x.kind === 'segment');
  if (stored.length !== segments || files.length !== segments) throw new Error(`expected ${segments} stored segments, found ${files.length} (${stored.length} receipts)`);
  const firstChunk = Math.min(...files.map((f) => statSync(f).birthtimeMs));
  if (!(firstChunk > 0)) throw new Error(`no usable first-chunk time (birth time ${firstChunk}): does this file system record it?`);
  return {
    files,
    receipts,
    bytes: files.reduce((a, f) => a + statSync(f).size, 0),
    firstChunk,
    lastReceipt: Math.max(...stored.map((x) => Date.parse(x.storedAt))),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// recgw processes

/** RECGW_BENCH_CPU_PROF=DIR: V8 CPU profiles of the recgw processes (written when they stop cleanly). */
const profArgs = () => (process.env.RECGW_BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.RECGW_BENCH_CPU_PROF] : []);

/** `recgw receiver --config` as a child; resolves once it has subscribed. */
export async function startReceiverProcess(rx, { cpu, timeoutMs = 15_000, launcher } = {}) {
  // `launcher`: a bench's own script and its arguments after the config (bench/receiver-launch.js), instead of recgw.
  const cmd = launcher ? [launcher[0], rx.configPath, ...launcher.slice(1)] : [BIN, 'receiver', '--config', rx.configPath];
  const p = spawnTracked(process.execPath, [...profArgs(), ...cmd], { cpu, env: { RECGW_LOG_LEVEL: 'info' } });
  await p.waitLog((r) => r.msg === 'receiver ready', timeoutMs, "'receiver ready'");
  return p;
}

/** `recgw run --config` as a child; resolves once its control socket answers. */
export async function startGatewayProcess(gw, { cpu, timeoutMs = 30_000 } = {}) {
  const p = spawnTracked(process.execPath, [...profArgs(), ...GATEWAY_NODE_FLAGS, BIN, 'run', '--config', gw.configPath], { cpu, env: { RECGW_LOG_LEVEL: 'info' } });
  const socket = gw.config.control.socket;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (p.proc.exitCode !== null) throw new Error(`recgw run exited with ${p.proc.exitCode}:\n${p.log()}`);
    if (existsSync(socket)) {
      try {
        await call(socket, 'status', {}, 2000);
        break;
      } catch {
        /* not listening yet */
      }
    }
    if (Date.now() > deadline) {
      p.proc.kill('SIGKILL');
      throw new Error(`recgw run did not come up within ${timeoutMs} ms:\n${p.log()}`);
    }
    await sleep(50);
  }
  return { ...p, call: (method, params = {}, t) => call(socket, method, params, t) };
}

/**
 * One delivery of the gateway's queue into a running receiver (`rxp`), timed from the receiver's side: wait for a
 * quiet machine, start the gateway pinned to `cpu`, wait until every segment has its receipt, stop the gateway.
 * Returns the receiver's CPU seconds over it, and how many of them in the kernel.
 */
export async function deliverTo(gw, rxp, { cpu, timeoutMs = 110_000 } = {}) {
  await waitQuiet();
  const cpu0 = cpuSeconds(rxp.pid);
  const kernel0 = cpuSeconds(rxp.pid, true);
  const g = await startGatewayProcess(gw, { cpu });
  try {
    await waitDelivered(gw, timeoutMs, { full: false, pollMs: 100, also: () => g.log().slice(-3000) + rxp.log().slice(-3000) });
  } finally {
    await g.stop();
  }
  return { cpu: cpuSeconds(rxp.pid) - cpu0, kernel: cpuSeconds(rxp.pid, true) - kernel0 };
}

// ---------------------------------------------------------------------------------------------------------------
// Raw mqtt.js peers (bench/mqtt-peer.js) for the baselines

/** TLS files of a device (its identity) for a raw client: clientId is the device ID, its certificate's CN. */
export function deviceTls(gw) {
  const p = identityPaths(gw.config.stateDir);
  return { cert: p.cert, key: p.key, ca: gw.config.agency.caCert, clientId: gw.config.deviceId };
}

/** TLS files of a provisioned receiver, for a raw subscriber. */
export function receiverTls(rx) {
  return { cert: rx.config.tls.cert, key: rx.config.tls.key, ca: rx.config.agency.caCert };
}

/** Start bench/mqtt-peer.js with a role and its options; resolves once it says it is connected (and subscribed). */
export async function startPeer(role, opts, { cpu } = {}) {
  // The baseline runs as anyone would run mqtt.js: without the service's malloc settings (bench/run.js adds them).
  const p = spawnTracked(process.execPath, [PEER, role, JSON.stringify(opts)], { cpu, ipc: true, env: withoutServiceEnv() });
  await p.waitMessage((m) => m.type === 'ready' || m.type === 'error', 15_000, `${role} ready`).then((m) => {
    if (m.type === 'error') throw new Error(`mqtt peer ${role}: ${m.error}`);
  });
  return p;
}

// ---------------------------------------------------------------------------------------------------------------
// Quiet machine

function cpuTimes() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + (f[4] ?? 0);
  return { idle, total: f.reduce((a, b) => a + b, 0) };
}

/**
 * Wait until the CPUs have been mostly idle (>= `idleShare` over two consecutive 500 ms windows), at most `maxMs`:
 * other work on this shared machine only ever slows a run down. Returns the idle share last seen and whether the
 * machine was quiet; when it was not, says so on stderr (the run that follows is likely slowed).
 */
export async function waitQuiet({ idleShare = 0.85, maxMs = 10_000 } = {}) {
  const deadline = Date.now() + maxMs;
  let calm = 0;
  let share = 0;
  let prev = cpuTimes();
  while (Date.now() < deadline) {
    await sleep(500);
    const now = cpuTimes();
    share = (now.idle - prev.idle) / Math.max(1, now.total - prev.total);
    prev = now;
    calm = share >= idleShare ? calm + 1 : 0;
    if (calm >= 2) return { idle: share, quiet: true };
  }
  process.stderr.write(`[bench]   (the machine is busy: ${Math.round(share * 100)}% idle after waiting ${maxMs / 1000} s; this run is likely slowed)\n`);
  return { idle: share, quiet: false };
}
