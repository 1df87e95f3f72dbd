/**
 * The two worker threads sealFile uses for segments over one chunk, so that its work spreads over the cores:
 *   - the reader reads the plaintext (through the main thread's descriptor) into a few shared buffers ("slots"),
 *     tells the main thread a slot is full and then hashes it, while the main thread encrypts the same bytes;
 *   - the writer takes the stored bytes (ciphertext, then the tag) that the main thread puts into the writer's own
 *     slots, writes them to the sealed temp file (through the main thread's descriptor, on the thread pool, so that
 *     the copy into the page cache runs while it hashes them) and hashes them; every so many bytes it starts the
 *     kernel writing the file to disk (an fdatasync not waited for), so the caller's final fsync has little left.
 * The main thread only encrypts (the least of the three jobs). Nothing is copied between threads except the
 * ciphertext into the writer's slots (cipher.update cannot write into given memory); the number of slots bounds
 * memory and how far each side runs ahead; slots are reused across seals (fresh memory costs page faults that
 * matter for small segments). A slot belongs to one side at a time: a message hands it over, another hands it back.
 *
 * One reader and one writer serve every seal (starting one costs ~30 ms); each is unref'd whenever no seal is using
 * it, so they never keep the process alive, and stops once no seal has used it for a while (30 s): each holds a V8
 * isolate of its own and its slots, ~12 MB of RSS, that a gateway sealing on its main thread should not carry. If
 * one fails or exits, every seal using it fails and the next seal starts a fresh one.
 */
import { alignedSharedBuffer } from '../util/direct-io.js';
import { Worker } from 'node:worker_threads';

/** Plaintext bytes handed out by a PlainSource; `bytes` stays valid until release() or the next call to next(). */
export interface PlainChunk {
  bytes: Uint8Array;
  slot: number;
}

/** The plaintext of one seal, read and hashed in order. */
export interface PlainSource {
  /** The next chunk, or null at the end of the file. */
  next(): Promise<PlainChunk | null>;
  /** Done with this chunk: its memory may be read into again. */
  release(chunk: PlainChunk): void;
  /** Hex hash (SHA-256 or SM3, as the seal asked) of the plaintext; after next() returned null. */
  digest(): string;
  /** Stop (if not at the end) and wait until the descriptor is no longer in use. Never rejects. */
  close(): Promise<void>;
}

/** Memory to fill with the next bytes of the stored file; the sink's until put() hands it over. */
export interface StoredSlot {
  bytes: Uint8Array;
  slot: number;
}

/** The stored file of one seal, written from offset 0 on and hashed, in the order the bytes are put. */
export interface StoredSink {
  /** A free slot; waits while the writer is behind. */
  take(): Promise<StoredSlot>;
  /** Write and hash the first `len` bytes of this slot next; it is not to be touched until take() gives it again. */
  put(slot: StoredSlot, len: number): void;
  /** After the last put: resolves once every byte is written (not fsynced), with their hex hash (SHA-256 or SM3). */
  end(): Promise<string>;
  /** Stop (if not ended) and wait until the descriptor is no longer in use. Never rejects. */
  close(): Promise<void>;
}

/** node:crypto's name of the hash a seal's workers take: its suite's (segment-scheme.ts). */
export type SealHash = 'sha256' | 'sm3';

type Request =
  | { t: 'read'; job: number; fd: number; slots: SharedArrayBuffer[]; hash: SealHash }
  | { t: 'free'; job: number; slot: number }
  | { t: 'write'; job: number; fd: number; directFd: number; slots: SharedArrayBuffer[]; syncEvery: number; hash: SealHash }
  | { t: 'put'; job: number; slot: number; len: number }
  | { t: 'end'; job: number }
  | { t: 'stop'; job: number };
type Reply =
  | { t: 'chunk'; job: number; slot: number; len: number }
  | { t: 'free'; job: number; slot: number }
  | { t: 'end'; job: number; digest: string }
  | { t: 'stopped'; job: number }
  | { t: 'error'; job: number; message: string; code?: string };

// Plain JavaScript run with `eval: true`, so the same code works from dist/ and from the TypeScript sources
// under vitest (a worker cannot load a .ts file). getBuiltinModule rather than require or import: the worker
// inherits the process's flags, and `--input-type=module` makes eval'd code an ES module.
// Per job: the descriptor, the file position, the slots and a hash (SHA-256 or SM3, the seal's suite's). Reads are synchronous (the reader has
// nothing else to do) and a slot is announced before it is hashed, so that hashing and encrypting overlap. The
// writer's writes and writeback hints run on the thread pool while it hashes; a slot goes back once both its write
// and its hash are done. A job answers 'end', 'stopped' or 'error' only once nothing of it is in flight on the
// thread pool, so the main thread may close the descriptor as soon as it has the answer.
const WORKER_SOURCE = `
const { parentPort } = process.getBuiltinModule('node:worker_threads');
const { createHash } = process.getBuiltinModule('node:crypto');
const { readSync, write, fdatasync } = process.getBuiltinModule('node:fs');
const jobs = new Map();
function newJob(m) {
  const job = { id: m.job, fd: m.fd, directFd: m.directFd ?? -1, pos: 0, hash: createHash(m.hash), views: m.slots.map((s) => new Uint8Array(s)),
    syncEvery: m.syncEvery || 0, unsynced: 0, busy: 0, syncing: false, failed: false, whenIdle: null };
  jobs.set(m.job, job);
  return job;
}
function fill(job, slot) {
  const view = job.views[slot];
  const len = readSync(job.fd, view, 0, view.length, job.pos);
  if (len === 0) {
    jobs.delete(job.id);
    parentPort.postMessage({ t: 'end', job: job.id, digest: job.hash.digest('hex') });
    return;
  }
  job.pos += len;
  parentPort.postMessage({ t: 'chunk', job: job.id, slot, len });
  job.hash.update(len === view.length ? view : view.subarray(0, len));
}
function put(job, slot, len) {
  const view = job.views[slot];
  const bytes = len === view.length ? view : view.subarray(0, len);
  let left = 2; // the write and the hash; then the slot goes back
  const done = () => {
    if (--left === 0) parentPort.postMessage({ t: 'free', job: job.id, slot });
  };
  // Whole pages at a page offset go around the page cache (the slots are page-aligned); the file's tail (an odd
  // length, then the tag) goes the ordinary way, into pages no direct write touches.
  const direct = job.directFd >= 0 && job.pos % 4096 === 0 && len % 4096 === 0;
  writeAll(job, direct ? job.directFd : job.fd, bytes, 0, job.pos, done);
  job.pos += len;
  job.hash.update(bytes);
  done();
  if (direct) return;
  job.unsynced += len;
  if (job.syncEvery > 0 && job.unsynced >= job.syncEvery && !job.syncing) {
    // Only a hint to the kernel to start writeback; durability comes from the caller's fsync at the end.
    job.unsynced = 0;
    job.syncing = true;
    job.busy++;
    fdatasync(job.fd, (err) => {
      job.syncing = false;
      settled(job, err);
    });
  }
}
function writeAll(job, fd, bytes, done, pos, then) {
  job.busy++;
  write(fd, bytes, done, bytes.length - done, pos + done, (err, n) => {
    if (!err && n === 0) err = new Error('writing the sealed file made no progress; check the disk (full or failing?)');
    if (!err && done + n < bytes.length && !job.failed) {
      job.busy--;
      return writeAll(job, fd, bytes, done + n, pos, then);
    }
    if (!err) then();
    settled(job, err);
  });
}
// An operation on the thread pool is over: fail the job at its first error, answer once nothing is in flight.
function settled(job, err) {
  job.busy--;
  if (err && !job.failed) fail(job.id, err);
  if (job.busy === 0 && job.whenIdle) {
    const then = job.whenIdle;
    job.whenIdle = null;
    then();
  }
}
function whenIdle(job, fn) {
  if (job.busy > 0) job.whenIdle = fn;
  else fn();
}
function fail(id, err) {
  const send = () => {
    jobs.delete(id);
    parentPort.postMessage({ t: 'error', job: id, message: String((err && err.message) || err), code: err && err.code });
  };
  const job = jobs.get(id);
  if (!job) return send();
  job.failed = true;
  whenIdle(job, send);
}
parentPort.on('message', (m) => {
  const job = jobs.get(m.job);
  if (m.t !== 'read' && m.t !== 'write' && (!job || job.failed)) {
    if (m.t === 'stop' && !job) parentPort.postMessage({ t: 'stopped', job: m.job });
    return; // ended, stopped or failed already
  }
  try {
    if (m.t === 'read') {
      const j = newJob(m);
      for (let i = 0; i < j.views.length && jobs.has(j.id); i++) fill(j, i);
    } else if (m.t === 'write') {
      newJob(m);
    } else if (m.t === 'free') {
      fill(job, m.slot);
    } else if (m.t === 'put') {
      put(job, m.slot, m.len);
    } else if (m.t === 'end') {
      whenIdle(job, () => {
        if (job.failed) return; // the error is on its way
        jobs.delete(job.id);
        parentPort.postMessage({ t: 'end', job: job.id, digest: job.hash.digest('hex') });
      });
    } else if (m.t === 'stop') {
      job.failed = true; // no more work for it
      whenIdle(job, () => {
        jobs.delete(job.id);
        parentPort.postMessage({ t: 'stopped', job: job.id });
      });
    }
  } catch (err) {
    fail(m.job, err);
  }
});
`;

/** What a SealWorker routes replies to. */
interface Job {
  readonly id: number;
  onReply(m: Reply): void;
  fail(err: Error): void;
}

/** The main-thread side of reading one seal's plaintext on the reader. */
class ReadJob implements PlainSource, Job {
  private readonly views: Uint8Array[];
  private readonly ready: (PlainChunk | null)[] = [];
  private waiter: { resolve: (c: PlainChunk | null) => void; reject: (e: Error) => void } | null = null;
  private failed: Error | null = null;
  private hex: string | null = null;
  private readonly run: JobRun;

  constructor(
    owner: SealWorker,
    readonly id: number,
    readonly slots: SharedArrayBuffer[],
  ) {
    this.views = slots.map((s) => new Uint8Array(s));
    this.run = new JobRun(owner, this);
  }

  next(): Promise<PlainChunk | null> {
    const c = this.ready.shift();
    if (c !== undefined) return Promise.resolve(c);
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  release(chunk: PlainChunk): void {
    if (this.run.busy) this.run.owner.post({ t: 'free', job: this.id, slot: chunk.slot });
  }

  digest(): string {
    if (this.hex === null) throw new Error('the plaintext digest was asked for before the end of the file');
    return this.hex;
  }

  close(): Promise<void> {
    return this.run.close(this.slots, !this.failed);
  }

  onReply(m: Reply): void {
    if (m.t === 'chunk') {
      const view = this.views[m.slot]!;
      this.deliver({ slot: m.slot, bytes: m.len === view.length ? view : view.subarray(0, m.len) });
    } else if (m.t === 'end') {
      this.hex = m.digest;
      this.run.finished();
      this.deliver(null);
    } else if (m.t === 'stopped') this.run.finished();
  }

  fail(err: Error): void {
    if (!this.failed) {
      this.failed = err;
      this.waiter?.reject(err);
      this.waiter = null;
    }
    this.run.finished();
  }

  private deliver(c: PlainChunk | null): void {
    if (this.waiter) {
      this.waiter.resolve(c);
      this.waiter = null;
    } else this.ready.push(c);
  }
}

/** The main-thread side of writing one seal's stored file on the writer. */
class WriteJob implements StoredSink, Job {
  private readonly views: StoredSlot[];
  private readonly free: StoredSlot[];
  private readonly takers: { resolve: (s: StoredSlot) => void; reject: (e: Error) => void }[] = [];
  private ending: { resolve: (hex: string) => void; reject: (e: Error) => void } | null = null;
  private failed: Error | null = null;
  private readonly run: JobRun;

  constructor(
    owner: SealWorker,
    readonly id: number,
    readonly slots: SharedArrayBuffer[],
  ) {
    this.views = slots.map((s, slot) => ({ slot, bytes: new Uint8Array(s) }));
    this.free = [...this.views].reverse();
    this.run = new JobRun(owner, this);
  }

  take(): Promise<StoredSlot> {
    if (this.failed) return Promise.reject(this.failed);
    const s = this.free.pop();
    if (s) return Promise.resolve(s);
    return new Promise((resolve, reject) => this.takers.push({ resolve, reject }));
  }

  put(slot: StoredSlot, len: number): void {
    if (this.run.busy && !this.failed) this.run.owner.post({ t: 'put', job: this.id, slot: slot.slot, len });
  }

  end(): Promise<string> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.ending = { resolve, reject };
      this.run.owner.post({ t: 'end', job: this.id });
    });
  }

  close(): Promise<void> {
    return this.run.close(this.slots, !this.failed);
  }

  onReply(m: Reply): void {
    if (m.t === 'free') {
      const s = this.views[m.slot]!;
      const taker = this.takers.shift();
      if (taker) taker.resolve(s);
      else this.free.push(s);
    } else if (m.t === 'end') {
      this.run.finished();
      this.ending?.resolve(m.digest);
      this.ending = null;
    } else if (m.t === 'stopped') this.run.finished();
  }

  fail(err: Error): void {
    if (!this.failed) {
      this.failed = err;
      for (const t of this.takers.splice(0)) t.reject(err);
      this.ending?.reject(err);
      this.ending = null;
    }
    this.run.finished();
  }
}

/** Whether the worker may still use a job's slots and descriptor, and stopping it. */
class JobRun {
  /** The worker may still read or write the slots or use the descriptor. */
  busy = true;
  private stopped: (() => void) | null = null;

  constructor(
    readonly owner: SealWorker,
    private readonly job: Job,
  ) {}

  close(slots: SharedArrayBuffer[], healthy: boolean): Promise<void> {
    if (!this.busy) return Promise.resolve(this.owner.done(slots, healthy));
    return new Promise((resolve) => {
      this.stopped = () => resolve(this.owner.done(slots, healthy));
      this.owner.post({ t: 'stop', job: this.job.id });
    });
  }

  finished(): void {
    if (!this.busy) return;
    this.busy = false;
    this.owner.forget(this.job.id);
    this.stopped?.();
  }
}

/** How long a worker stays without a seal before it stops (setSealWorkerIdleMs changes it, for tests). */
let idleMs = 30_000;

class SealWorker {
  private readonly worker: Worker;
  readonly jobs = new Map<number, Job>();
  private readonly spareSlots: SharedArrayBuffer[][] = [];
  private dead = false;
  private error: Error | null = null;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    name: string,
    private readonly onDeath: (w: SealWorker) => void,
  ) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, name });
    this.worker.unref();
    this.worker.on('message', (m: Reply) => this.onReply(m));
    this.worker.on('error', (err) => this.die(err));
    this.worker.on('messageerror', (err) => this.die(err));
    this.worker.on('exit', (code) => {
      this.die(new Error(`the sealing worker exited (code ${code}); the segment stays queued and is sealed again`));
      // Only now: a worker that is exiting still finishes the writes it started, through descriptors that its
      // seals close as soon as they fail.
      for (const job of [...this.jobs.values()]) job.fail(this.error!);
    });
  }

  read(id: number, fd: number, chunkBytes: number, chunks: number, hash: SealHash): ReadJob {
    const job = new ReadJob(this, id, this.slots(chunkBytes, chunks));
    this.add(job);
    this.post({ t: 'read', job: id, fd, slots: job.slots, hash });
    return job;
  }

  write(id: number, fd: number, directFd: number, chunkBytes: number, chunks: number, syncEvery: number, hash: SealHash): WriteJob {
    const job = new WriteJob(this, id, this.slots(chunkBytes, chunks));
    this.add(job);
    this.post({ t: 'write', job: id, fd, directFd, slots: job.slots, syncEvery, hash });
    return job;
  }

  post(m: Request): void {
    this.worker.postMessage(m);
  }

  /** The worker is done with this job. */
  forget(id: number): void {
    if (this.jobs.delete(id) && this.jobs.size === 0) {
      this.worker.unref();
      this.idleTimer = setTimeout(() => this.retire(), idleMs).unref();
    }
  }

  /** Both sides are done with a job: keep its slots for the next seal (one set: the Sealer seals one at a time). */
  done(slots: SharedArrayBuffer[], healthy: boolean): void {
    if (healthy && !this.dead && this.spareSlots.length < 1) this.spareSlots.push(slots);
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }

  private slots(chunkBytes: number, chunks: number): SharedArrayBuffer[] {
    const i = this.spareSlots.findIndex((s) => s.length === chunks && s[0]!.byteLength === chunkBytes);
    if (i >= 0) return this.spareSlots.splice(i, 1)[0]!;
    // Page-aligned, so the writer can hand them to direct writes.
    return Array.from({ length: chunks }, () => alignedSharedBuffer(chunkBytes));
  }

  private add(job: Job): void {
    if (this.jobs.size === 0) this.worker.ref(); // a seal waits on this worker: keep the process alive
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.jobs.set(job.id, job);
  }

  /** Unused for idleMs: stop, and give back the isolate's memory and the slots; the next seal starts a fresh one. */
  private retire(): void {
    if (this.jobs.size > 0 || this.dead) return;
    this.dead = true;
    this.onDeath(this);
    void this.worker.terminate();
  }

  private onReply(m: Reply): void {
    const job = this.jobs.get(m.job);
    if (!job) return; // stopped or failed already
    if (m.t === 'error') {
      const err = new Error(`reading, hashing or writing failed in the sealing worker: ${m.message}`);
      if (m.code) Object.assign(err, { code: m.code });
      job.fail(err);
    } else job.onReply(m);
  }

  /** No new seals for this worker; the ones using it fail when it has exited. */
  private die(err: Error): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.dead) return;
    this.dead = true;
    this.error = err;
    this.onDeath(this);
    void this.worker.terminate();
  }
}

let reader: SealWorker | null = null;
let writer: SealWorker | null = null;
let nextId = 1;

function forgetDead(w: SealWorker): void {
  if (reader === w) reader = null;
  if (writer === w) writer = null;
}

/**
 * Read and hash the plaintext behind `fd` on the shared reader (started on first use), in `chunks` slots of
 * `chunkBytes`. The caller keeps `fd` open until close() resolves.
 */
export function workerSource(fd: number, chunkBytes: number, chunks: number, hash: SealHash = 'sha256'): PlainSource {
  reader ??= new SealWorker('recgw-seal-read', forgetDead);
  return reader.read(nextId++, fd, chunkBytes, chunks, hash);
}

/**
 * One seal on both workers: the plaintext behind `inFd` read and hashed on the reader, the stored bytes written
 * (from offset 0) and hashed on the writer: whole pages at page offsets through `directFd` (the same file opened
 * O_DIRECT; -1: none), the rest through `outFd`, starting writeback every `syncEvery` bytes of those (0: never).
 * `chunks` slots of `chunkBytes` on each side. The caller keeps the descriptors open until both close() calls
 * resolve.
 */
export function workerSeal(
  inFd: number,
  outFd: number,
  directFd: number,
  chunkBytes: number,
  chunks: number,
  syncEvery: number,
  hash: SealHash = 'sha256',
): { source: PlainSource; sink: StoredSink } {
  reader ??= new SealWorker('recgw-seal-read', forgetDead);
  writer ??= new SealWorker('recgw-seal-write', forgetDead);
  const id = nextId++;
  return { source: reader.read(id, inFd, chunkBytes, chunks, hash), sink: writer.write(id, outFd, directFd, chunkBytes, chunks, syncEvery, hash) };
}

/** Workers running now, 0 to 2 (for tests and diagnostics). */
export function sealWorkersRunning(): number {
  return (reader ? 1 : 0) + (writer ? 1 : 0);
}

/** How long an unused worker stays before it stops (default 30 s; for tests). */
export function setSealWorkerIdleMs(ms: number): void {
  idleMs = ms;
}

/** Seals currently using the workers (for tests and diagnostics). */
export function sealWorkerJobs(): number {
  return new Set([...(reader?.jobs.keys() ?? []), ...(writer?.jobs.keys() ?? [])]).size;
}

/** Stop the workers; seals still using them fail. Not needed for a clean exit (idle workers are unref'd). */
export async function closeSealWorker(): Promise<void> {
  const ws = [reader, writer].filter((w) => w !== null);
  reader = writer = null;
  await Promise.all(ws.map((w) => w.terminate()));
}
