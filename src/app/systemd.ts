/**
 * systemd service notifications (sd_notify): READY=1 once the service runs, STOPPING=1 when it begins to stop, and
 * WATCHDOG=1 every half of WATCHDOG_USEC while it runs. Only when systemd asks for them (NOTIFY_SOCKET set, as for
 * Type=notify units); otherwise every call does nothing.
 *
 * Node has no unix datagram sockets, so the messages go through systemd's own `systemd-notify` tool. It is a child
 * process, not the main PID, so the unit needs NotifyAccess=all; and it waits (sd_notify_barrier) until the manager
 * has processed the message before it exits, so systemd can still tell which unit it came from.
 * NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID are taken out of this process's environment so that ffmpeg and
 * the other children do not inherit them.
 */
import { spawn } from 'node:child_process';
import type { Logger } from '../util/log.js';

export interface Notifier {
  /** Whether systemd asked for notifications (NOTIFY_SOCKET was set). */
  readonly enabled: boolean;
  /** The watchdog ping interval in ms, when systemd set WATCHDOG_USEC for this process. */
  readonly watchdogMs: number | undefined;
  ready(status?: string): Promise<void>;
  stopping(status?: string): Promise<void>;
  status(text: string): Promise<void>;
  /** Ping WATCHDOG=1 every half of WATCHDOG_USEC until stopping() or close(); nothing without a watchdog. */
  startWatchdog(): void;
  /** Stop the watchdog and wait for messages still being sent. */
  close(): Promise<void>;
}

export interface NotifierOptions {
  log: Logger;
  /** The environment to read (default: process.env, from which the variables are then removed). */
  env?: NodeJS.ProcessEnv;
  /** The tool to run (default `systemd-notify`, found on PATH). */
  command?: string;
  pid?: number;
}

const SEND_TIMEOUT_MS = 10_000;
/** A status line is one line of reasonable length (systemctl status shows it). */
const statusLine = (s: string): string => `STATUS=${s.replace(/[\r\n]+/g, ' ').slice(0, 200)}`;

export function systemdNotifier(o: NotifierOptions): Notifier {
  const env = o.env ?? process.env;
  const socket = env.NOTIFY_SOCKET;
  const usec = Number(env.WATCHDOG_USEC);
  const watchdogPid = env.WATCHDOG_PID === undefined ? undefined : Number(env.WATCHDOG_PID);
  delete env.NOTIFY_SOCKET;
  delete env.WATCHDOG_USEC;
  delete env.WATCHDOG_PID;
  const ownWatchdog = Number.isFinite(usec) && usec > 0 && (watchdogPid === undefined || watchdogPid === (o.pid ?? process.pid));
  const watchdogMs = socket && ownWatchdog ? Math.max(1, Math.floor(usec / 2000)) : undefined;
  if (!socket) {
    const nothing = async (): Promise<void> => undefined;
    return { enabled: false, watchdogMs: undefined, ready: nothing, stopping: nothing, status: nothing, startWatchdog: () => undefined, close: nothing };
  }
  const log = o.log;
  const command = o.command ?? 'systemd-notify';
  const childEnv: NodeJS.ProcessEnv = { PATH: env.PATH ?? '/usr/local/bin:/usr/bin:/bin', NOTIFY_SOCKET: socket };
  // Messages go out one at a time, in order (READY before the first WATCHDOG, STOPPING last).
  let chain: Promise<void> = Promise.resolve();
  let warned = false;

  const sendNow = (lines: string[]): Promise<void> =>
    new Promise<void>((resolve) => {
      let stderr = '';
      let done = false;
      const finish = (problem?: string): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (problem && !warned) {
          // Once: a missing tool must not flood the journal every watchdog interval.
          warned = true;
          log.warn('cannot notify systemd', { message: lines.join(' '), problem });
        }
        resolve();
      };
      const child = spawn(command, lines, { env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        finish(`${command} did not finish within ${SEND_TIMEOUT_MS} ms`);
      }, SEND_TIMEOUT_MS);
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', (err) => finish(`${command}: ${err.message}`));
      child.on('exit', (code) => finish(code === 0 ? undefined : `${command} exited with ${code}: ${stderr.trim()}`));
    });

  const send = (lines: string[]): Promise<void> => {
    const next = chain.then(() => sendNow(lines));
    chain = next;
    return next;
  };

  let timer: NodeJS.Timeout | undefined;
  let pinging = false;
  return {
    enabled: true,
    watchdogMs,
    ready: (status) => send(['READY=1', ...(status ? [statusLine(status)] : [])]),
    stopping(status) {
      // systemd stops watching once the service says it is stopping (TimeoutStopSec= applies from then on).
      if (timer) clearInterval(timer);
      timer = undefined;
      return send(['STOPPING=1', ...(status ? [statusLine(status)] : [])]);
    },
    status: (text) => send([statusLine(text)]),
    startWatchdog() {
      if (watchdogMs === undefined || timer) return;
      log.info('systemd watchdog enabled', { intervalMs: watchdogMs });
      timer = setInterval(() => {
        // A ping still on its way (a slow fork on a busy Pi) is not doubled.
        if (pinging) return;
        pinging = true;
        void send(['WATCHDOG=1']).finally(() => (pinging = false));
      }, watchdogMs);
      timer.unref();
    },
    async close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await chain;
    },
  };
}
