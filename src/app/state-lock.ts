/**
 * One gateway per state folder: the lock `recgw run` (and any Gateway) takes before it reads or writes anything
 * there. A second gateway on the folder would take over the first's session and write into its ledger. Kept apart
 * from gateway.ts so the CLI can take it before loading the gateway's modules, and refuse in a fraction of a second.
 */
import { join } from 'node:path';
import { acquireFolderLock, type HeldLock } from '../state/folder-lock.js';

export const stateLockPath = (stateDir: string): string => join(stateDir, 'recgw.lock');

/** The state folder for this process alone, or a refusal naming the gateway that has it (exit 2). */
export function lockStateFolder(stateDir: string): HeldLock {
  return acquireFolderLock(stateLockPath(stateDir), {
    inUse: `the state folder ${stateDir} is in use by another gateway`,
    fix: (pid) =>
      `Only one gateway may use a state folder: stop that one first (systemctl stop recgw${pid ? `, or kill ${pid}` : ''}), or give this config a stateDir of its own.`,
    missing: `the state folder ${stateDir} does not exist: check stateDir in the config; a device not yet enrolled gets it from \`recgw enrol csr --config FILE\``,
  });
}
