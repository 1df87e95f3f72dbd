/**
 * The receivers' coordination tables in PostgreSQL, in the schema `receiver` (the index's tables are in the
 * database's default one, and it has a `devices` table of its own), applied by the index's migration runner
 * (src/index/migrate.ts). The same tables as receiver.db's (store-db.ts), at its latest version; integers that count
 * bytes or milliseconds are BIGINT, binary is BYTEA, and held_totals is kept by a trigger function.
 */
import type { IndexMigration } from '../index/schema.js';
import { RETENTION_DELETIONS } from './store-db.js';

export const RECEIVER_SCHEMA = 'receiver';

export const RECEIVER_PG_MIGRATIONS: readonly IndexMigration[] = [
  {
    name: 'receiver coordination tables',
    sql: `
  CREATE TABLE devices (
    device          TEXT PRIMARY KEY,
    seq             BIGINT NOT NULL,
    hash            TEXT NOT NULL,
    cert            TEXT NOT NULL,
    ledger_bytes    BIGINT NOT NULL,
    entries_receipt TEXT,
    time_ref        DOUBLE PRECISION,
    time_max        DOUBLE PRECISION
  );
  CREATE TABLE entries (
    device TEXT NOT NULL,
    seq    BIGINT NOT NULL,
    hash   TEXT NOT NULL,
    PRIMARY KEY (device, seq)
  );
  CREATE TABLE held (
    device TEXT NOT NULL,
    seq    BIGINT NOT NULL,
    line   TEXT NOT NULL,
    PRIMARY KEY (device, seq)
  );
  CREATE TABLE manifests (
    device TEXT NOT NULL,
    name   TEXT NOT NULL,
    seq    BIGINT NOT NULL,
    size   BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (device, name)
  );
  CREATE TABLE files (
    device   TEXT NOT NULL,
    name     TEXT NOT NULL,
    size     BIGINT NOT NULL,
    sha256   TEXT NOT NULL,
    deadline TEXT NOT NULL,
    state    TEXT NOT NULL CHECK (state IN ('partial', 'stored')),
    receipt  TEXT,
    PRIMARY KEY (device, name)
  );
  CREATE INDEX files_partial ON files(device) WHERE state = 'partial';
  CREATE TABLE chunks (
    device     TEXT NOT NULL,
    name       TEXT NOT NULL,
    "offset"   BIGINT NOT NULL,
    len        BIGINT NOT NULL,
    claimed_at BIGINT,
    claimed_by TEXT,
    PRIMARY KEY (device, name, "offset")
  );
  CREATE TABLE log_leaves (
    idx  BIGINT PRIMARY KEY,
    leaf BYTEA NOT NULL,
    hash BYTEA NOT NULL
  );
  CREATE TABLE log_tiles (
    level  INTEGER NOT NULL,
    idx    BIGINT NOT NULL,
    hashes BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
  );
  CREATE TABLE log_head (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    size       BIGINT NOT NULL,
    checkpoint TEXT NOT NULL
  );
  CREATE TABLE held_totals (
    device TEXT PRIMARY KEY,
    lines  BIGINT NOT NULL,
    bytes  BIGINT NOT NULL
  );
  CREATE FUNCTION held_count() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
      UPDATE held_totals SET lines = lines - 1, bytes = bytes - octet_length(OLD.line) WHERE device = OLD.device;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
      INSERT INTO held_totals(device, lines, bytes) VALUES (NEW.device, 1, octet_length(NEW.line))
        ON CONFLICT (device) DO UPDATE SET lines = held_totals.lines + 1, bytes = held_totals.bytes + excluded.bytes;
    END IF;
    RETURN NULL;
  END $$;
  CREATE TRIGGER held_count AFTER INSERT OR UPDATE OR DELETE ON held FOR EACH ROW EXECUTE FUNCTION held_count();
  CREATE TABLE alerts (
    device      TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    hash        TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (device, seq, hash)
  );
  `,
  },
  {
    name: 'device folder writes after commit',
    sql: `
  CREATE TABLE unfiled (
    id     BIGSERIAL PRIMARY KEY,
    device TEXT NOT NULL,
    file   TEXT NOT NULL,
    data   TEXT NOT NULL,
    mode   TEXT NOT NULL CHECK (mode IN ('append', 'replace'))
  );
  `,
  },
  {
    name: 'manifest hash algorithm',
    sql: `
  -- The algorithm of the manifest's stored hash (sha256, or sm3 under gm); the column sha256 holds it whichever it is.
  ALTER TABLE manifests ADD COLUMN hash_alg TEXT NOT NULL DEFAULT 'sha256' CHECK (hash_alg IN ('sha256', 'sm3'));
  `,
  },
  {
    name: 'agency log head with its edge',
    sql: `
  ALTER TABLE log_head ADD COLUMN edge BYTEA;
  INSERT INTO log_head(id, size, checkpoint, edge) VALUES (1, 0, '', '\\x') ON CONFLICT(id) DO NOTHING;
  `,
  },
  { name: 'retention deletions', sql: RETENTION_DELETIONS },
  {
    name: 'multipart uploads',
    sql: `
  -- A file's S3 multipart upload (s3-partials.ts), made once per file under the device's lock.
  CREATE TABLE uploads (
    device     TEXT NOT NULL,
    name       TEXT NOT NULL,
    upload_id  TEXT NOT NULL,
    part_bytes BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (device, name)
  );
  `,
  },
  {
    name: 'filed lengths',
    sql: `
  -- The committed length of each device's append-only files written after commit (filing.ts).
  CREATE TABLE filed (
    device TEXT NOT NULL,
    file   TEXT NOT NULL,
    bytes  BIGINT NOT NULL,
    PRIMARY KEY (device, file)
  );
  `,
  },
];
