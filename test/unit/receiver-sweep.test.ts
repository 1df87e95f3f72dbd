/**
 * The receiver's housekeeping of unfinished partial files and dead held lines (issue 14, item 6): real partial
 * files whose age is their mtime (set back with utimes), a real receiver.db, two connections standing for two
 * receivers sharing the store.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { receiptSigner } from '../helpers/report-store.js';
import { sleep } from '../helpers/evidence.js';
import { FileIngest } from '../../src/receiver/file-ingest.js';
import { DEFAULT_LIMITS, DeviceLimits, MIN_CHUNK, type LimitsConfig } from '../../src/receiver/limits.js';
import { PartialSweep } from '../../src/receiver/partial-sweep.js';
import { openReceiverDb, partialDir } from '../../src/receiver/store-db.js';
import { sealedFileName } from '../../src/evidence/sealer.js';
import { createLogger } from '../../src/util/log.js';
import type { Db } from '../../src/state/db.js';
import type { ChunkHeader } from '../../src/uplink/wire.js';
import { testAgencyLog } from '../helpers/receiver-store.js';
import { SqliteReceiverSql } from '../../src/receiver/sqlite-receiver-sql.js';

afterAll(cleanupTmp);

const HOUR = 3_600_000;
const DEV = 'sweep-dev';
const header = (name: string, size = 4 * MIN_CHUNK): ChunkHeader => ({ v: 1, device: DEV, name, offset: 0, size, sha256: 'cd'.repeat(32), deadline: '2026-11-27T00:00:00.000Z' });

describe('housekeeping of partial files and held lines', () => {
  const signer = receiptSigner(makeCa().dir);

  function world(limits: Partial<LimitsConfig> = {}): { store: string; db: Db; files: FileIngest; sweep: PartialSweep; logged: Record<string, unknown>[]; cfg: LimitsConfig } {
    const store = tmp('recgw-sweep-');
    const db = openReceiverDb(store);
    const cfg = { ...DEFAULT_LIMITS, ...limits };
    const logged: Record<string, unknown>[] = [];
    const log = createLogger('t', { sink: (l) => logged.push(JSON.parse(l) as Record<string, unknown>) });
    const sql = new SqliteReceiverSql(db);
    const files = new FileIngest(store, sql, signer, 'rx-1', testAgencyLog(sql));
    files.useLimits(new DeviceLimits(sql, cfg));
    return { store, db, cfg, logged, files, sweep: new PartialSweep(store, sql, cfg, log) };
  }
  const path = (store: string, name: string): string => join(partialDir(store, DEV), sealedFileName(name));
  const age = (store: string, name: string, ms: number): void => {
    const t = new Date(Date.now() - ms);
    utimesSync(path(store, name), t, t);
  };
  const rows = (db: Db, name: string): { files: number; chunks: number } => ({
    files: (db.prepare('SELECT COUNT(*) AS n FROM files WHERE device = ? AND name = ?').get(DEV, name) as { n: number }).n,
    chunks: (db.prepare('SELECT COUNT(*) AS n FROM chunks WHERE device = ? AND name = ?').get(DEV, name) as { n: number }).n,
  });
  const begin = async (w: { files: FileIngest }, name: string): Promise<void> => {
    expect((await w.files.chunk(header(name), randomBytes(MIN_CHUNK))).kind).toBe('written');
  };

  it('a partial without a manifest not written for limits.unmanifestedHours is discarded with its rows; a young one and one with its manifest are kept', async () => {
    const w = world();
    await begin(w, 'junk-old');
    await begin(w, 'junk-young');
    await begin(w, 'seg-described');
    w.db.prepare('INSERT INTO manifests(device, name, seq, size, sha256) VALUES (?, ?, 3, ?, ?)').run(DEV, 'seg-described', 4 * MIN_CHUNK, 'cd'.repeat(32));
    age(w.store, 'junk-old', 25 * HOUR);
    age(w.store, 'junk-young', 23 * HOUR);
    age(w.store, 'seg-described', 25 * HOUR);
    expect(await w.sweep.sweep()).toEqual({ stale: 1, orphans: 0, held: 0 });
    expect(rows(w.db, 'junk-old')).toEqual({ files: 0, chunks: 0 });
    expect(existsSync(path(w.store, 'junk-old'))).toBe(false);
    expect(rows(w.db, 'junk-young')).toEqual({ files: 1, chunks: 1 });
    expect(rows(w.db, 'seg-described')).toEqual({ files: 1, chunks: 1 });
    expect(w.logged.find((l) => String(l.msg).startsWith('discarded a partial file'))).toMatchObject({
      level: 'warn',
      device: DEV,
      name: 'junk-old',
      limit: 'limits.unmanifestedHours',
      hours: 24,
      manifest: false,
    });
    // A file with its manifest goes after limits.unfinishedHours.
    age(w.store, 'seg-described', 721 * HOUR);
    expect((await w.sweep.sweep()).stale).toBe(1);
    expect(rows(w.db, 'seg-described')).toEqual({ files: 0, chunks: 0 });
    // What the gateway is told afterwards: nothing held, so it sends the file from its start.
    expect((await w.files.state(DEV, 'seg-described')).state).toEqual({ have: 0 });
  });

  it("a young claim keeps an old file (a receiver is writing it); a stale one does not", async () => {
    const w = world();
    await begin(w, 'seg-writing');
    age(w.store, 'seg-writing', 48 * HOUR);
    const claim = w.db.prepare('INSERT OR REPLACE INTO chunks(device, name, offset, len, claimed_at, claimed_by) VALUES (?, ?, ?, ?, ?, ?)');
    claim.run(DEV, 'seg-writing', MIN_CHUNK, MIN_CHUNK, Date.now() - 1000, 'rx-2/run');
    expect((await w.sweep.sweep()).stale).toBe(0);
    expect(existsSync(path(w.store, 'seg-writing'))).toBe(true);
    claim.run(DEV, 'seg-writing', MIN_CHUNK, MIN_CHUNK, Date.now() - 61_000, 'rx-2/run');
    expect((await w.sweep.sweep()).stale).toBe(1);
    expect(existsSync(path(w.store, 'seg-writing'))).toBe(false);
  });

  it('removes partial files no row describes and rows whose bytes are gone; keeps a file stored but not yet recorded', async () => {
    const w = world();
    mkdirSync(partialDir(w.store, DEV), { recursive: true });
    writeFileSync(path(w.store, 'rowless'), randomBytes(100));
    await begin(w, 'bytes-gone');
    await begin(w, 'renamed');
    // A receiver that stopped between moving the file into the store and recording it (file-ingest finalize).
    mkdirSync(join(w.store, DEV, 'segments'), { recursive: true });
    writeFileSync(join(w.store, DEV, 'segments', sealedFileName('renamed')), randomBytes(100));
    rmSync(path(w.store, 'bytes-gone'));
    rmSync(path(w.store, 'renamed'));
    expect(await w.sweep.sweep()).toEqual({ stale: 0, orphans: 2, held: 0 });
    expect(existsSync(path(w.store, 'rowless'))).toBe(false);
    expect(rows(w.db, 'bytes-gone')).toEqual({ files: 0, chunks: 0 });
    expect(rows(w.db, 'renamed')).toEqual({ files: 1, chunks: 1 });
  });

  it('drops held lines at or below the stored ledger and past limits.heldAhead, and keeps the others', async () => {
    const w = world({ heldAhead: 100 });
    w.db.prepare(`INSERT INTO devices(device, seq, hash, cert, ledger_bytes) VALUES (?, 40, ?, 'cert', 1000)`).run(DEV, 'ef'.repeat(32));
    const hold = w.db.prepare('INSERT INTO held(device, seq, line) VALUES (?, ?, ?)');
    for (const seq of [39, 40, 42, 140, 141]) hold.run(DEV, seq, `line ${seq}`);
    hold.run('no-ledger-yet', 5, 'x');
    hold.run('no-ledger-yet', 100, 'y');
    expect((await w.sweep.sweep()).held).toBe(4);
    expect(w.db.prepare('SELECT device, seq FROM held ORDER BY device, seq').all()).toEqual([
      { device: 'no-ledger-yet', seq: 5 },
      { device: DEV, seq: 42 },
      { device: DEV, seq: 140 },
    ]);
    expect(w.db.prepare('SELECT device, lines FROM held_totals ORDER BY device').all()).toEqual([
      { device: 'no-ledger-yet', lines: 1 },
      { device: DEV, lines: 2 },
    ]);
  });

  it('receivers sharing the store each sweep it; what one removed the other leaves', async () => {
    const w = world();
    const other = new PartialSweep(w.store, new SqliteReceiverSql(openReceiverDb(w.store)), w.cfg, createLogger('t2', { sink: () => undefined }));
    await begin(w, 'junk-shared');
    age(w.store, 'junk-shared', 30 * HOUR);
    // One after the other: in one process their transactions queue anyway (sqlite-receiver-sql.ts).
    const results = [await w.sweep.sweep(), await other.sweep()];
    expect(results.map((r) => r.stale).sort()).toEqual([0, 1]);
    expect(rows(w.db, 'junk-shared')).toEqual({ files: 0, chunks: 0 });
  });

  it('start() sweeps every quarter of the shortest age (at least every second), stop() stops it', async () => {
    const w = world({ unmanifestedHours: 2 / 3600 });
    expect(w.sweep.periodMs).toBe(1000);
    expect(world().sweep.periodMs).toBe(60_000);
    await begin(w, 'junk-a');
    age(w.store, 'junk-a', 10_000);
    w.sweep.start();
    try {
      const end = Date.now() + 3000;
      while (rows(w.db, 'junk-a').files > 0 && Date.now() < end) await sleep(50);
      expect(rows(w.db, 'junk-a').files).toBe(0);
    } finally {
      w.sweep.stop();
    }
    await begin(w, 'junk-b');
    age(w.store, 'junk-b', 10_000);
    await sleep(1500);
    expect(rows(w.db, 'junk-b').files).toBe(1);
  });
});
