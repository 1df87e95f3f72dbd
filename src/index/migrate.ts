/**
 * Brings an index database to the schema this recgw knows: each pending migration in a transaction of its own,
 * recorded in schema_migrations. Every step runs under one advisory lock (PostgreSQL) or SQLite's write lock and
 * reads the version again inside it, so migrators started at once (receivers and a rebuild on several hosts) apply
 * each step exactly once, one after another, and a failed step leaves the version before it.
 */
import { RecgwError } from '../util/errors.js';
import type { IndexDb, Queryable } from './database.js';
import { INDEX_MIGRATIONS, type IndexMigration } from './schema.js';

/** pg_advisory_xact_lock key of the index's schema ("recgwSCH"). */
export const SCHEMA_LOCK = 0x72656367_5343;

export interface MigrateResult {
  /** The version before and after (the number of steps applied). */
  from: number;
  to: number;
}

async function version(tx: Queryable, where: string, steps: number): Promise<number> {
  const [row] = await tx.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
  const v = row?.v ?? 0;
  if (v > steps) {
    throw new RecgwError(
      'config',
      `the ${where} has index schema version ${v}, newer than this recgw knows (${steps}): run the newer recgw, or rebuild into an empty database`,
    );
  }
  return v;
}

export async function migrateIndex(db: IndexDb, steps: readonly IndexMigration[] = INDEX_MIGRATIONS): Promise<MigrateResult> {
  let from: number | undefined;
  for (;;) {
    const done = await db.transaction(async (tx) => {
      await tx.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)');
      const v = await version(tx, db.where, steps.length);
      from ??= v;
      if (v === steps.length) return true;
      const m = steps[v]!;
      await tx.exec(m.sql);
      const extra = db.dialect === 'postgres' ? m.postgres : m.sqlite;
      if (extra) await tx.exec(extra);
      await tx.query('INSERT INTO schema_migrations (version, name, applied_ms) VALUES ($1, $2, $3)', [v + 1, m.name, Date.now()]);
      return false;
    }, SCHEMA_LOCK);
    if (done) return { from: from!, to: steps.length };
  }
}
