/**
 * A real mosquitto (2.0) for MQTT tests, configured as uplink-protocol.md §1-2 says: mutual TLS against the test CA,
 * the certificate CN as username, and the ACL of §2. Each broker gets its own folder and free port; it is stopped by
 * stop(), on process exit, and (through a watchdog on a pipe) whenever the test process dies, however it dies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { writeMosquittoConfig } from '../../src/demo/mosquitto-config.js';
import { freePort, tmp } from './fixtures.js';

export const MOSQUITTO = '/usr/sbin/mosquitto';

export interface StartMosquittoOptions {
  /** Folder of the agency CA (makeCa().dir): it issues the server certificate and is the only CA clients may use. */
  caDir: string;
  /** Receiver names (their certificate CN), each given the receiver block of the ACL. */
  receivers?: string[];
  port?: number;
  /** Folder for config, certificates, ACL and log; a new temporary folder by default. */
  dir?: string;
}

export interface Mosquitto {
  /** mqtts://127.0.0.1:PORT */
  url: string;
  port: number;
  dir: string;
  /** Path of the CA certificate that clients must trust and present certificates from. */
  caCert: string;
  logFile: string;
  /** SIGTERM, then SIGKILL if it has not exited after 5 s. Resolves once it has exited. */
  stop(): Promise<void>;
  /** SIGKILL now: a crashed broker. */
  kill(): void;
  /** Stop (if running) and start again on the same port with the same config; resolves when it accepts connections. */
  restart(): Promise<void>;
}

export { uplinkAcl } from '../../src/demo/mosquitto-config.js';

// Brokers that are running, killed on exit so that a failed test leaves none behind.
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of live) p.kill('SIGKILL');
  });
}

// mosquitto runs under a shell that holds the read end of a pipe from us. When the test process dies, even by
// SIGKILL, the pipe reaches EOF and the watchdog kills mosquitto, which would otherwise hold its port for good.
// `exec` makes the shell itself become mosquitto, so its pid is mosquitto's and signals go straight to it;
// the watchdog is a background subshell that reads fd 3 (background jobs get /dev/null as stdin).
const WRAPPER = `
exec 3<&0
me=$$
{ while read -r _; do :; done <&3; kill -9 "$me" 2>/dev/null; } </dev/null >/dev/null 2>&1 &
exec 3<&- 0</dev/null
exec "$1" -c "$2"
`;

export async function startMosquitto(opts: StartMosquittoOptions): Promise<Mosquitto> {
  installExitHook();
  const dir = opts.dir ?? tmp('recgw-mosquitto-');
  const port = opts.port ?? (await freePort());
  const { confFile, logFile, caCert } = writeMosquittoConfig({ dir, caDir: opts.caDir, port, receivers: opts.receivers ?? [] });

  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';

  const logTail = (): string => {
    const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n') : '(no log file)';
    return `mosquitto log ${logFile}:\n${log}${output ? `\noutput:\n${output.slice(-2000)}` : ''}`;
  };

  const launch = async (): Promise<void> => {
    output = '';
    const p = spawn('/bin/sh', ['-c', WRAPPER, 'sh', MOSQUITTO, confFile], { stdio: ['pipe', 'pipe', 'pipe'] });
    proc = p;
    live.add(p);
    p.stdout.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (output += d.toString()));
    // Writing to the watchdog pipe after it closed must not crash the test.
    p.stdin.on('error', () => {});
    let exitInfo: string | undefined;
    exited = new Promise((resolve) => {
      p.on('exit', (code, signal) => {
        exitInfo = `exit code ${code} signal ${signal}`;
        live.delete(p);
        p.stdin.destroy();
        if (proc === p) proc = undefined;
        resolve();
      });
    });
    const deadline = Date.now() + 10_000;
    while (true) {
      if (exitInfo) throw new Error(`mosquitto exited at start (${exitInfo})\n${logTail()}`);
      if (await accepts(port)) return;
      if (Date.now() > deadline) {
        p.kill('SIGKILL');
        throw new Error(`mosquitto did not accept connections on port ${port} within 10 s\n${logTail()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const stop = async (): Promise<void> => {
    const p = proc;
    if (!p) return exited;
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(t);
  };

  await launch();
  return {
    url: `mqtts://127.0.0.1:${port}`,
    port,
    dir,
    caCert,
    logFile,
    stop,
    kill: () => {
      proc?.kill('SIGKILL');
    },
    restart: async () => {
      await stop();
      await launch();
    },
  };
}

/** Whether something accepts TCP connections on 127.0.0.1:port (a bare connect, closed at once). */
function accepts(port: number): Promise<boolean> {
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
