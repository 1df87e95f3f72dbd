/**
 * A receiver's unfinished files in the bucket of its S3 store, so that the receiver keeps nothing of its own and any
 * receiver sharing the bucket and the database goes on with any file (docs/object-store.md §6):
 *
 * - each chunk's new bytes are *staged* as an object `PREFIX.partial/<device>/<name>.seg/<offset, 20 digits>`
 *   (a gateway's chunks are 16 KiB to 4 MiB, below S3's 5 MiB smallest part, and arrive at any receiver);
 * - the file is a multipart upload to its final key, made once under the device's lock and recorded in `uploads`;
 *   part k holds bytes [k·P, (k+1)·P) (P = `s3.partMiB`, at least 5 MiB; the last part shorter). The receiver that
 *   writes the last missing bytes of a part reads that part's staged chunks back and uploads it (Content-MD5);
 * - when every byte is written, ready() uploads any part still missing (ListParts says which: one a receiver was
 *   killed before sending) and completes the upload. The object then exists under its name, and is hashed from the
 *   bucket against the manifest before any receipt; the caller removes it when the hash differs.
 *
 * Nothing here is lost by a crash: the staged chunks are the bytes, the database says which are written, and the
 * bucket which parts it has. Uploads and staged chunks no file row describes are removed by the sweep.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { SEGMENTS_DIR } from '../evidence/head.js';
import { sealedFileName } from '../evidence/sealer.js';
import { RecgwError, describe } from '../util/errors.js';
import { digestOf } from '../store/same-bytes.js';
import { s3ClientFor, status, type S3StoreOptions } from '../store/s3-store.js';
import { checkName } from '../store/store.js';
import type { PartialBytes, ReadyFile } from './partial-bytes.js';
import { one, type Queryable, type ReceiverSql } from './receiver-sql.js';

const MiB = 1 << 20;
/** S3's most parts in one upload. */
const MAX_PARTS = 10_000;
const STAGING = '.partial/';
/** The most bytes of staged chunks kept in memory (see `cache`): a few files' worth. */
const CACHE_BYTES = 64 * MiB;
/** Files whose parts' hash is followed at once (a receiver has a few messages in hand at a time; a few are unfinished). */
const MAX_FOLLOWED = 64;
const SUFFIX = sealedFileName('');

interface Upload {
  upload_id: string;
  part_bytes: number;
}

/** The part size for a file of `size` bytes: `partMiB`, or larger when the file would need more than 10 000 parts. */
export function partBytes(size: number, partMiB: number): number {
  return Math.max(partMiB, Math.ceil(size / MAX_PARTS / MiB)) * MiB;
}

export class S3Partials implements PartialBytes {
  private readonly client: S3Client;
  /**
   * The chunks this receiver staged lately, by key, so that a part it assembles from its own chunks is not read back
   * (the usual case: one receiver gets a file's chunks). What is assembled from here is what goes up, and is hashed
   * as it goes up: a staged object changed meanwhile in the bucket changes nothing stored.
   */
  private readonly cache = new Map<string, Buffer>();
  private cached = 0;
  /** Removals of stored files' staged chunks under way (done()). */
  private readonly pending = new Set<Promise<void>>();
  /** Per file, the SHA-256 and ETags of the parts this receiver sent, in order from the first (follow()). */
  private readonly sent = new Map<string, { hash: Hash; etags: string[] }>();

  constructor(
    private readonly o: S3StoreOptions,
    private readonly sql: ReceiverSql,
    private readonly partMiB: number,
  ) {
    this.client = s3ClientFor(o);
  }

  async write(device: string, name: string, pieces: [number, number][], data: Buffer, dataOffset: number): Promise<void> {
    for (const [from, to] of pieces) {
      const body = data.subarray(from - dataOffset, to - dataOffset);
      const key = this.staged(device, name, from);
      // Not conditional: a claim gone stale is written again at the same offset. What is stored is hashed from the
      // bucket before any receipt, so a staged chunk never vouches for anything itself.
      await this.attempt(this.client.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: key, Body: body, ContentLength: body.length, ContentMD5: await digestOf(body, 'md5', 'base64') })), 'write', key);
      this.keep(key, Buffer.from(body));
    }
  }

  /** Keep a staged chunk's bytes (a copy: the message's buffer is the MQTT client's), the oldest going past CACHE_BYTES. */
  private keep(key: string, body: Buffer): void {
    this.forget(key);
    this.cache.set(key, body);
    this.cached += body.length;
    for (const [k] of this.cache) {
      if (this.cached <= CACHE_BYTES) break;
      this.forget(k);
    }
  }

  private forget(key: string): void {
    const had = this.cache.get(key);
    if (!had) return;
    this.cached -= had.length;
    this.cache.delete(key);
  }

  /** Upload each part these pieces completed (the part is whole now and was not before they were written). */
  async written(device: string, name: string, pieces: [number, number][], size: number): Promise<void> {
    const known = await this.known(this.sql, device, name);
    const part = known?.part_bytes ?? partBytes(size, this.partMiB);
    // A one-part file goes up whole once complete (ready()).
    if (!known && size <= part) return;
    const touched = new Set<number>();
    for (const [from, to] of pieces) for (let k = Math.floor(from / part); k * part < to; k++) touched.add(k);
    const whole: number[] = [];
    for (const k of touched) if (await this.covered(device, name, ...partRange(k, part, size))) whole.push(k);
    if (whole.length === 0) return;
    // Made with the first whole part, not the first chunk: a file given up before any part costs no upload.
    const up = known ?? (await this.upload(device, name, size));
    // Stored meanwhile by another receiver (nothing more to send); or made meanwhile by a receiver configured with
    // another part size: ready() sends the parts by the upload's size.
    if (!up || up.part_bytes !== part) return;
    for (const k of whole) await this.uploadPart(device, name, up, k, size);
  }

  async ready(device: string, name: string, size: number, stored: string): Promise<ReadyFile> {
    const key = this.o.prefix + checkName(stored);
    const known = await this.known(this.sql, device, name);
    // A file of one part goes up whole, in one conditional PUT (which finds an object already there): an upload
    // would cost three requests more.
    if (!known && size <= partBytes(size, this.partMiB)) return this.putWhole(device, name, size, key);
    // Completed by a receiver stopped before recording it: checked from the bucket.
    if ((await this.head(key)) !== undefined) return this.inBucket(key, size, undefined);
    try {
      const up = known ?? (await this.upload(device, name, size));
      if (!up) throw new RecgwError('storage', `${this.url(key)}: the file was stored by another receiver meanwhile`);
      return await this.complete(device, name, size, key, up);
    } catch (err) {
      // The upload is gone (404): completed by another receiver finishing the same file. Checked from the bucket.
      if (status((err as { cause?: unknown }).cause ?? err) === 404 && (await this.head(key)) === size) return this.inBucket(key, size, undefined);
      throw err;
    }
  }

  /** Send the parts the upload lacks and complete it; the SHA-256 of the object when this receiver sent it all. */
  private async complete(device: string, name: string, size: number, key: string, up: Upload): Promise<ReadyFile> {
    const have = await this.listParts(key, up.upload_id);
    const parts: { PartNumber: number; ETag: string }[] = [];
    const count = Math.max(1, Math.ceil(size / up.part_bytes));
    for (let k = 0; k < count; k++) {
      const [a, b] = partRange(k, up.part_bytes, size);
      const got = have.get(k + 1);
      // Missing: the receiver that completed it was stopped before sending it, or it failed; sent now.
      const etag = got && got.size === b - a ? got.etag : await this.uploadPart(device, name, up, k, size);
      parts.push({ PartNumber: k + 1, ETag: etag });
    }
    await this.attempt(this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.o.bucket, Key: key, UploadId: up.upload_id, MultipartUpload: { Parts: parts } })), 'write', key);
    // Every part as this receiver sent it, in order (the bucket's ETags are the MD5s of what it sent): its hash is
    // the object's, and the object need not be read back.
    const f = `${device}/${name}`;
    const mine = this.sent.get(f);
    this.sent.delete(f);
    const whole = mine && mine.etags.length === count && mine.etags.every((e, i) => e === parts[i]!.ETag);
    return this.inBucket(key, size, whole ? mine.hash.digest('hex') : undefined);
  }

  /** A one-part file: its staged chunks put together, hashed, and written once under its name. */
  private async putWhole(device: string, name: string, size: number, key: string): Promise<ReadyFile> {
    const body = await this.assemble(device, name, 0, size);
    const md5 = await digestOf(body, 'md5', 'base64');
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: key, Body: body, ContentLength: size, ContentMD5: md5, IfNoneMatch: '*' }));
    } catch (err) {
      // Put there meanwhile by another receiver finishing the same file: checked from the bucket.
      if (status(err) === 412) return this.inBucket(key, size, undefined);
      throw this.failed('write', key, err);
    }
    // The bucket answered 200 to a PUT of exactly these bytes (their Content-MD5): it holds them, no HEAD needed.
    return this.inBucket(key, size, createHash('sha256').update(body).digest('hex'), true);
  }

  /** `put`: this receiver's own PutObject of the whole object just succeeded. */
  private inBucket(key: string, size: number, sha256: string | undefined, put = false): ReadyFile {
    return {
      read: async () => this.get(key),
      ...(sha256 ? { sha256 } : {}),
      trustRunning: false,
      inStore: true,
      // A receipt is signed only for an object the bucket holds whole: asked again just before the recording
      // transaction, unless the answer to our own PUT of it said so (a completed upload or one found there is asked).
      store: async () => {
        if (put) return;
        const held = await this.head(key);
        if (held !== size) throw new RecgwError('storage', `${this.url(key)} holds ${held ?? 'no'} bytes after it was completed, not ${size}`);
      },
    };
  }

  async remove(q: Queryable, device: string, name: string): Promise<void> {
    const target = this.target(device, name);
    // Every upload to the key: the recorded one, and any a receiver made and was killed before recording.
    const uploads = await this.attempt(this.client.send(new ListMultipartUploadsCommand({ Bucket: this.o.bucket, Prefix: target })), 'read', target);
    for (const u of uploads.Uploads ?? []) {
      if (u.Key !== target) continue;
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.o.bucket, Key: target, UploadId: u.UploadId })).catch((err: unknown) => {
        if (status(err) !== 404) throw this.failed('write', target, err);
      });
    }
    await this.clear(q, device, name);
  }

  /** Stored: the staged chunks and the upload's row go. Called without waiting for it: close() waits. */
  done(q: Queryable, device: string, name: string): Promise<void> {
    const p = this.clear(q, device, name);
    this.pending.add(p);
    void p.catch(() => undefined).finally(() => this.pending.delete(p));
    return p;
  }

  /** The staged chunks and the upload's row (the upload is the object now; an orphan is the sweep's). */
  private async clear(q: Queryable, device: string, name: string): Promise<void> {
    await q.query('DELETE FROM uploads WHERE device = $1 AND name = $2', [device, name]);
    const prefix = this.stagedPrefix(device, name);
    const keys = (await this.stagedObjects(prefix)).map((o) => o.key);
    for (const k of keys) this.forget(k);
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      await this.attempt(this.client.send(new DeleteObjectsCommand({ Bucket: this.o.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } })), 'write', batch[0]!);
    }
  }

  async lastWritten(device: string, name: string): Promise<number | undefined> {
    const times = (await this.stagedObjects(this.stagedPrefix(device, name))).map((o) => o.modified);
    return times.length === 0 ? undefined : Math.max(...times);
  }

  async held(): Promise<{ device: string; name: string }[]> {
    const out = new Map<string, { device: string; name: string }>();
    const top = this.o.prefix + STAGING;
    for (const o of await this.stagedObjects(top)) {
      const [device, file] = o.key.slice(top.length).split('/');
      if (device && file?.endsWith(SUFFIX)) out.set(`${device}/${file}`, { device, name: file.slice(0, -SUFFIX.length) });
    }
    let marker: { KeyMarker?: string; UploadIdMarker?: string } = {};
    for (;;) {
      const page = await this.attempt(this.client.send(new ListMultipartUploadsCommand({ Bucket: this.o.bucket, Prefix: this.o.prefix, ...marker })), 'read', this.o.prefix);
      for (const u of page.Uploads ?? []) {
        const [device, dir, file, ...rest] = (u.Key ?? '').slice(this.o.prefix.length).split('/');
        if (device && dir === SEGMENTS_DIR && file?.endsWith(SUFFIX) && rest.length === 0) out.set(`${device}/${file}`, { device, name: file.slice(0, -SUFFIX.length) });
      }
      if (!page.IsTruncated) break;
      marker = { KeyMarker: page.NextKeyMarker, UploadIdMarker: page.NextUploadIdMarker };
    }
    return [...out.values()];
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    this.client.destroy();
  }

  /**
   * The file's upload: made once, under the device's lock, so every receiver adds its parts to the same one. None
   * (undefined) once the file is no longer partial: a receiver that wrote the file's last chunk while another stored
   * it (and cleared its upload) would otherwise open a new upload nobody completes.
   */
  private async upload(device: string, name: string, size: number): Promise<Upload | undefined> {
    const known = await this.known(this.sql, device, name);
    if (known) return known;
    return this.sql.transaction(async (tx): Promise<Upload | undefined> => {
      const there = await this.known(tx, device, name);
      if (there) return there;
      const file = await one<{ state: string }>(tx, 'SELECT state FROM files WHERE device = $1 AND name = $2', [device, name]);
      if (file?.state !== 'partial') return undefined;
      const key = this.target(device, name);
      // Killed between this and the commit: an upload no row names, which the sweep aborts.
      const made = await this.attempt(this.client.send(new CreateMultipartUploadCommand({ Bucket: this.o.bucket, Key: key })), 'write', key);
      const up = { upload_id: made.UploadId!, part_bytes: partBytes(size, this.partMiB) };
      await tx.query('INSERT INTO uploads(device, name, upload_id, part_bytes, created_at) VALUES ($1, $2, $3, $4, $5)', [device, name, up.upload_id, up.part_bytes, Date.now()]);
      return up;
    }, { device });
  }

  private async known(q: Queryable, device: string, name: string): Promise<Upload | undefined> {
    const row = await one<Upload>(q, 'SELECT upload_id, part_bytes FROM uploads WHERE device = $1 AND name = $2', [device, name]);
    return row && { upload_id: row.upload_id, part_bytes: Number(row.part_bytes) };
  }

  /** Whether the written chunks cover [a, b). */
  private async covered(device: string, name: string, a: number, b: number): Promise<boolean> {
    let at = a;
    for (const r of await this.rows(device, name, a, b)) {
      if (r.offset > at) return false;
      at = Math.max(at, r.offset + r.len);
    }
    return at >= b;
  }

  private async rows(device: string, name: string, a: number, b: number): Promise<{ offset: number; len: number }[]> {
    const rows = await this.sql.query<{ offset: number; len: number }>(
      'SELECT "offset", len FROM chunks WHERE device = $1 AND name = $2 AND claimed_at IS NULL AND "offset" < $3 AND "offset" + len > $4 ORDER BY "offset"',
      [device, name, b, a],
    );
    return rows.map((r) => ({ offset: Number(r.offset), len: Number(r.len) }));
  }

  /** Part k from the staged chunks that hold its bytes; returns its ETag. */
  private async uploadPart(device: string, name: string, up: Upload, k: number, size: number): Promise<string> {
    const body = await this.assemble(device, name, ...partRange(k, up.part_bytes, size));
    const key = this.target(device, name);
    const md5 = await digestOf(body, 'md5', 'base64');
    const res = await this.attempt(this.client.send(new UploadPartCommand({ Bucket: this.o.bucket, Key: key, UploadId: up.upload_id, PartNumber: k + 1, Body: body, ContentLength: body.length, ContentMD5: md5 })), 'write', key);
    this.follow(`${device}/${name}`, k, body, res.ETag!);
    return res.ETag!;
  }

  /** Hash the parts this receiver sends of a file in order from the first; anything else forgets the file. */
  private follow(f: string, k: number, body: Buffer, etag: string): void {
    if (k === 0) {
      this.sent.delete(f);
      if (this.sent.size >= MAX_FOLLOWED) this.sent.delete(this.sent.keys().next().value!);
      this.sent.set(f, { hash: createHash('sha256'), etags: [] });
    }
    const s = this.sent.get(f);
    if (!s) return;
    if (s.etags.length !== k) {
      this.sent.delete(f);
      return;
    }
    s.hash.update(body);
    s.etags.push(etag);
  }

  /** Bytes [a, b) of the file from its staged chunks (ranged GETs). */
  private async assemble(device: string, name: string, a: number, b: number): Promise<Buffer> {
    const body = Buffer.allocUnsafe(b - a);
    let at = a;
    for (const r of await this.rows(device, name, a, b)) {
      if (r.offset + r.len <= at) continue;
      if (r.offset > at) break;
      const end = Math.min(b, r.offset + r.len);
      const key = this.staged(device, name, r.offset);
      const mine = this.cache.get(key);
      const bytes = mine?.length === r.len ? mine.subarray(at - r.offset, end - r.offset) : Buffer.from(await (await this.get(key, `bytes=${at - r.offset}-${end - r.offset - 1}`)).transformToByteArray());
      if (bytes.length !== end - at) throw new RecgwError('storage', `${this.url(key)} gave ${bytes.length} bytes of ${end - at} asked for: the staged chunk is shorter than its row`);
      bytes.copy(body, at - a);
      at = end;
    }
    if (at < b) throw new RecgwError('internal', `bytes ${at} to ${b} of ${device}/${name} are not all written`);
    return body;
  }

  private async listParts(key: string, uploadId: string): Promise<Map<number, { etag: string; size: number }>> {
    const out = new Map<number, { etag: string; size: number }>();
    let marker: string | undefined;
    for (;;) {
      const page = await this.attempt(this.client.send(new ListPartsCommand({ Bucket: this.o.bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker })), 'read', key);
      for (const p of page.Parts ?? []) out.set(p.PartNumber!, { etag: p.ETag!, size: p.Size ?? 0 });
      if (!page.IsTruncated) return out;
      marker = page.NextPartNumberMarker;
    }
  }

  private async stagedObjects(prefix: string): Promise<{ key: string; modified: number }[]> {
    const out: { key: string; modified: number }[] = [];
    let token: string | undefined;
    do {
      const page = await this.attempt(this.client.send(new ListObjectsV2Command({ Bucket: this.o.bucket, Prefix: prefix, ContinuationToken: token })), 'read', prefix);
      for (const o of page.Contents ?? []) out.push({ key: o.Key!, modified: o.LastModified?.getTime() ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  private async head(key: string): Promise<number | undefined> {
    try {
      return (await this.client.send(new HeadObjectCommand({ Bucket: this.o.bucket, Key: key }))).ContentLength;
    } catch (err) {
      if (status(err) === 404) return undefined;
      throw this.failed('read', key, err);
    }
  }

  private async get(key: string, range?: string): Promise<Readable & { transformToByteArray(): Promise<Uint8Array> }> {
    const res = await this.attempt(this.client.send(new GetObjectCommand({ Bucket: this.o.bucket, Key: key, Range: range })), 'read', key);
    return res.Body as Readable & { transformToByteArray(): Promise<Uint8Array> };
  }

  private async attempt<T>(request: Promise<T>, what: 'read' | 'write', key: string): Promise<T> {
    try {
      return await request;
    } catch (err) {
      throw this.failed(what, key, err);
    }
  }

  /** The file's key in the store. */
  private target(device: string, name: string): string {
    return this.o.prefix + checkName(`${device}/${SEGMENTS_DIR}/${sealedFileName(name)}`);
  }

  private stagedPrefix(device: string, name: string): string {
    return `${this.o.prefix}${STAGING}${checkName(`${device}/${sealedFileName(name)}`)}/`;
  }

  private staged(device: string, name: string, offset: number): string {
    return this.stagedPrefix(device, name) + String(offset).padStart(20, '0');
  }

  private url(key: string): string {
    return `s3://${this.o.bucket}/${key}`;
  }

  private failed(what: 'read' | 'write', key: string, err: unknown): RecgwError {
    return new RecgwError('storage', `could not ${what} ${this.url(key)} at ${this.o.endpoint}: ${describe(err)}`, { cause: err });
  }
}

/** Bytes [a, b) of part k. */
function partRange(k: number, part: number, size: number): [number, number] {
  return [k * part, Math.min(size, (k + 1) * part)];
}
