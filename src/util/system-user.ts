/** A system user's IDs, for files and processes that must belong to a service's own user (mosquitto, postgres). */
import { execFileSync } from 'node:child_process';
import { RecgwError } from './errors.js';

export interface SystemUser {
  uid: number;
  gid: number;
}

/** uid and gid of `name` from the passwd database; `why` says what it is needed for and which package makes the user. */
export function systemUser(name: string, why: string): SystemUser {
  let line: string;
  try {
    line = execFileSync('getent', ['passwd', name], { encoding: 'utf8' });
  } catch (err) {
    throw new RecgwError('config', `there is no user ${name} ${why}`, { cause: err });
  }
  const [, , uid, gid] = line.trim().split(':');
  return { uid: Number(uid), gid: Number(gid) };
}
