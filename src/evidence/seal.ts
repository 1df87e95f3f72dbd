/**
 * Sealing a finished segment in one streaming pass: the hash of the plaintext, encryption under a fresh data key,
 * the hash of the stored bytes (ciphertext followed by the tag), and the data key wrapped with the agency's public
 * key. The suite is the agency key's (segment-scheme.ts): SHA-256, AES-256-GCM and RSA-OAEP-256 for an RSA key; SM3,
 * SM4-CTR + HMAC-SM3 and SM2 encryption for an SM2 key. The gateway keeps no copy of the data key, so it cannot
 * read its own recordings back. The sealed file appears under its final name only once fsynced.
 *
 * Speed (bench/seal.bench.js): the work is CPU-bound. Per MB on the 2-core bench VM: each SHA-256 ~0.53 ms,
 * AES-256-GCM ~0.3 ms, reading ~0.05 ms, writing into the page cache 0.2 to 1.2 ms (it varies from run to run
 * there), so ~1.7 ms of CPU per MB or more, against ~0.6 ms for `openssl dgst -sha256`. For segments over one
 * chunk the work is split three ways so that it spreads over the cores (seal-worker.ts): a reader thread reads and
 * hashes the plaintext, this thread encrypts it, a writer thread writes (on the thread pool) and hashes the stored
 * bytes. The writer writes whole pages around the page cache (O_DIRECT, src/util/direct-io.ts), which saves the
 * kernel's page-cache cost and leaves the final fsync little to do; the file's tail, and small segments, go the
 * ordinary way, with the kernel told to start writing them back early.
 * The workers are for throughput (a backlog, bench/seal.bench.js); each costs a V8 isolate and 4 MiB of slots, ~24 MB
 * of RSS for the pair, so a caller that keeps up on one thread (the Sealer while recording: a few MB/s) passes
 * `workers: false`, and idle workers stop after a while (seal-worker.ts).
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsyncDir } from '../util/fsx.js';
import { openDirect } from '../util/direct-io.js';
import { workerSeal, type PlainChunk, type PlainSource } from './seal-worker.js';
import { createSegmentHash, encryptionKeyId, hashedSize, schemeForKey, type SegmentCipher, type SegmentScheme } from './segment-scheme.js';
import type { HashedSize, SegmentEncryption } from './types.js';

const CHUNK = 1 << 20;
/** Slots per seal on each worker: how far each runs ahead, and the memory it takes (2 x 4 x 1 MiB). */
const CHUNKS_IN_FLIGHT = 4;
/**
 * cipher.update() allocates its output and copies it once more; for a whole MiB that memory comes fresh from the
 * system (page faults). In 64 KiB pieces AES-GCM ran at ~3.5 GB/s per core here, against ~2.4 in 1 MiB ones.
 */
const ENCRYPT_PIECE = 64 * 1024;
/** Ciphertext writes in flight at once (segments sealed on this thread). */
const WRITES_IN_FLIGHT = 4;
/**
 * Start writeback (an fdatasync not waited for) every this many bytes, so the disk works while sealing goes on and
 * the final fsync has little left. Every MiB measured best: +15-20% on 2 MiB segments, the same on 64 MiB ones.
 */
const EARLY_SYNC_BYTES = 1 << 20;
/** Segments of one chunk or less are sealed on this thread alone: too little to overlap to pay the round trips. */
export const WORKER_MIN_BYTES = CHUNK + 1;

type Sealed = { plain: HashedSize; stored: HashedSize };

export interface SealResult {
  plain: HashedSize;
  stored: HashedSize;
  enc: SegmentEncryption;
}

export interface SealOptions {
  /** Spread a segment over one chunk across the two worker threads (the default); false: all on this thread. */
  workers?: boolean;
}

export async function sealFile(plainPath: string, sealedPath: string, agencyPublicKey: KeyObject, opts: SealOptions = {}): Promise<SealResult> {
  const scheme = schemeForKey(agencyPublicKey);
  const dataKey = scheme.suite.newDataKey();
  const iv = randomBytes(scheme.ivBytes);
  const cipher = scheme.cipher(dataKey, iv);
  const tmp = `${sealedPath}.tmp`;
  // Both opened at once: one wait less per segment.
  const opened = await Promise.allSettled([open(plainPath, 'r'), open(tmp, 'w', 0o640)]);
  const [input, output] = opened.map((r) => (r.status === 'fulfilled' ? r.value : null));
  if (!input || !output) {
    await Promise.allSettled([input?.close(), output?.close()]);
    if (output) await unlink(tmp).catch(() => undefined);
    throw (opened.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason;
  }
  let sealed: Sealed;
  let direct: FileHandle | undefined;
  try {
    try {
      const { size } = await input.stat();
      if (size >= WORKER_MIN_BYTES && opts.workers !== false) {
        direct = await openDirect(tmp);
        sealed = await sealOnWorkers(input, output, direct?.fd ?? -1, scheme, cipher);
      } else sealed = await sealHere(input, output, scheme, cipher);
      // One fsync covers the file whichever descriptor wrote it.
      await output.sync();
    } catch (err) {
      await closeAll(output, input, direct).catch(() => undefined);
      throw err;
    }
    await closeAll(output, input, direct);
    await rename(tmp, sealedPath);
    await fsyncDir(dirname(sealedPath));
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  const wrapped = scheme.suite.wrapKey(dataKey, agencyPublicKey);
  dataKey.fill(0);
  return {
    ...sealed,
    enc: {
      alg: scheme.alg,
      iv: iv.toString('base64'),
      keyWrap: scheme.keyWrap,
      wrappedKey: wrapped.toString('base64'),
      agencyKeyId: keyIdOf(agencyPublicKey),
    },
  };
}

/** Close both (at once), then throw the first failure if any. */
async function closeAll(...handles: (FileHandle | undefined)[]): Promise<void> {
  const closed = await Promise.allSettled(handles.filter((h) => h !== undefined).map((h) => h.close()));
  const failed = closed.find((c) => c.status === 'rejected');
  if (failed) throw failed.reason;
}

/** encryptionKeyId exports and hashes the key (~0.1 ms); a KeyObject never changes, so once per key is enough. */
const keyIds = new WeakMap<KeyObject, string>();

function keyIdOf(key: KeyObject): string {
  let id = keyIds.get(key);
  if (id === undefined) keyIds.set(key, (id = encryptionKeyId(key)));
  return id;
}

/**
 * Segments over one chunk: the reader reads and hashes the plaintext, this thread encrypts it into the writer's
 * slots, the writer writes and hashes the stored bytes. Resolves once every byte is written (not yet fsynced).
 */
async function sealOnWorkers(input: FileHandle, output: FileHandle, directFd: number, scheme: SegmentScheme, cipher: SegmentCipher): Promise<Sealed> {
  const { source, sink } = workerSeal(input.fd, output.fd, directFd, CHUNK, CHUNKS_IN_FLIGHT, EARLY_SYNC_BYTES, scheme.hash);
  try {
    let plainSize = 0;
    let storedSize = 0;
    for (;;) {
      const chunk = await source.next();
      if (!chunk) break;
      const out = await sink.take();
      const n = encryptInto(cipher, chunk.bytes, out.bytes);
      plainSize += chunk.bytes.length;
      source.release(chunk);
      sink.put(out, n);
      storedSize += n;
    }
    const out = await sink.take();
    const tagBytes = finish(cipher, out.bytes);
    sink.put(out, tagBytes);
    storedSize += tagBytes;
    const storedHash = await sink.end();
    return { plain: hashedSize(scheme, plainSize, source.digest()), stored: hashedSize(scheme, storedSize, storedHash) };
  } finally {
    // Both workers use the descriptors: they must be done with them before they close.
    await Promise.all([source.close(), sink.close()]);
  }
}

/**
 * Segments of one chunk or less, or any sealed without the workers, all on this thread. Resolves once every byte is
 * written (not yet fsynced).
 */
async function sealHere(input: FileHandle, output: FileHandle, scheme: SegmentScheme, cipher: SegmentCipher): Promise<Sealed> {
  const source = new LocalSource(input, scheme);
  const out = new Output(output);
  const hStored = createSegmentHash(scheme);
  try {
    let plainSize = 0;
    let storedSize = 0;
    for (;;) {
      const chunk = await source.next();
      if (!chunk) break;
      plainSize += chunk.bytes.length;
      const enc = cipher.update(chunk.bytes);
      hStored.update(enc);
      storedSize += enc.length;
      await out.write(enc);
    }
    const tag = cipher.final();
    hStored.update(tag);
    storedSize += tag.length;
    await out.write(tag);
    await out.flush();
    return { plain: hashedSize(scheme, plainSize, source.digest()), stored: hashedSize(scheme, storedSize, hStored.digest('hex')) };
  } finally {
    // Nothing may still use either descriptor when they close.
    await Promise.all([source.close(), out.settle()]);
  }
}

/** Encrypt `plain` into `out` (GCM and CTR: as many bytes as went in); returns the number of bytes. */
function encryptInto(cipher: SegmentCipher, plain: Uint8Array, out: Uint8Array): number {
  let n = 0;
  for (let off = 0; off < plain.length; off += ENCRYPT_PIECE) {
    const enc = cipher.update(plain.subarray(off, off + ENCRYPT_PIECE));
    out.set(enc, n);
    n += enc.length;
  }
  return n;
}

/** End the encryption and put the tag at the start of `out`; returns its length. */
function finish(cipher: SegmentCipher, out: Uint8Array): number {
  const tag = cipher.final();
  out.set(tag);
  return tag.length;
}

/** Sealing on this thread: read (one chunk ahead) and hash the plaintext here. */
class LocalSource implements PlainSource {
  private readonly hash: ReturnType<typeof createSegmentHash>;
  private readonly bufs = [takeLocalBuffer(), takeLocalBuffer()];
  private pending: Promise<PlainChunk> | null;
  private pos = 0;
  private slot = 0;

  constructor(
    private readonly fh: FileHandle,
    scheme: SegmentScheme,
  ) {
    this.hash = createSegmentHash(scheme);
    this.pending = this.read();
  }

  async next(): Promise<PlainChunk | null> {
    if (!this.pending) return null;
    const chunk = await this.pending;
    this.pending = null;
    if (chunk.bytes.length === 0) return null;
    this.pos += chunk.bytes.length;
    this.hash.update(chunk.bytes);
    this.pending = this.read();
    return chunk;
  }

  release(): void {
    // Two buffers used in turn: the one released is the one read into after the next call to next().
  }

  digest(): string {
    return this.hash.digest('hex');
  }

  async close(): Promise<void> {
    await this.pending?.catch(() => undefined);
    this.pending = null;
    for (const b of this.bufs.splice(0)) if (spareLocalBuffers.length < 4) spareLocalBuffers.push(b);
  }

  private read(): Promise<PlainChunk> {
    const slot = this.slot;
    this.slot ^= 1;
    const buf = this.bufs[slot]!;
    const p = this.fh.read(buf, 0, CHUNK, this.pos).then(({ bytesRead }) => ({ slot, bytes: buf.subarray(0, bytesRead) }));
    p.catch(() => undefined); // handled by next() or close(); not an unhandled rejection meanwhile
    return p;
  }
}

/** Read buffers kept across seals on this thread: fresh memory costs page faults that show at 1-2 MB per segment. */
const spareLocalBuffers: Buffer[] = [];

function takeLocalBuffer(): Buffer {
  return spareLocalBuffers.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
}

/**
 * The sealed temp file of a small segment, written at explicit offsets with a few writes in flight. Failures are
 * kept and thrown at the next call, so no write promise is ever left rejected without a handler.
 */
class Output {
  private readonly inFlight: Promise<void>[] = [];
  private syncing: Promise<void> | null = null;
  private pos = 0;
  private sinceSync = 0;
  private error: unknown = null;

  constructor(private readonly fh: FileHandle) {}

  async write(data: Uint8Array): Promise<void> {
    this.check();
    this.inFlight.push(this.track(writeAll(this.fh, data, this.pos)));
    this.pos += data.length;
    this.sinceSync += data.length;
    if (this.sinceSync >= EARLY_SYNC_BYTES && !this.syncing) {
      // Only a hint to the kernel to start writeback; durability comes from sealFile's fsync at the end.
      this.sinceSync = 0;
      this.syncing = this.track(this.fh.datasync()).then(() => {
        this.syncing = null;
      });
    }
    if (this.inFlight.length >= WRITES_IN_FLIGHT) await this.inFlight.shift();
    this.check();
  }

  /** Everything written (not fsynced: the caller does that), or the first failure thrown. */
  async flush(): Promise<void> {
    await this.settle();
    this.check();
  }

  /** Wait for every operation on the handle (never rejects); after that it may close. */
  async settle(): Promise<void> {
    await Promise.all([...this.inFlight.splice(0), this.syncing]);
  }

  private track(p: Promise<void>): Promise<void> {
    return p.catch((err: unknown) => {
      this.error ??= err;
    });
  }

  private check(): void {
    if (this.error) throw this.error;
  }
}

async function writeAll(fh: FileHandle, data: Uint8Array, pos: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, pos + done);
    if (bytesWritten === 0) throw new Error('writing the sealed file made no progress; check the disk (full or failing?)');
    done += bytesWritten;
  }
}
