/**
 * Readings from a UPS that Network UPS Tools serves (config power.nut): polls upsd with `LIST VAR <ups>` every
 * pollMs and hands each usable answer to the UPS monitor. upsd may not be running yet, may restart, may lose its
 * driver, and a stranger on the port may send anything: the feed reconnects with backoff (1 s doubling to 10 s),
 * logs each problem once when it starts and once when it ends (with what to check), counts garbled answers, and
 * never throws or emits 'error'. The monitor sees no reading meanwhile and reports the UPS as silent.
 *
 * With a user and password the feed also logs in to the UPS (`LOGIN`, as an upsmon secondary does), so the UPS's
 * primary upsmon counts the gateway among the systems it powers and, on a forced shutdown, waits for it to log out
 * (HOSTSYNC) before cutting the power. release() logs out once the gateway is ready for the power to go.
 */
import { EventEmitter } from 'node:events';
import type { UpsFeed, UpsLinkState, UpsReading } from './ups-monitor.js';
import { NutConnection, NutError } from './nut-client.js';
import { errHelp, readingFromVars } from './nut-protocol.js';
import { silentLogger, type Logger } from '../../util/log.js';

export interface NutFeedOptions {
  host: string;
  port: number;
  /** The UPS's name in upsd (`upsc -l HOST:PORT` lists them). */
  name: string;
  user?: string;
  password?: string;
  /** Between polls (default 2000 ms). */
  pollMs?: number;
  /** A connection or an answer that takes longer has failed (default 5000 ms). */
  timeoutMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  log?: Logger;
}

type Login = 'none' | 'logged-in' | 'refused' | 'released';

export class NutUpsFeed extends EventEmitter<{ reading: [UpsReading] }> implements UpsFeed {
  private readonly o: Required<Omit<NutFeedOptions, 'user' | 'password'>> & Pick<NutFeedOptions, 'user' | 'password'>;
  private readonly where: string;
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private conn: NutConnection | undefined;
  private connected = false;
  /** The problem now (logged when it began), or undefined while readings arrive. */
  private problem: string | undefined;
  private failuresInARow = 0;
  private garbage = 0;
  private login: Login = 'none';
  /** Logged out for a forced shutdown: no new LOGIN until the UPS leaves FSD. */
  private released = false;
  private loggingOut = false;
  private readonly notesSeen = new Set<string>();
  private wake: (() => void) | undefined;

  constructor(opts: NutFeedOptions) {
    super();
    this.o = { pollMs: 2000, timeoutMs: 5000, minBackoffMs: 1000, maxBackoffMs: 10_000, log: silentLogger, ...opts };
    this.where = `${opts.name}@${opts.host}:${opts.port}`;
  }

  /** Starts polling in the background; upsd need not be running yet. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    const c = this.conn;
    // A clean goodbye ends our login (upsd counts it down); a dead connection is just dropped.
    if (c && this.login === 'logged-in') await c.logout().catch(() => undefined);
    c?.close();
    await this.loop;
  }

  link(): UpsLinkState {
    return { kind: 'nut', where: this.where, connected: this.connected, lastError: this.problem ?? null, garbage: this.garbage, ...(this.o.user ? { login: this.login } : {}) };
  }

  /**
   * The gateway has done what it must before the power goes (a forced shutdown): log out, so the UPS's primary
   * need not wait for us. Polling goes on without a login until the UPS leaves FSD.
   */
  async release(): Promise<void> {
    this.released = true;
    const c = this.conn;
    if (!c || this.login !== 'logged-in') return;
    this.loggingOut = true;
    try {
      await c.logout();
      this.login = 'released';
      this.o.log.warn('logged out of upsd for the forced shutdown: the UPS may now cut the power', { ups: this.where });
    } catch (err) {
      this.o.log.warn('logging out of upsd failed; closing the connection instead', { ups: this.where, err: String(err) });
      c.close();
      this.login = 'released';
    }
  }

  private async run(): Promise<void> {
    let backoff = this.o.minBackoffMs;
    while (this.running) {
      try {
        const c = await NutConnection.connect(this.o.host, this.o.port, this.o.timeoutMs);
        if (!this.running) {
          c.close();
          break;
        }
        this.conn = c;
        this.connected = true;
        this.failuresInARow = 0;
        backoff = this.o.minBackoffMs;
        this.o.log.info('connected to upsd', { ups: this.where });
        await this.serve(c);
      } catch (err) {
        this.failed(err);
      }
      const wasLoggingOut = this.loggingOut;
      this.loggingOut = false;
      this.conn?.close();
      this.conn = undefined;
      this.connected = false;
      if (this.login === 'logged-in') this.login = 'none';
      if (!this.running) break;
      // After our own LOGOUT upsd hangs up: reconnect at once, there is nothing wrong.
      if (wasLoggingOut) continue;
      await this.sleep(backoff);
      backoff = Math.min(backoff * 2, this.o.maxBackoffMs);
    }
  }

  /** One connection: log in if configured, then poll until it fails (throws). */
  private async serve(c: NutConnection): Promise<void> {
    if (this.o.user && !this.released) await this.logIn(c);
    while (this.running) {
      await this.poll(c);
      await this.sleep(this.o.pollMs);
    }
  }

  private async logIn(c: NutConnection): Promise<void> {
    try {
      await c.simple(['USERNAME', this.o.user!]);
      await c.simple(['PASSWORD', this.o.password ?? '']);
      await c.simple(['LOGIN', this.o.name]);
      this.login = 'logged-in';
      this.o.log.info('logged in to upsd: the UPS counts this gateway among the systems it powers', { ups: this.where, user: this.o.user });
    } catch (err) {
      if (!(err instanceof NutError) || err.kind !== 'ERR') throw err;
      // Reading the UPS needs no login: go on without it, and say what it costs.
      if (this.login !== 'refused') {
        this.o.log.error('upsd refused the login: the gateway still reads the UPS, but a forced shutdown will not wait for it', {
          ups: this.where,
          user: this.o.user,
          err: `ERR ${err.code}`,
          fix: errHelp(err.code ?? '').en,
        });
      }
      this.login = 'refused';
    }
  }

  private async poll(c: NutConnection): Promise<void> {
    let vars: Map<string, string>;
    try {
      vars = await c.listVars(this.o.name);
    } catch (err) {
      if (!(err instanceof NutError) || err.kind !== 'ERR') throw err;
      // upsd is there but cannot give this UPS's data: keep the connection and ask again next time.
      return this.trouble(await this.refusal(c, err.code ?? ''));
    }
    const r = readingFromVars(vars);
    if (!r.ok) {
      this.garbage++;
      return this.trouble(`upsd's answer for ${this.where} is not a usable reading: ${r.reason}`);
    }
    for (const n of r.notes) {
      if (this.notesSeen.has(n)) continue;
      this.notesSeen.add(n);
      this.o.log.warn(n, { ups: this.where });
    }
    if (this.problem) this.o.log.info('the UPS reports again through upsd', { ups: this.where, after: this.problem });
    this.problem = undefined;
    this.emit('reading', r.reading);
    // The forced shutdown is over (upsd restarted after the power came back): count us in again.
    if (this.released && !r.reading.forcedShutdown) {
      this.released = false;
      if (this.o.user && this.login !== 'logged-in') await this.logIn(c);
    }
  }

  /** What upsd's refusal of LIST VAR means, naming the UPSes it does have when ours is unknown. */
  private async refusal(c: NutConnection, code: string): Promise<string> {
    const help = errHelp(code).en;
    if (code !== 'UNKNOWN-UPS') return `upsd refused to read ${this.where} (ERR ${code}): ${help}`;
    const names = await c.listUps().catch(() => null);
    return `upsd at ${this.o.host}:${this.o.port} has no UPS named ${JSON.stringify(this.o.name)}${names ? ` (it has: ${names.join(', ') || 'none'})` : ''}: ${help}`;
  }

  private trouble(what: string): void {
    if (what !== this.problem) this.o.log.warn(what, { ups: this.where });
    this.problem = what;
  }

  private failed(err: unknown): void {
    const e = err instanceof NutError ? err : new NutError('garbled', String(err));
    if (!this.running || (this.loggingOut && e.kind === 'closed')) return;
    if (e.kind === 'garbled') {
      this.garbage++;
      this.problem = `upsd (${this.where}) sent something that is not NUT's protocol: ${e.message}`;
      this.o.log.warn('ignored a garbled answer from upsd; reconnecting', { ups: this.where, what: e.message, sample: JSON.stringify(e.sample ?? '') });
      return;
    }
    const was = this.connected;
    this.problem = `${e.message}: check that upsd runs and listens there (upsc ${this.where})`;
    if (was) {
      this.o.log.warn('lost the connection to upsd; reconnecting', { ups: this.where, reason: e.message });
      return;
    }
    this.failuresInARow++;
    // Once per outage at warn; upsd may simply be starting after us, and the retry loop must not flood the journal.
    if (this.failuresInARow === 1) this.o.log.warn('cannot reach upsd; retrying with backoff', { ups: this.where, reason: e.message, fix: 'check that upsd runs and listens there (upsc ' + this.where + ')' });
    else this.o.log.debug('upsd still unreachable', { ups: this.where, reason: e.message });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }
}
