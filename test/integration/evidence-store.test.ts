/**
 * The evidence store's two implementations against one contract: a folder and an S3 bucket on a real radosgw. The
 * same writes leave the same names and bytes in both; what is written once is never replaced, by a retry, a second
 * writer or a race; appends cut what an uncommitted writer left and refuse to leave a gap; names from outside cannot
 * reach out of the store.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderStore } from '../../src/store/folder-store.js';
import { S3Store } from '../../src/store/s3-store.js';
import { openStore, parseS3Location } from '../../src/store/open-store.js';
import type { EvidenceStore } from '../../src/store/store.js';
import { COMPACT_PIECES, pieceKey } from '../../src/store/s3-pieces.js';
import { s3Client, withRadosgw } from '../helpers/radosgw.js';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';

afterAll(cleanupTmp);
const rgw = withRadosgw();
let n = 0;

const kinds: [string, () => EvidenceStore][] = [
  ['folder', () => new FolderStore(tmp('recgw-store-'))],
  [
    's3',
    () => {
      const s = rgw.server();
      return new S3Store({ endpoint: s.endpoint, bucket: s.bucket, prefix: `t${++n}/`, accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey });
    },
  ],
];

/** A new store for one test, closed after it. */
async function using(make: () => EvidenceStore, test: (store: EvidenceStore) => Promise<void>): Promise<void> {
  const store = make();
  try {
    await test(store);
  } finally {
    await store.close();
  }
}

async function tree(store: EvidenceStore, dir = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await store.list(dir)) {
    const name = dir === '' ? e : `${dir}/${e}`;
    if (e.endsWith('/')) Object.assign(out, await tree(store, name.slice(0, -1)));
    else out[name] = (await store.read(name))!.toString('base64');
  }
  return out;
}

describe.each(kinds)('%s store', (_kind, make) => {
  it('writes once: a retry of the same bytes is harmless, other bytes are refused and the first kept', async () => {
    await using(make, async (store) => {
      expect(await store.putOnce('dev-1/segments/0001.seg', Buffer.from('sealed one'))).toBe('written');
      expect(await store.putOnce('dev-1/segments/0001.seg', Buffer.from('sealed one'))).toBe('exists');
      await expect(store.putOnce('dev-1/segments/0001.seg', Buffer.from('forged'))).rejects.toThrow(/already holds other bytes/);
      expect((await store.read('dev-1/segments/0001.seg'))!.toString()).toBe('sealed one');
      expect(await store.size('dev-1/segments/0001.seg')).toBe(10);
      expect(await store.read('dev-1/segments/0002.seg')).toBeUndefined();
      expect(await store.size('dev-1/segments/0002.seg')).toBeUndefined();
      expect(await store.stream('dev-1/segments/0002.seg')).toBeUndefined();
    });
  }, 30_000);

  it('of eight writers racing for one name, exactly one wins and its bytes stay', async () => {
    await using(make, async (store) => {
      const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => store.putOnce('dev-1/segments/race.seg', Buffer.from(`writer ${i}`))));
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(won).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(String(r.reason)).toMatch(/already holds other bytes/);
      expect((await store.read('dev-1/segments/race.seg'))!.toString()).toBe(`writer ${won[0]}`);
    });
  }, 30_000);

  it('puts a local file, streams it back, replaces a mutable object whole', async () => {
    await using(make, async (store) => {
      const big = Buffer.alloc(3 * 1024 * 1024 + 7, 0);
      for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
      const file = join(tmp('recgw-store-src-'), 'partial.seg');
      writeFileSync(file, big);
      expect(await store.putOnce('dev-1/segments/big.seg', { file })).toBe('written');
      expect(await store.putOnce('dev-1/segments/big.seg', { file })).toBe('exists');
      const chunks: Buffer[] = [];
      for await (const c of (await store.stream('dev-1/segments/big.seg'))!) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks).equals(big)).toBe(true);
      await store.replace('dev-1/head.json', Buffer.from('{"seq":1}'));
      await store.replace('dev-1/head.json', Buffer.from('{"seq":2}'));
      expect((await store.read('dev-1/head.json'))!.toString()).toBe('{"seq":2}');
    });
  }, 30_000);

  it('appends at the committed length: a retry is harmless, an uncommitted tail is cut, a gap or a lost byte is refused', async () => {
    await using(make, async (store) => {
      await store.append('dev-1/ledger.jsonl', 0, Buffer.from('line 0\n'));
      await store.append('dev-1/ledger.jsonl', 7, Buffer.from('line 1\n'));
      await store.append('dev-1/ledger.jsonl', 7, Buffer.from('line 1\n'));
      expect((await store.read('dev-1/ledger.jsonl'))!.toString()).toBe('line 0\nline 1\n');
      // A writer appended 'line 2' and died before committing: the next commit at 14 replaces it.
      await store.append('dev-1/ledger.jsonl', 14, Buffer.from('line 2 uncommitted\n'));
      await store.append('dev-1/ledger.jsonl', 14, Buffer.from('line 2\n'));
      expect((await store.read('dev-1/ledger.jsonl'))!.toString()).toBe('line 0\nline 1\nline 2\n');
      expect(await store.size('dev-1/ledger.jsonl')).toBe(21);
      // Streamed, an append-only file is its pieces one after another (the index reads a ledger so), read() alike.
      const chunks: Buffer[] = [];
      for await (const c of (await store.stream('dev-1/ledger.jsonl'))! as AsyncIterable<Buffer>) chunks.push(c);
      expect(Buffer.concat(chunks).toString()).toBe('line 0\nline 1\nline 2\n');
      expect(await store.stream('dev-1/alerts.jsonl')).toBeUndefined();
      await expect(store.append('dev-1/ledger.jsonl', 30, Buffer.from('after a gap\n'))).rejects.toThrow(/lost/);
      expect((await store.read('dev-1/ledger.jsonl'))!.toString()).toBe('line 0\nline 1\nline 2\n');
      expect(await store.list('dev-1')).toEqual(['ledger.jsonl']);
      await store.remove('dev-1/ledger.jsonl');
      expect(await store.read('dev-1/ledger.jsonl')).toBeUndefined();
    });
  }, 30_000);

  it('refuses names that would leave the store or hide in it', async () => {
    await using(make, async (store) => {
      for (const bad of ['../escape', 'dev/../../etc/passwd', '/abs', 'dev//x', '.hidden', 'dev/-opt', 'dev/x\n', 'dev/段']) {
        await expect(store.putOnce(bad, Buffer.from('x')), bad).rejects.toThrow(/is not a store name/);
        await expect(store.read(bad), bad).rejects.toThrow(/is not a store name/);
      }
      await expect(store.list('../')).rejects.toThrow(/is not a store name/);
    });
  }, 30_000);
});

describe('an append-only file in a bucket, compacted', () => {
  const store = (prefix: string, warn?: (m: string) => void): S3Store => {
    const s = rgw.server();
    return new S3Store({ endpoint: s.endpoint, bucket: s.bucket, prefix, accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey, ...(warn ? { warn } : {}) });
  };
  /** Every object under the file's pieces, as the bucket lists them. */
  const listed = async (prefix: string, name: string): Promise<string[]> => {
    const s = rgw.server();
    const c = s3Client(s);
    try {
      const out: string[] = [];
      let token: string | undefined;
      do {
        const page = await c.send(new ListObjectsV2Command({ Bucket: s.bucket, Prefix: `${prefix}${name}.parts/`, ContinuationToken: token }));
        out.push(...(page.Contents ?? []).map((o) => o.Key!.slice(`${prefix}${name}.parts/`.length)));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return out;
    } finally {
      c.destroy();
    }
  };
  const line = (i: number): string => `{"seq":${i},"text":"${'x'.repeat(i % 50)}"}\n`;
  const readAll = async (st: EvidenceStore, name: string): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const c of (await st.stream(name))! as AsyncIterable<Buffer>) chunks.push(c);
    return Buffer.concat(chunks).toString();
  };

  it('holds 600 appends in a few pieces, and reads, streams, tails and sizes them as the lines appended', async () => {
    const warnings: string[] = [];
    const trace = join(tmp('recgw-compact-trace-'), 'trace.jsonl');
    process.env.RECGW_S3_TRACE = trace;
    const st = store('compact1/', (m) => warnings.push(m));
    delete process.env.RECGW_S3_TRACE;
    let text = '';
    for (let i = 0; i < 600; i++) {
      await st.append('d/ledger.jsonl', Buffer.byteLength(text), Buffer.from(line(i)));
      text += line(i);
    }
    await st.close();
    expect(warnings).toEqual([]);
    // The writer joined what it had appended from the bytes it kept (checked against the listing's MD5): no GETs.
    const cmds = readFileSync(trace, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { cmd: string }).cmd);
    expect(cmds.filter((c) => c === 'GetObject')).toEqual([]);
    expect(cmds.filter((c) => c === 'PutObject').length).toBeGreaterThan(600);
    const names = await listed('compact1/', 'd/ledger.jsonl');
    // 600 appends: joined 64 at a time (and those again), at most a run's worth left small at the end.
    expect(names.length).toBeLessThan(2 * COMPACT_PIECES);
    expect(names.filter((n) => n.includes('-')).length).toBeGreaterThan(0);
    const again = store('compact1/');
    try {
      expect((await again.read('d/ledger.jsonl'))!.toString()).toBe(text);
      expect(await readAll(again, 'd/ledger.jsonl')).toBe(text);
      expect(await again.size('d/ledger.jsonl')).toBe(Buffer.byteLength(text));
      const t = await again.tail('d/ledger.jsonl', 100);
      expect([t.size, t.data.toString()]).toEqual([Buffer.byteLength(text), text.slice(-100)]);
      // Appends go on at the committed length, a retry and a cut as before.
      await again.append('d/ledger.jsonl', Buffer.byteLength(text), Buffer.from('uncommitted\n'));
      await again.append('d/ledger.jsonl', Buffer.byteLength(text), Buffer.from('last\n'));
      expect((await again.read('d/ledger.jsonl'))!.toString()).toBe(`${text}last\n`);
      await again.remove('d/ledger.jsonl');
      expect(await listed('compact1/', 'd/ledger.jsonl')).toEqual([]);
    } finally {
      await again.close();
    }
  }, 120_000);

  it('a compaction cut short (the joined piece written, the small ones still there) reads the same, and the next append clears them', async () => {
    const st = store('compact2/');
    const s = rgw.server();
    const c = s3Client(s);
    try {
      let text = '';
      for (let i = 0; i < 10; i++) {
        await st.append('d/receipts.jsonl', Buffer.byteLength(text), Buffer.from(line(i)));
        text += line(i);
      }
      // What a receiver killed between the two steps of a compaction leaves: pieces 0..5 joined, the small ones kept.
      const end = Buffer.byteLength(text.split('\n').slice(0, 6).join('\n') + '\n');
      await c.send(new PutObjectCommand({ Bucket: s.bucket, Key: pieceKey('compact2/d/receipts.jsonl', 0, end), Body: Buffer.from(text.slice(0, end)) }));
      expect(await listed('compact2/', 'd/receipts.jsonl')).toHaveLength(11);
      expect((await st.read('d/receipts.jsonl'))!.toString()).toBe(text);
      expect(await st.size('d/receipts.jsonl')).toBe(Buffer.byteLength(text));
      await st.append('d/receipts.jsonl', Buffer.byteLength(text), Buffer.from('next\n'));
      await st.close();
      // The six small pieces the joined one covers are gone; the rest stay small (too few to join).
      expect((await listed('compact2/', 'd/receipts.jsonl')).length).toBe(11 - 6 + 1);
      const again = store('compact2/');
      expect((await again.read('d/receipts.jsonl'))!.toString()).toBe(`${text}next\n`);
      await again.close();
      // A joined piece whose bytes are not its small pieces' is refused by its name's length, or read as written.
      await c.send(new PutObjectCommand({ Bucket: s.bucket, Key: pieceKey('compact2/d/receipts.jsonl', 0, 5), Body: Buffer.from('abc') }));
      const bad = store('compact2/');
      await expect(bad.read('d/receipts.jsonl')).rejects.toThrow(/holds 3 bytes, but its name says bytes 0 to 5/);
      await bad.close();
    } finally {
      c.destroy();
    }
  }, 60_000);

  it('a reader streaming while the pieces it listed are compacted away reads the whole file', async () => {
    const writer = store('compact3/');
    let text = '';
    const append = async (k: number): Promise<void> => {
      for (let i = 0; i < k; i++) {
        const l = line(text.length % 97);
        await writer.append('d/ledger.jsonl', Buffer.byteLength(text), Buffer.from(l));
        text += l;
      }
    };
    // Fewer than a run below the committed length: nothing joined yet.
    await append(COMPACT_PIECES);
    const before = text;
    const reader = store('compact3/');
    try {
      const stream = (await reader.stream('d/ledger.jsonl'))! as AsyncIterable<Buffer>;
      const it = stream[Symbol.asyncIterator]();
      const first = await it.next();
      // Now the next append makes the first 64 pieces one, and removes them (close waits for the compaction).
      await append(1);
      await writer.close();
      expect((await listed('compact3/', 'd/ledger.jsonl')).length).toBeLessThan(COMPACT_PIECES);
      const rest: Buffer[] = [first.value as Buffer];
      for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value as Buffer);
      // The file as it was listed when the reading began: no byte lost, none twice.
      expect(Buffer.concat(rest).toString()).toBe(before);
    } finally {
      await reader.close();
    }
  }, 60_000);
});

describe('folder and bucket', () => {
  it('the same writes leave the same names and bytes; the folder holds them as plain files', async () => {
    const dir = tmp('recgw-store-');
    const s = rgw.server();
    const stores = [new FolderStore(dir), openStore(`s3://${s.bucket}/same/x`, { endpoint: s.endpoint, accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey })];
    try {
      for (const store of stores) {
        await store.append('dev-1/ledger.jsonl', 0, Buffer.from('{"seq":0}\n'));
        await store.putOnce('dev-1/segments/0001.seg', Buffer.from([0, 1, 2, 255]));
        await store.append('dev-1/ledger.jsonl', 10, Buffer.from('{"seq":1}\n'));
        await store.replace('dev-1/head.json', Buffer.from('{"head":1}'));
        await store.append('dev-1/receipts.jsonl', 0, Buffer.from('{"r":1}\n'));
        await store.putOnce('log/tile/0/000', Buffer.from('tile'));
        await store.replace('log/checkpoint', Buffer.from('origin\n2\n'));
      }
      const [folder, bucket] = [await tree(stores[0]!), await tree(stores[1]!)];
      expect(Object.keys(folder).sort()).toEqual(['dev-1/head.json', 'dev-1/ledger.jsonl', 'dev-1/receipts.jsonl', 'dev-1/segments/0001.seg', 'log/checkpoint', 'log/tile/0/000']);
      expect(bucket).toEqual(folder);
      expect(readFileSync(join(dir, 'dev-1/ledger.jsonl'), 'utf8')).toBe('{"seq":0}\n{"seq":1}\n');
      // Temporary files live in .tmp/, never beside the evidence, where a crash could leave one taken for a segment.
      expect(readdirSync(join(dir, 'dev-1/segments'))).toEqual(['0001.seg']);
      expect(readdirSync(join(dir, 'dev-1')).sort()).toEqual(['head.json', 'ledger.jsonl', 'receipts.jsonl', 'segments']);
      expect(await stores[1]!.list('')).toEqual(['dev-1/', 'log/']);
    } finally {
      for (const st of stores) await st.close();
    }
  }, 60_000);

  it('radosgw refuses bytes that do not match the Content-MD5 the store sends with each write: damage on the way is not stored', async () => {
    const s = rgw.server();
    const raw = s3Client(s);
    try {
      const md5OfOther = createHash('md5').update('the bytes that were hashed').digest('base64');
      const put = raw.send(new PutObjectCommand({ Bucket: s.bucket, Key: 'md5/dev-1/segments/x.seg', Body: 'the bytes that arrived', ContentMD5: md5OfOther, IfNoneMatch: '*' }));
      await expect(put).rejects.toMatchObject({ $metadata: { httpStatusCode: 400 } });
      const store = new S3Store({ endpoint: s.endpoint, bucket: s.bucket, prefix: 'md5/', accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey });
      try {
        expect(await store.size('dev-1/segments/x.seg')).toBeUndefined();
        // A file whose MD5 the caller hashed from other bytes (the chunks as they came, then the file changed on
        // disk): the bucket refuses the file, nothing is stored.
        const file = join(tmp('recgw-md5-'), 'x.seg');
        writeFileSync(file, 'the bytes that arrived');
        await expect(store.putOnce('dev-1/segments/x.seg', { file, md5: md5OfOther })).rejects.toThrow(/could not write/);
        expect(await store.size('dev-1/segments/x.seg')).toBeUndefined();
        writeFileSync(file, 'the bytes that were hashed');
        expect(await store.putOnce('dev-1/segments/x.seg', { file, md5: md5OfOther })).toBe('written');
      } finally {
        await store.close();
      }
    } finally {
      raw.destroy();
    }
  }, 30_000);

  it('RECGW_S3_TRACE: each S3 request leaves a line with its command, key, times, status and the code awaiting it', async () => {
    const s = rgw.server();
    const trace = join(tmp('recgw-trace-'), 'trace.jsonl');
    process.env.RECGW_S3_TRACE = trace;
    let store: S3Store;
    try {
      store = new S3Store({ endpoint: s.endpoint, bucket: s.bucket, prefix: 'trace/', accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey });
    } finally {
      delete process.env.RECGW_S3_TRACE;
    }
    try {
      await store.putOnce('dev-1/segments/t.seg', Buffer.from('traced'));
      expect(await store.putOnce('dev-1/segments/t.seg', Buffer.from('traced'))).toBe('exists');
    } finally {
      await store.close();
    }
    const lines = readFileSync(trace, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { cmd: string; key: string; start: number; end: number; code: number; by: string[] });
    expect(lines.map((l) => [l.cmd, l.key, l.code])).toEqual([
      ['PutObject', 'trace/dev-1/segments/t.seg', 200],
      ['PutObject', 'trace/dev-1/segments/t.seg', 412],
      ['GetObject', 'trace/dev-1/segments/t.seg', 200],
    ]);
    for (const l of lines) expect(l.end).toBeGreaterThanOrEqual(l.start);
    expect(lines[0]!.by[0]).toMatch(/^store\/s3-store\.ts:\d+ S3Store\.putOnce$/);
  }, 30_000);

  it('reads S3 locations and refuses malformed ones with what to write', () => {
    expect(parseS3Location('s3://evidence')).toEqual({ bucket: 'evidence', prefix: '' });
    expect(parseS3Location('s3://evidence/province/city/')).toEqual({ bucket: 'evidence', prefix: 'province/city/' });
    expect(() => parseS3Location('s3://E')).toThrow(/s3:\/\/BUCKET/);
    expect(() => parseS3Location('s3://evidence/../x')).toThrow(/prefix/);
    expect(() => openStore('s3://evidence/p')).toThrow(/endpoint and credentials/);
  });
});
