/**
 * The gateway's state database: SQLite in WAL mode with full fsync on commit, because a committed ledger
 * entry is evidence and must survive a power cut. Opening checks integrity and refuses a damaged file
 * rather than replacing it: the recordings it describes must never be orphaned silently.
 */
import Database from 'better-sqlite3';
import { mkdirSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { MIGRATIONS } from './migrations.js';
import { RecgwError } from '../util/errors.js';

export type Db = Database.Database;

export interface OpenOptions {
  /** Run PRAGMA quick_check at open (the service does; short-lived CLI reads may skip it). */
  check?: boolean;
  readonly?: boolean;
  /** The schema steps to apply (default: the gateway's). The receiver's store database has its own. */
  migrations?: readonly string[];
}

export function openStateDb(path: string, opts: OpenOptions = {}): Db {
  if (opts.readonly && !existsSync(path)) {
    throw new RecgwError('state', `state database ${path} does not exist: is stateDir in the config right, and has the gateway run?`);
  }
  mkdirSync(dirname(path), { recursive: true });
  // Check an existing file on a read-only connection first: refusing a damaged database through a read-write one
  // would still replay its WAL into it when that connection closes, changing the evidence we refuse to touch.
  if (!opts.readonly && opts.check !== false && existsSync(path)) refuseIfDamaged(path);
  let db: Db;
  try {
    db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
  } catch (err) {
    throw new RecgwError('state', `cannot open state database ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    // First: switching to WAL and migrating wait for other processes opening the same file.
    db.pragma('busy_timeout = 5000');
    if (!opts.readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
    }
    db.pragma('foreign_keys = ON');
    if (opts.readonly && opts.check !== false) {
      const bad = quickCheck(db);
      if (bad) throw new Error(bad);
    }
    if (!opts.readonly) migrate(db, opts.migrations ?? MIGRATIONS);
  } catch (err) {
    db.close();
    throw damaged(path, (err as Error).message, err);
  }
  return db;
}

function refuseIfDamaged(path: string): void {
  let problem: string | undefined;
  try {
    const ro = new Database(path, { readonly: true, fileMustExist: true });
    try {
      problem = quickCheck(ro);
    } finally {
      ro.close();
    }
  } catch (err) {
    problem = (err as Error).message;
  }
  if (problem !== undefined) throw damaged(path, problem);
}

/** PRAGMA quick_check's complaints (the first three), or undefined when the file is sound. */
function quickCheck(db: Db): string | undefined {
  const rows = db.pragma('quick_check') as { quick_check: string }[];
  const bad = rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
  return bad.length > 0 ? bad.slice(0, 3).join('; ') : undefined;
}

function damaged(path: string, problem: string, cause?: unknown): RecgwError {
  return new RecgwError(
    'state',
    `state database ${path} is damaged (${problem}). It was left untouched and the recordings beside it are intact; ` +
      'move it aside for analysis and restore it from backup, or contact support. Do not delete it.',
    cause === undefined ? undefined : { cause },
  );
}

function migrate(db: Db, steps: readonly string[]): void {
  for (;;) {
    // Each step under the write lock, the version read again inside it: processes opening one new file at once
    // (receivers starting together on a shared store) would otherwise each apply the same step ("table exists").
    const done = db
      .transaction(() => {
        const v = db.pragma('user_version', { simple: true }) as number;
        if (v > steps.length) throw new Error(`schema version ${v} is newer than this recgw knows (${steps.length}); install the newer recgw again`);
        if (v === steps.length) return true;
        db.exec(steps[v]!);
        db.pragma(`user_version = ${v + 1}`);
        return false;
      })
      .immediate();
    if (done) return;
  }
}

/**
 * Run `fn` in a transaction committed at the given `synchronous` level (WAL: NORMAL does not fsync the commit, FULL
 * does, with every commit before it), then go back to the connection's own level.
 */
export function atSyncLevel<T>(db: Db, level: 'NORMAL' | 'FULL', fn: () => T, immediate = false): T {
  const before = db.pragma('synchronous', { simple: true }) as number;
  db.pragma(`synchronous = ${level}`);
  try {
    const tx = db.transaction(fn);
    return immediate ? tx.immediate() : tx();
  } finally {
    db.pragma(`synchronous = ${before}`);
  }
}

/**
 * `fn` in a transaction whose commit is not fsynced (the next durable commit makes it durable with itself). Only for
 * bookkeeping that a power cut may set back harmlessly, never for ledger entries or anything that leaves the device
 * or vouches for something.
 */
export const lightly = <T>(db: Db, fn: () => T): T => atSyncLevel(db, 'NORMAL', fn);

export function kvGet(db: Db, key: string): string | undefined {
  const row = prepared(db, 'SELECT value FROM kv WHERE key = ?').get(key) as { value: string } | undefined;
  return row?.value;
}

export function kvSet(db: Db, key: string, value: string): void {
  prepared(db, 'INSERT INTO kv(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
}

export function kvDelete(db: Db, key: string): void {
  prepared(db, 'DELETE FROM kv WHERE key = ?').run(key);
}

const perConnection = new WeakMap<Db, Map<string, Database.Statement>>();

/**
 * `sql` prepared once per connection: preparing costs more than running a small statement, and the upload and
 * receive paths run a few per chunk and receipt. Not for statements that are iterated (one statement runs one query
 * at a time).
 */
export function prepared(db: Db, sql: string): Database.Statement {
  let cache = perConnection.get(db);
  if (!cache) perConnection.set(db, (cache = new Map()));
  let st = cache.get(sql);
  if (!st) cache.set(sql, (st = db.prepare(sql)));
  return st;
}
