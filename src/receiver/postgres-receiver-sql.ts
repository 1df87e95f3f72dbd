/**
 * ReceiverSql on PostgreSQL, for receivers on several hosts sharing one store folder: the index's connection
 * (src/index/postgres-db.ts) with its tables in the schema `receiver`, brought up to date by the index's migration
 * runner. A device's transactions take an advisory lock on the device first (held until commit), so receivers change
 * one device's rows one after another, and each device's ledger is appended in order; other devices go on meanwhile.
 */
import type { IndexDb } from '../index/database.js';
import { migrateIndex, SCHEMA_LOCK } from '../index/migrate.js';
import { openPostgres } from '../index/postgres-db.js';
import { lockKey, type Queryable, type ReceiverSql, type TxOptions } from './receiver-sql.js';
import { RECEIVER_PG_MIGRATIONS, RECEIVER_SCHEMA } from './receiver-pg-schema.js';

export async function openPostgresReceiverSql(url: string, where: string): Promise<ReceiverSql> {
  const db = await openPostgres(url, where, { schema: RECEIVER_SCHEMA, application: 'recgw-receiver' });
  try {
    // Under the migrations' lock: receivers starting at once on several hosts would race to create it.
    await db.transaction((tx) => tx.exec(`CREATE SCHEMA IF NOT EXISTS ${RECEIVER_SCHEMA}`), SCHEMA_LOCK);
    await migrateIndex(db, RECEIVER_PG_MIGRATIONS);
  } catch (err) {
    await db.close();
    throw err;
  }
  return new PostgresReceiverSql(db);
}

class PostgresReceiverSql implements ReceiverSql {
  readonly dialect = 'postgres' as const;

  constructor(private readonly db: IndexDb) {}

  get where(): string {
    return this.db.where;
  }

  query<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return this.db.query<T>(sql, params);
  }

  exec(sql: string): Promise<void> {
    return this.db.exec(sql);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>, opts: TxOptions = {}): Promise<T> {
    return this.db.transaction(async (tx) => {
      // Bookkeeping a crash may set back (the gateway resends) need not wait for the WAL flush.
      if (!opts.durable && !opts.readOnly) await tx.exec('SET LOCAL synchronous_commit = off');
      return fn(tx);
    }, lockKey(opts));
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
