/**
 * The index in an SQLite file (better-sqlite3), for one host and the demo. WAL, so the desk reads while a rebuild
 * writes; synchronous NORMAL, because the index is a view that a rebuild restores (the evidence is the store).
 * LIKE is made case-sensitive, as PostgreSQL's is, so a search finds the same sessions in both.
 *
 * better-sqlite3 is synchronous, and a transaction here spans awaits: a second connection in the same process
 * waiting on the file's lock would block the event loop that the first needs to finish. So one process has one
 * connection per file, shared by every handle opened on it, and its statements and transactions run one after
 * another in a queue. Processes share the file through SQLite's own locks (BEGIN IMMEDIATE, busy_timeout).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { RecgwError, describe } from '../util/errors.js';
import { positional, type IndexDb, type Queryable } from './database.js';

/** Parameters as SQLite binds them: no booleans or undefined. */
const bindable = (v: unknown): unknown => (v === undefined ? null : typeof v === 'boolean' ? (v ? 1 : 0) : v);

/** One file's connection in this process, and its queue. */
class Connection implements Queryable {
  handles = 0;
  private readonly statements = new Map<string, { st: Database.Statement; order: number[] }>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly db: Database.Database,
    readonly where: string,
  ) {}

  async query<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return this.guard(() => {
      let s = this.statements.get(sql);
      if (!s) {
        // Bulk inserts of every batch size would otherwise fill it without end.
        if (this.statements.size >= 500) this.statements.clear();
        const p = positional(sql);
        s = { st: this.db.prepare(p.sql), order: p.order };
        this.statements.set(sql, s);
      }
      const args = s.order.map((i) => bindable(params[i]));
      if (s.st.reader) return s.st.all(...args) as T[];
      s.st.run(...args);
      return [];
    });
  }

  async exec(sql: string): Promise<void> {
    this.guard(() => this.db.exec(sql));
  }

  serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  async drained(): Promise<void> {
    await this.queue.catch(() => undefined);
  }

  guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_BUSY') {
        throw new RecgwError('locked', `the ${this.where} stayed locked by another process for 30 s: wait for it (a rebuild?) and try again`, { cause: err });
      }
      throw new RecgwError('internal', `the ${this.where} refused a statement of the index: ${describe(err)}`, { cause: err });
    }
  }
}

const open = new Map<string, Connection>();

export async function openSqlite(path: string, where: string): Promise<IndexDb> {
  const key = resolve(path);
  let c = open.get(key);
  if (!c) {
    let db: Database.Database;
    try {
      mkdirSync(dirname(key), { recursive: true });
      db = new Database(key);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 30000');
      db.pragma('case_sensitive_like = ON');
    } catch (err) {
      throw new RecgwError('config', `cannot open the ${where}: ${describe(err)}. Check the path and that it is an SQLite file this user may write`, { cause: err });
    }
    c = new Connection(db, where);
    open.set(key, c);
  }
  c.handles++;
  return new SqliteDb(c, key);
}

class SqliteDb implements IndexDb {
  readonly dialect = 'sqlite' as const;
  readonly where: string;
  private closed = false;

  constructor(
    private readonly c: Connection,
    private readonly key: string,
  ) {
    this.where = c.where;
  }

  query<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return this.c.serial(() => this.c.query<T>(sql, params));
  }

  exec(sql: string): Promise<void> {
    return this.c.serial(() => this.c.exec(sql));
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const c = this.c;
    return c.serial(async () => {
      c.guard(() => c.db.exec('BEGIN IMMEDIATE'));
      try {
        const r = await fn(c);
        c.guard(() => c.db.exec('COMMIT'));
        return r;
      } catch (err) {
        if (c.db.inTransaction) c.db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.c.drained();
    if (--this.c.handles === 0) {
      open.delete(this.key);
      this.c.db.close();
    }
  }
}
