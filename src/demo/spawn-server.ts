/**
 * How the throwaway servers (PostgreSQL, Ceph) run their daemons: a child killed when this process exits, its output
 * passed on. The test helpers pass one that also kills it when the test process dies by a signal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { SystemUser } from '../util/system-user.js';

/** Runs the server: the test helper passes one that kills it when the test process dies. */
export type SpawnServer = (
  command: string,
  args: string[],
  opts: { user: SystemUser | undefined; cwd: string },
  onOutput: (text: string) => void,
) => { proc: ChildProcess; exited: Promise<unknown> };

export const spawnServer: SpawnServer = (command, args, opts, onOutput) => {
  const proc = spawn(command, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], ...(opts.user ?? {}) });
  const kill = (): void => void proc.kill('SIGKILL');
  process.once('exit', kill);
  proc.stdout!.on('data', (d: Buffer) => onOutput(d.toString()));
  proc.stderr!.on('data', (d: Buffer) => onOutput(d.toString()));
  const exited = new Promise<unknown>((resolve) => proc.once('exit', resolve)).finally(() => process.off('exit', kill));
  return { proc, exited };
};
