/**
 * VISCA packets and the per-camera exchange, without a serial port: the bytes of preset recall and power inquiry,
 * parsing of ACK, completion, inquiry answers, errors and garbage, and a camera's command sequencing, timeouts and
 * routing by address on a shared bus.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  parseViscaReply,
  powerFromInquiry,
  powerInquiry,
  presetRecall,
  PtzGroup,
  ViscaBus,
  type PacketLink,
  type ViscaPort,
} from '../../src/hal/serial/visca.js';
import type { PortState } from '../../src/hal/serial/supervised-port.js';
import type { PtzConfig } from '../../src/config/types.js';
import { captureLogger, sleep } from '../helpers/serial.js';

// Compile-time: the real port is a PacketLink, and the config's PTZ entries are what PtzGroup takes.
export const portIsLink: (p: ViscaPort) => PacketLink = (p) => p;
export const fromConfig = (c: PtzConfig[]): PtzGroup => new PtzGroup(c);

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('VISCA packets', () => {
  it('encodes preset recall and power inquiry', () => {
    expect(presetRecall(1, 3)).toEqual(hex('81 01 04 3F 02 03 FF'));
    expect(presetRecall(7, 127)).toEqual(hex('87 01 04 3F 02 7F FF'));
    expect(powerInquiry(2)).toEqual(hex('82 09 04 00 FF'));
    expect(() => presetRecall(0, 1)).toThrow(RangeError);
    expect(() => presetRecall(8, 1)).toThrow(RangeError);
    expect(() => presetRecall(1, 128)).toThrow(RangeError);
    expect(() => powerInquiry(1.5)).toThrow(RangeError);
  });

  it('parses ACK, completion, inquiry answers, errors and network change', () => {
    expect(parseViscaReply(hex('90 41 FF'))).toEqual({ kind: 'ack', address: 1, socket: 1 });
    expect(parseViscaReply(hex('A0 52 FF'))).toEqual({ kind: 'completion', address: 2, socket: 2, data: Buffer.alloc(0) });
    expect(parseViscaReply(hex('90 50 02 FF'))).toEqual({ kind: 'completion', address: 1, socket: 0, data: hex('02') });
    expect(parseViscaReply(hex('F0 61 41 FF'))).toEqual({ kind: 'error', address: 7, socket: 1, code: 0x41, message: 'command not executable' });
    expect(parseViscaReply(hex('90 60 02 FF'))).toMatchObject({ kind: 'error', message: 'syntax error' });
    expect(parseViscaReply(hex('90 60 7E FF'))).toMatchObject({ kind: 'error', message: 'error 7e' });
    expect(parseViscaReply(hex('B0 38 FF'))).toEqual({ kind: 'network-change', address: 3 });
    expect(parseViscaReply(hex('88 30 02 FF'))).toEqual({ kind: 'address-set', next: 2 });
  });

  it('reads the power state from an inquiry answer', () => {
    expect(powerFromInquiry(hex('02'))).toBe('on');
    expect(powerFromInquiry(hex('03'))).toBe('off');
    expect(powerFromInquiry(hex('04'))).toBe('fault');
    expect(powerFromInquiry(hex('05'))).toBeUndefined();
    expect(powerFromInquiry(hex('0203'))).toBeUndefined();
  });

  it.each([
    ['FF', 'too short'],
    ['90 41', 'no terminator'],
    ['90 41 FF FF', 'FF inside'],
    ['10 41 FF', 'no top bit'],
    ['81 01 04 3F 02 03 FF', 'a command, not a reply'],
    ['80 41 FF', 'address 0'],
    ['90 41 00 FF', 'ACK too long'],
    ['90 61 FF', 'error too short'],
    ['90 70 FF', 'unknown type'],
    ['88 01 00 01 FF', 'other broadcast'],
    ['90 50 00 00 00 00 00 00 00 00 00 00 00 00 00 00 FF', 'over 16 bytes'],
  ])('refuses %s (%s)', (bytes) => {
    expect(parseViscaReply(hex(bytes)).kind).toBe('invalid');
  });
});

/** A bus port that records what is written and lets the test answer. */
class FakeBusPort extends EventEmitter<{ frame: [Buffer]; state: [PortState] }> implements PacketLink {
  connected = true;
  readonly written: Buffer[] = [];
  write(p: Buffer): boolean {
    if (!this.connected) return false;
    this.written.push(p);
    return true;
  }
  state(): PortState {
    return { path: '/dev/ttyFAKE', connected: this.connected, since: '', lastError: null, failures: 0, nextAttempt: null };
  }
  reply(h: string): void {
    this.emit('frame', hex(h));
  }
}

const fast = { replyMs: 50, completionMs: 150 };

describe('PTZ camera on a bus', () => {
  it('recalls a preset: ACK then completion', async () => {
    const port = new FakeBusPort();
    const cam = new ViscaBus(port).camera(1, 'cam1', { preset: 3, timeouts: fast });
    const p = cam.recallPreset();
    expect(port.written).toEqual([hex('81 01 04 3F 02 03 FF')]);
    port.reply('90 41 FF');
    await sleep(80); // longer than replyMs: after the ACK the completion may take completionMs
    port.reply('90 51 FF');
    expect(await p).toEqual({ ok: true });
    expect(cam.state().lastPreset).toMatchObject({ preset: 3, ok: true });
  });

  it('reports camera errors, a missing ACK and a missing completion', async () => {
    const port = new FakeBusPort();
    const cam = new ViscaBus(port).camera(1, 'cam1', { preset: 3, timeouts: fast });
    const p1 = cam.recallPreset();
    port.reply('90 61 41 FF');
    expect(await p1).toEqual({ ok: false, error: 'camera error: command not executable' });
    expect(await cam.recallPreset()).toEqual({ ok: false, error: 'no ACK within 50 ms' });
    const p3 = cam.recallPreset(5);
    port.reply('90 41 FF');
    expect(await p3).toEqual({ ok: false, error: 'no completion within 150 ms' });
    expect(await new ViscaBus(new FakeBusPort()).camera(2, 'x').recallPreset()).toEqual({ ok: false, error: 'no preset configured' });
  });

  it('asks for the power state', async () => {
    const port = new FakeBusPort();
    const cam = new ViscaBus(port).camera(2, 'cam2', { timeouts: fast });
    const on = cam.queryPower();
    expect(port.written.at(-1)).toEqual(hex('82 09 04 00 FF'));
    port.reply('A0 50 02 FF');
    expect(await on).toBe('on');
    const off = cam.queryPower();
    port.reply('A0 50 03 FF');
    expect(await off).toBe('off');
    expect(await cam.queryPower()).toBe('no-reply');
    expect(cam.state()).toMatchObject({ power: 'no-reply', lastError: 'no answer within 50 ms', connected: true, path: '/dev/ttyFAKE' });
  });

  it('sends one packet at a time per camera and routes replies by address', async () => {
    const port = new FakeBusPort();
    const bus = new ViscaBus(port);
    const c1 = bus.camera(1, 'cam1', { timeouts: fast });
    const c2 = bus.camera(2, 'cam2', { timeouts: fast });
    expect(() => bus.camera(2, 'again')).toThrow(/two PTZ cameras/);
    const a = c1.queryPower();
    const b = c1.recallPreset(1);
    const c = c2.queryPower();
    expect(port.written).toEqual([hex('81 09 04 00 FF'), hex('82 09 04 00 FF')]);
    port.reply('A0 50 03 FF');
    port.reply('90 50 02 FF');
    expect(await a).toBe('on');
    expect(await c).toBe('off');
    expect(port.written.at(-1)).toEqual(hex('81 01 04 3F 02 01 FF'));
    port.reply('90 41 FF');
    port.reply('90 51 FF');
    expect(await b).toEqual({ ok: true });
  });

  it('fails what is outstanding when the port drops, and refuses while it is down', async () => {
    const port = new FakeBusPort();
    const cam = new ViscaBus(port).camera(1, 'cam1', { preset: 2, timeouts: { replyMs: 5000, completionMs: 5000 } });
    const p = cam.recallPreset();
    const q = cam.queryPower();
    port.connected = false;
    port.emit('state', { ...port.state(), lastError: 'disconnected: EIO' });
    expect(await p).toEqual({ ok: false, error: 'serial port disconnected: disconnected: EIO' });
    expect(await q).toBe('no-reply');
    expect(await cam.recallPreset()).toEqual({ ok: false, error: 'serial port not connected' });
  });

  it('logs and ignores garbage and stray replies', async () => {
    const { log, lines } = captureLogger();
    const port = new FakeBusPort();
    const bus = new ViscaBus(port, log);
    const cam = bus.camera(1, 'cam1', { timeouts: fast });
    port.reply('12 34 FF');
    port.reply('D0 41 FF'); // address 5: no camera
    port.reply('90 51 FF'); // nothing outstanding
    expect(bus.garbage).toBe(2);
    expect(lines().filter((l) => l.msg === 'ignored garbage on the serial line')).toHaveLength(2);
    const on = cam.queryPower();
    port.reply('90 50 02 FF');
    expect(await on).toBe('on');
  });
});
