/**
 * One connection to upsd, NUT's network server (TCP 3493): commands answered in turn, each within a time limit.
 * Our own, on node:net, because the one npm client (node-nut 1.0.3, unchanged since 2018) cannot be trusted with
 * the power: it keeps parse state in module-level and implicit global variables shared by every connection, throws
 * inside the socket's data handler on a VAR line it cannot match (a garbled answer would crash the service), does
 * not unescape quoted values and has no time limits. The protocol is a few line-based commands.
 *
 * Every failure rejects the pending command with a NutError (code `ERR` for upsd's own refusals, which leave the
 * connection usable; `garbled`, `timeout`, `closed` and `connect` end it). Nothing here logs; the feed does.
 */
import { Socket } from 'node:net';
import { quoteWord, splitWords } from './nut-protocol.js';

export type NutErrorKind = 'ERR' | 'garbled' | 'timeout' | 'closed' | 'connect';

export class NutError extends Error {
  constructor(
    readonly kind: NutErrorKind,
    message: string,
    /** upsd's code for kind ERR (UNKNOWN-UPS, DATA-STALE, ...). */
    readonly code?: string,
    /** The start of what arrived, for kind garbled. */
    readonly sample?: string,
  ) {
    super(message);
  }
}

// upsd's own lines are short (its limit for a value is 256 bytes); a far longer line is not upsd.
const MAX_LINE = 4096;
// A UPS has a few dozen variables; a list of thousands of lines is not an answer to LIST VAR.
const MAX_LIST = 2000;

interface Pending {
  /** Consumes one line; returns the answer when complete. Throws NutError for an answer that is not the protocol. */
  take(line: string): string[] | undefined;
  resolve(lines: string[]): void;
  reject(err: NutError): void;
  timer: NodeJS.Timeout;
}

export class NutConnection {
  private buffer = '';
  private pending: Pending | undefined;
  private closedWith: NutError | undefined;
  /** Commands wait their turn: the protocol answers in order and has no request IDs. */
  private turn: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly socket: Socket,
    private readonly timeoutMs: number,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => this.onData(d));
    socket.on('error', (e: Error) => this.fail(new NutError('closed', `connection to upsd failed: ${e.message}`)));
    socket.on('close', () => this.fail(new NutError('closed', 'upsd closed the connection')));
  }

  /** Connects within timeoutMs (a refused or unreachable upsd rejects with kind `connect`). */
  static connect(host: string, port: number, timeoutMs: number): Promise<NutConnection> {
    return new Promise((resolve, reject) => {
      const s = new Socket();
      const timer = setTimeout(() => {
        s.destroy();
        reject(new NutError('connect', `no connection to ${host}:${port} within ${timeoutMs} ms`));
      }, timeoutMs);
      s.once('error', (e: Error) => {
        clearTimeout(timer);
        s.destroy();
        reject(new NutError('connect', `cannot connect to ${host}:${port}: ${e.message}`));
      });
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        // An upsd on another host that vanishes without a FIN is noticed by keepalive (and the command time limit).
        s.setKeepAlive(true, 10_000);
        resolve(new NutConnection(s, timeoutMs));
      });
      s.connect(port, host);
    });
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** A command answered by one line (`OK ...`); upsd's `ERR X` rejects with kind ERR. */
  async simple(words: string[]): Promise<string> {
    const [line] = await this.send(words, (l) => {
      if (l.startsWith('OK')) return [l];
      throw unexpected(l, 'OK');
    });
    return line!;
  }

  /** `LIST VAR <ups>`: the UPS's variables by name. */
  async listVars(ups: string): Promise<Map<string, string>> {
    const pairs = await this.list(['LIST', 'VAR', ups], 'VAR', ups, (l) => {
      const w = splitWords(l);
      if (!w || w.length !== 4 || w[0] !== 'VAR' || w[1] !== ups) throw unexpected(l, `VAR ${ups} <name> "<value>"`);
      return [w[2]!, w[3]!] as const;
    });
    return new Map(pairs);
  }

  /** `LIST UPS`: the UPS names upsd serves (for a message naming what to configure). */
  listUps(): Promise<string[]> {
    return this.list(['LIST', 'UPS'], 'UPS', null, (l) => {
      const w = splitWords(l);
      if (!w || w.length < 2 || w[0] !== 'UPS') throw unexpected(l, 'UPS <name> "<description>"');
      return w[1]!;
    });
  }

  /** `GET NUMLOGINS <ups>`: how many clients have logged in to the UPS (upsmon's count of systems it powers). */
  async numLogins(ups: string): Promise<number> {
    const [l] = await this.send(['GET', 'NUMLOGINS', ups], (line) => [line]);
    const w = splitWords(l!);
    if (!w || w.length !== 3 || w[0] !== 'NUMLOGINS' || !/^[0-9]+$/.test(w[2]!)) throw unexpected(l!, `NUMLOGINS ${ups} <n>`);
    return Number(w[2]);
  }

  /** Says goodbye (upsd then closes the connection) and closes it. */
  async logout(): Promise<void> {
    try {
      await this.simple(['LOGOUT']);
    } finally {
      this.close();
    }
  }

  close(): void {
    this.fail(new NutError('closed', 'the connection was closed'));
  }

  /** `BEGIN LIST <kind> [ups]` ... `END LIST <kind> [ups]`: each line between, parsed as it arrives. */
  private async list<T>(words: string[], kind: string, ups: string | null, parse: (line: string) => T): Promise<T[]> {
    const head = ups === null ? `LIST ${kind}` : `LIST ${kind} ${ups}`;
    const items: T[] = [];
    let begun = false;
    await this.send(words, (l) => {
      if (!begun) {
        if (l !== `BEGIN ${head}`) throw unexpected(l, `BEGIN ${head}`);
        begun = true;
        return undefined;
      }
      if (l === `END ${head}`) return [];
      if (items.length >= MAX_LIST) throw unexpected(l, `END ${head} within ${MAX_LIST} lines`);
      items.push(parse(l));
      return undefined;
    });
    return items;
  }

  private send(words: string[], take: (line: string) => string[] | undefined): Promise<string[]> {
    const p = this.turn.then(() => this.sendNow(words, take));
    this.turn = p.catch(() => undefined);
    return p;
  }

  private sendNow(words: string[], take: (line: string) => string[] | undefined): Promise<string[]> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const cmd = words.map(quoteWord).join(' ');
    return new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new NutError('timeout', `upsd did not answer ${words[0]} within ${this.timeoutMs} ms`)), this.timeoutMs);
      this.pending = {
        // upsd's refusal can come instead of any answer, as its first line.
        take: (l) => {
          if (l.startsWith('ERR ')) {
            const code = l.slice(4).split(' ')[0] ?? '';
            throw new NutError('ERR', `upsd refused ${words.slice(0, 2).join(' ')}: ERR ${code}`, code);
          }
          return take(l);
        },
        resolve,
        reject,
        timer,
      };
      this.socket.write(`${cmd}\n`);
    });
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      this.onLine(line);
      if (this.closedWith) return;
    }
    if (this.buffer.length > MAX_LINE) this.fail(new NutError('garbled', `a line longer than ${MAX_LINE} bytes`, undefined, this.buffer.slice(0, 120)));
  }

  private onLine(line: string): void {
    const p = this.pending;
    if (!p) return this.fail(new NutError('garbled', 'a line nobody asked for', undefined, line.slice(0, 120)));
    let answer: string[] | undefined;
    try {
      answer = p.take(line);
    } catch (err) {
      const e = err instanceof NutError ? err : new NutError('garbled', String(err), undefined, line.slice(0, 120));
      // upsd's refusal ends the command, not the connection; anything else means we no longer know where we are.
      if (e.kind === 'ERR') return this.settle((q) => q.reject(e));
      return this.fail(e);
    }
    if (answer) this.settle((q) => q.resolve(answer));
  }

  private settle(how: (p: Pending) => void): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    how(p);
  }

  /** Ends the connection once, rejecting the command in flight with the reason. */
  private fail(err: NutError): void {
    if (this.closedWith) return;
    this.closedWith = err;
    this.settle((p) => p.reject(err));
    this.socket.destroy();
  }
}

function unexpected(line: string, wanted: string): NutError {
  return new NutError('garbled', `expected ${wanted}, got something else`, undefined, line.slice(0, 120));
}
