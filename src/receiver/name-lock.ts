/**
 * One receiver per name on a store: the lock `recgw receiver` (and any Receiver) takes before anything else.
 * Receivers of other names share a store by design; two of one name throw each other off the broker. Kept apart
 * from receiver.ts so the CLI can take it before loading the receiver's modules, and refuse in a fraction of a second.
 */
import { join } from 'node:path';
import { acquireFolderLock, type HeldLock } from '../state/folder-lock.js';

/** Where a receiver's lock is: one per name in the store, since receivers of other names share it by design. */
export const receiverLockPath = (store: string, name: string): string => join(store, '.locks', `${name}.lock`);

/** This receiver's name on this store for this process alone, or a refusal naming the process that has it (exit 2). */
export function lockReceiverName(store: string, name: string): HeldLock {
  return acquireFolderLock(receiverLockPath(store, name), {
    inUse: `receiver ${name} is already running on the store ${store}`,
    fix: (pid) =>
      `Two receivers of one name throw each other off the broker: stop that one first (systemctl stop recgw-receiver${pid ? `, or kill ${pid}` : ''}). A second receiver sharing the store needs a name and certificate of its own (recgw ca receiver-cert --name receiver:<label>).`,
  });
}
