/**
 * Servers the tests start (mosquitto, gpsd) must never outlive the test process, however it dies: they would keep
 * their ports. Each runs under a shell that holds the read end of a pipe from us; when we die, even by SIGKILL, the
 * pipe reaches EOF and a background watchdog kills the server. `exec` makes the shell become the server, so the pid
 * we hold is the server's and signals reach it directly. Also killed on a normal exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';

const WRAPPER = `
exec 3<&0
me=$$
{ while read -r _; do :; done <&3; kill -9 "$me" 2>/dev/null; } </dev/null >/dev/null 2>&1 &
exec 3<&- 0</dev/null
exec "$@"
`;

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

export interface WatchedProcess {
  proc: ChildProcess;
  /** Resolves when it has exited, with how. */
  exited: Promise<string>;
  /** Set once it has exited. */
  exitInfo(): string | undefined;
}

/** Start `command args` under the watchdog; everything it prints goes to `onOutput`. `opts`: user and folder to run in. */
export function spawnWatched(command: string, args: string[], onOutput: (text: string) => void, opts: { uid?: number; gid?: number; cwd?: string } = {}): WatchedProcess {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const p of live) p.kill('SIGKILL');
    });
  }
  const proc = spawn('/bin/sh', ['-c', WRAPPER, 'sh', command, ...args], { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
  live.add(proc);
  proc.stdout!.on('data', (d: Buffer) => onOutput(d.toString()));
  proc.stderr!.on('data', (d: Buffer) => onOutput(d.toString()));
  // Writing to the watchdog pipe after it closed must not crash the test.
  proc.stdin!.on('error', () => undefined);
  let info: string | undefined;
  const exited = new Promise<string>((resolve) => {
    proc.on('exit', (code, signal) => {
      info = `exit code ${code} signal ${signal}`;
      live.delete(proc);
      proc.stdin!.destroy();
      resolve(info);
    });
  });
  return { proc, exited, exitInfo: () => info };
}

/** Wait until something accepts TCP connections on 127.0.0.1:`port`; fail (with `tail()`) on exit or after 10 s. */
export async function waitListening(w: WatchedProcess, port: number, what: string, tail: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const info = w.exitInfo();
    if (info) throw new Error(`${what} exited at start (${info})\n${tail()}`);
    if (await accepts(port)) return;
    if (Date.now() > deadline) {
      w.proc.kill('SIGKILL');
      throw new Error(`${what} did not accept connections on port ${port} within 10 s\n${tail()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      s.destroy();
      resolve(false);
    });
  });
}
