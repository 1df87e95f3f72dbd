/**
 * Issue 20 item 2, unfinished files in the bucket (src/receiver/s3-partials.ts), through FileIngest's own code on a
 * real radosgw and a real PostgreSQL: two "receivers" (each its own pool and S3 client, no working folder) share one
 * file's chunks out of order; the parts of the multipart upload go up as they complete, from the staged chunks; the
 * object appears under its name only when complete and is receipted only after its hash from the bucket matched. The
 * attacker edits a staged chunk in the bucket: no receipt, no object, and the resent file is stored. The sweep aborts
 * uploads and removes staged chunks that no file row describes, and those of files abandoned past their limit.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, ListPartsCommand, PutObjectCommand, UploadPartCommand, type S3Client } from '@aws-sdk/client-s3';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { createDatabase, withPostgres } from '../helpers/postgres.js';
import { s3Client, withRadosgw } from '../helpers/radosgw.js';
import { receiptSigner } from '../helpers/report-store.js';
import { FileIngest } from '../../src/receiver/file-ingest.js';
import { S3Partials } from '../../src/receiver/s3-partials.js';
import { PartialSweep } from '../../src/receiver/partial-sweep.js';
import { DEFAULT_LIMITS } from '../../src/receiver/limits.js';
import { openPostgresReceiverSql } from '../../src/receiver/postgres-receiver-sql.js';
import type { ReceiverSql } from '../../src/receiver/receiver-sql.js';
import type { LeafLog } from '../../src/receiver/agency-log.js';
import { S3Store } from '../../src/store/s3-store.js';
import { silentLogger } from '../../src/util/log.js';
import type { ChunkHeader } from '../../src/uplink/wire.js';

afterAll(cleanupTmp);

const MiB = 1024 * 1024;
const DEVICE = 'parts-dev';
const DEADLINE = '2026-11-27T00:00:00.000Z';

describe('unfinished files in the bucket, assembled as multipart uploads', () => {
  const rgw = withRadosgw();
  const pgs = withPostgres();
  const ca = makeCa();
  let run = 0;

  interface Rx {
    sql: ReceiverSql;
    partials: S3Partials;
    ingest: FileIngest;
  }

  /** Two receivers on one database and one bucket prefix; nothing of theirs on local disk but an empty folder. */
  async function world(): Promise<{ rx: Rx[]; prefix: string; raw: S3Client; leaves: () => number; close(): Promise<void> }> {
    const url = await createDatabase(pgs.server(), `parts_${++run}`);
    const s = rgw.server();
    const prefix = `parts-${run}/`;
    const o = { endpoint: s.endpoint, bucket: s.bucket, prefix, accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey };
    let leaves = 0;
    const log: LeafLog = {
      append: async (_tx, l) => {
        const first = leaves;
        leaves += l.length;
        return { first, size: leaves, checkpoint: '', proof: undefined };
      },
    };
    const rx: Rx[] = [];
    for (const name of ['receiver:a', 'receiver:b']) {
      const sql = await openPostgresReceiverSql(url, `parts_${run}`);
      const partials = new S3Partials(o, sql, 5);
      const evidence = new S3Store(o);
      rx.push({ sql, partials, ingest: new FileIngest({ evidence, work: tmp('recgw-nowork-'), partials }, sql, receiptSigner(ca.dir), name, log) });
    }
    const raw = s3Client(s);
    return {
      rx,
      prefix,
      raw,
      leaves: () => leaves,
      async close() {
        for (const r of rx) {
          await r.partials.close();
          await r.sql.close();
        }
        raw.destroy();
      },
    };
  }

  /** `fn` in a new world, closed after. */
  async function inWorld(fn: (w: Awaited<ReturnType<typeof world>>) => Promise<void>): Promise<void> {
    const w = await world();
    try {
      await fn(w);
    } finally {
      await w.close();
    }
  }

  function file(size: number, name: string): { bytes: Buffer; header: (offset: number) => ChunkHeader; manifest: (sql: ReceiverSql) => Promise<unknown> } {
    const bytes = randomBytes(size);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    return {
      bytes,
      header: (offset) => ({ v: 1, device: DEVICE, name, offset, size, sha256, deadline: DEADLINE }),
      manifest: (sql) => sql.query('INSERT INTO manifests(device, name, seq, size, sha256) VALUES ($1, $2, 1, $3, $4)', [DEVICE, name, size, sha256]),
    };
  }

  const key = (prefix: string, name: string): string => `${prefix}${DEVICE}/segments/${name}.seg`;
  async function headSize(raw: S3Client, k: string): Promise<number | undefined> {
    try {
      return (await raw.send(new HeadObjectCommand({ Bucket: rgw.server().bucket, Key: k }))).ContentLength;
    } catch {
      return undefined;
    }
  }
  async function staged(raw: S3Client, prefix: string): Promise<string[]> {
    const page = await raw.send(new ListObjectsV2Command({ Bucket: rgw.server().bucket, Prefix: `${prefix}.partial/` }));
    return (page.Contents ?? []).map((c) => c.Key!);
  }
  /** The staged chunks left, once the removal that follows storing (not waited for by finalize) is done. */
  async function stagedSettled(raw: S3Client, prefix: string): Promise<string[]> {
    for (let i = 0; i < 50; i++) {
      const left = await staged(raw, prefix);
      if (left.length === 0) return left;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return staged(raw, prefix);
  }
  async function uploads(raw: S3Client, prefix: string): Promise<string[]> {
    const page = await raw.send(new ListMultipartUploadsCommand({ Bucket: rgw.server().bucket, Prefix: prefix }));
    return (page.Uploads ?? []).map((u) => u.Key!);
  }

  it('chunks spread over two receivers out of order: parts go up as they complete, one object, one receipt, after it is whole', () =>
    inWorld(async (w) => {
      // 12 MiB + 100 in 1 MiB chunks: parts of 5, 5 and 2 MiB + 100.
      const f = file(12 * MiB + 100, 'seg-1');
      await f.manifest(w.rx[0]!.sql);
      const offsets = Array.from({ length: 13 }, (_, i) => i * MiB).sort((a, b) => ((a * 7) % 13) - ((b * 7) % 13));
      for (const [i, o] of offsets.entries()) {
        const r = w.rx[i % 2]!;
        const out = await r.ingest.chunk(f.header(o), f.bytes.subarray(o, o + MiB));
        expect(out.kind).toBe('written');
        // Nothing under the segment's name before every byte is there and checked.
        expect(await headSize(w.raw, key(w.prefix, 'seg-1'))).toBeUndefined();
      }
      // Every part went up as its last chunk was written; none is left for finalize to send.
      const up = (await w.rx[0]!.sql.query<{ upload_id: string }>('SELECT upload_id FROM uploads'))[0]!;
      expect(await uploads(w.raw, w.prefix)).toEqual([key(w.prefix, 'seg-1')]);
      const parts = await w.raw.send(new ListPartsCommand({ Bucket: rgw.server().bucket, Key: key(w.prefix, 'seg-1'), UploadId: up.upload_id }));
      expect((parts.Parts ?? []).map((p) => [p.PartNumber, p.Size])).toEqual([
        [1, 5 * MiB],
        [2, 5 * MiB],
        [3, 2 * MiB + 100],
      ]);
      expect((await staged(w.raw, w.prefix)).length).toBe(13);
      const results = await Promise.all(w.rx.map((r) => r.ingest.finalize(DEVICE, 'seg-1', () => new Date())));
      const receipts = results.filter((r) => r && !('refused' in r));
      expect(receipts).toHaveLength(1);
      expect(w.leaves()).toBe(1);
      expect(await headSize(w.raw, key(w.prefix, 'seg-1'))).toBe(f.bytes.length);
      const stored = await new S3Store({ ...rgwOpts(), prefix: w.prefix }).read(`${DEVICE}/segments/seg-1.seg`);
      expect(createHash('sha256').update(stored!).digest('hex')).toBe(f.header(0).sha256);
      // Nothing left behind: no staged chunk, no upload, no row.
      expect(await stagedSettled(w.raw, w.prefix)).toEqual([]);
      expect(await uploads(w.raw, w.prefix)).toEqual([]);
      expect(await w.rx[1]!.sql.query('SELECT * FROM uploads')).toEqual([]);
    }), 60_000);

  it("a receiver that wrote a part's last chunk while the other stored the file opens no upload nobody completes", () =>
    inWorld(async (w) => {
      const f = file(6 * MiB, 'seg-race');
      await f.manifest(w.rx[0]!.sql);
      for (let o = 0; o < 6 * MiB; o += MiB) await w.rx[0]!.ingest.chunk(f.header(o), f.bytes.subarray(o, o + MiB));
      const stored = await w.rx[0]!.ingest.finalize(DEVICE, 'seg-race', () => new Date());
      expect(stored && !('refused' in stored)).toBe(true);
      await stagedSettled(w.raw, w.prefix);
      // Receiver b recorded the first part's last chunk written just before a stored the file and cleared its upload,
      // and saw the part whole then (its rows, as b read them before a's commit removed them); it now sends it on.
      await w.rx[1]!.sql.query('INSERT INTO chunks(device, name, "offset", len) VALUES ($1, $2, 0, $3)', [DEVICE, 'seg-race', 5 * MiB]);
      await w.rx[1]!.partials.written(DEVICE, 'seg-race', [[4 * MiB, 5 * MiB]], 6 * MiB);
      expect(await uploads(w.raw, w.prefix)).toEqual([]);
      expect(await w.rx[1]!.sql.query('SELECT * FROM uploads')).toEqual([]);
    }), 60_000);

  it('the attacker edits a staged chunk in the bucket: no receipt and no object; the resent file is stored', () =>
    inWorld(async (w) => {
      const f = file(6 * MiB, 'seg-2');
      await f.manifest(w.rx[0]!.sql);
      const r = w.rx[0]!;
      for (let o = 0; o < 5 * MiB; o += MiB) await r.ingest.chunk(f.header(o), f.bytes.subarray(o, o + MiB));
      // Part 1 is up; the second part's first chunk is staged by the other receiver, then replaced by someone holding
      // the bucket's keys. (A chunk this receiver staged itself it assembles from memory: an edit of the staged
      // object then changes nothing that is stored.)
      await w.rx[1]!.ingest.chunk(f.header(5 * MiB), f.bytes.subarray(5 * MiB, 5 * MiB + 512 * 1024));
      const victim = (await staged(w.raw, w.prefix)).find((k) => k.endsWith(String(5 * MiB).padStart(20, '0')))!;
      await w.raw.send(new PutObjectCommand({ Bucket: rgw.server().bucket, Key: victim, Body: Buffer.alloc(512 * 1024, 0x55) }));
      await r.ingest.chunk(f.header(5 * MiB + 512 * 1024), f.bytes.subarray(5 * MiB + 512 * 1024));
      const out = await r.ingest.finalize(DEVICE, 'seg-2', () => new Date());
      expect(out && 'refused' in out ? out.refused : out).toMatch(/seg-2 arrived as 6291456 bytes with sha256 .* but its manifest .* forged or damaged, not stored/);
      expect(w.leaves()).toBe(0);
      expect(await headSize(w.raw, key(w.prefix, 'seg-2'))).toBeUndefined();
      expect(await staged(w.raw, w.prefix)).toEqual([]);
      expect(await uploads(w.raw, w.prefix)).toEqual([]);
      // The gateway sends it again (to the other receiver): stored, receipted once.
      for (let o = 0; o < f.bytes.length; o += MiB) await w.rx[1]!.ingest.chunk(f.header(o), f.bytes.subarray(o, o + MiB));
      const again = await w.rx[1]!.ingest.finalize(DEVICE, 'seg-2', () => new Date());
      expect(again && !('refused' in again)).toBe(true);
      expect(await headSize(w.raw, key(w.prefix, 'seg-2'))).toBe(f.bytes.length);
    }), 60_000);

  it("the attacker replaces a part of the open upload after the receiver sent it: the receiver's own hash no longer stands, no receipt", () =>
    inWorld(async (w) => {
      const f = file(7 * MiB, 'seg-5');
      await f.manifest(w.rx[0]!.sql);
      const r = w.rx[0]!;
      for (let o = 0; o < f.bytes.length; o += MiB) await r.ingest.chunk(f.header(o), f.bytes.subarray(o, o + MiB));
      // Both parts went up from this receiver, in order; then someone with the bucket's keys sends part 1 again.
      const up = (await r.sql.query<{ upload_id: string }>('SELECT upload_id FROM uploads'))[0]!;
      await w.raw.send(new UploadPartCommand({ Bucket: rgw.server().bucket, Key: key(w.prefix, 'seg-5'), UploadId: up.upload_id, PartNumber: 1, Body: Buffer.alloc(5 * MiB, 0x66) }));
      const out = await r.ingest.finalize(DEVICE, 'seg-5', () => new Date());
      expect(out && 'refused' in out ? out.refused : out).toMatch(/seg-5 arrived as 7340032 bytes .* forged or damaged, not stored/);
      expect(w.leaves()).toBe(0);
      expect(await headSize(w.raw, key(w.prefix, 'seg-5'))).toBeUndefined();
    }), 60_000);

  it('a file of one part goes up whole in one PUT, without a multipart upload', () =>
    inWorld(async (w) => {
      const f = file(3 * MiB + 7, 'seg-6');
      await f.manifest(w.rx[0]!.sql);
      for (let o = 0; o < f.bytes.length; o += MiB) await w.rx[(o / MiB) % 2]!.ingest.chunk(f.header(o), f.bytes.subarray(o, o + MiB));
      expect(await uploads(w.raw, w.prefix)).toEqual([]);
      expect(await headSize(w.raw, key(w.prefix, 'seg-6'))).toBeUndefined();
      const out = await w.rx[1]!.ingest.finalize(DEVICE, 'seg-6', () => new Date());
      expect(out && !('refused' in out)).toBe(true);
      expect(await w.rx[0]!.sql.query('SELECT * FROM uploads')).toEqual([]);
      const stored = await new S3Store({ ...rgwOpts(), prefix: w.prefix }).read(`${DEVICE}/segments/seg-6.seg`);
      expect(createHash('sha256').update(stored!).digest('hex')).toBe(f.header(0).sha256);
      expect(await stagedSettled(w.raw, w.prefix)).toEqual([]);
    }), 60_000);

  it('the sweep aborts uploads and removes staged chunks no row describes, and those of files abandoned past their limit', () =>
    inWorld(async (w) => {
      const f = file(11 * MiB, 'seg-3');
      const g = file(3 * MiB, 'seg-4');
      await f.manifest(w.rx[0]!.sql);
      const r = w.rx[0]!;
      for (let o = 0; o < 6 * MiB; o += MiB) await r.ingest.chunk(f.header(o), f.bytes.subarray(o, o + MiB));
      await r.ingest.chunk(g.header(0), g.bytes.subarray(0, MiB));
      expect(await uploads(w.raw, w.prefix)).toEqual([key(w.prefix, 'seg-3')]);
      // seg-3's rows gone as a discard killed before removing the bytes leaves them; seg-4 is young and kept.
      await r.sql.query('DELETE FROM chunks WHERE name = $1', ['seg-3']);
      await r.sql.query('DELETE FROM files WHERE name = $1', ['seg-3']);
      const sweep = (now: number): PartialSweep => new PartialSweep({ evidence: new S3Store({ ...rgwOpts(), prefix: w.prefix }), work: tmp('recgw-nowork-'), partials: w.rx[1]!.partials }, w.rx[1]!.sql, DEFAULT_LIMITS, silentLogger, () => now);
      expect(await sweep(Date.now()).sweep()).toEqual({ stale: 0, orphans: 1, held: 0 });
      expect(await uploads(w.raw, w.prefix)).toEqual([]);
      expect((await staged(w.raw, w.prefix)).every((k) => k.includes('/seg-4.seg/'))).toBe(true);
      expect(await staged(w.raw, w.prefix)).toHaveLength(1);
      // A day later seg-4 (no manifest) is past limits.unmanifestedHours: discarded, bytes and all.
      expect(await sweep(Date.now() + 25 * 3_600_000).sweep()).toEqual({ stale: 1, orphans: 0, held: 0 });
      expect(await staged(w.raw, w.prefix)).toEqual([]);
      expect(await r.sql.query('SELECT * FROM files')).toEqual([]);
    }), 60_000);

  function rgwOpts(): { endpoint: string; bucket: string; accessKeyId: string; secretAccessKey: string } {
    const s = rgw.server();
    return { endpoint: s.endpoint, bucket: s.bucket, accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey };
  }
});
