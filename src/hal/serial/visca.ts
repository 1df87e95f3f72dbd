/**
 * PTZ cameras over VISCA on RS-232: recall a preset when a session starts and report each camera's power state for
 * pre-flight. VISCA is binary: packets of 3-16 bytes ending in 0xFF (which appears nowhere else), framed with
 * serialport's DelimiterParser. Several cameras may share one port (a daisy chain, addresses 1-7), so there is one
 * bus per port and replies are routed by the address in their header.
 */
import { EventEmitter } from 'node:events';
import { DelimiterParser } from 'serialport';
import { silentLogger, type Logger } from '../../util/log.js';
import { NoiseLog } from './noise.js';
import { SupervisedPort, type PortState, type SupervisedPortOptions } from './supervised-port.js';

// ---- packets (pure) ------------------------------------------------------------------------------------------

const END = 0xff;
export const MAX_PACKET = 16;

function checkAddress(address: number): void {
  if (!Number.isInteger(address) || address < 1 || address > 7) throw new RangeError(`VISCA address ${address} is not 1-7`);
}

/** CAM_Memory Recall: 8x 01 04 3F 02 pp FF. */
export function presetRecall(address: number, preset: number): Buffer {
  checkAddress(address);
  if (!Number.isInteger(preset) || preset < 0 || preset > 127) throw new RangeError(`VISCA preset ${preset} is not 0-127`);
  return Buffer.from([0x80 | address, 0x01, 0x04, 0x3f, 0x02, preset, END]);
}

/** CAM_PowerInq: 8x 09 04 00 FF, answered y0 50 02 FF (on) or y0 50 03 FF (off, standby). */
export function powerInquiry(address: number): Buffer {
  checkAddress(address);
  return Buffer.from([0x80 | address, 0x09, 0x04, 0x00, END]);
}

export const VISCA_ERRORS: Record<number, string> = {
  0x01: 'message length error',
  0x02: 'syntax error',
  0x03: 'command buffer full',
  0x04: 'command cancelled',
  0x05: 'no socket',
  0x41: 'command not executable',
};

export type ViscaReply =
  | { kind: 'ack'; address: number; socket: number }
  /** Completion of a command (data empty) or the answer to an inquiry (data = the bytes between 50 and FF). */
  | { kind: 'completion'; address: number; socket: number; data: Buffer }
  | { kind: 'error'; address: number; socket: number; code: number; message: string }
  | { kind: 'network-change'; address: number }
  | { kind: 'address-set'; next: number }
  | { kind: 'invalid'; reason: string };

/** Parses one packet (with its FF). Never throws: anything else is 'invalid' with a reason to log. */
export function parseViscaReply(p: Buffer): ViscaReply {
  if (p.length < 3 || p.length > MAX_PACKET) return { kind: 'invalid', reason: `${p.length} bytes is no VISCA packet` };
  if (p[p.length - 1] !== END) return { kind: 'invalid', reason: 'does not end in FF' };
  if (p.subarray(0, -1).includes(END)) return { kind: 'invalid', reason: 'FF inside the packet' };
  const h = p[0]!;
  if ((h & 0x80) === 0) return { kind: 'invalid', reason: 'header without its top bit' };
  // Broadcast (88): the answer to AddressSet (88 30 01 FF) is 88 30 0n FF, n = the next free address.
  if (h === 0x88) return p[1] === 0x30 && p.length === 4 ? { kind: 'address-set', next: p[2]! } : { kind: 'invalid', reason: 'unexpected broadcast' };
  if ((h & 0x0f) !== 0) return { kind: 'invalid', reason: 'not addressed to the controller (a command passed round the chain?)' };
  const address = (h >> 4) - 8;
  if (address < 1 || address > 7) return { kind: 'invalid', reason: `sender address ${address} is not 1-7` };
  const t = p[1]!;
  if (t === 0x38 && p.length === 3) return { kind: 'network-change', address };
  const socket = t & 0x0f;
  switch (t & 0xf0) {
    case 0x40:
      return p.length === 3 ? { kind: 'ack', address, socket } : { kind: 'invalid', reason: 'ACK of wrong length' };
    case 0x50:
      return { kind: 'completion', address, socket, data: Buffer.from(p.subarray(2, -1)) };
    case 0x60: {
      if (p.length !== 4) return { kind: 'invalid', reason: 'error reply of wrong length' };
      const code = p[2]!;
      return { kind: 'error', address, socket, code, message: VISCA_ERRORS[code] ?? `error ${code.toString(16).padStart(2, '0')}` };
    }
  }
  return { kind: 'invalid', reason: `unknown reply type ${t.toString(16).padStart(2, '0')}` };
}

export type PowerState = 'on' | 'off' | 'fault';

/** The data of a power inquiry answer: 02 on, 03 off (standby), 04 internal power circuit error. */
export function powerFromInquiry(data: Buffer): PowerState | undefined {
  if (data.length !== 1) return undefined;
  return data[0] === 0x02 ? 'on' : data[0] === 0x03 ? 'off' : data[0] === 0x04 ? 'fault' : undefined;
}

// ---- bus and cameras -----------------------------------------------------------------------------------------

/** A port carrying VISCA packets; ViscaPort in the gateway, a fake in unit tests. */
export interface PacketLink {
  write(packet: Buffer): boolean;
  on(event: 'frame', listener: (packet: Buffer) => void): unknown;
  on(event: 'state', listener: (state: PortState) => void): unknown;
  state(): PortState;
}

/** The supervised serial port of one VISCA bus: 0xFF-framed packets. No heartbeat: unplugging shows as close events. */
export class ViscaPort extends SupervisedPort<Buffer> {
  constructor(opts: SupervisedPortOptions) {
    super({ ...opts, maxFrameBytes: MAX_PACKET, parser: () => new DelimiterParser({ delimiter: [END], includeDelimiter: true }) });
  }
}

export type ViscaResult = { ok: true } | { ok: false; error: string };

export interface CameraTimeouts {
  /** ACK of a command, or the answer to an inquiry (default 1000 ms; VISCA answers within a few frames). */
  replyMs?: number;
  /** Completion after the ACK (default 15 s: a preset recall moves the head across the room). */
  completionMs?: number;
}

interface Op {
  kind: 'command' | 'inquiry';
  packet: Buffer;
  acked: boolean;
  timer: NodeJS.Timeout | undefined;
  done: (r: { ok: true; data: Buffer } | { ok: false; error: string }) => void;
}

export interface PtzCameraState {
  source: string;
  address: number;
  path: string;
  connected: boolean;
  /** Why the serial port is (or last was) not connected. */
  portError: string | null;
  power: PowerState | 'no-reply' | 'unknown';
  powerAt: string | null;
  lastError: string | null;
  lastPreset: { preset: number; ok: boolean; at: string } | null;
}

export class ViscaBus {
  private readonly cameras = new Map<number, PtzCamera>();
  private readonly noise: NoiseLog;

  constructor(
    readonly link: PacketLink,
    private readonly log: Logger = silentLogger,
    now: () => number = Date.now,
  ) {
    this.noise = new NoiseLog(log, 10, now);
    link.on('frame', (p) => this.packet(p));
    link.on('state', (s) => {
      if (!s.connected) for (const c of this.cameras.values()) c.fail(`serial port disconnected: ${s.lastError ?? ''}`.trim());
    });
  }

  camera(address: number, source: string, opts: { preset?: number; timeouts?: CameraTimeouts; now?: () => number } = {}): PtzCamera {
    checkAddress(address);
    if (this.cameras.has(address)) throw new Error(`two PTZ cameras with VISCA address ${address} on ${this.link.state().path}`);
    const c = new PtzCamera(this, address, source, { log: this.log, ...opts });
    this.cameras.set(address, c);
    return c;
  }

  get garbage(): number {
    return this.noise.total;
  }

  private packet(p: Buffer): void {
    const r = parseViscaReply(p);
    if (r.kind === 'invalid') return this.noise.garbage(r.reason, p);
    if (r.kind === 'address-set') return this.log.info('VISCA address set answered', { next: r.next });
    const c = this.cameras.get(r.address);
    if (!c) return this.noise.garbage(`reply from address ${r.address}, which has no camera configured`, p);
    c.reply(r);
  }
}

export class PtzCamera extends EventEmitter<{ changed: [PtzCameraState] }> {
  private readonly queue: Op[] = [];
  private current: Op | undefined;
  private readonly replyMs: number;
  private readonly completionMs: number;
  private readonly now: () => number;
  private readonly log: Logger;
  private power: PtzCameraState['power'] = 'unknown';
  private powerAt: number | null = null;
  private lastError: string | null = null;
  private lastPreset: PtzCameraState['lastPreset'] = null;

  constructor(
    private readonly bus: ViscaBus,
    readonly address: number,
    readonly source: string,
    opts: { preset?: number; timeouts?: CameraTimeouts; now?: () => number; log?: Logger },
  ) {
    super();
    this.preset = opts.preset;
    this.replyMs = opts.timeouts?.replyMs ?? 1000;
    this.completionMs = opts.timeouts?.completionMs ?? 15_000;
    this.now = opts.now ?? Date.now;
    this.log = (opts.log ?? silentLogger).child(`ptz.${source}`);
  }

  /** The preset recalled when a session starts (config serial.ptz[].preset). */
  readonly preset: number | undefined;

  /** Recalls a preset (default: the configured one); resolves after the camera reports completion or an error. */
  async recallPreset(preset = this.preset): Promise<ViscaResult> {
    if (preset === undefined) return { ok: false, error: 'no preset configured' };
    const r = await this.run('command', presetRecall(this.address, preset));
    this.lastPreset = { preset, ok: r.ok, at: new Date(this.now()).toISOString() };
    if (!r.ok) this.log.warn('preset recall failed', { preset, error: r.error });
    this.changed();
    return r.ok ? { ok: true } : r;
  }

  /** Asks the camera for its power state; 'no-reply' when it does not answer (unplugged, off at the wall, wrong address). */
  async queryPower(): Promise<PtzCameraState['power']> {
    const r = await this.run('inquiry', powerInquiry(this.address));
    const p = r.ok ? (powerFromInquiry(r.data) ?? 'unknown') : 'no-reply';
    if (r.ok && p === 'unknown') this.lastError = `unexpected power inquiry answer ${r.data.toString('hex')}`;
    this.power = p;
    this.powerAt = this.now();
    this.changed();
    return p;
  }

  state(): PtzCameraState {
    const port = this.bus.link.state();
    return {
      source: this.source,
      address: this.address,
      path: port.path,
      connected: port.connected,
      portError: port.lastError,
      power: this.power,
      powerAt: this.powerAt === null ? null : new Date(this.powerAt).toISOString(),
      lastError: this.lastError,
      lastPreset: this.lastPreset,
    };
  }

  /** One operation at a time per camera: VISCA replies carry no request id, only the camera's address. */
  private run(kind: Op['kind'], packet: Buffer): Promise<{ ok: true; data: Buffer } | { ok: false; error: string }> {
    return new Promise((resolve) => {
      this.queue.push({ kind, packet, acked: false, timer: undefined, done: resolve });
      this.next();
    });
  }

  private next(): void {
    if (this.current) return;
    const op = this.queue.shift();
    if (!op) return;
    this.current = op;
    if (!this.bus.link.write(op.packet)) return this.finish({ ok: false, error: 'serial port not connected' });
    this.arm(this.replyMs, op.kind === 'command' ? 'no ACK' : 'no answer');
  }

  private arm(ms: number, what: string): void {
    const op = this.current!;
    clearTimeout(op.timer);
    op.timer = setTimeout(() => {
      if (this.current === op) this.finish({ ok: false, error: `${what} within ${ms} ms` });
    }, ms);
    op.timer.unref();
  }

  private finish(r: { ok: true; data: Buffer } | { ok: false; error: string }): void {
    const op = this.current;
    if (!op) return;
    clearTimeout(op.timer);
    this.current = undefined;
    this.lastError = r.ok ? null : r.error;
    op.done(r);
    this.next();
  }

  /** @internal the bus routes this camera's replies here. */
  reply(r: Exclude<ViscaReply, { kind: 'invalid' | 'address-set' }>): void {
    const op = this.current;
    if (r.kind === 'network-change') return this.log.info('VISCA network change reported');
    if (!op) return this.log.debug('reply with nothing outstanding', { kind: r.kind });
    if (r.kind === 'ack') {
      if (op.kind === 'command' && !op.acked) {
        op.acked = true;
        this.arm(this.completionMs, 'no completion');
      }
      return;
    }
    if (r.kind === 'error') return this.finish({ ok: false, error: `camera error: ${r.message}` });
    this.finish({ ok: true, data: r.data });
  }

  /** @internal the port dropped: whatever is outstanding will never be answered. */
  fail(error: string): void {
    if (this.current) this.finish({ ok: false, error });
    for (const op of this.queue.splice(0)) op.done({ ok: false, error });
  }

  private changed(): void {
    this.emit('changed', this.state());
  }
}

// ---- the configured cameras ----------------------------------------------------------------------------------

export interface PtzEntry {
  path: string;
  baudRate: number;
  address: number;
  source: string;
  preset?: number;
}

export interface PtzGroupOptions extends Omit<SupervisedPortOptions, 'path' | 'baudRate' | 'silenceMs'> {
  timeouts?: CameraTimeouts;
}

/** All configured PTZ cameras (config serial.ptz), one bus per serial port. */
export class PtzGroup {
  readonly cameras: PtzCamera[] = [];
  private readonly ports: ViscaPort[] = [];
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly recalled = new Set<string>();

  constructor(entries: PtzEntry[], opts: PtzGroupOptions = {}) {
    this.log = opts.log ?? silentLogger;
    this.now = opts.now ?? Date.now;
    const buses = new Map<string, ViscaBus>();
    for (const e of entries) {
      let bus = buses.get(e.path);
      if (!bus) {
        const port = new ViscaPort({ ...opts, path: e.path, baudRate: e.baudRate, log: this.log.child('visca') });
        this.ports.push(port);
        bus = new ViscaBus(port, this.log.child('visca'), this.now);
        buses.set(e.path, bus);
      } else if (e.baudRate !== entries.find((x) => x.path === e.path)!.baudRate) {
        this.log.warn('PTZ cameras on one port with different baud rates: the first one applies', { path: e.path });
      }
      this.cameras.push(bus.camera(e.address, e.source, { ...(e.preset === undefined ? {} : { preset: e.preset }), ...(opts.timeouts ? { timeouts: opts.timeouts } : {}), now: this.now }));
    }
  }

  start(): void {
    for (const p of this.ports) p.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.ports.map((p) => p.stop()));
  }

  /** Recalls the configured preset of every camera that has one. */
  recallPresets(): Promise<{ source: string; preset: number; result: ViscaResult }[]> {
    return Promise.all(this.cameras.filter((c) => c.preset !== undefined).map(async (c) => ({ source: c.source, preset: c.preset!, result: await c.recallPreset() })));
  }

  /**
   * Feed it the recorder's status on every change: a session seen recording for the first time, started within the
   * last minute, has the presets recalled (a session resumed after a gateway restart does not move the cameras).
   */
  onRecorderStatus(status: { session: { sessionId: string; state: string; start: string } | null }): void {
    const s = status.session;
    if (!s || s.state !== 'recording' || this.recalled.has(s.sessionId)) return;
    this.recalled.add(s.sessionId);
    if (this.now() - Date.parse(s.start) > 60_000) return;
    void this.recallPresets().then((rs) => {
      for (const r of rs) this.log[r.result.ok ? 'info' : 'warn']('preset recalled at session start', { source: r.source, preset: r.preset, ...(r.result.ok ? {} : { error: r.result.error }) });
    });
  }

  /** Pre-flight: every camera answers the power inquiry with "on". */
  async preflightCheck(): Promise<{ ok: boolean; detail: string; zh: string }> {
    const states = await Promise.all(this.cameras.map(async (c) => ({ c, power: await c.queryPower() })));
    const bad = states.filter((x) => x.power !== 'on');
    if (bad.length === 0) return { ok: true, detail: `all ${states.length} PTZ cameras powered on`, zh: `全部 ${states.length} 台云台摄像机已开机` };
    const why = (c: PtzCamera, p: PtzCameraState['power']): string => {
      const st = c.state();
      if (!st.connected) return `cannot be asked: its serial port is not connected (${st.portError ?? 'not open yet'}): check the RS-232 adapter`;
      return p === 'off' ? 'is switched off (standby): switch it on' : p === 'fault' ? 'reports a power fault' : p === 'no-reply' ? 'does not answer: check its RS-232 cable, power and VISCA address' : 'gave an unexpected power answer';
    };
    return {
      ok: false,
      detail: bad.map(({ c, power }) => `PTZ camera of ${c.source} (VISCA ${c.address} on ${c.state().path}) ${why(c, power)}`).join('; '),
      zh: `云台摄像机未就绪：${bad.map(({ c }) => c.source).join('、')}（请检查电源、RS-232 线缆和 VISCA 地址）`,
    };
  }

  status(): { cameras: PtzCameraState[]; ports: PortState[] } {
    return { cameras: this.cameras.map((c) => c.state()), ports: this.ports.map((p) => p.state()) };
  }
}
