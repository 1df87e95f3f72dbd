/**
 * A real mosquitto (2.0) for MQTT tests, configured as uplink-protocol.md §1-2 says: mutual TLS against the test CA,
 * the certificate CN as username, and the ACL of §2. Each broker gets its own folder and free port; it is stopped by
 * stop(), on process exit, and (through a watchdog on a pipe) whenever the test process dies, however it dies.
 * withBroker() gives a block of tests one broker for all of them.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll } from 'vitest';
import { spawnWatched, waitListening } from './watched-process.js';
import { existsSync, readFileSync } from 'node:fs';
import { writeMosquittoConfig } from '../../src/demo/mosquitto-config.js';
import { cleanupTmp, freePort, tmp } from './fixtures.js';

export const MOSQUITTO = '/usr/sbin/mosquitto';

export interface StartMosquittoOptions {
  /** Folder of the agency CA (makeCa().dir): it issues the server certificate and is the only CA clients may use. */
  caDir: string;
  /** Receiver names (`receiver:<label>`, their certificate CN), each given the receiver block of the ACL. */
  receivers?: string[];
  port?: number;
  /** Folder for config, certificates, ACL and log; a new temporary folder by default. */
  dir?: string;
  /** Run mosquitto as it runs in production: started as root, it switches to user `mosquitto` (writeMosquittoConfig). */
  dropPrivileges?: boolean;
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
  /** The running mosquitto's process ID, if it runs. */
  pid(): number | undefined;
  /** SIGKILL now: a crashed broker. */
  kill(): void;
  /** Stop (if running) and start again on the same port with the same config; resolves when it accepts connections. */
  restart(): Promise<void>;
  /** SIGHUP: mosquitto reads its config, ACL, certificates and CRL again (`systemctl reload mosquitto`). */
  reload(): Promise<void>;
  /** The broker's copy of the CA's CRL (`crlfile`), when the CA folder had one at start. */
  crlFile: string | undefined;
}

export { uplinkAcl } from '../../src/demo/mosquitto-config.js';

export async function startMosquitto(opts: StartMosquittoOptions): Promise<Mosquitto> {
  const dir = opts.dir ?? tmp('recgw-mosquitto-');
  const port = opts.port ?? (await freePort());
  const { confFile, logFile, caCert, crlFile } = writeMosquittoConfig({ dir, caDir: opts.caDir, port, receivers: opts.receivers ?? [], dropPrivileges: opts.dropPrivileges ?? false });

  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';

  const logTail = (): string => {
    const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n') : '(no log file)';
    return `mosquitto log ${logFile}:\n${log}${output ? `\noutput:\n${output.slice(-2000)}` : ''}`;
  };

  const launch = async (): Promise<void> => {
    output = '';
    const w = spawnWatched(MOSQUITTO, ['-c', confFile], (t) => (output += t));
    const p = w.proc;
    proc = p;
    exited = w.exited.then(() => {
      if (proc === p) proc = undefined;
    });
    await waitListening(w, port, 'mosquitto', logTail);
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
    pid: () => proc?.pid,
    kill: () => {
      proc?.kill('SIGKILL');
    },
    restart: async () => {
      await stop();
      await launch();
    },
    reload: async () => {
      const before = readFileSync(logFile, 'utf8').split('Reloading config.').length;
      proc?.kill('SIGHUP');
      // The reload is done once its log line is there (connections accepted meanwhile still see the old files).
      for (let i = 0; i < 100 && readFileSync(logFile, 'utf8').split('Reloading config.').length === before; i++) await new Promise((r) => setTimeout(r, 50));
    },
    crlFile,
  };
}

export interface WithBrokerOptions extends StartMosquittoOptions {
  /**
   * Leave the test file's temporary folders (the broker's among them) to the file's own afterAll(cleanupTmp), for a
   * block whose file has later blocks that still use them. By default they go once the broker has stopped.
   */
  keepTmp?: boolean;
}

/**
 * One broker for the tests of the block (a describe, or the file) this is called in: started in beforeAll, stopped
 * in afterAll, which then removes the test's temporary folders. Hooks the block registers after this call run after
 * the broker has started and, at the end, before it stops. What it returns reads the running broker: use it inside
 * tests and hooks only.
 */
export function withBroker(opts: WithBrokerOptions): Mosquitto {
  const { keepTmp, ...start } = opts;
  let broker: Mosquitto | undefined;
  const running = (): Mosquitto => {
    if (!broker) throw new Error('withBroker: the broker starts in beforeAll; use it inside a test or a hook');
    return broker;
  };
  beforeAll(async () => {
    broker = await startMosquitto(start);
  });
  afterAll(async () => {
    await broker?.stop();
    if (!keepTmp) cleanupTmp();
  });
  return {
    get url() {
      return running().url;
    },
    get port() {
      return running().port;
    },
    get dir() {
      return running().dir;
    },
    get caCert() {
      return running().caCert;
    },
    get logFile() {
      return running().logFile;
    },
    stop: () => running().stop(),
    pid: () => running().pid(),
    kill: () => running().kill(),
    restart: () => running().restart(),
    reload: () => running().reload(),
    get crlFile() {
      return running().crlFile;
    },
  };
}
