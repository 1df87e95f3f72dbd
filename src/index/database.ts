/**
 * The agency index's database: PostgreSQL for an agency (receivers and the desk on several hosts), or an SQLite
 * file for one host and the demo. Both take the same SQL: `$1`-style parameters, row values, ON CONFLICT, LIKE with
 * ESCAPE; times are integers (ms since 1970, UTC) and flags 0/1, so nothing depends on either's date or boolean
 * types. The few things only one of them has (pg_trgm indexes, advisory locks) are asked for by dialect.
 */
import { RecgwError } from '../util/errors.js';

export type Dialect = 'postgres' | 'sqlite';
export type Row = Record<string, unknown>;

export interface Queryable {
  /** One statement with `$1`… parameters; its rows (none for a statement that returns none). */
  query<T = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Several statements without parameters (a migration). */
  exec(sql: string): Promise<void>;
}

export interface IndexDb extends Queryable {
  readonly dialect: Dialect;
  /** Where the database is, for messages: never with a password. */
  readonly where: string;
  /**
   * `fn` in one transaction on one connection. `lock`: on PostgreSQL an advisory lock taken first and held until the
   * end, so transactions of the same lock run one after another across processes (SQLite's write lock, taken at
   * BEGIN IMMEDIATE, already makes every transaction so).
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, lock?: number): Promise<T>;
  close(): Promise<void>;
}

export type DatabaseUrl = { dialect: 'postgres'; url: string; where: string } | { dialect: 'sqlite'; path: string; where: string };

const FORMS = 'give postgres://USER:PASSWORD@HOST:PORT/DATABASE for PostgreSQL, or sqlite:PATH for an SQLite file';

/** Check a database URL as given on the command line or in a config. */
export function parseDatabaseUrl(text: string): DatabaseUrl {
  if (text.startsWith('sqlite:')) {
    const path = text.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') throw new RecgwError('usage', `the database URL ${JSON.stringify(text)} names no file: ${FORMS}`);
    return { dialect: 'sqlite', path, where: `SQLite file ${path}` };
  }
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new RecgwError('usage', `the database URL ${JSON.stringify(redact(text))} is not a URL: ${FORMS}`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new RecgwError('usage', `the database URL's scheme ${JSON.stringify(u.protocol)} is neither postgres: nor sqlite:: ${FORMS}`);
  }
  if (u.hostname === '' && !u.searchParams.has('host')) throw new RecgwError('usage', `the database URL ${JSON.stringify(redact(text))} names no host: ${FORMS}`);
  const db = decodeURIComponent(u.pathname.replace(/^\//, '')) || decodeURIComponent(u.username) || 'postgres';
  return { dialect: 'postgres', url: text, where: `PostgreSQL database ${db} at ${u.hostname || u.searchParams.get('host')}:${u.port || 5432}` };
}

/** The URL with its password replaced, for messages and logs. */
export function redact(text: string): string {
  return text.replace(/^([a-z]+:\/\/[^:/@]*:)[^@/]*@/i, '$1***@');
}

/** Open (and check that it answers) the database a URL names. */
export async function openIndexDb(text: string): Promise<IndexDb> {
  const u = parseDatabaseUrl(text);
  // Each driver is loaded only when used: an SQLite index never loads pg, and the reverse.
  if (u.dialect === 'postgres') return (await import('./postgres-db.js')).openPostgres(u.url, u.where);
  return (await import('./sqlite-db.js')).openSqlite(u.path, u.where);
}

/** `$1`…`$n` in order of appearance, for drivers that take `?`: the SQL with `?` and which parameter each one is. */
export function positional(sql: string): { sql: string; order: number[] } {
  const order: number[] = [];
  const out = sql.replace(/\$(\d+)/g, (_, n: string) => {
    order.push(Number(n) - 1);
    return '?';
  });
  return { sql: out, order };
}
