// `recgw verify` at scale: entries/s and peak RSS on synthetic one-device stores of 10^4, 10^5 and 10^6 entries,
// against `openssl speed rsa2048` verifies/s measured in the same run.
//   verify-scale-<n>       entries/s of `recgw verify --json` (a child process, wall time), baseline openssl's
//                          verifies/s per core x the cores the verifier may use (its worker pool is that size);
//                          the goal from issue 14 is ratio >= 0.5.
//   verify-scale-<n>-rss   peak RSS of that child in MB, baseline 300 MB (the goal: ratio < 1; lower is better).
// The stores (src/demo/synthetic-store.ts: hour-long sessions of four sources, 10 s segments, an interruption now
// and then, every line RSA-2048-signed with a really enrolled device key, tiny real .seg files as hard links) take
// long to sign (about 0.75 ms a line, so ~13 minutes for 10^6), so they are kept under .bench/verify-scale/ keyed
// by the store format and size and reused; delete the folder (or bump FORMAT after changing the generator) to
// rebuild. `node bench/verify-scale.bench.js --build 1000000` only builds (or checks) one store.
// openssl runs with -elapsed (wall time, like the verifier's measure) over every core (-multi), so both see the
// same load from other work on this shared machine.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import process from 'node:process';
import { Buffer } from 'node:buffer';
import { provisionGateway } from '../dist/demo/provision.js';
import { caPaths } from '../dist/pki/ca.js';
import { identityPaths, loadDeviceIdentity } from '../dist/pki/identity.js';
import { loadConfig } from '../dist/config/load.js';
import { writeSyntheticStore } from '../dist/demo/synthetic-store.js';
import { progress, report } from './lib.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Bump when src/demo/synthetic-store.ts changes what it writes: older cached stores are then not used. */
const FORMAT = 2; // 2: encryption.installed and stored = plain + 16 (the verifier checks both)
const CACHE = join(ROOT, '.bench', 'verify-scale', `f${FORMAT}`);
const SIZES = (process.env.RECGW_BENCH_VERIFY_SIZES ?? '10000,100000,1000000').split(',').map(Number);
const DEVICE = 'room-1';
const MB = 1e6;

/** The bench's CA and enrolled gateway, made once per cache. */
function identity() {
  const caDir = join(CACHE, 'ca');
  const gwDir = join(CACHE, 'gw');
  if (!existsSync(join(gwDir, 'recgw.json'))) {
    rmSync(CACHE, { recursive: true, force: true });
    mkdirSync(CACHE, { recursive: true });
    provisionGateway({ dir: gwDir, caDir, createCa: true, deviceId: DEVICE });
  }
  const config = loadConfig(join(gwDir, 'recgw.json'));
  const ca = caPaths(caDir);
  return { ca, signer: loadDeviceIdentity(DEVICE, identityPaths(config.stateDir), ca.caCert).signer };
}

/** The store of `n` entries (built unless cached): the folder to verify and the CA certificate. */
export function store(n) {
  const id = identity();
  const dir = join(CACHE, `n${n}`);
  const storeDir = join(dir, 'store');
  if (!existsSync(join(dir, 'complete'))) {
    rmSync(dir, { recursive: true, force: true });
    progress(`building a store of ${n} entries in ${dir} (signing every line; kept for later runs)`);
    const t0 = Date.now();
    writeSyntheticStore({
      deviceDir: join(storeDir, DEVICE),
      deviceId: DEVICE,
      signer: id.signer,
      entries: n,
      encryptionCert: readFileSync(id.ca.agencyEncCert, 'utf8'),
      // After the certificate's start of validity (it was issued when the cache was made, and is valid 825 days).
      startMs: Date.now() + 60_000,
      onProgress: (lines) => lines % 100_000 === 0 && progress(`  ${lines} lines signed (${Math.round((Date.now() - t0) / 1000)} s)`),
    });
    writeFileSync(join(dir, 'complete'), `${new Date().toISOString()}\n`);
  }
  return { storeDir, caCert: id.ca.caCert };
}

/** Run a command; resolve with its stdout, stderr and exit code. */
function capture(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('exit', (code) => resolve({ out, err, code }));
  });
}

/** openssl's RSA-2048 verifies/s per core: -multi over every core, wall time, the total divided by the cores. */
async function opensslPerCore(cores) {
  const r = await capture('openssl', ['speed', '-elapsed', '-seconds', '3', '-multi', String(cores), 'rsa2048']);
  // -multi prints "rsa 2048 bits <sign s> <verify s> <sign/s> <verify/s>" summed over the processes.
  const m = /^rsa\s+2048 bits\s+\S+\s+\S+\s+\S+\s+([\d.]+)\s*$/m.exec(r.out);
  if (!m) throw new Error(`cannot read openssl speed's output:\n${r.out}\n${r.err}`);
  return Number(m[1]) / cores;
}

/** `recgw verify --json` on the store under /usr/bin/time -v: wall seconds, peak RSS bytes, the report. */
async function verifyOnce(s, n) {
  const r = await capture('/usr/bin/time', ['-v', process.execPath, join(ROOT, 'bin', 'recgw.js'), 'verify', s.storeDir, '--ca', s.caCert, '--json']);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(r.err);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.err);
  const user = /User time \(seconds\): ([\d.]+)/.exec(r.err);
  const sys = /System time \(seconds\): ([\d.]+)/.exec(r.err);
  if (!wall || !rss) throw new Error(`cannot read /usr/bin/time's output:\n${r.err}`);
  const rep = JSON.parse(r.out);
  if (r.code !== 0 || !rep.ok || rep.devices[0].entries !== n) {
    throw new Error(`verify of the ${n}-entry store did not pass (exit ${r.code}): ${JSON.stringify(rep.findings.slice(0, 3))}`);
  }
  const seconds = Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]);
  return { seconds, rssBytes: Number(rss[1]) * 1024, cpuSeconds: Number(user?.[1] ?? NaN) + Number(sys?.[1] ?? NaN) };
}

/** node:crypto's RSA-2048 verifies per CPU second in this thread (what one verifier worker can do at best). */
function nodeVerifiesPerCpuSecond() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const data = Buffer.alloc(1800, 7);
  const sig = sign('sha256', data, privateKey);
  const c0 = process.cpuUsage();
  let n = 0;
  for (const t0 = Date.now(); Date.now() - t0 < 2000; n += 100) for (let i = 0; i < 100; i++) verify('sha256', data, publicKey, sig);
  const c = process.cpuUsage(c0);
  return n / ((c.user + c.system) / 1e6);
}

export default async function verifyScaleBench() {
  const cores = availableParallelism();
  progress(`node:crypto verifies ${Math.round(nodeVerifiesPerCpuSecond())} RSA-2048 signatures per CPU second (one thread)`);
  for (const n of SIZES) {
    const s = store(n);
    const perCore = await opensslPerCore(cores);
    progress(`verify-scale-${n}: openssl verifies ${Math.round(perCore)}/s per core (${cores} cores, load average ${loadavg()[0].toFixed(1)}); verifying ${n} entries`);
    const v = await verifyOnce(s, n);
    const rate = n / v.seconds;
    progress(`  ${v.seconds.toFixed(1)} s (${v.cpuSeconds.toFixed(1)} s of CPU), ${Math.round(rate)} entries/s, peak RSS ${(v.rssBytes / MB).toFixed(0)} MB`);
    report(`verify-scale-${n}`, rate, 'entries/s', perCore * cores);
    report(`verify-scale-${n}-rss`, v.rssBytes / MB, 'MB', 300);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--build') {
  store(Number(process.argv[3]));
}
