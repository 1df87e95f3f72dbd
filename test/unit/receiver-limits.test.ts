/**
 * Bounded cost per device at the receiver, for chunks (issue 14, item 6): what a device holding its own key can
 * make the shared store keep for files no manifest describes, and a chunk far past any real file's end. A real
 * receiver.db and real partial files in a temp folder; two devices, to show one's limit is not the other's.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { receiptSigner } from '../helpers/report-store.js';
import { FileIngest } from '../../src/receiver/file-ingest.js';
import { DEFAULT_LIMITS, DeviceLimits, MIN_CHUNK, type LimitsConfig } from '../../src/receiver/limits.js';
import { openReceiverDb, partialDir } from '../../src/receiver/store-db.js';
import { loadReceiverConfig, parseReceiverConfig } from '../../src/receiver/config.js';
import type { Db } from '../../src/state/db.js';
import type { ChunkHeader } from '../../src/uplink/wire.js';
import { testAgencyLog } from '../helpers/receiver-store.js';
import { SqliteReceiverSql } from '../../src/receiver/sqlite-receiver-sql.js';

afterAll(cleanupTmp);

const MiB = 1024 * 1024;
const DEADLINE = '2026-11-27T00:00:00.000Z';
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const header = (device: string, name: string, offset: number, size: number, sha256 = 'ab'.repeat(32)): ChunkHeader => ({ v: 1, device, name, offset, size, sha256, deadline: DEADLINE });

describe('per-device limits on chunks', () => {
  const signer = receiptSigner(makeCa().dir);

  function world(limits: Partial<LimitsConfig>): { store: string; db: Db; files: FileIngest } {
    const store = tmp('recgw-limits-');
    const db = openReceiverDb(store);
    const sql = new SqliteReceiverSql(db);
    const files = new FileIngest(store, sql, signer, 'rx-1', testAgencyLog(sql));
    files.useLimits(new DeviceLimits(sql, { ...DEFAULT_LIMITS, ...limits }));
    return { store, db, files };
  }
  const manifest = (db: Db, device: string, name: string, file: Buffer): void =>
    void db.prepare('INSERT INTO manifests(device, name, seq, size, sha256) VALUES (?, ?, 1, ?, ?)').run(device, name, file.length, sha(file));
  const diskBytes = (dir: string): number => (existsSync(dir) ? readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).blocks * 512, 0) : 0);

  it('junk for names no manifest describes is taken up to limits.unmanifestedMiB, then refused naming the device and the key; another device is unaffected', async () => {
    const w = world({ unmanifestedMiB: 2, unmanifestedFiles: 100 });
    const junk = randomBytes(MIN_CHUNK);
    const outcomes = [];
    for (let i = 0; i < 10; i++) outcomes.push(await w.files.chunk(header('attacker', `junk-${i}`, 0, MiB / 2), junk));
    // Four files declaring half a MiB each fill 2 MiB; the fifth and after are refused, whatever they carry.
    expect(outcomes.slice(0, 4).every((o) => o.kind === 'written')).toBe(true);
    expect(outcomes.slice(4).every((o) => o.kind === 'refused')).toBe(true);
    const why = (outcomes[4] as { why: string }).why;
    expect(why).toContain('device attacker');
    expect(why).toContain('limits.unmanifestedMiB (2 MiB)');
    expect(why).toMatch(/raise it in the receiver config/);
    // Chunks of the files already taken still go in (they were counted when the file was begun).
    expect((await w.files.chunk(header('attacker', 'junk-0', MIN_CHUNK, MiB / 2), junk)).kind).toBe('written');
    expect(w.db.prepare(`SELECT COUNT(*) AS n FROM files WHERE device = 'attacker'`).get()).toEqual({ n: 4 });
    expect(diskBytes(partialDir(w.store, 'attacker'))).toBeLessThanOrEqual(2 * MiB);
    // Another device sharing the store has its own budget.
    expect((await w.files.chunk(header('bystander', 'seg-0', 0, MiB / 2), junk)).kind).toBe('written');
  });

  it('at most limits.unmanifestedFiles such files per device', async () => {
    const w = world({ unmanifestedFiles: 3 });
    const kinds = [];
    for (let i = 0; i < 5; i++) kinds.push((await w.files.chunk(header('attacker', `tiny-${i}`, 0, 100), randomBytes(100))).kind);
    expect(kinds).toEqual(['written', 'written', 'written', 'refused', 'refused']);
  });

  it('a chunk at offset 2^40 of a file no manifest describes is refused: no row, no sparse file', async () => {
    const w = world({});
    const at = 2 ** 40;
    const out = await w.files.chunk(header('attacker', 'far', at, at + MIN_CHUNK), randomBytes(MIN_CHUNK));
    expect(out.kind).toBe('refused');
    expect((out as { why: string }).why).toMatch(/declares 1099511644160 bytes while its manifest is not stored, more than limits\.fileMiB \(8192 MiB\)/);
    expect(w.db.prepare('SELECT COUNT(*) AS n FROM files').get()).toEqual({ n: 0 });
    expect(existsSync(partialDir(w.store, 'attacker'))).toBe(false);
  });

  it('a chunk at 2^40 for a file whose manifest is stored is refused against the manifest; the genuine file is taken, even past fileMiB', async () => {
    const w = world({ fileMiB: 1 });
    const file = randomBytes(2 * MiB + 100);
    manifest(w.db, 'dev', 'seg-big', file);
    const at = 2 ** 40;
    const far = await w.files.chunk(header('dev', 'seg-big', at, at + MIN_CHUNK, sha(file)), randomBytes(MIN_CHUNK));
    expect(far).toEqual({ kind: 'refused', why: expect.stringMatching(/but its manifest says 2097252/) });
    // The manifest (signed by the device) says what the file is: fileMiB is for files not yet described.
    expect(await w.files.chunk(header('dev', 'seg-big', 0, file.length, sha(file)), file.subarray(0, MiB))).toEqual({ kind: 'written', complete: false });
    expect(await w.files.chunk(header('dev', 'seg-big', MiB, file.length, sha(file)), file.subarray(MiB))).toEqual({ kind: 'written', complete: true });
    const r = await w.files.finalize('dev', 'seg-big', () => new Date());
    expect(r && 'kind' in r && r.kind).toBe('segment');
  });

  it('chunks are at least 16 KiB except a file\'s last piece: one byte per chunk would cost a row each', async () => {
    const w = world({});
    const small = await w.files.chunk(header('dev', 'seg-s', 0, MiB), randomBytes(100));
    expect(small).toEqual({ kind: 'refused', why: expect.stringMatching(/a chunk of 100 bytes at offset 0 of seg-s does not reach the file's end/) });
    expect((await w.files.chunk(header('dev', 'seg-s', MiB - 100, MiB), randomBytes(100))).kind).toBe('written');
  });

  it('a partial begun as junk under a name is discarded when the genuine chunk comes with its manifest, and the genuine file is stored', async () => {
    const w = world({});
    await w.files.chunk(header('dev', 'seg-1', 0, 5 * MiB), randomBytes(MiB));
    const file = randomBytes(MiB + 10);
    manifest(w.db, 'dev', 'seg-1', file);
    expect(await w.files.chunk(header('dev', 'seg-1', 0, file.length, sha(file)), file)).toEqual({ kind: 'written', complete: true });
    const r = await w.files.finalize('dev', 'seg-1', () => new Date());
    expect(r && 'kind' in r && r.name).toBe('seg-1');
  });

  it('the receiver config has the limits with their defaults, takes some, and refuses what is not a limit', () => {
    const base = { name: 'receiver:1', store: 's', broker: 'mqtts://b:8883', tls: { cert: 'c', key: 'k' }, agency: { caCert: 'a', receiptKey: 'r', receiptCert: 'rc', logKey: 'lk', logCert: 'lc', encryptionCerts: ['ec'] } };
    expect(parseReceiverConfig(structuredClone(base), '/etc/r.json').limits).toEqual(DEFAULT_LIMITS);
    expect(loadReceiverConfig(join(import.meta.dirname, '../../config/receiver.json')).limits).toEqual(DEFAULT_LIMITS);
    expect(parseReceiverConfig({ ...structuredClone(base), limits: { heldLines: 10, unmanifestedHours: 0.5 } }, '/etc/r.json').limits).toEqual({ ...DEFAULT_LIMITS, heldLines: 10, unmanifestedHours: 0.5 });
    expect(() => parseReceiverConfig({ ...structuredClone(base), limits: { heldLine: 10 } }, '/etc/r.json')).toThrow(/limits.*heldLine/s);
    expect(() => parseReceiverConfig({ ...structuredClone(base), limits: { fileMiB: 0 } }, '/etc/r.json')).toThrow(/limits\.fileMiB: must be >= 1/);
  });
});
