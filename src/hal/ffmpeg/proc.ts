/**
 * Processes that are not (or no longer) our children: a run's ffmpeg left by a previous gateway. Linux /proc
 * tells whether it lives and what it is; a zombie counts as dead (its parent may never reap it).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SEGMENT_PATTERN } from './args.js';

export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X' && state !== '';
  } catch {
    return false;
  }
}

export function commandLine(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter((s) => s !== '');
  } catch {
    return undefined;
  }
}

/** Whether `pid` is the ffmpeg (or rpicam pipeline) of the run in `runDir`, not a process that reused its pid. */
export function isRunProcess(pid: number, runDir: string): boolean {
  const argv = commandLine(pid);
  if (!argv) return false;
  const joined = argv.join(' ');
  return joined.includes(join(runDir, SEGMENT_PATTERN)) && /ffmpeg/.test(joined);
}

/** Signal a run's process group (it was spawned as group leader), or the process alone if that fails. */
export function signalRun(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

export async function waitDead(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

/** SIGINT (ffmpeg finishes and lists its open segment), then SIGKILL after `graceMs`. */
export async function stopRunProcess(pid: number, graceMs: number): Promise<'stopped' | 'killed' | 'survived'> {
  signalRun(pid, 'SIGINT');
  if (await waitDead(pid, graceMs)) return 'stopped';
  signalRun(pid, 'SIGKILL');
  return (await waitDead(pid, 2000)) ? 'killed' : 'survived';
}
