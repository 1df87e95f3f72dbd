/**
 * The index on PostgreSQL through `pg` (node-postgres): a small pool, BIGINT read back as a JS number (the index's
 * integers are ms times and counts, far below 2^53), and the driver's errors turned into messages that say what to
 * fix (server down, wrong host, password, database missing, no right to create tables).
 */
import pg from 'pg';
import { RecgwError, describe } from '../util/errors.js';
import type { IndexDb, Queryable } from './database.js';

const INT8 = 20;
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** How long to wait for a connection before saying the server does not answer. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * `schema`: the PostgreSQL schema its tables are in (the search path of every connection), for a user of the
 * database other than the index (the receivers' coordination tables, src/receiver/postgres-receiver-sql.ts).
 */
export async function openPostgres(url: string, where: string, opts: { schema?: string; application?: string } = {}): Promise<IndexDb> {
  const pool = new pg.Pool({
    connectionString: url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    max: 4,
    types,
    application_name: opts.application ?? 'recgw-index',
    ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
  });
  // An idle connection the server drops is replaced at the next query; unhandled, its error would end the process.
  pool.on('error', () => undefined);
  try {
    const c = await pool.connect();
    c.release();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw explainPgError(err, where);
  }
  return new PostgresDb(pool, where);
}

class PostgresDb implements IndexDb {
  readonly dialect = 'postgres' as const;

  constructor(
    private readonly pool: pg.Pool,
    readonly where: string,
  ) {}

  query<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return run(this.pool, sql, params, this.where);
  }

  async exec(sql: string): Promise<void> {
    await run(this.pool, sql, undefined, this.where);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>, lock?: number): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw explainPgError(err, this.where);
    }
    const tx: Queryable = {
      query: <R>(sql: string, params: readonly unknown[] = []) => run<R>(client, sql, params, this.where),
      exec: async (sql: string) => void (await run(client, sql, undefined, this.where)),
    };
    let broken: unknown;
    try {
      await tx.exec('BEGIN');
      if (lock !== undefined) await tx.query('SELECT pg_advisory_xact_lock($1)', [lock]);
      const result = await fn(tx);
      await tx.exec('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: unknown) => (broken = e));
      throw err;
    } finally {
      // A connection whose ROLLBACK failed is not given back to the pool in an unknown state.
      client.release(broken as Error | undefined);
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

async function run<T>(on: pg.Pool | pg.PoolClient, sql: string, params: readonly unknown[] | undefined, where: string): Promise<T[]> {
  try {
    const r = params === undefined ? await on.query(sql) : await on.query(sql, params as unknown[]);
    // A multi-statement exec answers with one result per statement.
    return Array.isArray(r) ? [] : (r.rows as T[]);
  } catch (err) {
    throw explainPgError(err, where);
  }
}

/** The driver's error as a message naming the problem and the fix; anything unforeseen keeps the server's words. */
export function explainPgError(err: unknown, where: string): RecgwError {
  if (err instanceof RecgwError) return err;
  const e = err as { code?: string; message?: string; hostname?: string };
  const msg = describe(err);
  const cfg = (text: string): RecgwError => new RecgwError('config', text, { cause: err });
  switch (e.code) {
    case 'ECONNREFUSED':
      return cfg(`cannot reach the ${where}: the connection was refused. Start PostgreSQL there, or correct the host and port in the database URL`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return cfg(`cannot reach the ${where}: the host name is unknown. Correct the host in the database URL`);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ETIMEDOUT':
      return cfg(`cannot reach the ${where}: ${e.code}. Check the host, the network and the firewall`);
    case '28P01':
    case '28000':
      return cfg(`the ${where} refused the login: ${msg}. Correct the user and password in the database URL, or the server's pg_hba.conf`);
    case '3D000':
      return cfg(`the ${where} does not exist: create it (createdb, or CREATE DATABASE as its owner) or correct the database name in the URL`);
    case '42501':
      return cfg(`the ${where} refused: ${msg}. The index's user needs the right to create tables there (make it the database's owner, or GRANT CREATE)`);
    case '57P03':
      return cfg(`the ${where} is starting up or shutting down: try again in a moment`);
    default:
      break;
  }
  if (/timeout/i.test(msg) && /connect/i.test(msg)) {
    return cfg(`the ${where} did not answer within ${CONNECT_TIMEOUT_MS / 1000} s: check the host, the port and the firewall`);
  }
  if (e.code === undefined || /^(E[A-Z]+|08...)$/.test(e.code)) return new RecgwError('io', `the ${where}: ${msg}`, { cause: err });
  return new RecgwError('internal', `the ${where} refused a statement of the index (${e.code}): ${msg}`, { cause: err });
}
