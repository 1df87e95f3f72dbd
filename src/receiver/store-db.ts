/**
 * The receiver's bookkeeping beside its store (`<store>/receiver.db`). Several receivers on one host share it:
 * a shared subscription hands one device's messages to any of them, and this database (SQLite's write lock) is
 * what keeps each device's ledger.jsonl appended in sequence order, by one receiver at a time. The ingests reach
 * it through sqlite-receiver-sql.ts; receiver-pg-schema.ts has the same tables for PostgreSQL.
 */
import { join } from 'node:path';
import { openStateDb, type Db } from '../state/db.js';

/**
 * Retention deletions (retention-remover.ts): the signed event, logged in the same transaction; 'logged' until every
 * file it names is removed from the store, then 'removed'. A crash in between leaves 'logged', finished at start.
 * The same on SQLite and PostgreSQL (receiver-pg-schema.ts).
 */
export const RETENTION_DELETIONS = `
  CREATE TABLE retention_deletions (
    id         TEXT PRIMARY KEY,
    device     TEXT NOT NULL,
    event      TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('logged', 'removed')),
    logged_at  TEXT NOT NULL,
    removed_at TEXT
  );
  `;

export const RECEIVER_MIGRATIONS: readonly string[] = [
  `
  -- Per device: the stored ledger's last entry, the certificate in force, and ledger.jsonl's committed length
  -- (a torn append past it is cut off before the next one).
  CREATE TABLE devices (
    device        TEXT PRIMARY KEY,
    seq           INTEGER NOT NULL,
    hash          TEXT NOT NULL,
    cert          TEXT NOT NULL,
    ledger_bytes  INTEGER NOT NULL,
    entries_receipt TEXT
  );
  -- Hashes of stored entries, to tell a harmless duplicate from a conflicting line.
  CREATE TABLE entries (
    device TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    hash   TEXT NOT NULL,
    PRIMARY KEY (device, seq)
  );
  -- Lines that arrived ahead of a gap, held until it fills.
  CREATE TABLE held (
    device TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    line   TEXT NOT NULL,
    PRIMARY KEY (device, seq)
  );
  -- What stored manifests say each sealed file must be.
  CREATE TABLE manifests (
    device TEXT NOT NULL,
    name   TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    size   INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (device, name)
  );
  CREATE TABLE files (
    device   TEXT NOT NULL,
    name     TEXT NOT NULL,
    size     INTEGER NOT NULL,
    sha256   TEXT NOT NULL,
    deadline TEXT NOT NULL,
    state    TEXT NOT NULL CHECK (state IN ('partial', 'stored')),
    receipt  TEXT,
    PRIMARY KEY (device, name)
  );
  -- Byte ranges of partial files written so far (chunks may come in any order, from any receiver).
  CREATE TABLE chunks (
    device TEXT NOT NULL,
    name   TEXT NOT NULL,
    offset INTEGER NOT NULL,
    len    INTEGER NOT NULL,
    PRIMARY KEY (device, name, offset)
  );
  `,
  `
  -- A range being written: claimed (ms since the epoch) before the write, so no other receiver writes it too, and
  -- NULL once written. Only written ranges count towards what a file has.
  ALTER TABLE chunks ADD COLUMN claimed_at INTEGER;
  `,
  `
  -- Who claimed it: '<receiver name>/<run>', so that a receiver started again drops what its earlier run claimed
  -- and never wrote at once, instead of waiting for the claim to go stale.
  ALTER TABLE chunks ADD COLUMN claimed_by TEXT;
  `,
  `
  -- The agency's transparency log (agency-log.ts): every leaf, in order, with its RFC 6962 leaf hash; the full
  -- 256-hash tiles of every level as they complete; and the size and signed checkpoint of the log.
  CREATE TABLE log_leaves (
    idx  INTEGER PRIMARY KEY,
    leaf BLOB NOT NULL,
    hash BLOB NOT NULL
  );
  CREATE TABLE log_tiles (
    level  INTEGER NOT NULL,
    idx    INTEGER NOT NULL,
    hashes BLOB NOT NULL,
    PRIMARY KEY (level, idx)
  );
  CREATE TABLE log_head (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    size       INTEGER NOT NULL,
    checkpoint TEXT NOT NULL
  );
  `,
  `
  -- Per-device limits (limits.ts): what a device holds ahead of a gap, kept up to date by triggers so that checking
  -- a limit never reads the held lines themselves, and the partial files found without reading stored ones.
  CREATE TABLE held_totals (
    device TEXT PRIMARY KEY,
    lines  INTEGER NOT NULL,
    bytes  INTEGER NOT NULL
  );
  INSERT INTO held_totals SELECT device, COUNT(*), SUM(octet_length(line)) FROM held GROUP BY device;
  CREATE TRIGGER held_added AFTER INSERT ON held BEGIN
    INSERT INTO held_totals(device, lines, bytes) VALUES (new.device, 1, octet_length(new.line))
      ON CONFLICT(device) DO UPDATE SET lines = lines + 1, bytes = bytes + excluded.bytes;
  END;
  CREATE TRIGGER held_removed AFTER DELETE ON held BEGIN
    UPDATE held_totals SET lines = lines - 1, bytes = bytes - octet_length(old.line) WHERE device = old.device;
  END;
  CREATE TRIGGER held_replaced AFTER UPDATE OF line ON held BEGIN
    UPDATE held_totals SET bytes = bytes - octet_length(old.line) + octet_length(new.line) WHERE device = new.device;
  END;
  CREATE INDEX files_partial ON files(device) WHERE state = 'partial';
  `,
  `
  -- Each device's ledger clock (key-rules.ts): the reference time a next entry may not fall behind by more than the
  -- tolerance, and the latest time the ledger reached; milliseconds since the epoch.
  ALTER TABLE devices ADD COLUMN time_ref INTEGER;
  ALTER TABLE devices ADD COLUMN time_max INTEGER;
  `,
  `
  -- Alerts recorded (alert-ingest.ts), one row per signed entry, so that a repeat is known for one; the records
  -- themselves are in <store>/<d>/alerts.jsonl.
  CREATE TABLE alerts (
    device      TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (device, seq, hash)
  );
  `,
  `
  -- Writes to a device folder's files that wait for their transaction to commit (filing.ts).
  CREATE TABLE unfiled (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,
    file   TEXT NOT NULL,
    data   TEXT NOT NULL,
    mode   TEXT NOT NULL CHECK (mode IN ('append', 'replace'))
  );
  `,
  `
  -- The algorithm of the manifest's stored hash: its entry's suite's (sha256, or sm3 under gm, evidence-format.md
  -- §17.7). The column sha256 holds that hash whichever it is.
  ALTER TABLE manifests ADD COLUMN hash_alg TEXT NOT NULL DEFAULT 'sha256' CHECK (hash_alg IN ('sha256', 'sm3'));
  `,
  `
  -- The agency log's head (agency-log.ts): the right edge of its tree (the roots of its full subtrees, largest
  -- first), so that an append needs no walk over the tiles; NULL in a head from before, rebuilt at its next append.
  -- And the head row from the start, size 0, so that an append always has a row to lock.
  ALTER TABLE log_head ADD COLUMN edge BLOB;
  INSERT INTO log_head(id, size, checkpoint, edge) VALUES (1, 0, '', x'') ON CONFLICT(id) DO NOTHING;
  `,
  RETENTION_DELETIONS,
  `
  -- A file's S3 multipart upload (s3-partials.ts): made once per file under the device's lock, so every receiver
  -- sharing the bucket adds its parts to the same one; the parts themselves are the bucket's (ListParts).
  CREATE TABLE uploads (
    device     TEXT NOT NULL,
    name       TEXT NOT NULL,
    upload_id  TEXT NOT NULL,
    part_bytes INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (device, name)
  );
  `,
  `
  -- The committed length of each device's append-only files written after commit (filing.ts: receipts.jsonl,
  -- alerts.jsonl), so that an append need not read the store's tail first.
  CREATE TABLE filed (
    device TEXT NOT NULL,
    file   TEXT NOT NULL,
    bytes  INTEGER NOT NULL,
    PRIMARY KEY (device, file)
  );
  `,
];

export const receiverDbPath = (store: string): string => join(store, 'receiver.db');
export const partialDir = (store: string, device: string): string => join(store, '.partial', device);

/**
 * Chunk bookkeeping commits without fsync (WAL, synchronous NORMAL): a crash may forget the last chunk rows, and
 * the gateway then resends those chunks. What a receipt vouches for commits durably (ReceiverSql's `durable`).
 */
export function openReceiverDb(store: string): Db {
  const db = openStateDb(receiverDbPath(store), { migrations: RECEIVER_MIGRATIONS });
  db.pragma('synchronous = NORMAL');
  return db;
}

/** The length of the prefix of [0, size) that the ranges cover. */
export function coveredPrefix(ranges: { offset: number; len: number }[]): number {
  let end = 0;
  for (const r of [...ranges].sort((a, b) => a.offset - b.offset)) {
    if (r.offset > end) break;
    end = Math.max(end, r.offset + r.len);
  }
  return end;
}

/** The parts of [offset, offset+len) that no range covers, as [from, to) pairs in order. */
export function uncovered(ranges: { offset: number; len: number }[], offset: number, len: number): [number, number][] {
  const out: [number, number][] = [];
  let at = offset;
  const end = offset + len;
  for (const r of [...ranges].sort((a, b) => a.offset - b.offset)) {
    if (r.offset + r.len <= at) continue;
    if (r.offset >= end) break;
    if (r.offset > at) out.push([at, r.offset]);
    at = Math.max(at, r.offset + r.len);
    if (at >= end) break;
  }
  if (at < end) out.push([at, end]);
  return out;
}
