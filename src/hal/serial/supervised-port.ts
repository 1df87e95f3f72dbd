/**
 * A serial port that outlives its device: opens, frames what arrives with a serialport parser, notices the device
 * going away and reopens it with backoff (1 s doubling to 30 s) until it is back, so replugging recovers without a
 * restart. Going away shows as a close or error event (USB adapters), a failed or stuck write, or - for a pty whose
 * socat died, or a cable pulled between adapter and device - only as silence, hence the optional silence timeout
 * for protocols with heartbeats. Only src/hal imports serialport.
 */
import { EventEmitter } from 'node:events';
import { SerialPort, type DelimiterParser } from 'serialport';
import { silentLogger, type Logger } from '../../util/log.js';
import { NoiseLog } from './noise.js';

/**
 * A serialport binding (the BindingInterface of @serialport/bindings-interface, which every binding implements,
 * binding-mock included), as far as this file relies on it.
 */
export interface SerialBinding {
  list(): Promise<{ path: string }[]>;
  open(options: { path: string; baudRate: number }): Promise<object>;
}

export interface PortState {
  path: string;
  /**
   * The device is there: the port is open and, for a protocol with heartbeats (silenceMs), the device has been heard
   * since it opened. An open port to an adapter whose device is off is not connected.
   */
  connected: boolean;
  /** When `connected` last changed (ISO 8601). */
  since: string;
  /** Why the port is, or last was, not connected (open failure, unplugged, write failure, silence). */
  lastError: string | null;
  /** Attempts since the device was last connected that failed: opens that failed, or heard nothing. */
  failures: number;
  /** When the next open is tried, while disconnected and supervised (ISO 8601). */
  nextAttempt: string | null;
}

export interface SupervisedPortOptions {
  path: string;
  baudRate: number;
  /** Another serialport binding (tests: @serialport/binding-mock); the platform's native binding by default. */
  binding?: SerialBinding;
  /** Treat the device as gone when nothing arrives for this long; for protocols with heartbeats. 0 (default): off. */
  silenceMs?: number;
  /** Reopen delays: minBackoffMs after a loss or the first failed open, doubling with each further failure up to maxBackoffMs (defaults 1 s, 30 s). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** A write that has not completed after this long means a stuck port (default 5000 ms). */
  writeTimeoutMs?: number;
  log?: Logger;
  now?: () => number;
}

export interface FramedPortOptions extends SupervisedPortOptions {
  /** A fresh parser per open, so a partial frame from before an unplug never prefixes the next one. */
  parser: () => DelimiterParser;
  /** Unterminated input beyond this many bytes is noise: it is dropped and logged instead of buffered forever. */
  maxFrameBytes: number;
}

interface Events<F> {
  /** Connected or disconnected, or another failed attempt. */
  state: [PortState];
  /** The port is (again) open: protocols greet the device and resend what it must know. */
  open: [];
  frame: [F];
}

export class SupervisedPort<F extends string | Buffer> extends EventEmitter<Events<F>> {
  private readonly o: Required<Omit<FramedPortOptions, 'binding'>> & { binding: SerialBinding | undefined };
  private readonly noise: NoiseLog;
  private port: SerialPort | undefined;
  /** The OS port is open: writes go out. */
  private opened = false;
  /** Something arrived since the port opened. */
  private heard = false;
  private connected = false;
  private since: number;
  private lastError: string | null = null;
  private failures = 0;
  private running = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private nextAttemptAt: number | null = null;
  private silenceTimer: NodeJS.Timeout | undefined;
  /** Bumped whenever a port is given up: late events of the old one are ignored. */
  private generation = 0;

  constructor(opts: FramedPortOptions) {
    super();
    this.o = {
      silenceMs: 0,
      minBackoffMs: 1000,
      maxBackoffMs: 30_000,
      writeTimeoutMs: 5000,
      log: silentLogger,
      now: Date.now,
      ...opts,
      binding: opts.binding,
    };
    this.since = this.o.now();
    this.noise = new NoiseLog(this.o.log, 10, this.o.now);
  }

  get path(): string {
    return this.o.path;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.attempt();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.retryTimer);
    this.nextAttemptAt = null;
    const port = this.release();
    if (this.connected) {
      this.connected = false;
      this.since = this.o.now();
      this.emit('state', this.state());
    }
    if (port?.isOpen) await closeQuietly(port, 1000);
  }

  state(): PortState {
    return {
      path: this.o.path,
      connected: this.connected,
      since: new Date(this.since).toISOString(),
      lastError: this.lastError,
      failures: this.failures,
      nextAttempt: this.nextAttemptAt === null ? null : new Date(this.nextAttemptAt).toISOString(),
    };
  }

  /** Queues bytes for the device; false when the port is not open (nothing is queued for later). */
  write(data: string | Buffer): boolean {
    const port = this.port;
    if (!this.opened || !port?.isOpen) return false;
    const gen = this.generation;
    const timer = setTimeout(() => {
      if (gen === this.generation) this.drop(`a write did not complete within ${this.o.writeTimeoutMs} ms`);
    }, this.o.writeTimeoutMs);
    timer.unref();
    port.write(data, (err) => {
      clearTimeout(timer);
      if (err && gen === this.generation) this.drop(`write failed: ${err.message}`);
    });
    return true;
  }

  private attempt(): void {
    this.retryTimer = undefined;
    this.nextAttemptAt = null;
    if (!this.running) return;
    const gen = ++this.generation;
    let port: SerialPort;
    try {
      // serialport's constructor spreads its options over its default binding, so a given binding wins.
      const options = { path: this.o.path, baudRate: this.o.baudRate, autoOpen: false, ...(this.o.binding ? { binding: this.o.binding } : {}) };
      port = new SerialPort(options as ConstructorParameters<typeof SerialPort>[0]);
    } catch (err) {
      this.failed(err);
      return;
    }
    this.port = port;
    // Both events mean the device is gone (a DisconnectedError on close after an unplug); never let them throw.
    port.on('error', (err) => {
      if (gen === this.generation) this.drop(`port error: ${err.message}`);
    });
    port.on('close', (err: Error | null) => {
      if (gen === this.generation) this.drop(err ? `disconnected: ${err.message}` : 'the port closed');
    });
    port.open((err) => {
      if (gen !== this.generation) {
        if (!err) void closeQuietly(port, 1000);
        return;
      }
      if (err) {
        this.port = undefined;
        port.removeAllListeners();
        port.on('error', () => undefined);
        this.failed(err);
        return;
      }
      const parser = this.o.parser();
      parser.on('data', (frame: F) => {
        if (gen === this.generation) this.emit('frame', frame);
      });
      parser.on('error', () => undefined);
      port.on('data', (chunk: Buffer) => {
        if (gen !== this.generation) return;
        this.armSilence();
        if (!this.heard) {
          this.heard = true;
          if (!this.connected) this.becomeConnected();
        }
        parser.write(chunk);
        if (parser.buffer.length > this.o.maxFrameBytes) {
          this.noise.garbage(`more than ${this.o.maxFrameBytes} bytes without a frame end`, parser.buffer);
          parser.buffer = Buffer.alloc(0);
        }
      });
      this.opened = true;
      this.heard = false;
      this.armSilence();
      // Without heartbeats an open port is all there is to know; with them, the device must be heard first.
      if (this.o.silenceMs <= 0) this.becomeConnected();
      this.emit('open');
    });
  }

  private becomeConnected(): void {
    const was = this.failures;
    this.connected = true;
    this.failures = 0;
    this.since = this.o.now();
    this.o.log.info('serial device connected', { path: this.o.path, ...(was > 0 ? { afterFailures: was } : {}) });
    this.emit('state', this.state());
  }

  private failed(err: unknown): void {
    this.retry(`cannot open: ${(err as Error).message ?? String(err)}`);
  }

  /**
   * An attempt that did not reach the device. Each doubles the wait: 1 s, 2 s, 4 s ... 30 s, so an absent device
   * costs little (and logs little) and a replug is still seen soon.
   */
  private retry(reason: string): void {
    this.failures++;
    this.lastError = reason;
    const delay = Math.min(this.o.maxBackoffMs, this.o.minBackoffMs * 2 ** (this.failures - 1));
    if (this.failures === 1 || this.failures % 10 === 0) {
      this.o.log.warn('serial device not reachable; retrying', { path: this.o.path, error: reason, failures: this.failures, retryMs: delay });
    }
    if (this.running) this.schedule(delay);
    this.emit('state', this.state());
  }

  /** The device went away (or never answered): give the port up, report it, and start reopening. */
  private drop(reason: string): void {
    if (!this.port && !this.opened) return;
    const port = this.release();
    if (port?.isOpen) void closeQuietly(port, 1000);
    if (!this.connected) return this.retry(reason);
    this.connected = false;
    this.since = this.o.now();
    this.lastError = reason;
    this.o.log.warn('serial device lost; reopening', { path: this.o.path, reason });
    if (this.running) this.schedule(this.o.minBackoffMs);
    this.emit('state', this.state());
  }

  /** Forget the current port: no more events from it reach anyone. */
  private release(): SerialPort | undefined {
    this.opened = false;
    this.heard = false;
    this.generation++;
    clearTimeout(this.silenceTimer);
    this.silenceTimer = undefined;
    const port = this.port;
    this.port = undefined;
    if (port) {
      port.removeAllListeners();
      port.on('error', () => undefined);
    }
    return port;
  }

  private schedule(delay: number): void {
    clearTimeout(this.retryTimer);
    this.nextAttemptAt = this.o.now() + delay;
    this.retryTimer = setTimeout(() => this.attempt(), delay);
    this.retryTimer.unref();
  }

  private armSilence(): void {
    if (this.o.silenceMs <= 0) return;
    clearTimeout(this.silenceTimer);
    const gen = this.generation;
    this.silenceTimer = setTimeout(() => {
      if (gen === this.generation) this.drop(`nothing received for ${this.o.silenceMs} ms`);
    }, this.o.silenceMs);
    this.silenceTimer.unref();
  }
}

/** Close without caring how: a dead device may fail or never answer the close. */
function closeQuietly(port: SerialPort, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, timeoutMs);
    t.unref();
    try {
      port.close(() => {
        clearTimeout(t);
        resolve();
      });
    } catch {
      clearTimeout(t);
      resolve();
    }
  });
}
