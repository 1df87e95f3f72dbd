/**
 * Worker threads for the verifier's expensive checks, so they spread over the cores while the main thread reads,
 * parses and chains the ledger:
 *   - signature batches: (signed bytes, signature, key) triples, answered with one ok/bad flag each. A key is a
 *     KeyObject (RSA or ECDSA over SHA-256, node:crypto) or, for SM2, the public key's hex: then the "signed bytes"
 *     are e = SM3(Z_A || M) and the signature r || s, both computed in the main thread (sm2CheckInput), and the
 *     worker does only the curve arithmetic, with sm-crypto-v2 as src/crypto/gm/sm2-sign.ts does;
 *   - segment-file batches: what is at each path (nothing, a directory, ...), its size and, when the size is the
 *     expected one, the hash of its bytes in its manifest's algorithm, SHA-256 or SM3 (read and hashed in the
 *     worker, off the main thread).
 * Results come back per batch in the order given; callers match them to line numbers and manifests. A batch goes
 * to the worker with the fewest batches in flight. The workers run plain JavaScript (eval), so the same code works
 * from dist/ and from the TypeScript sources under vitest (as seal-worker.ts does); node:crypto's verify is
 * OpenSSL's, and SM2's curve check is sm-crypto-v2's, loaded by its resolved path (plain JavaScript too).
 *
 * `room()` resolves when fewer than `maxInFlight` batches are out, which bounds memory: producers await it.
 * Workers start when batches are there for them (starting one costs tens of milliseconds), and a ledger's last
 * batch is checked in this thread while no worker runs yet: a small store starts none.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import type { KeyObject } from 'node:crypto';

/** sm-crypto-v2's CommonJS entry, for the workers' SM2 checks. */
const SM2_LIB = createRequire(import.meta.url).resolve('sm-crypto-v2');
/** A signature batch's key: a node:crypto key, or an SM2 public key as hex (04 || x || y). */
export type CheckKey = KeyObject | string;

/** What is at a segment file's path, as the worker found it. */
export type FileInspection =
  | { state: 'absent' }
  | { state: 'directory' }
  | { state: 'special' }
  /** A regular file; its hex hash only when its size was the expected one and it could be read. */
  | { state: 'file'; size: number; hash?: string }
  /** stat or read failed (other than "not there"): the error's message. */
  | { state: 'error'; error: string };

type Request =
  | { t: 'sigs'; id: number; keys: CheckKey[]; keyIx: Uint16Array; offs: Uint32Array; bytes: Uint8Array; sm2Lib: string }
  | { t: 'files'; id: number; paths: string[]; sizes: number[]; algs: ('sha256' | 'sm3')[] };
type Reply = { t: 'sigs'; id: number; ok: Uint8Array } | { t: 'files'; id: number; found: FileInspection[] } | { t: 'error'; id: number; message: string };

// The checks themselves, as plain JavaScript: run by the workers, and in this thread for a last small batch.
const CHECKS_SOURCE = `
const { verify, createHash, hash } = process.getBuiltinModule('node:crypto');
const { statSync, openSync, readSync, closeSync } = process.getBuiltinModule('node:fs');
const buf = Buffer.allocUnsafe(1 << 20);
let sm2lib;
// Precomputed tables of the few device keys in use (~90 ms each, then each check ~5x faster; sm2-point-cache.ts).
const points = new Map();
function sm2ok(e, rs, pub, libPath) {
  sm2lib ??= process.getBuiltinModule('node:module').createRequire(libPath)(libPath).sm2;
  let p = points.get(pub);
  if (!p) {
    if (points.size >= 32) points.delete(points.keys().next().value);
    if (!sm2lib.verifyPublicKey(pub)) return false;
    points.set(pub, (p = sm2lib.precomputePublicKey(pub)));
  }
  return sm2lib.doVerifySignature(e, Buffer.from(rs).toString('hex'), p, { hash: false, der: false });
}
function sigs(m) {
  const n = m.keyIx.length;
  const ok = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const a = m.offs[3 * i], b = m.offs[3 * i + 1], c = m.offs[3 * i + 2];
    const key = m.keys[m.keyIx[i]];
    try {
      ok[i] = (typeof key === 'string' ? sm2ok(Buffer.from(m.bytes.subarray(a, b)), m.bytes.subarray(b, c), key, m.sm2Lib) : verify('sha256', m.bytes.subarray(a, b), key, m.bytes.subarray(b, c))) ? 1 : 0;
    } catch {
      ok[i] = 0;
    }
  }
  return { t: 'sigs', id: m.id, ok };
}
function inspect(path, size, alg) {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    return err.code === 'ENOENT' || err.code === 'ENOTDIR' ? { state: 'absent' } : { state: 'error', error: err.message };
  }
  // Checked before any read: reading a directory throws, and reading a pipe could block for ever.
  if (!st.isFile()) return { state: st.isDirectory() ? 'directory' : 'special' };
  if (st.size !== size) return { state: 'file', size: st.size };
  let fd = -1;
  try {
    fd = openSync(path, 'r');
    // A read of a regular file that returns less than asked for has reached its end: a file smaller than the 1 MiB
    // buffer is read and hashed in one go, without a second read to find its end.
    const first = readSync(fd, buf, 0, buf.length, null);
    if (first < buf.length) return { state: 'file', size: st.size, hash: hash(alg, buf.subarray(0, first), 'hex') };
    const h = createHash(alg).update(buf);
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
    return { state: 'file', size: st.size, hash: h.digest('hex') };
  } catch (err) {
    return { state: 'error', error: err.message };
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}
function files(m) {
  return { t: 'files', id: m.id, found: m.paths.map((p, i) => inspect(p, m.sizes[i], m.algs[i])) };
}
`;

const WORKER_SOURCE = `${CHECKS_SOURCE}
const { parentPort } = process.getBuiltinModule('node:worker_threads');
parentPort.on('message', (m) => {
  try {
    if (m.t === 'sigs') {
      const r = sigs(m);
      parentPort.postMessage(r, [r.ok.buffer]);
    } else {
      parentPort.postMessage(files(m));
    }
  } catch (err) {
    parentPort.postMessage({ t: 'error', id: m.id, message: String(err && err.message || err) });
  }
});
`;

type Checks = { sigs: (m: Request) => Reply; files: (m: Request) => Reply };
let inThread: Checks | undefined;
const checksHere = (): Checks => (inThread ??= new Function(`${CHECKS_SOURCE}; return { sigs, files };`)() as Checks);

interface Pending {
  worker: PoolWorker;
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
}

interface PoolWorker {
  w: Worker;
  inFlight: number;
}

export class CheckPool {
  private readonly workers: PoolWorker[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly waiting: (() => void)[] = [];
  private nextId = 1;
  private failure: Error | null = null;
  readonly maxInFlight: number;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`a check pool needs at least one worker (got ${size})`);
    // Three batches a worker (one being checked, two waiting) keep each busy while the main thread fills the next.
    this.maxInFlight = size * 3;
  }

  /**
   * Verify signatures: item i is bytes[offs[3i], offs[3i+1]) signed, bytes[offs[3i+1], offs[3i+2]) the signature,
   * keys[keyIx[i]] the key; resolves with 1 (valid) or 0 per item. `last`: nothing follows it (see the class).
   * `bytes` is best shared memory (see signature-checks.ts); it is copied to the worker otherwise.
   */
  verifySignatures(keys: CheckKey[], keyIx: Uint16Array, offs: Uint32Array, bytes: Uint8Array, last = false): Promise<Uint8Array> {
    const req: Request = { t: 'sigs', id: 0, keys, keyIx, offs, bytes, sm2Lib: SM2_LIB };
    return this.send(req, [], last).then((r) => (r as { ok: Uint8Array }).ok);
  }

  /** Inspect segment files: resolves with what is at each path (and its hash, `algs[i]`, when its size is `sizes[i]`). */
  inspectFiles(paths: string[], sizes: number[], algs: ('sha256' | 'sm3')[], last = false): Promise<FileInspection[]> {
    return this.send({ t: 'files', id: 0, paths, sizes, algs }, [], last).then((r) => (r as { found: FileInspection[] }).found);
  }

  /** Resolves once fewer than maxInFlight batches are out. */
  room(): Promise<void> | undefined {
    if (this.pending.size < this.maxInFlight) return undefined;
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  async stop(): Promise<void> {
    const ws = this.workers.splice(0);
    this.failure ??= new Error('the verifier check pool was stopped');
    await Promise.all(ws.map((pw) => pw.w.terminate()));
  }

  private send(req: Request, transfer: ArrayBuffer[], last: boolean): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    if (last && this.workers.length === 0) {
      try {
        return Promise.resolve(req.t === 'sigs' ? checksHere().sigs(req) : checksHere().files(req));
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    const idle = this.workers.find((w) => w.inFlight === 0);
    const worker = idle ?? (this.workers.length < this.size ? this.spawn() : this.workers.reduce((a, b) => (b.inFlight < a.inFlight ? b : a)));
    const id = this.nextId++;
    req.id = id;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { worker, resolve, reject });
      worker.inFlight++;
      worker.w.postMessage(req, transfer);
    });
  }

  private spawn(): PoolWorker {
    // A small young generation: a worker keeps almost nothing, and V8 would otherwise let it grow to tens of MB
    // over a long run (RSS that grows with the ledger's length, though nothing in it is kept).
    const w = new Worker(WORKER_SOURCE, { eval: true, name: `recgw-verify-${this.workers.length}`, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    const pw: PoolWorker = { w, inFlight: 0 };
    w.on('message', (m: Reply) => this.settle(m));
    w.on('error', (err) => this.fail(err));
    w.on('exit', (code) => this.fail(new Error(`a verifier worker thread exited (code ${code})`)));
    this.workers.push(pw);
    return pw;
  }

  private settle(m: Reply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    p.worker.inFlight--;
    if (m.t === 'error') p.reject(new Error(`a verifier worker thread failed: ${m.message}`));
    else p.resolve(m);
    this.waiting.shift()?.();
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    for (const w of this.waiting.splice(0)) w();
  }
}
