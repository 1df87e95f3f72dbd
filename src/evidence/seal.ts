/**
 * Sealing a finished segment in one streaming pass: SHA-256 of the plaintext, AES-256-GCM encryption under a
 * fresh data key, SHA-256 of the stored bytes (ciphertext followed by the 16-byte tag), and the data key
 * wrapped with the agency's public key (RSA-OAEP-256). The gateway keeps no copy of the data key, so it cannot
 * read its own recordings back. The sealed file appears under its final name only once fsynced.
 *
 * Speed (bench/seal.bench.js): two hashes and the encryption are more than one core can do at the rate the disk
 * takes the data, so for segments over one chunk a worker thread reads and hashes the plaintext while this thread
 * encrypts, hashes the ciphertext and writes (seal-worker.ts). Writes go out without waiting for each other, and
 * the kernel is told to start writing the file to disk while sealing goes on, so the final fsync has little left.
 */
import { createCipheriv, createHash, publicEncrypt, randomBytes, constants, type KeyObject } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsyncDir } from '../util/fsx.js';
import { publicKeyId } from '../pki/keys.js';
import { workerSource, type PlainChunk, type PlainSource } from './seal-worker.js';
import type { HashedSize, SegmentEncryption } from './types.js';

export const GCM_TAG_BYTES = 16;
const CHUNK = 1 << 20;
/** Plaintext buffers per seal on the worker path: how far the worker reads ahead, and the memory it takes. */
const CHUNKS_IN_FLIGHT = 4;
/** Ciphertext writes in flight at once. */
const WRITES_IN_FLIGHT = 4;
/**
 * Start writeback (an fdatasync not waited for) every this many bytes, so the disk works while sealing goes on and
 * the final fsync has little left. Every MiB measured best: +15-20% on 2 MiB segments, the same on 64 MiB ones.
 */
const EARLY_SYNC_BYTES = 1 << 20;
/** Segments of one chunk or less hash the plaintext on this thread: too little to overlap to pay the round trip. */
export const WORKER_MIN_BYTES = CHUNK + 1;

export interface SealResult {
  plain: HashedSize;
  stored: HashedSize;
  enc: SegmentEncryption;
}

export function wrapDataKey(dataKey: Buffer, agencyPublicKey: KeyObject): Buffer {
  return publicEncrypt({ key: agencyPublicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, dataKey);
}

export async function sealFile(plainPath: string, sealedPath: string, agencyPublicKey: KeyObject): Promise<SealResult> {
  const dataKey = randomBytes(32);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', dataKey, iv);
  const hStored = createHash('sha256');
  const tmp = `${sealedPath}.tmp`;
  const input = await open(plainPath, 'r');
  let source: PlainSource | null = null;
  let plainSize = 0;
  let storedSize = 0;
  let plainSha256: string;
  try {
    const { size } = await input.stat();
    source = size >= WORKER_MIN_BYTES ? workerSource(input.fd, CHUNK, CHUNKS_IN_FLIGHT) : new LocalSource(input);
    const output = new Output(await open(tmp, 'w', 0o640));
    try {
      for (;;) {
        const chunk = await source.next();
        if (!chunk) break;
        plainSize += chunk.bytes.length;
        const enc = cipher.update(chunk.bytes);
        source.release(chunk);
        hStored.update(enc);
        storedSize += enc.length;
        await output.write(enc);
      }
      plainSha256 = source.digest();
      cipher.final();
      const tag = cipher.getAuthTag();
      hStored.update(tag);
      storedSize += tag.length;
      await output.write(tag);
      await output.finish();
    } finally {
      await output.close();
    }
    await rename(tmp, sealedPath);
    await fsyncDir(dirname(sealedPath));
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  } finally {
    // The worker reads through this descriptor: it must be done with it before it closes.
    await source?.close();
    await input.close();
  }
  const wrapped = wrapDataKey(dataKey, agencyPublicKey);
  dataKey.fill(0);
  return {
    plain: { size: plainSize, sha256: plainSha256 },
    stored: { size: storedSize, sha256: hStored.digest('hex') },
    enc: {
      alg: 'A256GCM',
      iv: iv.toString('base64'),
      keyWrap: 'RSA-OAEP-256',
      wrappedKey: wrapped.toString('base64'),
      agencyKeyId: publicKeyId(agencyPublicKey),
    },
  };
}

/** Small segments: read (one chunk ahead) and hash the plaintext on this thread. */
class LocalSource implements PlainSource {
  private readonly hash = createHash('sha256');
  private readonly bufs = [takeLocalBuffer(), takeLocalBuffer()];
  private pending: Promise<PlainChunk> | null;
  private pos = 0;
  private slot = 0;

  constructor(private readonly fh: FileHandle) {
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

/** Read buffers kept across small seals: fresh memory costs page faults that show at 1-2 MB per segment. */
const spareLocalBuffers: Buffer[] = [];

function takeLocalBuffer(): Buffer {
  return spareLocalBuffers.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
}

/**
 * The sealed temp file, written at explicit offsets with a few writes in flight. Failures are kept and thrown at
 * the next call, so no write promise is ever left rejected without a handler.
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
      // Only a hint to the kernel to start writeback; durability comes from the fsync in finish().
      this.sinceSync = 0;
      this.syncing = this.track(this.fh.datasync()).then(() => {
        this.syncing = null;
      });
    }
    if (this.inFlight.length >= WRITES_IN_FLIGHT) await this.inFlight.shift();
    this.check();
  }

  /** Everything written and fsynced. */
  async finish(): Promise<void> {
    await this.settle();
    this.check();
    await this.fh.sync();
  }

  /** Wait for every operation on the handle, then close it. */
  async close(): Promise<void> {
    await this.settle();
    await this.fh.close();
  }

  private async settle(): Promise<void> {
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
