/**
 * One process per folder: an exclusive flock(2) on a lock file inside it, held for the life of the process.
 *
 * The kernel drops a flock when its process dies, kill -9 and power cut included, so a lock can never go stale
 * and nothing has to guess whether a recorded pid is still its owner. Node opens files close-on-exec, so the ffmpeg
 * runs a gateway spawns (and leaves running when it crashes) do not hold it. The file is never removed: a process
 * that had opened it just before the removal would lock the old file while another locks a new one, both "alone".
 * While locked, the file says who holds it (pid, since when, command), so the one refused can name them.
 */
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import fsExt from 'fs-ext';
import { RecgwError, describe, isErrno } from '../util/errors.js';

/** Who holds a lock, as its file says. */
export interface LockHolder {
  pid: number;
  since: string;
  command: string;
}

/** What a refusal says: what the folder is to the holder, and what the operator can do about it. */
export interface LockRefusal {
  /** e.g. "the state folder /var/lib/recgw is in use by another gateway". */
  inUse: string;
  /** The fix, given the holder's pid (its description may say "not yet known"). */
  fix: (pid: number | undefined) => string;
  /**
   * When given, a folder that does not exist is this error (exit 2) rather than created: a gateway's state folder
   * holds its identity, so a missing one is a wrong stateDir or a device not enrolled, not a first start.
   */
  missing?: string;
}

export interface HeldLock {
  readonly file: string;
  /** Give the lock up (at stop): the file keeps its place, emptied, for the next holder. */
  release(): void;
}

/**
 * Take the lock `file` or refuse with a RecgwError (exit 2) naming the holder. The refused process writes nothing:
 * it opens an existing file without truncating it, fails to lock it and closes it. A folder that does not exist
 * yet is created (nobody can hold a lock in it), unless `refusal.missing` says that is an error.
 */
export function acquireFolderLock(file: string, refusal: LockRefusal): HeldLock {
  const dir = dirname(file);
  if (!existsSync(dir) && refusal.missing) throw new RecgwError('config', refusal.missing);
  let fd: number;
  try {
    mkdirSync(dir, { recursive: true });
    fd = openSync(file, 'a+', 0o644);
  } catch (err) {
    throw new RecgwError('config', `cannot open the lock file ${file} (${describe(err)}): run as the user that owns ${dir} (the service's user), or fix its owner`, {
      cause: err,
    });
  }
  try {
    fsExt.flockSync(fd, 'exnb');
  } catch (err) {
    closeSync(fd);
    if (!isErrno(err, 'EAGAIN') && !isErrno(err, 'EWOULDBLOCK')) {
      throw new RecgwError('config', `cannot lock ${file} (${describe(err)}): the folder must be on a file system that supports flock(2)`, { cause: err });
    }
    const holder = readHolder(file);
    throw new RecgwError('locked', `${refusal.inUse}: ${describeHolder(holder)} (lock file ${file}). ${refusal.fix(holder?.pid)} Nothing was changed.`);
  }
  // Ours now: say who holds it. Written through the locked descriptor (opening and closing the file again elsewhere
  // in this process would be harmless for a flock, but there is no need to).
  const me: LockHolder = { pid: process.pid, since: new Date().toISOString(), command: process.argv.slice(1).join(' ') };
  ftruncateSync(fd);
  writeSync(fd, `${JSON.stringify(me)}\n`, 0);
  let held = true;
  return {
    file,
    release() {
      if (!held) return;
      held = false;
      try {
        ftruncateSync(fd);
      } finally {
        closeSync(fd);
      }
    },
  };
}

/** The holder the file names, if it names one that is alive (a holder that has just locked may not have written yet). */
function readHolder(file: string): LockHolder | undefined {
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder>;
    if (typeof h.pid !== 'number' || !Number.isInteger(h.pid) || h.pid <= 0 || typeof h.since !== 'string') return undefined;
    if (!alive(h.pid)) return undefined;
    return { pid: h.pid, since: h.since, command: typeof h.command === 'string' ? h.command : '' };
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, as another user's process.
    return isErrno(err, 'EPERM');
  }
}

function describeHolder(h: LockHolder | undefined): string {
  if (!h) return 'held by a process that is just starting (it has not yet written who it is; try again in a moment to see it)';
  return `held by pid ${h.pid} since ${h.since}${h.command ? ` (${h.command})` : ''}`;
}
