/**
 * Serial test kit: socat pty pairs (real ptys, as on the build machine), devices simulated at the far end of a pair
 * (control panel, VISCA camera, UPS), a binding on top of @serialport/binding-mock that can be unplugged, and a fake
 * recorder that records the calls the panel makes on the recorder interface.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SerialPort, SerialPortMock, DelimiterParser, ReadlineParser } from 'serialport';
import { MATTERS, REASONS, lookupTerm } from '../../src/evidence/vocabulary.js';
import type { StartRequest } from '../../src/recorder/recorder.js';
import type { CheckResult } from '../../src/recorder/preflight.js';
import type { RecorderApi, RecorderPrompt, RecorderView, SessionView } from '../../src/panel/panel.js';
import { decodeGatewayLine, encodePanelCommand, type GatewayMessage, type PanelCommand } from '../../src/panel/protocol.js';
import { RecgwError } from '../../src/util/errors.js';
import { createLogger, type Logger } from '../../src/util/log.js';

export const SOCAT = '/usr/bin/socat';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until fn returns a truthy value; fails with `what` after timeoutMs. */
export async function waitFor<T>(fn: () => T | undefined | null | false, what: string, timeoutMs = 3000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A logger whose JSON lines the test can read. */
export function captureLogger(): { log: Logger; lines: () => { level: string; ns: string; msg: string; [k: string]: unknown }[] } {
  const out: string[] = [];
  return { log: createLogger('test', { level: 'debug', sink: (l) => out.push(l) }), lines: () => out.map((l) => JSON.parse(l) as { level: string; ns: string; msg: string }) };
}

// ---- socat ---------------------------------------------------------------------------------------------------

const live = new Set<ChildProcess>();
let hook = false;

export interface PtyPair {
  /** The gateway's end. */
  a: string;
  /** The device's end. */
  b: string;
  /** SIGKILL socat: both ptys vanish, as when a USB adapter is pulled. */
  kill(): Promise<void>;
  /** Start socat again with the same link names. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** `socat -d -d pty,raw,echo=0,link=A pty,raw,echo=0,link=B`; killed when the test process exits. */
export async function ptyPair(dir: string, name: string): Promise<PtyPair> {
  if (!hook) {
    hook = true;
    process.on('exit', () => {
      for (const p of live) p.kill('SIGKILL');
    });
  }
  const a = join(dir, `${name}A`);
  const b = join(dir, `${name}B`);
  let proc: ChildProcess | undefined;
  const startOne = async (): Promise<void> => {
    const p = spawn(SOCAT, ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    live.add(p);
    p.on('exit', () => live.delete(p));
    let log = '';
    p.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    proc = p;
    await waitFor(() => (log.includes('starting data transfer loop') && existsSync(a) && existsSync(b)) || p.exitCode !== null, `socat ${name}`, 5000);
    if (p.exitCode !== null) throw new Error(`socat exited: ${log}`);
  };
  const killIt = async (signal: NodeJS.Signals): Promise<void> => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill(signal);
    await gone;
  };
  await startOne();
  return { a, b, kill: () => killIt('SIGKILL'), restart: startOne, stop: () => killIt('SIGTERM') };
}

// ---- simulated devices at the far end ------------------------------------------------------------------------

function openRaw(path: string): Promise<SerialPort> {
  return new Promise((resolve, reject) => {
    const p = new SerialPort({ path, baudRate: 9600, autoOpen: false });
    p.on('error', () => undefined);
    p.open((err) => (err ? reject(err) : resolve(p)));
  });
}

function closeRaw(p: SerialPort): Promise<void> {
  return new Promise((r) => (p.isOpen ? p.close(() => r()) : r()));
}

/** A control panel as its firmware would behave: sends framed commands, reads the gateway's lines. */
export class SimPanel {
  readonly received: GatewayMessage[] = [];
  readonly garbage: string[] = [];
  private hb: NodeJS.Timeout | undefined;
  private nextId = 1;

  private constructor(private readonly port: SerialPort) {
    const parser = port.pipe(new ReadlineParser({ delimiter: '\r\n', encoding: 'utf8' }));
    parser.on('data', (line: string) => {
      const d = decodeGatewayLine(line);
      if (d.ok) this.received.push(d.msg);
      else this.garbage.push(line);
    });
  }

  static async open(path: string, opts: { heartbeatMs?: number } = {}): Promise<SimPanel> {
    const sim = new SimPanel(await openRaw(path));
    if (opts.heartbeatMs) sim.hb = setInterval(() => sim.send({ verb: 'HB' }), opts.heartbeatMs);
    return sim;
  }

  send(cmd: PanelCommand): void {
    this.port.write(encodePanelCommand(cmd) + '\r\n');
  }

  raw(data: string | Buffer): void {
    this.port.write(data);
  }

  id(): number {
    return this.nextId++;
  }

  /** Sends a command with a fresh id and waits for its ACK and then its OK or ERR. */
  async command(make: (id: number) => PanelCommand, timeoutMs = 5000): Promise<Extract<GatewayMessage, { verb: 'OK' | 'ERR' }>> {
    const cmd = make(this.id());
    const id = (cmd as { id: number }).id;
    const from = this.received.length;
    this.send(cmd);
    await waitFor(() => this.received.slice(from).some((m) => m.verb === 'ACK' && m.id === id), `ACK ${id}`, timeoutMs);
    return waitFor(() => this.received.slice(from).find((m): m is Extract<GatewayMessage, { verb: 'OK' | 'ERR' }> => (m.verb === 'OK' || m.verb === 'ERR') && m.id === id), `answer to ${cmd.verb} ${id}`, timeoutMs);
  }

  /** What the display shows now, rows 1-4. */
  rows(): string[] {
    const rows = ['', '', '', ''];
    for (const m of this.received) if (m.verb === 'DSP') rows[m.row - 1] = m.text;
    return rows;
  }

  last<V extends GatewayMessage['verb']>(verb: V): Extract<GatewayMessage, { verb: V }> | undefined {
    return this.received.filter((m): m is Extract<GatewayMessage, { verb: V }> => m.verb === verb).at(-1);
  }

  async close(): Promise<void> {
    clearInterval(this.hb);
    await closeRaw(this.port);
  }
}

/** A VISCA camera: answers power inquiries and preset recalls like a Sony head. */
export class SimCamera {
  readonly received: Buffer[] = [];
  power: 'on' | 'off' = 'on';
  /** 'ok': ACK then completion; 'error': an error 41 (not executable); 'silent': no answer at all. */
  mode: 'ok' | 'error' | 'silent' = 'ok';

  private constructor(
    private readonly port: SerialPort,
    readonly address: number,
  ) {
    const parser = port.pipe(new DelimiterParser({ delimiter: [0xff], includeDelimiter: true }));
    parser.on('data', (p: Buffer) => this.packet(p));
  }

  static async open(path: string, address = 1): Promise<SimCamera> {
    return new SimCamera(await openRaw(path), address);
  }

  private packet(p: Buffer): void {
    this.received.push(p);
    if (this.mode === 'silent' || p[0] !== (0x80 | this.address)) return;
    const y = 0x80 | ((this.address + 8) << 4);
    const send = (...bytes: number[]): void => void this.port.write(Buffer.from([y & 0xf0, ...bytes, 0xff]));
    if (p[1] === 0x09 && p[2] === 0x04 && p[3] === 0x00) return send(0x50, this.power === 'on' ? 0x02 : 0x03);
    if (p[1] === 0x01) {
      if (this.mode === 'error') return send(0x61, 0x41);
      send(0x41);
      setTimeout(() => send(0x51), 50);
    }
  }

  raw(data: Buffer): void {
    this.port.write(data);
  }

  close(): Promise<void> {
    return closeRaw(this.port);
  }
}

/** A UPS: repeats its current line every `everyMs`, as a real one reports every few seconds. */
export class SimUps {
  private current: string | undefined;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly port: SerialPort,
    everyMs: number,
  ) {
    this.timer = setInterval(() => this.current !== undefined && this.line(this.current), everyMs);
  }

  static async open(path: string, opts: { everyMs?: number } = {}): Promise<SimUps> {
    return new SimUps(await openRaw(path), opts.everyMs ?? 200);
  }

  /** Sends a line now and keeps repeating it. */
  set(text: string): void {
    this.current = text;
    this.line(text);
  }

  line(text: string): void {
    this.port.write(text + '\r\n');
  }

  close(): Promise<void> {
    clearInterval(this.timer);
    return closeRaw(this.port);
  }
}

// ---- a binding that can be unplugged -------------------------------------------------------------------------

// binding-mock through serialport: its own package has no types for ESM, and serialport's copy is the CJS one.
const MockBinding = SerialPortMock.binding;
type MockPort = Awaited<ReturnType<typeof MockBinding.open>>;

/**
 * @serialport/binding-mock with a cable: `unplug` makes the open port's read fail the way a vanished USB device's
 * does (so serialport closes it with a DisconnectedError) and makes opening fail until `replug`; `vanish` is the
 * quiet kind (a pty whose socat died): no event at all, nothing arrives any more, opening fails.
 */
export class FlakyBinding {
  private readonly absent = new Set<string>();
  private readonly failWrites = new Set<string>();
  private readonly open_ = new Map<string, FlakyPort>();
  /** What the gateway wrote, per path, across reconnects. */
  readonly written = new Map<string, Buffer>();
  /** Open attempts per path, with their time. */
  readonly attempts = new Map<string, number[]>();

  constructor() {
    MockBinding.reset();
  }

  addDevice(path: string): void {
    MockBinding.createPort(path, { echo: false, record: false });
  }

  list(): Promise<{ path: string }[]> {
    return MockBinding.list();
  }

  async open(options: { path: string; baudRate: number }): Promise<FlakyPort> {
    this.attempts.set(options.path, [...(this.attempts.get(options.path) ?? []), Date.now()]);
    if (this.absent.has(options.path)) throw new Error(`Error: No such file or directory, cannot open ${options.path}`);
    const port = new FlakyPort(await MockBinding.open(options as Parameters<typeof MockBinding.open>[0]), this, options.path);
    this.open_.set(options.path, port);
    return port;
  }

  /** Data from the device to the gateway. */
  emit(path: string, data: string | Buffer): void {
    const p = this.open_.get(path);
    if (!p || !p.inner.isOpen || this.absent.has(path)) throw new Error(`${path} is not open`);
    p.inner.emitData(data);
  }

  isOpen(path: string): boolean {
    const p = this.open_.get(path);
    return !!p && p.inner.isOpen;
  }

  unplug(path: string): void {
    this.absent.add(path);
    this.open_.get(path)?.disconnect();
  }

  vanish(path: string, opts: { writesFail?: boolean } = {}): void {
    this.absent.add(path);
    if (opts.writesFail) this.failWrites.add(path);
  }

  replug(path: string): void {
    this.absent.delete(path);
    this.failWrites.delete(path);
  }

  /** @internal */
  wrote(path: string, buf: Buffer): void {
    if (this.failWrites.has(path)) throw new Error('EIO: i/o error, write');
    this.written.set(path, Buffer.concat([this.written.get(path) ?? Buffer.alloc(0), buf]));
  }

  writtenLines(path: string): string[] {
    return (this.written.get(path)?.toString('utf8') ?? '').split('\r\n').filter(Boolean);
  }
}

class FlakyPort {
  private cut!: (err: Error) => void;
  private readonly gone: Promise<never>;

  constructor(
    readonly inner: MockPort,
    private readonly owner: FlakyBinding,
    private readonly path: string,
  ) {
    this.gone = new Promise<never>((_, reject) => (this.cut = reject));
    this.gone.catch(() => undefined);
  }

  get isOpen(): boolean {
    return this.inner.isOpen;
  }

  get openOptions(): MockPort['openOptions'] {
    return this.inner.openOptions;
  }

  disconnect(): void {
    // Not `canceled`: serialport takes any other read error for a disconnection.
    this.cut(new Error('device disconnected (EIO)'));
  }

  read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }> {
    return Promise.race([this.inner.read(buffer, offset, length), this.gone]);
  }

  async write(buffer: Buffer): Promise<void> {
    this.owner.wrote(this.path, buffer);
    await Promise.race([this.inner.write(buffer), this.gone]);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
  update(o: { baudRate: number }): Promise<void> {
    return this.inner.update(o);
  }
  set(o: object): Promise<void> {
    return this.inner.set(o);
  }
  get(): ReturnType<MockPort['get']> {
    return this.inner.get();
  }
  getBaudRate(): Promise<{ baudRate: number }> {
    return this.inner.getBaudRate();
  }
  flush(): Promise<void> {
    return this.inner.flush();
  }
  drain(): Promise<void> {
    return this.inner.drain();
  }
}

// ---- a fake recorder -----------------------------------------------------------------------------------------

export type RecorderCall =
  | { method: 'startSession'; req: StartRequest }
  | { method: 'pauseSession'; reason: string; text: string | undefined }
  | { method: 'resumeSession' }
  | { method: 'stopSession' }
  | { method: 'credentialsShown'; via: string };

/**
 * Behaves like the Recorder at its interface: validates, keeps one session, emits `changed` after every change and
 * the 「请口述中断原因」 prompt on resume, and records every call the panel makes.
 */
export class FakeRecorder extends EventEmitter<{ changed: [RecorderView]; prompt: [RecorderPrompt] }> implements RecorderApi {
  readonly calls: RecorderCall[] = [];
  session: SessionView | null = null;
  /** The failed pre-flight checks of the next non-forced start. */
  failingChecks: CheckResult[] = [];
  private n = 0;

  async startSession(req: StartRequest): Promise<{ session: SessionView; forced: CheckResult[] }> {
    this.calls.push({ method: 'startSession', req });
    const matter = lookupTerm(MATTERS, req.matter);
    if (!matter) throw new RecgwError('usage', `unknown matter type ${JSON.stringify(req.matter)}`);
    if (this.session && this.session.state !== 'closed') throw new RecgwError('recorder', `session ${this.session.sessionId} is already ${this.session.state}: stop it before starting another`);
    const failed = this.failingChecks;
    if (failed.length > 0 && !req.force) {
      throw new RecgwError('recorder', `cannot start the session: ${failed.map((c) => `${c.check}: ${c.detail}`).join('; ')}. An officer may force the start; the failed checks are then recorded in the ledger.`);
    }
    await sleep(20);
    this.session = {
      sessionId: `20250301T0900${String(this.n++).padStart(2, '0')}Z-abcdef`,
      matter: matter.code,
      matterLabel: matter.zh,
      caseRef: req.caseRef,
      officers: req.officers,
      state: 'recording',
      start: new Date().toISOString(),
    };
    this.changed();
    return { session: this.session, forced: req.force ? failed : [] };
  }

  async pauseSession(reason: string, text?: string): Promise<SessionView> {
    this.calls.push({ method: 'pauseSession', reason, text });
    const s = this.active();
    if (s.state !== 'recording') throw new RecgwError('recorder', `session ${s.sessionId} is already paused: resume it or stop it`);
    if (!lookupTerm(REASONS, reason)) throw new RecgwError('usage', `unknown interruption reason ${JSON.stringify(reason)}`);
    s.state = 'paused';
    this.changed();
    return s;
  }

  async resumeSession(): Promise<SessionView> {
    this.calls.push({ method: 'resumeSession' });
    const s = this.active();
    if (s.state !== 'paused') throw new RecgwError('recorder', `session ${s.sessionId} is not paused`);
    s.state = 'recording';
    this.emit('prompt', { code: 'state-reason', zh: '请口述中断原因', en: 'State the reason for the interruption aloud' });
    this.changed();
    return s;
  }

  async credentialsShown(via: 'panel'): Promise<SessionView> {
    this.calls.push({ method: 'credentialsShown', via });
    await sleep(1);
    return this.active();
  }

  async stopSession(): Promise<SessionView> {
    this.calls.push({ method: 'stopSession' });
    const s = this.active();
    s.state = 'closed';
    this.changed();
    return s;
  }

  async status(): Promise<RecorderView> {
    return { session: this.session ? { ...this.session } : null };
  }

  private active(): SessionView {
    if (!this.session || this.session.state === 'closed') throw new RecgwError('recorder', 'no session is being recorded');
    return this.session;
  }

  private changed(): void {
    // Like the Recorder: the status goes out after the change, asynchronously.
    void this.status().then((st) => this.emit('changed', st));
  }
}
