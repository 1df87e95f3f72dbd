/**
 * Issue 20 item 3, `recgw index rebuild s3://BUCKET/PREFIX`: the agency index's store (an interview room and a
 * vehicle, test/helpers/index-store.ts) put into a bucket on a real radosgw through the store interface (append-only
 * files in pieces of a few lines, as a receiver appends them), rebuilt into SQLite and a real PostgreSQL, and the rows
 * compared, row by row, with a rebuild from the same bucket copied to a folder (copy-out.ts). The rebuild reads no
 * segment; an empty prefix gets the folder's error; wrong keys get the endpoint and the fix; a rebuild killed with
 * SIGKILL part way leaves each device whole or absent and the next run gives the same rows; a receipt not signed by
 * the agency CA is left out, as from a folder.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { buildIndexStore, cli, dumpIndex } from '../helpers/index-store.js';
import { createDatabase, withPostgres } from '../helpers/postgres.js';
import { putFolder, withRadosgw } from '../helpers/radosgw.js';
import { ensureBuilt } from '../helpers/store-fixture.js';
import { receiptSigner } from '../helpers/report-store.js';
import { caPaths } from '../../src/pki/ca.js';
import { openIndexDb } from '../../src/index/database.js';
import { TABLES } from '../../src/index/device-rows.js';
import { rebuildIndex } from '../../src/index/rebuild.js';
import { copyOut } from '../../src/store/copy-out.js';
import { S3Store } from '../../src/store/s3-store.js';
import type { EvidenceStore } from '../../src/store/store.js';
import { encodeReceipt, makeReceipt } from '../../src/evidence/receipt.js';
import { readCaBundle } from '../../src/cli/args.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'recgw.js');
type Dump = Record<string, unknown[]>;

/** Every call made on a store, as "method name": what the rebuild asked the bucket for. */
function watched(inner: EvidenceStore, calls: string[]): EvidenceStore {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls.push(`${String(prop)} ${String(args[0])}`);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

describe('recgw index rebuild from an S3 bucket', () => {
  const rgw = withRadosgw();
  const pg = withPostgres();
  let caDir: string;
  let caCert: string;
  /** The reference: a rebuild from the bucket copied out to a folder. */
  let fromCopy: Dump;
  let copy: string;

  const bucket = (prefix: string): S3Store => {
    const s = rgw.server();
    return new S3Store({ endpoint: s.endpoint, bucket: s.bucket, prefix: `${prefix}/`, accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey });
  };
  const location = (prefix: string): string => `s3://${rgw.server().bucket}/${prefix}`;
  /** `recgw index rebuild` in this process, with the keys in the environment as a user gives them. */
  const rebuild = async (store: string, database: string, keys: { id: string; secret: string } | null | undefined, ...more: string[]): Promise<{ code: number; out: string; err: string }> => {
    const s = rgw.server();
    const saved = [process.env.AWS_ACCESS_KEY_ID, process.env.AWS_SECRET_ACCESS_KEY];
    // undefined: the server's keys; null: none in the environment.
    if (keys === null) {
      delete process.env.AWS_ACCESS_KEY_ID;
      delete process.env.AWS_SECRET_ACCESS_KEY;
    } else {
      process.env.AWS_ACCESS_KEY_ID = keys?.id ?? s.accessKeyId;
      process.env.AWS_SECRET_ACCESS_KEY = keys?.secret ?? s.secretAccessKey;
    }
    try {
      return await cli('index', 'rebuild', store, '--s3-endpoint', s.endpoint, '--database', database, ...more);
    } finally {
      for (const [k, v] of [['AWS_ACCESS_KEY_ID', saved[0]], ['AWS_SECRET_ACCESS_KEY', saved[1]]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  };
  const sqlite = (): string => `sqlite:${join(tmp('recgw-index-s3-db-'), 'index.db')}`;
  const dumpOf = async (url: string): Promise<Dump> => {
    const db = await openIndexDb(url);
    try {
      return await dumpIndex(db);
    } finally {
      await db.close();
    }
  };

  beforeAll(async () => {
    const built = await buildIndexStore();
    caDir = built.caDir;
    caCert = caPaths(caDir).caCert;
    const store = bucket('idx');
    try {
      await putFolder(built.store, store, 3);
      copy = tmp('recgw-index-s3-copy-');
      expect(await copyOut(store, copy)).toBeGreaterThan(10);
    } finally {
      await store.close();
    }
    const url = sqlite();
    const r = await cli('index', 'rebuild', '--store', copy, '--database', url, '--ca', caCert, '--quiet');
    expect([r.code, r.err]).toEqual([0, '']);
    fromCopy = await dumpOf(url);
    // Rows of every kind the store has, so that comparing them means something.
    for (const t of ['devices', 'sessions', 'segments', 'interruptions', 'receipts', 'statements', 'gaps', 'vehicle_returns'] as const) expect([t, fromCopy[t]!.length > 0]).toEqual([t, true]);
  }, 180_000);
  afterAll(cleanupTmp);

  it.each(['sqlite', 'postgres'] as const)('gives the rows a rebuild from the same store copied to a folder gives (%s), and records the bucket as its store', async (kind) => {
    const url = kind === 'postgres' ? await createDatabase(pg.server(), 'index_s3') : sqlite();
    const r = await rebuild(location('idx'), url, undefined, '--ca', caCert);
    expect(r.err).toContain(`rebuilding the index in the ${kind === 'postgres' ? 'PostgreSQL' : 'SQLite'}`);
    expect(r.err).toContain(`from ${location('idx')}`);
    expect(r.err).toContain('2/2 room-1: 2 sessions, 6 segments, 3 interruptions, 7 receipts');
    expect(r.out).toMatch(/^index rebuilt in the .*: 2 device\(s\), 4 session\(s\), 9 segment\(s\), 6 interruption\(s\), 9 receipt\(s\) in [\d.]+ s\n$/);
    expect(r.code).toBe(0);
    const rows = await dumpOf(url);
    for (const t of TABLES) expect([t, rows[t]]).toEqual([t, fromCopy[t]]);
    const db = await openIndexDb(url);
    try {
      const meta = await db.query<{ value: string }>("SELECT value FROM index_meta WHERE key = 'store'");
      // As given, without a trailing '/': the desk finds the bucket by it.
      expect(meta.map((m) => m.value)).toEqual([location('idx')]);
    } finally {
      await db.close();
    }
  }, 120_000);

  it('reads each device’s ledger, receipts and alerts and no segment', async () => {
    const calls: string[] = [];
    const inner = bucket('idx');
    const db = await openIndexDb(sqlite());
    try {
      // The segments are there to be read: a rebuild that read them would be seen.
      expect((await inner.list('room-1/segments')).length).toBeGreaterThan(5);
      await rebuildIndex(db, watched(inner, calls), { caPems: readCaBundle(caCert) });
      expect(await dumpIndex(db)).toEqual(fromCopy);
    } finally {
      await db.close();
      await inner.close();
    }
    const reads = calls.filter((c) => !c.startsWith('list '));
    expect(reads.filter((c) => c.includes('segments'))).toEqual([]);
    expect(reads.sort()).toEqual(['car-2', 'room-1'].flatMap((d) => ['alerts.jsonl', 'ledger.jsonl', 'receipts.jsonl'].map((f) => `stream ${d}/${f}`)).sort());
    expect(calls.filter((c) => c.startsWith('list ')).sort()).toEqual(['list ', 'list car-2', 'list room-1']);
  }, 60_000);

  it('an empty prefix gets the error an empty folder gets', async () => {
    const empty = tmp('recgw-index-s3-empty-');
    // A file system's own folder at the top of a mounted store is no device, and no reason to stop.
    mkdirSync(join(empty, 'lost+found'));
    const url = sqlite();
    const folder = await cli('index', 'rebuild', '--store', empty, '--database', url);
    const s3 = await rebuild(location('nothing-here'), sqlite(), undefined, '--quiet');
    expect(folder.err).toBe(
      `rebuilding the index in the SQLite file ${url.slice('sqlite:'.length)} from ${empty} (receipts not checked: give --ca to leave out any that are not genuine)\n` +
        `${empty}/lost+found: not a device folder's name (letters, digits, '.', '_', '-'), not read\n` +
        `recgw index: ${empty} is not a store: neither it nor any folder in it holds a ledger.jsonl\n`,
    );
    expect(s3.err).toBe(`recgw index: ${location('nothing-here')} is not a store: neither it nor any folder in it holds a ledger.jsonl\n`);
    expect([folder.code, s3.code]).toEqual([1, 1]);
  });

  it('wrong keys, or none, are told the endpoint and the fix', async () => {
    const s = rgw.server();
    for (const keys of [{ id: s.accessKeyId, secret: 'not-the-secret' }, { id: 'NOSUCHKEY', secret: s.secretAccessKey }]) {
      const r = await rebuild(location('idx'), sqlite(), keys);
      expect(r.code).toBe(1);
      expect(r.err).toContain(`at ${s.endpoint}`);
      expect(r.err).toContain('the S3 service refused these keys (HTTP 403');
      expect(r.err).toContain('check the access key and secret key (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
      expect(r.err).not.toContain('unexpected error');
    }
    const none = await rebuild(location('idx'), sqlite(), null);
    expect([none.code, none.err]).toEqual([2, expect.stringContaining('needs its access key and secret key in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY')]);
    const noEndpoint = await cli('index', 'rebuild', location('idx'), '--database', sqlite());
    expect([noEndpoint.code, noEndpoint.err]).toEqual([2, expect.stringContaining('an s3:// store needs --s3-endpoint http(s)://HOST:PORT')]);
  });

  it.each(['sqlite', 'postgres'] as const)('a rebuild killed part way leaves each device whole or absent; the next run gives the same rows (%s)', async (kind) => {
    ensureBuilt();
    const s = rgw.server();
    const url = kind === 'postgres' ? await createDatabase(pg.server(), 'index_s3_killed') : sqlite();
    const args = [BIN, 'index', 'rebuild', location('idx'), '--s3-endpoint', s.endpoint, '--database', url, '--ca', caCert];
    const env = { ...process.env, AWS_ACCESS_KEY_ID: s.accessKeyId, AWS_SECRET_ACCESS_KEY: s.secretAccessKey };
    // Killed once the first device is written: the second is being read from the bucket.
    const killed = await new Promise<{ signal: NodeJS.Signals | null; err: string }>((resolve) => {
      const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('1/2 car-2')) child.kill('SIGKILL');
      });
      child.on('exit', (_code, signal) => resolve({ signal, err }));
    });
    expect(killed.err).not.toContain('2/2 room-1');
    expect(killed.signal).toBe('SIGKILL');
    const after = await dumpOf(url);
    const mine = (d: Dump, device: string): Dump => Object.fromEntries(TABLES.map((t) => [t, d[t]!.filter((row) => String(row).includes(`["device_id","${device}"]`))]));
    // car-2 was written before the kill (its line comes after its transaction); room-1 whole or absent, never half
    // (absent in each of 6 runs here: the kill lands while it is read from the bucket, but a loaded machine may differ).
    expect(mine(after, 'car-2')).toEqual(mine(fromCopy, 'car-2'));
    const room = mine(after, 'room-1');
    if (room.devices!.length > 0) expect(room).toEqual(mine(fromCopy, 'room-1'));
    else for (const t of TABLES) expect([t, room[t]]).toEqual([t, []]);
    const again = await new Promise<number | null>((resolve) => spawn(process.execPath, args, { env, stdio: 'ignore' }).on('exit', resolve));
    expect(again).toBe(0);
    expect(await dumpOf(url)).toEqual(fromCopy);
  }, 180_000);

  it('radosgw gone part way through a ledger: the rebuild stops naming the object and the endpoint, the device keeps its rows', async () => {
    // A line a piece: more pieces than are asked for ahead, so some are still to come when the service goes.
    const inner = bucket('one-line');
    await putFolder(copy, inner, 1);
    const db = await openIndexDb(sqlite());
    const s = rgw.server();
    try {
      await rebuildIndex(db, inner, { caPems: readCaBundle(caCert) });
      expect(await dumpIndex(db)).toEqual(fromCopy);
      // room-1's ledger: after its first bytes, the S3 service goes away (the pieces after those asked for ahead fail).
      const cut = new Proxy(inner, {
        get(target, prop, receiver) {
          if (prop !== 'stream') return Reflect.get(target, prop, receiver) as unknown;
          return async (name: string) => {
            const body = await target.stream(name);
            if (name !== 'room-1/ledger.jsonl' || !body) return body;
            return Readable.from(
              (async function* (): AsyncGenerator<Buffer> {
                let first = true;
                for await (const chunk of body as AsyncIterable<Buffer>) {
                  yield chunk;
                  if (first) await s.stopGateway();
                  first = false;
                }
              })(),
            );
          };
        },
      });
      await expect(rebuildIndex(db, cut, { caPems: readCaBundle(caCert) })).rejects.toThrow(
        new RegExp(`could not read room-1/ledger\\.jsonl of s3://${s.bucket}/one-line/: could not read s3://${s.bucket}/one-line/room-1/ledger\\.jsonl\\.parts/\\d{20} at ${s.endpoint}`),
      );
      expect(await dumpIndex(db)).toEqual(fromCopy);
    } finally {
      await s.startGateway();
      await db.close();
      await inner.close();
    }
  }, 120_000);

  it('attack: a receipt in the bucket not signed by the agency CA is left out, as from a folder', async () => {
    // A segment the agency holds no receipt for, and a receipt for it from a CA that is not the agency's.
    const seg = fromCopy.segments!.map((r) => Object.fromEntries(JSON.parse(String(r)) as [string, unknown][])).find((r) => r.stored_ms === null);
    expect(seg).toBeDefined();
    const rogue = makeCa();
    const forged = makeReceipt(
      {
        kind: 'segment',
        device: seg!.device_id as string,
        name: seg!.name as string,
        size: seg!.size as number,
        sha256: seg!.sha256 as string,
        manifestSeq: seg!.ledger_seq as number,
        deadline: new Date(Date.now() + 86_400_000).toISOString(),
        storedAt: new Date().toISOString(),
        receiver: 'receiver:1',
      },
      receiptSigner(rogue.dir),
    );
    const store = bucket('forged');
    const forgedCopy = tmp('recgw-index-s3-forged-');
    try {
      await putFolder(copy, store, 3);
      const receipts = `${seg!.device_id as string}/receipts.jsonl`;
      await store.append(receipts, (await store.size(receipts))!, Buffer.from(encodeReceipt(forged) + '\n'));
      await copyOut(store, forgedCopy);
    } finally {
      await store.close();
    }
    const checked = sqlite();
    expect((await rebuild(location('forged'), checked, undefined, '--ca', caCert, '--quiet')).code).toBe(0);
    expect(await dumpOf(checked)).toEqual(fromCopy);
    const folder = sqlite();
    expect((await cli('index', 'rebuild', '--store', forgedCopy, '--database', folder, '--ca', caCert, '--quiet')).code).toBe(0);
    expect(await dumpOf(folder)).toEqual(fromCopy);
    // Without the CA nothing is checked and the forgery counts: the receipt was there to be left out.
    const unchecked = sqlite();
    expect((await rebuild(location('forged'), unchecked, undefined, '--quiet')).code).toBe(0);
    const rows = await dumpOf(unchecked);
    expect(rows.receipts!.length).toBe(fromCopy.receipts!.length + 1);
    expect(rows.receipts!.some((r) => String(r).includes(seg!.name as string))).toBe(true);
  }, 120_000);
});

