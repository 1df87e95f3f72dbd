/**
 * Reading and hashing the plaintext of a segment on a second core while sealFile encrypts, hashes the ciphertext
 * and writes on the main thread.
 *
 * The worker reads the file (through the main thread's descriptor) into a few shared buffers ("slots"), tells the
 * main thread a slot is full and then hashes it, while the main thread encrypts the same bytes. Both only read a
 * full slot; the main thread hands it back when it has encrypted it, and only then does the worker read into it
 * again. Nothing is copied between threads, the number of slots bounds memory and how far the worker runs ahead,
 * and slots are reused across seals (fresh memory costs page faults that matter for small segments).
 *
 * One long-lived worker serves every seal (starting one costs ~30 ms); it is unref'd whenever no seal is using
 * it, so it never keeps the process alive. If it fails or exits, every seal using it fails and the next seal
 * starts a fresh worker.
 */
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
  /** Hex SHA-256 of the plaintext; after next() returned null. */
  digest(): string;
  /** Stop (if not at the end) and wait until the descriptor is no longer in use. Never rejects. */
  close(): Promise<void>;
}

type Request =
  | { t: 'start'; job: number; fd: number; slots: SharedArrayBuffer[] }
  | { t: 'free'; job: number; slot: number }
  | { t: 'stop'; job: number };
type Reply =
  | { t: 'chunk'; job: number; slot: number; len: number }
  | { t: 'end'; job: number; digest: string }
  | { t: 'stopped'; job: number }
  | { t: 'error'; job: number; message: string; code?: string };

// Plain JavaScript run with `eval: true`, so the same code works from dist/ and from the TypeScript sources
// under vitest (a worker cannot load a .ts file). getBuiltinModule rather than require or import: the worker
// inherits the process's flags, and `--input-type=module` makes eval'd code an ES module.
// Per job: the descriptor, the read position, the slots and a SHA-256. Synchronous reads: this thread has
// nothing else to do. A slot is announced before it is hashed so that encrypting and hashing overlap.
const WORKER_SOURCE = `
const { parentPort } = process.getBuiltinModule('node:worker_threads');
const { createHash } = process.getBuiltinModule('node:crypto');
const { readSync } = process.getBuiltinModule('node:fs');
const jobs = new Map();
function fill(id, slot) {
  const job = jobs.get(id);
  if (!job) return; // ended or stopped
  const view = job.views[slot];
  const len = readSync(job.fd, view, 0, view.length, job.pos);
  if (len === 0) {
    jobs.delete(id);
    parentPort.postMessage({ t: 'end', job: id, digest: job.hash.digest('hex') });
    return;
  }
  job.pos += len;
  parentPort.postMessage({ t: 'chunk', job: id, slot, len });
  job.hash.update(len === view.length ? view : view.subarray(0, len));
}
parentPort.on('message', (m) => {
  try {
    if (m.t === 'start') {
      jobs.set(m.job, { fd: m.fd, pos: 0, hash: createHash('sha256'), views: m.slots.map((s) => new Uint8Array(s)) });
      for (let i = 0; i < m.slots.length; i++) fill(m.job, i);
    } else if (m.t === 'free') {
      fill(m.job, m.slot);
    } else if (m.t === 'stop') {
      jobs.delete(m.job);
      parentPort.postMessage({ t: 'stopped', job: m.job });
    }
  } catch (err) {
    jobs.delete(m.job);
    parentPort.postMessage({ t: 'error', job: m.job, message: String((err && err.message) || err), code: err && err.code });
  }
});
`;

/** The main-thread side of one seal on the worker. */
class WorkerJob implements PlainSource {
  private readonly views: Uint8Array[];
  private readonly ready: (PlainChunk | null)[] = [];
  private waiter: { resolve: (c: PlainChunk | null) => void; reject: (e: Error) => void } | null = null;
  private failed: Error | null = null;
  private hex: string | null = null;
  /** The worker may still read into the slots or through the descriptor. */
  private workerBusy = true;
  private stopped: (() => void) | null = null;

  constructor(
    private readonly owner: HashWorker,
    readonly id: number,
    readonly slots: SharedArrayBuffer[],
  ) {
    this.views = slots.map((s) => new Uint8Array(s));
  }

  next(): Promise<PlainChunk | null> {
    const c = this.ready.shift();
    if (c !== undefined) return Promise.resolve(c);
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  release(chunk: PlainChunk): void {
    if (this.workerBusy) this.owner.post({ t: 'free', job: this.id, slot: chunk.slot });
  }

  digest(): string {
    if (this.hex === null) throw new Error('the plaintext digest was asked for before the end of the file');
    return this.hex;
  }

  close(): Promise<void> {
    if (!this.workerBusy) return Promise.resolve(this.owner.done(this, !this.failed));
    return new Promise((resolve) => {
      this.stopped = () => resolve(this.owner.done(this, !this.failed));
      this.owner.post({ t: 'stop', job: this.id });
    });
  }

  onChunk(slot: number, len: number): void {
    const view = this.views[slot]!;
    this.deliver({ slot, bytes: len === view.length ? view : view.subarray(0, len) });
  }

  onEnd(digest: string): void {
    this.hex = digest;
    this.workerFinished();
    this.deliver(null);
  }

  onStopped(): void {
    this.workerFinished();
  }

  fail(err: Error): void {
    if (!this.failed) {
      this.failed = err;
      this.waiter?.reject(err);
      this.waiter = null;
    }
    this.workerFinished();
  }

  private deliver(c: PlainChunk | null): void {
    if (this.waiter) {
      this.waiter.resolve(c);
      this.waiter = null;
    } else this.ready.push(c);
  }

  private workerFinished(): void {
    if (!this.workerBusy) return;
    this.workerBusy = false;
    this.owner.forget(this.id);
    this.stopped?.();
  }
}

class HashWorker {
  private readonly worker: Worker;
  private readonly jobs = new Map<number, WorkerJob>();
  private readonly spareSlots: SharedArrayBuffer[][] = [];
  private nextId = 1;
  private dead = false;

  constructor() {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, name: 'recgw-seal' });
    this.worker.unref();
    this.worker.on('message', (m: Reply) => this.onReply(m));
    this.worker.on('error', (err) => this.die(err));
    this.worker.on('messageerror', (err) => this.die(err));
    this.worker.on('exit', (code) => this.die(new Error(`the sealing worker exited (code ${code}); the segment stays queued and is sealed again`)));
  }

  get activeJobs(): number {
    return this.jobs.size;
  }

  start(fd: number, chunkBytes: number, chunks: number): PlainSource {
    let slots = this.spareSlots.pop();
    if (!slots || slots.length !== chunks || slots[0]!.byteLength !== chunkBytes) {
      slots = Array.from({ length: chunks }, () => new SharedArrayBuffer(chunkBytes));
    }
    const job = new WorkerJob(this, this.nextId++, slots);
    if (this.jobs.size === 0) this.worker.ref(); // a seal waits on this worker: keep the process alive
    this.jobs.set(job.id, job);
    this.post({ t: 'start', job: job.id, fd, slots });
    return job;
  }

  post(m: Request): void {
    this.worker.postMessage(m);
  }

  /** The worker is done with this job. */
  forget(id: number): void {
    if (this.jobs.delete(id) && this.jobs.size === 0) this.worker.unref();
  }

  /** Both sides are done with this job: keep its slots for the next (a few, and only from a healthy worker). */
  done(job: WorkerJob, healthy: boolean): void {
    if (healthy && !this.dead && this.spareSlots.length < 2) this.spareSlots.push(job.slots);
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }

  private onReply(m: Reply): void {
    const job = this.jobs.get(m.job);
    if (!job) return; // stopped or failed already
    switch (m.t) {
      case 'chunk':
        return job.onChunk(m.slot, m.len);
      case 'end':
        return job.onEnd(m.digest);
      case 'stopped':
        return job.onStopped();
      case 'error': {
        const err = new Error(`reading or hashing the plaintext failed in the sealing worker: ${m.message}`);
        if (m.code) Object.assign(err, { code: m.code });
        return job.fail(err);
      }
    }
  }

  private die(err: Error): void {
    this.dead = true;
    if (shared === this) shared = null;
    for (const job of [...this.jobs.values()]) job.fail(err);
  }
}

let shared: HashWorker | null = null;

/**
 * Read and hash the plaintext behind `fd` on the shared worker (started on first use), in `chunks` slots of
 * `chunkBytes`. The caller keeps `fd` open until close() resolves.
 */
export function workerSource(fd: number, chunkBytes: number, chunks: number): PlainSource {
  shared ??= new HashWorker();
  return shared.start(fd, chunkBytes, chunks);
}

/** Seals currently using the worker (for tests and diagnostics). */
export function sealWorkerJobs(): number {
  return shared?.activeJobs ?? 0;
}

/** Stop the worker; seals still using it fail. Not needed for a clean exit (the idle worker is unref'd). */
export async function closeSealWorker(): Promise<void> {
  const w = shared;
  shared = null;
  await w?.terminate();
}
