/**
 * One receiver per name on a store: the lock `recgw receiver` (and any Receiver) takes before anything else.
 * Receivers of other names share a store by design; two of one name throw each other off the broker. Kept apart
 * from receiver.ts so the CLI can take it before loading the receiver's modules, and refuse in a fraction of a second.
 * With SQLite (receivers on one host) it is a flock on the store; with PostgreSQL (receivers on several hosts, the
 * store on NFS, where flock is not to be trusted) a session advisory lock in the database (pg-name-lock.ts).
 */
import { join } from 'node:path';
import { acquireFolderLock, type HeldLock } from '../state/folder-lock.js';
import { parseDatabaseUrl } from '../index/database.js';
import type { ReceiverConfig } from './config.js';

/** Where a receiver's lock is: one per name in the store, since receivers of other names share it by design. */
export const receiverLockPath = (store: string, name: string): string => join(store, '.locks', `${name}.lock`);

const fix = (pid: number | undefined): string =>
  `Two receivers of one name throw each other off the broker: stop that one first (systemctl stop recgw-receiver${pid ? `, or kill ${pid}` : ' on its host'}). A second receiver sharing the store needs a name and certificate of its own (recgw ca receiver-cert --name receiver:<label>).`;

/** This receiver's name on this store for this process alone, or a refusal naming the process that has it (exit 2). */
export function lockReceiverName(store: string, name: string): HeldLock {
  return acquireFolderLock(receiverLockPath(store, name), { inUse: `receiver ${name} is already running on the store ${store}`, fix });
}

/**
 * The name lock of the receiver `cfg` describes: in its PostgreSQL database when it has one, else on the store.
 * `lost`: the database session holding the lock ended while the receiver runs.
 */
export async function takeReceiverNameLock(cfg: ReceiverConfig, lost: (why: string) => void): Promise<HeldLock> {
  if (!cfg.database) return lockReceiverName(cfg.work, cfg.name);
  const { where } = parseDatabaseUrl(cfg.database);
  const { lockNameInPostgres } = await import('./pg-name-lock.js');
  return lockNameInPostgres(cfg.database, where, cfg.name, { inUse: `receiver ${cfg.name} is already running on the ${where}`, fix, lost });
}
