/**
 * Many rows into one table with multi-row INSERTs, the same SQL on both databases: as many rows per statement as
 * stay under 30,000 parameters (PostgreSQL allows 65,535 per statement; SQLite builds here allow 32,766).
 * A row whose key is there already is left as it is (a ledger that repeats a segment name keeps the first).
 */
import type { Queryable } from './database.js';

const MAX_PARAMS = 30_000;
const MAX_ROWS = 1_000;

/** `onRows`: called after each statement with the number of rows it wrote. */
export async function insertRows(
  db: Queryable,
  table: string,
  columns: readonly string[],
  rows: readonly (readonly unknown[])[],
  onRows?: (n: number) => void,
): Promise<void> {
  const per = Math.max(1, Math.min(MAX_ROWS, Math.floor(MAX_PARAMS / columns.length)));
  for (let i = 0; i < rows.length; i += per) {
    const batch = rows.slice(i, i + per);
    await db.query(insertSql(table, columns, batch.length), batch.flat());
    onRows?.(batch.length);
  }
}

const cache = new Map<string, string>();

function insertSql(table: string, columns: readonly string[], n: number): string {
  const key = `${table}(${columns.join(",")})/${n}`;
  let sql = cache.get(key);
  if (sql === undefined) {
    const values: string[] = [];
    for (let r = 0, p = 1; r < n; r++) values.push(`(${columns.map(() => `$${p++}`).join(', ')})`);
    sql = `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${values.join(', ')} ON CONFLICT DO NOTHING`;
    if (cache.size > 200) cache.clear();
    cache.set(key, sql);
  }
  return sql;
}
