/**
 * The evidence store in an S3 bucket under a prefix (Ceph's radosgw, or any server speaking S3 with path-style
 * addressing). Keys are `prefix + name`, so a bucket holds the names and bytes a folder store holds
 * (docs/object-store.md), except for append-only files, which S3 cannot append to: `d/ledger.jsonl` is held as the
 * write-once pieces `d/ledger.jsonl.parts/<offset, 20 digits>`, and reads put them back together.
 *
 * Write-once is S3's conditional write: PUT with If-None-Match: * fails (412) when the key exists, so of two writers
 * exactly one wins (Ceph 16's radosgw honours it; test/integration/throwaway-radosgw.test.ts). A piece's key is its
 * offset, so two appends at the same length collide the same way. Not in a bucket with versioning enabled (which
 * S3 Object Lock requires): there Ceph 16 takes a second conditional PUT as a new version, so checkWriteOnce()
 * refuses such a bucket (docs/object-store.md §2).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Agent } from 'node:https';
import { Readable } from 'node:stream';
import {
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type _Object,
} from '@aws-sdk/client-s3';
import { RecgwError, describe } from '../util/errors.js';
import { checkDir, checkName, isAppendOnly, type EvidenceStore, type PutResult } from './store.js';
import { digestOf, sameBytes } from './same-bytes.js';
import { traceS3 } from './s3-trace.js';
import { PARTS, chainOf, compactionRun, parsePiece, pieceKey, type Piece } from './s3-pieces.js';

export interface S3StoreOptions {
  /** http(s)://host:port of the S3 service. */
  endpoint: string;
  bucket: string;
  /** Key prefix, '' or ending in '/': the store's top folder in the bucket. */
  prefix: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Signing region; radosgw accepts any name. Default "default". */
  region?: string;
  /** PEM of the CA that issued an https endpoint's certificate, when it is not a public one. */
  ca?: string;
  /** Where a compaction of an append-only file's pieces that failed is said (it is tried again after later appends). */
  warn?: (message: string) => void;
}

/** Pieces of an append-only file asked for ahead of the one being read. */
const READ_AHEAD = 8;
/** How often a read goes back to the listing when a piece it listed is gone (compacted meanwhile). */
const RELISTS = 3;

/** A piece listed and then not found: a compaction replaced it meanwhile (s3-pieces.ts). */
class PieceGone extends Error {}

/** The bytes of pieces this store appended lately, so that compacting them needs no GET of each (bounded). */
const RECENT_BYTES = 32 << 20;

export class S3Store implements EvidenceStore {
  readonly location: string;
  private readonly client: S3Client;
  /** Compactions under way, by file key: one at a time per file, and close() waits for them. */
  private readonly compacting = new Map<string, Promise<void>>();
  /** Pieces this store appended, by key, oldest first, at most RECENT_BYTES in all. */
  private readonly recent = new Map<string, Buffer>();
  private recentBytes = 0;

  constructor(private readonly o: S3StoreOptions) {
    this.location = `s3://${o.bucket}/${o.prefix}`;
    this.client = s3ClientFor(o);
  }

  async putOnce(name: string, data: Buffer | { file: string; md5?: string }): Promise<PutResult> {
    const key = this.key(name);
    const body = Buffer.isBuffer(data) ? (): Buffer => data : (): Readable => createReadStream(data.file);
    const length = Buffer.isBuffer(data) ? data.length : (await stat(data.file)).size;
    // No HEAD first: it cost a third of the throughput (bench/README.md, s3-store); a retry of a stored file sends it
    // again and hears 412. Content-MD5: the server checks the bytes it received (400 BadDigest otherwise), so what
    // it stores is what we hashed.
    const md5 = (!Buffer.isBuffer(data) && data.md5) || (await digestOf(body(), 'md5', 'base64'));
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: key, Body: body(), ContentLength: length, ContentMD5: md5, IfNoneMatch: '*' }));
      return 'written';
    } catch (err) {
      if (status(err) !== 412) throw this.failed('write', key, err);
    }
    const there = await this.get(key);
    if (there && (await sameBytes(there, body()))) return 'exists';
    throw new RecgwError('storage', `${this.url(key)} already holds other bytes; the store writes an object once and never replaces it`);
  }

  async replace(name: string, data: Buffer): Promise<void> {
    const key = this.key(name);
    await this.client.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: key, Body: data, ContentMD5: await digestOf(data, 'md5', 'base64') })).catch((err: unknown) => {
      throw this.failed('write', key, err);
    });
  }

  /**
   * The piece at `offset` is PUT (conditionally) while the pieces are listed, one round trip for both (listing first
   * cost a round trip per receipt filed: bench/README.md, s3-ingest). The usual case: written, and the pieces before
   * it end at `offset`. A gap (the store lost bytes) removes the piece again and is refused; a 412 (a writer that died
   * before its commit, or a retry) is settled from the listing. A piece past `offset` exists only while the one at
   * `offset` does (a cut removes that one last), so a PUT that succeeds is at the file's end.
   */
  async append(name: string, offset: number, data: Buffer): Promise<void> {
    const key = this.key(name);
    const piece = pieceKey(key, offset);
    const md5 = await digestOf(data, 'md5', 'base64');
    const put = (): Promise<unknown> => this.client.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: piece, Body: data, ContentMD5: md5, IfNoneMatch: '*' }));
    // Settled either way at once: a listing that fails while the PUT is under way must not go unhandled.
    const listed = this.listPieces(key).then(
      (all) => chainOf(all, (k) => this.url(k), key),
      (err: unknown) => ({ err }),
    );
    const first = await put().then(
      () => 'written' as const,
      (err: unknown) => (status(err) === 412 ? ('taken' as const) : err),
    );
    const l = await listed;
    if (first !== 'written' && first !== 'taken') throw this.failed('write', piece, first);
    if ('err' in l) throw l.err;
    const { chain: pieces, covered } = l;
    const before = pieces.filter((p) => p.offset < offset);
    const held = before.reduce((n, p) => n + p.size, 0);
    if (held !== offset) {
      if (first === 'written') await this.deleteKeys([piece]);
      throw new RecgwError('storage', `${this.url(key)} holds ${held} bytes in pieces before offset ${offset}, not ${offset}: the store lost or mixed data`);
    }
    // What lies before `offset` is committed (the caller's length) and is never cut again: it may be compacted.
    this.compact(key, before, covered, offset);
    if (first === 'written') return this.remember(piece, Buffer.from(data));
    const after = pieces.filter((p) => p.offset >= offset);
    // A retry of an append that was written but not committed: the same piece is there, nothing after it.
    if (after.length === 1 && after[0]!.offset === offset && after[0]!.size === data.length) {
      const there = await this.get(after[0]!.key);
      if (there && (await sameBytes(there, data))) return;
    }
    // Past the committed length: a writer that died before its commit. Cut, as the folder store truncates, the piece
    // at `offset` last (see above).
    await this.deleteKeys(after.filter((p) => p.offset !== offset).map((p) => p.key));
    await this.deleteKeys(after.filter((p) => p.offset === offset).map((p) => p.key));
    await put().catch((err: unknown) => {
      throw status(err) === 412
        ? new RecgwError('storage', `${this.url(piece)} was written by another writer meanwhile; appends to one file must be serialised (the receiver's device lock)`)
        : this.failed('write', piece, err);
    });
  }

  async read(name: string): Promise<Buffer | undefined> {
    const key = this.key(name);
    if (!isAppendOnly(name)) {
      const body = await this.get(key);
      return body && Buffer.from(await body.transformToByteArray());
    }
    const pieces = await this.pieces(key);
    if (pieces.length === 0) return undefined;
    const out: Buffer[] = [];
    for await (const chunk of this.joined(key, pieces)) out.push(chunk);
    return Buffer.concat(out);
  }

  async tail(name: string, bytes: number): Promise<{ size: number; data: Buffer }> {
    const key = this.key(name);
    const pieces = await this.pieces(key);
    const size = pieces.reduce((n, p) => n + p.size, 0);
    // Only the bytes asked for: the last piece may be a compacted one of many megabytes.
    const out: Buffer[] = [];
    for await (const b of this.joined(key, pieces, Math.max(0, size - bytes))) out.push(b);
    return { size, data: Buffer.concat(out) };
  }

  async stream(name: string): Promise<Readable | undefined> {
    if (!isAppendOnly(name)) return (await this.get(this.key(name))) as Readable | undefined;
    const key = this.key(name);
    const pieces = await this.pieces(key);
    return pieces.length === 0 ? undefined : Readable.from(this.joined(key, pieces), { objectMode: false });
  }

  /**
   * An append-only file's pieces in order from byte `from` (of the first), each checked: a long ledger is never whole
   * in memory. The next few pieces are asked for while one is used (a piece is one receiver message's lines, small;
   * one GET each, one after another, made a rebuild from a bucket wait on round trips: bench/README.md, index-s3). A
   * piece gone since the listing (compacted meanwhile) sends it back to the listing, going on from the byte it had
   * reached, up to the end the first listing gave.
   */
  private async *joined(key: string, pieces: Piece[], from = 0): AsyncGenerator<Buffer> {
    const start = pieces[0]?.offset ?? 0;
    let at = start;
    for (const p of pieces) {
      if (p.offset !== at) throw new RecgwError('storage', `${this.url(key)}: piece at offset ${p.offset} follows ${at} bytes; the pieces must be contiguous`);
      at += p.size;
    }
    const end = at;
    at = Math.max(start, from);
    let list = pieces;
    for (let relisted = 0; at < end; relisted++) {
      try {
        for await (const b of this.readAhead(list, at, end)) {
          yield b;
          at += b.length;
        }
        return;
      } catch (err) {
        if (!(err instanceof PieceGone)) throw err;
        if (relisted === RELISTS) throw new RecgwError('storage', `${this.url(key)}: ${err.message}, and still after listing its pieces again ${RELISTS} times`);
        list = await this.pieces(key);
      }
    }
  }

  /** The bytes [at, end) from the pieces of `list` that hold them, READ_AHEAD pieces asked for at a time. */
  private async *readAhead(list: Piece[], at: number, end: number): AsyncGenerator<Buffer> {
    const wanted = list.filter((p) => p.offset + p.size > at && p.offset < end);
    if (wanted[0] === undefined || wanted[0].offset > at) throw new PieceGone(`no piece listed holds byte ${at}`);
    const fetch = async (p: Piece): Promise<Buffer> => {
      const skip = Math.max(0, at - p.offset);
      const upTo = Math.min(p.size, end - p.offset);
      const bytes = await this.getRange(p.key, skip, upTo, p.size);
      if (!bytes) throw new PieceGone(`${this.url(p.key)} was listed but is gone`);
      if (bytes.length !== upTo - skip) throw new RecgwError('storage', `${this.url(p.key)} holds ${bytes.length + skip} bytes, listed as ${p.size}`);
      return bytes;
    };
    const ahead: Promise<Buffer>[] = [];
    let next = 0;
    try {
      for (let i = 0; i < wanted.length; i++) {
        while (next < wanted.length && ahead.length < READ_AHEAD) {
          const got = fetch(wanted[next++]!);
          // Awaited below in turn; a failure of one asked for ahead is not left unhandled if reading stops first.
          got.catch(() => undefined);
          ahead.push(got);
        }
        yield await ahead.shift()!;
      }
    } finally {
      // Reading stopped early (a failure, or the reader's choice): the pieces asked for are let go.
      ahead.length = 0;
    }
  }

  /** Bytes [from, to) of an object of `size` bytes (asked for whole when that is all of it), or undefined when it is not there. */
  private async getRange(key: string, from: number, to: number, size: number): Promise<Buffer | undefined> {
    if (from >= to) return Buffer.alloc(0);
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.o.bucket, Key: key, ...(from > 0 || to < size ? { Range: `bytes=${from}-${to - 1}` } : {}) }));
      return Buffer.from(await (res.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    } catch (err) {
      if (status(err) === 404) return undefined;
      throw this.failed('read', key, err);
    }
  }

  async size(name: string): Promise<number | undefined> {
    const key = this.key(name);
    if (isAppendOnly(name)) {
      const pieces = await this.pieces(key);
      return pieces.length === 0 ? undefined : pieces.reduce((n, p) => n + p.size, 0);
    }
    return this.headSize(key);
  }

  private async headSize(key: string): Promise<number | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.o.bucket, Key: key }));
      return head.ContentLength;
    } catch (err) {
      if (status(err) === 404) return undefined;
      throw this.failed('read', key, err);
    }
  }

  async list(dir: string): Promise<string[]> {
    const d = checkDir(dir);
    const prefix = this.o.prefix + (d === '' ? '' : `${d}/`);
    const names = new Set<string>();
    for (const page of await this.listAll(prefix, '/')) {
      for (const o of page.Contents ?? []) names.add(o.Key!.slice(prefix.length));
      for (const p of page.CommonPrefixes ?? []) {
        const sub = p.Prefix!.slice(prefix.length);
        // The receivers' staging of unfinished files (`.partial/`, s3-partials.ts): never objects of the store.
        if (sub.startsWith('.')) continue;
        names.add(sub.endsWith(PARTS) ? sub.slice(0, -PARTS.length) : sub);
      }
    }
    return [...names].sort();
  }

  async remove(name: string): Promise<void> {
    const key = this.key(name);
    const keys = isAppendOnly(name) ? (await this.listPieces(key)).map((p) => p.key) : [key];
    if (keys.length > 0) await this.deleteKeys(keys);
  }

  async removeAll(dir: string): Promise<void> {
    const prefix = `${this.key(checkDir(dir))}/`;
    const keys = (await this.listAll(prefix)).flatMap((page) => (page.Contents ?? []).map((o) => o.Key!));
    if (keys.length > 0) await this.deleteKeys(keys);
  }

  async checkWriteOnce(): Promise<string | undefined> {
    let versioning: string | undefined;
    try {
      versioning = (await this.client.send(new GetBucketVersioningCommand({ Bucket: this.o.bucket }))).Status;
    } catch (err) {
      // A server that does not answer at all is the caller's failure to start; one that will not say (403 for these
      // keys, 501 from a server without versioning) is only a warning.
      const code = status(err);
      if (code === undefined || (code >= 500 && code !== 501)) throw this.failed('read', this.o.prefix, err);
      return `could not read the versioning of bucket ${this.o.bucket} (HTTP ${code}${code === 403 ? ': these keys may not' : ''}); the store's write-once rule holds only while versioning is not enabled on it (docs/object-store.md §2)`;
    }
    if (versioning === 'Enabled') {
      throw new RecgwError(
        'config',
        `bucket ${this.o.bucket} has versioning enabled (as S3 Object Lock requires): there a second write of a name is kept as a new version instead of refused (Ceph 16 ignores If-None-Match: * on it), so nothing is written once. Use a bucket without versioning, or suspend it (aws s3api put-bucket-versioning --bucket ${this.o.bucket} --versioning-configuration Status=Suspended); docs/object-store.md §2`,
      );
    }
    return undefined;
  }

  async close(): Promise<void> {
    await Promise.all(this.compacting.values());
    this.client.destroy();
  }

  private key(name: string): string {
    return this.o.prefix + checkName(name);
  }

  private url(key: string): string {
    return `s3://${this.o.bucket}/${key}`;
  }

  private failed(what: 'read' | 'write', key: string, err: unknown): RecgwError {
    // 403: the keys are wrong or lack the right (radosgw's answer to a list has no body: the SDK says only UnknownError).
    const why =
      status(err) === 403
        ? `the S3 service refused these keys (HTTP 403, ${describe(err)}); check the access key and secret key (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY on the command line, the s3 block of a config) and that they may use the bucket`
        : describe(err);
    return new RecgwError('storage', `could not ${what} ${this.url(key)} at ${this.o.endpoint}: ${why}`, { cause: err });
  }

  private async get(key: string): Promise<(Readable & { transformToByteArray(): Promise<Uint8Array> }) | undefined> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.o.bucket, Key: key }));
      return res.Body as Readable & { transformToByteArray(): Promise<Uint8Array> };
    } catch (err) {
      if (status(err) === 404) return undefined;
      throw this.failed('read', key, err);
    }
  }

  private remember(piece: string, data: Buffer): void {
    this.recent.set(piece, data);
    this.recentBytes += data.length;
    for (const [k, b] of this.recent) {
      if (this.recentBytes <= RECENT_BYTES) break;
      this.recent.delete(k);
      this.recentBytes -= b.length;
    }
  }

  private forget(pieces: string[]): void {
    for (const k of pieces) {
      const b = this.recent.get(k);
      if (b) this.recentBytes -= b.length;
      this.recent.delete(k);
    }
  }

  /** Every piece listed under an append-only file, compacted or not, covered or not. */
  private async listPieces(key: string): Promise<Piece[]> {
    const out: Piece[] = [];
    for (const page of await this.listAll(key + PARTS)) {
      for (const o of page.Contents ?? []) out.push(parsePiece(key, o.Key!, o.Size ?? 0, (k) => this.url(k), o.ETag));
    }
    return out;
  }

  /** An append-only file's pieces that make it up, in offset order (s3-pieces.ts chainOf). */
  private async pieces(key: string): Promise<Piece[]> {
    return chainOf(await this.listPieces(key), (k) => this.url(k), key).chain;
  }

  /**
   * In the background (appends do not wait): join the first run of pieces worth joining below `committed` into one
   * compacted piece, written once, then remove the pieces it replaces and any a compaction before left over. A
   * reader that listed the small pieces meanwhile finds one gone and lists again (joined). A failure leaves what was
   * there (the file reads the same); the next append tries again.
   */
  private compact(key: string, chain: Piece[], covered: Piece[], committed: number): void {
    if (this.compacting.has(key)) return;
    const run = compactionRun(chain, committed);
    if (!run && covered.length === 0) return;
    const work = (async (): Promise<void> => {
      if (run) {
        const offset = run[0]!.offset;
        const end = run.at(-1)!.offset + run.at(-1)!.size;
        const parts: Buffer[] = [];
        // Kept bytes are used only where they are what the bucket holds (the listing's MD5 of each piece).
        const kept = run.map((p) => this.recent.get(p.key));
        const same = (b: Buffer | undefined, p: Piece): boolean => b !== undefined && p.md5 !== undefined && createHash('md5').update(b).digest('hex') === p.md5;
        if (kept.every((b, i) => same(b, run[i]!))) parts.push(...(kept as Buffer[]));
        else for await (const b of this.joined(key, run, offset)) parts.push(b);
        const bytes = Buffer.concat(parts);
        if (bytes.length !== end - offset) throw new RecgwError('storage', `${this.url(key)}: pieces ${offset} to ${end} read as ${bytes.length} bytes`);
        const target = pieceKey(key, offset, end);
        const md5 = await digestOf(bytes, 'md5', 'base64');
        await this.client.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: target, Body: bytes, ContentMD5: md5, IfNoneMatch: '*' })).catch(async (err: unknown) => {
          if (status(err) !== 412) throw this.failed('write', target, err);
          // Another receiver compacted the same run: the same bytes, or the store is not what its pieces say.
          const there = await this.get(target);
          if (!there || !(await sameBytes(there, bytes))) throw new RecgwError('storage', `${this.url(target)} already holds other bytes than the pieces it joins`);
        });
      }
      const gone = [...(run ?? []), ...covered].map((p) => p.key);
      await this.deleteKeys(gone);
      this.forget(gone);
    })()
      .catch((err: unknown) => this.o.warn?.(`could not compact the pieces of ${this.url(key)} (tried again after a later append): ${describe(err)}`))
      .finally(() => this.compacting.delete(key));
    this.compacting.set(key, work);
  }

  private async listAll(prefix: string, delimiter?: string): Promise<{ Contents?: _Object[]; CommonPrefixes?: { Prefix?: string }[] }[]> {
    const pages = [];
    let token: string | undefined;
    do {
      const page = await this.client
        .send(new ListObjectsV2Command({ Bucket: this.o.bucket, Prefix: prefix, Delimiter: delimiter, ContinuationToken: token }))
        .catch((err: unknown) => Promise.reject(this.failed('read', prefix, err)));
      pages.push(page);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return pages;
  }

  private async deleteKeys(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const res = await this.client
        .send(new DeleteObjectsCommand({ Bucket: this.o.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }))
        .catch((err: unknown) => Promise.reject(this.failed('write', batch[0]!, err)));
      if (res.Errors?.length) throw new RecgwError('storage', `could not remove ${this.url(res.Errors[0]!.Key ?? '')}: ${res.Errors[0]!.Message ?? res.Errors[0]!.Code}`);
    }
  }
}

/** A client of the service as the store talks to it (the receiver's staging of unfinished files too, s3-partials.ts). */
export function s3ClientFor(o: S3StoreOptions): S3Client {
  const client = new S3Client({
    endpoint: o.endpoint,
    region: o.region ?? 'default',
    // Ceph's radosgw (and most appliances) answer path-style only: http://host/bucket/key.
    forcePathStyle: true,
    credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey },
    // The SDK's default checksums need a trailer radosgw 16 does not take on streamed bodies.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(o.ca ? { requestHandler: { httpsAgent: new Agent({ ca: o.ca, keepAlive: true }) } } : {}),
  });
  return traceS3(client);
}

/** The HTTP status of an S3 error (404 for NoSuchKey/NotFound), or undefined for a network failure. */
export function status(err: unknown): number | undefined {
  if (err instanceof S3ServiceException) return err.$metadata.httpStatusCode;
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}
