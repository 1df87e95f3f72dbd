/**
 * A supervised serial line port (CRLF-terminated UTF-8 lines) for the panel and the UPS: see SupervisedPort for
 * unplug detection and reopening. Every line is passed on as it came, garbage included; the protocol layers judge.
 */
import { EventEmitter } from 'node:events';
import { ReadlineParser } from '@serialport/parser-readline';
import { MAX_LINE_BYTES } from './frame.js';
import { SupervisedPort, type PortState, type SupervisedPortOptions } from './supervised-port.js';

export interface LinePortOptions extends SupervisedPortOptions {
  /** Longer unterminated input is dropped as noise (default: the protocols' 512 bytes plus checksum, rounded up). */
  maxLineBytes?: number;
}

interface Events {
  line: [string];
  open: [];
  state: [PortState];
}

export class LinePort extends EventEmitter<Events> {
  private readonly port: SupervisedPort<string>;

  constructor(opts: LinePortOptions) {
    super();
    this.port = new SupervisedPort<string>({
      ...opts,
      maxFrameBytes: opts.maxLineBytes ?? MAX_LINE_BYTES + 64,
      parser: () => new ReadlineParser({ delimiter: '\r\n', encoding: 'utf8' }),
    });
    this.port.on('frame', (line) => this.emit('line', line));
    this.port.on('open', () => this.emit('open'));
    this.port.on('state', (s) => this.emit('state', s));
  }

  get path(): string {
    return this.port.path;
  }

  get isConnected(): boolean {
    return this.port.isConnected;
  }

  start(): void {
    this.port.start();
  }

  stop(): Promise<void> {
    return this.port.stop();
  }

  state(): PortState {
    return this.port.state();
  }

  /** Sends one line (CRLF added; CR or LF inside would split it, so they become spaces). False when disconnected. */
  writeLine(line: string): boolean {
    return this.port.write(line.replace(/[\r\n]/g, ' ') + '\r\n');
  }
}
