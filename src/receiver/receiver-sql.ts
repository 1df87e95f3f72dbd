/**
 * The receiver's coordination database as its ingests use it: statements with `$1` parameters in SQL that both
 * databases take, and transactions holding a device's lock. Receivers sharing a store coordinate through it alone:
 * SQLite's `<store>/receiver.db` on one host (sqlite-receiver-sql.ts), or PostgreSQL for receivers on several hosts
 * (postgres-receiver-sql.ts). Anything that changes a device's rows (ledger, files, chunks, alerts) runs in a
 * transaction locked on that device, so such changes for one device happen one after another across every receiver.
 */
import { createHash } from 'node:crypto';
import type { Dialect, Queryable } from '../index/database.js';

export type { Queryable } from '../index/database.js';

export interface TxOptions {
  /** The device whose rows the transaction changes: held until it ends (SQLite's write lock already is). */
  device?: string;
  /** The commit must survive a power cut (what a receipt vouches for); else it may be set back, and is resent. */
  durable?: boolean;
  /**
   * A lock of this name held until the end, for work that is not a device's (publishing the log's checkpoint file):
   * on PostgreSQL an advisory lock; SQLite's write lock already is one.
   */
  lock?: string;
  /** Reads only: committed state (SQLite: after this process's open transactions on the file, without the write lock). */
  readOnly?: boolean;
}

export interface ReceiverSql extends Queryable {
  readonly dialect: Dialect;
  /** Where it is, for messages (never with a password). */
  readonly where: string;
  /**
   * `fn` in one transaction on one connection. Inside, use only `tx`: on PostgreSQL a statement on another connection
   * of the pool may wait for ever for one that transactions like this one hold.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, opts?: TxOptions): Promise<T>;
  close(): Promise<void>;
}

/** The advisory lock key of a device (PostgreSQL): 48 bits of a hash, so that it is a safe JS integer. */
export function deviceLockKey(device: string): number {
  return createHash('sha256').update(`recgw-device\0${device}`).digest().readUIntBE(0, 6);
}

/** The advisory lock key a transaction takes (PostgreSQL): its device's, or its named lock's, or none. */
export function lockKey(opts: TxOptions): number | undefined {
  if (opts.device !== undefined) return deviceLockKey(opts.device);
  if (opts.lock !== undefined) return createHash('sha256').update(`recgw-lock\0${opts.lock}`).digest().readUIntBE(0, 6);
  return undefined;
}

/** One row or undefined. */
export async function one<T>(q: Queryable, sql: string, params: readonly unknown[] = []): Promise<T | undefined> {
  return (await q.query<T>(sql, params))[0];
}
