/**
 * A real Network UPS Tools server for UPS tests (Debian's nut-server 2.8): upsd and the dummy-ups driver, run by
 * the test as the current user with a config folder of its own (NUT_CONFPATH, NUT_STATEPATH) and upsd on a free
 * port. dummy-ups plays a UPS from a `.dev` file of `name: value` lines and reads it again when its modification
 * time changes, so set() rewrites it (with a modification time a second later than the last: dummy-ups compares
 * whole seconds) and waits until upsd reports the new ups.status. Both run under the watchdog of
 * watched-process.ts and never outlive the test.
 */
import { chmodSync, existsSync, utimesSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { spawnWatched, waitListening, type WatchedProcess } from './watched-process.js';
import { freePort, tmp } from './fixtures.js';

export const UPSD = '/lib/nut/upsd';
export const DUMMY_UPS = '/lib/nut/dummy-ups';
export const UPS_NAME = 'dummy';
export const NUT_USER = { user: 'recgw', password: 'test-secret-1' };

export const nutInstalled = (): boolean => existsSync(UPSD) && existsSync(DUMMY_UPS);

export interface Nut {
  port: number;
  dir: string;
  /** Rewrite the dummy UPS's values and wait until upsd reports the new ups.status. */
  set(values: Record<string, string | number>): Promise<void>;
  /** What upsd says now (upsc). */
  upsc(variable: string): string;
  /** One command on a fresh connection to upsd; its first answer line. */
  ask(line: string): Promise<string>;
  stopUpsd(signal?: NodeJS.Signals): Promise<void>;
  startUpsd(): Promise<void>;
  stopDriver(): Promise<void>;
  startDriver(): Promise<void>;
  output(): string;
  stop(): Promise<void>;
}

export async function startNut(initial: Record<string, string | number>): Promise<Nut> {
  if (!nutInstalled()) throw new Error(`NUT is not installed (${UPSD}, ${DUMMY_UPS}): apt-get install nut-server nut-client`);
  const dir = tmp('recgw-nut-');
  const port = await freePort();
  const me = userInfo().username;
  const dev = join(dir, `${UPS_NAME}.dev`);
  writeFileSync(join(dir, 'ups.conf'), `[${UPS_NAME}]\n  driver = dummy-ups\n  port = ${UPS_NAME}.dev\n  desc = "recgw test UPS"\n  pollinterval = 1\n`);
  writeFileSync(join(dir, 'upsd.conf'), `LISTEN 127.0.0.1 ${port}\nMAXAGE 5\n`);
  writeFileSync(join(dir, 'upsd.users'), `[${NUT_USER.user}]\n  password = ${NUT_USER.password}\n  upsmon secondary\n`);
  for (const f of ['ups.conf', 'upsd.conf', 'upsd.users']) chmodSync(join(dir, f), 0o600);
  const env = { NUT_CONFPATH: dir, NUT_STATEPATH: dir };
  let out = '';
  let mtime = Math.floor(Date.now() / 1000);
  const writeDev = (values: Record<string, string | number>): void => {
    writeFileSync(dev, Object.entries(values).map(([k, v]) => `${k}: ${v}\n`).join(''));
    mtime += 1;
    utimesSync(dev, mtime, mtime);
  };
  writeDev(initial);

  // -F: stay in the foreground; -u: run as this user (root in CI), not as the nut user the package made.
  const spawnNut = (cmd: string, args: string[]): WatchedProcess => {
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    try {
      return spawnWatched(cmd, args, (t) => (out = (out + t).slice(-20_000)));
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  };
  let driver: WatchedProcess | undefined;
  let upsd: WatchedProcess | undefined;
  const upsc = (variable: string): string => {
    const r = spawnSync('upsc', [`${UPS_NAME}@127.0.0.1:${port}`, variable], { encoding: 'utf8', env: { ...process.env, ...env } });
    return r.status === 0 ? r.stdout.trim() : `(upsc failed: ${r.stderr.trim()})`;
  };
  const waitStatus = async (want: string): Promise<void> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const got = upsc('ups.status');
      if (got === want) return;
      if (Date.now() > deadline) throw new Error(`upsd did not report ups.status ${JSON.stringify(want)} within 10 s (it says ${got})\n${out.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stopProc = async (w: WatchedProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    if (!w || w.exitInfo()) return;
    w.proc.kill(signal);
    const t = setTimeout(() => w.proc.kill('SIGKILL'), 5000);
    await w.exited;
    clearTimeout(t);
  };
  let values = { ...initial };
  const nut: Nut = {
    port,
    dir,
    async set(v) {
      values = { ...v };
      writeDev(v);
      await waitStatus(String(v['ups.status']));
    },
    upsc,
    ask: (line) => ask(port, line),
    async stopUpsd(signal) {
      await stopProc(upsd, signal);
    },
    async startUpsd() {
      upsd = spawnNut(UPSD, ['-F', '-u', me]);
      await waitListening(upsd, port, 'upsd', () => out.slice(-2000));
      await waitStatus(String(values['ups.status']));
    },
    async stopDriver() {
      await stopProc(driver);
    },
    async startDriver() {
      driver = spawnNut(DUMMY_UPS, ['-a', UPS_NAME, '-F', '-u', me]);
      if (upsd) await waitStatus(String(values['ups.status']));
    },
    output: () => out,
    async stop() {
      await stopProc(upsd);
      await stopProc(driver);
    },
  };
  await nut.startDriver();
  await nut.startUpsd();
  return nut;
}

/** Sends one line to upsd on a connection of its own and returns the first line of the answer. */
export function ask(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    let buf = '';
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`upsd did not answer ${line} within 3 s`));
    }, 3000);
    s.setEncoding('utf8');
    s.on('connect', () => s.write(`${line}\n`));
    s.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(t);
      s.end('LOGOUT\n');
      resolve(buf.slice(0, nl));
    });
    s.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}
