/**
 * ReceiverSql over receiver.db (better-sqlite3, synchronous): statements are prepared once per connection. A
 * transaction may span awaits, and better-sqlite3 waits for a lock by blocking the thread: a second connection to
 * the file in this process waiting for the first's write lock would block the event loop that the first needs to
 * commit. So transactions on one file queue in this process, whichever connection they use. Receivers in other
 * processes wait on SQLite's write lock, taken at BEGIN IMMEDIATE: every transaction is locked on every device.
 * Statements outside a transaction run at once (reads; every write here is in a transaction).
 */
import { positional } from '../index/database.js';
import { prepared, type Db } from '../state/db.js';
import type { Queryable, ReceiverSql, TxOptions } from './receiver-sql.js';

export class SqliteReceiverSql implements ReceiverSql {
  readonly dialect = 'sqlite' as const;
  readonly where: string;

  constructor(
    readonly db: Db,
    where = 'receiver.db',
  ) {
    this.where = where;
  }

  async query<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return this.run<T>(sql, params);
  }

  async exec(sql: string): Promise<void> {
    this.db.exec(sql);
  }

  private run<T>(sql: string, params: readonly unknown[]): T[] {
    const p = positional(sql);
    const st = prepared(this.db, p.sql);
    const args = p.order.map((i) => params[i]);
    if (st.reader) return st.all(...args) as T[];
    st.run(...args);
    return [];
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>, opts: TxOptions = {}): Promise<T> {
    const go = async (): Promise<T> => {
      const before = this.db.pragma('synchronous', { simple: true }) as number;
      if (opts.durable) this.db.pragma('synchronous = FULL');
      try {
        this.db.exec(opts.readOnly ? 'BEGIN' : 'BEGIN IMMEDIATE');
        try {
          const r = await fn(this);
          this.db.exec('COMMIT');
          return r;
        } catch (err) {
          if (this.db.inTransaction) this.db.exec('ROLLBACK');
          throw err;
        }
      } finally {
        if (opts.durable) this.db.pragma(`synchronous = ${before}`);
      }
    };
    return queued(this.db, go);
  }

  async close(): Promise<void> {
    await queues.get(this.db.name);
    this.db.close();
  }
}

/** Per file, the last transaction queued in this process. */
const queues = new Map<string, Promise<unknown>>();

/**
 * `fn` once every transaction queued before it on the file of `db` (any connection in this process) has ended: for
 * the synchronous transactions of code that shares the connection (log-files.ts), which must not nest in one of
 * them that is waiting between two statements.
 */
export function queued<T>(db: Db, fn: () => Promise<T>): Promise<T> {
  const file = db.name;
  const next = (queues.get(file) ?? Promise.resolve()).then(fn, fn);
  const tail = next.catch(() => undefined);
  queues.set(file, tail);
  // Forgotten once idle, so that a process opening many stores (tests) keeps no map entry per file.
  void tail.then(() => queues.get(file) === tail && queues.delete(file));
  return next;
}
