/** Runs `recgw run` as a real child process, the way systemd would, so tests can SIGTERM or kill -9 it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { call } from '../../src/control/client.js';
import type { Method } from '../../src/control/protocol.js';

const BIN = join(import.meta.dirname, '../../bin/recgw.js');

export interface GatewayProcess {
  proc: ChildProcess;
  log: () => string;
  call<T = unknown>(method: Method, params?: Record<string, unknown>): Promise<T>;
  /** SIGTERM and wait for exit; resolves to the exit code. */
  stop(): Promise<number | null>;
  kill9(): Promise<void>;
}

/** `env` adds to the test's own environment (libfaketime's variables, which ffmpeg inherits too; a room's ALSA_CONFIG_PATH). */
export async function startGateway(configPath: string, socket: string, timeoutMs = 20_000, env: Record<string, string> = {}): Promise<GatewayProcess> {
  const proc = spawn(process.execPath, [BIN, 'run', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RECGW_LOG_LEVEL: 'info', ...env } });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`recgw run exited with ${proc.exitCode}:\n${out}`);
    if (existsSync(socket)) {
      try {
        await call(socket, 'status', {}, 2000);
        break;
      } catch {
        /* not listening yet */
      }
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`recgw run did not come up within ${timeoutMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    proc,
    log: () => out,
    call: (method, params = {}) => call(socket, method, params),
    async stop() {
      proc.kill('SIGTERM');
      return exited;
    },
    async kill9() {
      proc.kill('SIGKILL');
      await exited;
    },
  };
}
