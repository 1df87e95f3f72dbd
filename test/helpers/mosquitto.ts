/**
 * A real mosquitto (2.0) for MQTT tests, configured as uplink-protocol.md §1-2 says: mutual TLS against the test CA,
 * the certificate CN as username, and the ACL of §2. Each broker gets its own folder and free port; it is stopped by
 * stop(), on process exit, and (through a watchdog on a pipe) whenever the test process dies, however it dies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { caPaths, issueServerCertificate } from '../../src/pki/ca.js';
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

/** The ACL of uplink-protocol.md §2, with one receiver block per name. */
export function uplinkAcl(receivers: string[]): string {
  const lines = ['pattern write recgw/%u/up/#', 'pattern write recgw/%u/status', 'pattern read  recgw/%u/down/#', ''];
  for (const r of receivers) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(r)) throw new Error(`receiver name ${JSON.stringify(r)} cannot be an ACL user`);
    lines.push(`user ${r}`, 'topic read  recgw/+/up/#', 'topic write recgw/+/down/#', 'topic read  recgw/+/status', '');
  }
  return lines.join('\n');
}

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
  const caCert = caPaths(opts.caDir).caCert;
  const certFile = join(dir, 'server.pem');
  const keyFile = join(dir, 'server-key.pem');
  const aclFile = join(dir, 'acl');
  const logFile = join(dir, 'mosquitto.log');
  const confFile = join(dir, 'mosquitto.conf');

  const server = issueServerCertificate({ caDir: opts.caDir, names: ['localhost', '127.0.0.1'] });
  writeFileSync(certFile, server.certPem);
  writeFileSync(keyFile, server.keyPem, { mode: 0o600 });
  writeFileSync(aclFile, uplinkAcl(opts.receivers ?? []));
  const conf = [
    // As root, mosquitto would drop to user `mosquitto`, which cannot read our 0600 key in a 0700 temp folder.
    ...(process.getuid?.() === 0 ? [`user ${userInfo().username}`] : []),
    'per_listener_settings false',
    'allow_anonymous false',
    'persistence false',
    // Small protocol messages (hello, state, receipts) must not wait ~40 ms for delayed ACKs (Nagle).
    'set_tcp_nodelay true',
    // Room for a burst of chunks queued for a slow receiver (the default 1000 drops the rest silently).
    'max_queued_messages 10000',
    `acl_file ${aclFile}`,
    `log_dest file ${logFile}`,
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'connection_messages true',
    'log_timestamp_format %H:%M:%S',
    // max_inflight_messages stays at its default (20), which MQTT 5 clients see as the broker's Receive Maximum.
    `listener ${port} 127.0.0.1`,
    `cafile ${caCert}`,
    `certfile ${certFile}`,
    `keyfile ${keyFile}`,
    'require_certificate true',
    'use_identity_as_username true',
    '',
  ].join('\n');
  writeFileSync(confFile, conf);

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
