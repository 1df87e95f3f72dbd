/**
 * Receivers sharing a store write each byte once: a chunk's new bytes are claimed in receiver.db before the write
 * (which runs on the thread pool, off the write lock), count towards what the file has only once written, are
 * given up when the write fails, and are taken over when a receiver stopped mid-write long ago. Two FileIngests on
 * two connections to one receiver.db stand for two receivers; the files are real, on the temp folder's disk.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { receiptSigner } from '../helpers/report-store.js';
import { FileIngest } from '../../src/receiver/file-ingest.js';
import { testAgencyLog } from '../helpers/receiver-store.js';
import { openReceiverDb, partialDir } from '../../src/receiver/store-db.js';
import { sealedFileName } from '../../src/evidence/sealer.js';
import type { ChunkHeader } from '../../src/uplink/wire.js';
import { SqliteReceiverSql } from '../../src/receiver/sqlite-receiver-sql.js';

afterAll(cleanupTmp);
const signer = receiptSigner(makeCa().dir);

const MiB = 1024 * 1024;
/** A FileIngest on its own connection to the store's receiver.db, as one receiver process has. */
const ingest = (store: string, name: string): FileIngest => {
  const db = openReceiverDb(store);
  const sql = new SqliteReceiverSql(db);
  return new FileIngest(store, sql, signer, name, testAgencyLog(sql));
};
const DEVICE = 'claims-dev';

describe('chunk claims between receivers sharing a store', () => {

  function world(name: string): { store: string; a: FileIngest; b: FileIngest; file: Buffer; header: (offset: number) => ChunkHeader; chunk: (i: number) => Buffer } {
    const store = tmp('recgw-claims-');
    const file = randomBytes(2 * MiB + 100);
    const sha256 = createHash('sha256').update(file).digest('hex');
    const header = (offset: number): ChunkHeader => ({ v: 1, device: DEVICE, name, offset, size: file.length, sha256, deadline: '2026-11-27T00:00:00.000Z' });
    const chunk = (i: number): Buffer => file.subarray(i * MiB, Math.min(file.length, (i + 1) * MiB));
    return { store, a: ingest(store, 'rx-a'), b: ingest(store, 'rx-b'), file, header, chunk };
  }
  const have = async (f: FileIngest, name: string): Promise<number> => {
    const s = (await f.state(DEVICE, name)).state;
    return 'have' in s ? s.have : -1;
  };

  it('a range being written by one receiver is neither written again by another nor counted until written', async () => {
    const w = world('seg-a');
    const writing = w.a.chunk(w.header(0), w.chunk(0)); // claimed synchronously; the write is under way
    expect(await w.b.chunk(w.header(0), w.chunk(0))).toEqual({ kind: 'written', complete: false });
    expect(await have(w.b, 'seg-a')).toBe(0);
    expect(await writing).toEqual({ kind: 'written', complete: false });
    expect(await have(w.b, 'seg-a')).toBe(MiB);
    await w.b.chunk(w.header(MiB), w.chunk(1));
    expect(await w.a.chunk(w.header(2 * MiB), w.chunk(2))).toEqual({ kind: 'written', complete: true });
    expect(await have(w.a, 'seg-a')).toBe(w.file.length);
    expect(readFileSync(join(partialDir(w.store, DEVICE), sealedFileName('seg-a'))).equals(w.file)).toBe(true);
  });

  it('a failed write gives its claim up, so the bytes are written when the chunk comes again', async () => {
    const w = world('seg-b');
    // A folder where the partial file should be: opening it for writing fails (EISDIR).
    const path = join(partialDir(w.store, DEVICE), sealedFileName('seg-b'));
    mkdirSync(path, { recursive: true });
    await expect(w.a.chunk(w.header(0), w.chunk(0))).rejects.toThrow(/EISDIR/);
    expect(await have(w.a, 'seg-b')).toBe(0);
    rmdirSync(path);
    expect(await w.b.chunk(w.header(0), w.chunk(0))).toEqual({ kind: 'written', complete: false });
    expect(await have(w.a, 'seg-b')).toBe(MiB);
  });

  it('a claim left by a receiver that stopped mid-write is taken over once stale, not before', async () => {
    const w = world('seg-c');
    const db = openReceiverDb(w.store);
    await w.a.chunk(w.header(MiB), w.chunk(1)); // creates the file's row
    const leftAt = (ms: number): void => void db.prepare('INSERT OR REPLACE INTO chunks(device, name, offset, len, claimed_at) VALUES (?, ?, 0, ?, ?)').run(DEVICE, 'seg-c', MiB, ms);
    leftAt(Date.now() - 5_000);
    await w.b.chunk(w.header(0), w.chunk(0));
    expect(await have(w.b, 'seg-c')).toBe(0); // still someone else's
    leftAt(Date.now() - 61_000);
    await w.b.chunk(w.header(0), w.chunk(0));
    expect(await have(w.b, 'seg-c')).toBe(2 * MiB);
    db.close();
  });

  it("a receiver started again drops its earlier run's unwritten claims at once, and only its own", async () => {
    const w = world('seg-d');
    const db = openReceiverDb(w.store);
    await w.a.chunk(w.header(MiB), w.chunk(1)); // creates the file's row
    // rx-a's earlier run claimed the first MiB and stopped before writing it; rx-b holds a claim on the last bytes.
    const claim = db.prepare('INSERT INTO chunks(device, name, offset, len, claimed_at, claimed_by) VALUES (?, ?, ?, ?, ?, ?)');
    claim.run(DEVICE, 'seg-d', 0, MiB, Date.now() - 1_000, 'rx-a/earlier-run');
    claim.run(DEVICE, 'seg-d', 2 * MiB, 100, Date.now() - 1_000, 'rx-b/its-run');
    const again = ingest(w.store, 'rx-a');
    expect(await again.dropEarlierClaims()).toBe(1);
    expect(await again.chunk(w.header(0), w.chunk(0))).toEqual({ kind: 'written', complete: false });
    expect(await have(again, 'seg-d')).toBe(2 * MiB);
    // rx-b's claim is left alone: its bytes are not written by rx-a while it is young.
    expect(await again.chunk(w.header(2 * MiB), w.chunk(2))).toEqual({ kind: 'written', complete: false });
    expect(db.prepare('SELECT claimed_by FROM chunks WHERE name = ? AND offset = ?').get('seg-d', 2 * MiB)).toEqual({ claimed_by: 'rx-b/its-run' });
    db.close();
  });
});
