/** The receivers' coordination database of a receiver config: PostgreSQL when `database` is set, else `<work>/receiver.db`. */
import { parseDatabaseUrl } from '../index/database.js';
import type { ReceiverConfig } from './config.js';
import type { ReceiverSql } from './receiver-sql.js';
import { SqliteReceiverSql } from './sqlite-receiver-sql.js';
import { openReceiverDb, receiverDbPath } from './store-db.js';

export async function openReceiverSql(cfg: Pick<ReceiverConfig, 'database' | 'work'>): Promise<ReceiverSql> {
  const url = cfg.database;
  if (!url) return new SqliteReceiverSql(openReceiverDb(cfg.work), receiverDbPath(cfg.work));
  // Loaded only here: a receiver on SQLite never loads pg.
  const { openPostgresReceiverSql } = await import('./postgres-receiver-sql.js');
  return openPostgresReceiverSql(url, parseDatabaseUrl(url).where);
}
