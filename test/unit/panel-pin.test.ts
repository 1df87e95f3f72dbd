/**
 * The panel's PIN verb (docs/panel-protocol.md §4.1) without a serial port: it round-trips, its PIN never reaches the
 * journal (not even from a garbled line), a checked PIN waits for START and serves it once, and without a roster the
 * verb is refused as needless. The PIN check itself is a stand-in here (officer-auth.test.ts tests the real one;
 * officer-confirm.test.ts runs both through the real gateway on a pty).
 */
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { Panel, type LineLink, type PinCheck } from '../../src/panel/panel.js';
import { decodeGatewayLine, decodePanelLine, encodePanelCommand, frameLine, loggableLine, type GatewayMessage, type PanelCommand } from '../../src/panel/protocol.js';
import { ConfirmRefused, type Confirmation } from '../../src/officers/auth.js';
import { captureLogger, FakeRecorder, waitFor } from '../helpers/serial.js';

class FakeLink extends EventEmitter<{ line: [string]; open: [] }> implements LineLink {
  readonly out: GatewayMessage[] = [];
  writeLine(line: string): boolean {
    const d = decodeGatewayLine(line);
    if (d.ok) this.out.push(d.msg);
    return true;
  }
  send(c: PanelCommand | string): void {
    this.emit('line', typeof c === 'string' ? c : encodePanelCommand(c));
  }
}

/** PIN 480913 is 张三's; anything else is wrong. */
class StubPins implements PinCheck {
  constructor(private readonly on = true) {}
  required(): boolean {
    return this.on;
  }
  async confirm(req: { badge: string; pin: string; via: 'panel' }): Promise<Confirmation> {
    await Promise.resolve();
    if (req.pin !== '480913') throw new ConfirmRefused('wrong PIN', '张三（13010001）的 PIN 不正确', 'bad-pin');
    return { name: '张三', badge: req.badge, via: req.via, at: new Date().toISOString(), roster: 'r' };
  }
}

const panels: Panel[] = [];
afterEach(() => {
  for (const p of panels.splice(0)) p.stop();
});

function setup(pins?: PinCheck) {
  const link = new FakeLink();
  const rec = new FakeRecorder();
  const logs = captureLogger();
  const panel = new Panel(rec, link, { deviceId: 'room-1', heartbeatMs: 60_000, log: logs.log, ...(pins ? { pins } : {}) });
  panels.push(panel);
  panel.start();
  const answer = (id: number) => waitFor(() => link.out.find((m) => (m.verb === 'OK' || m.verb === 'ERR') && m.id === id), `answer ${id}`);
  return { link, rec, logs, panel, answer };
}

describe('the PIN verb', () => {
  it('round-trips, and refuses a PIN that is not 1-12 digits or a missing badge', () => {
    const line = encodePanelCommand({ verb: 'PIN', id: 7, badge: '13010001', pin: '480913' });
    expect(decodePanelLine(line)).toEqual({ ok: true, msg: { verb: 'PIN', id: 7, badge: '13010001', pin: '480913' } });
    expect(decodePanelLine(frameLine('PIN 8 13010001 48a913'))).toMatchObject({ ok: false, id: 8 });
    expect(decodePanelLine(frameLine('PIN 9 13010001 480913 x'))).toMatchObject({ ok: false, id: 9 });
    expect(decodePanelLine(frameLine('PIN 10'))).toMatchObject({ ok: false, id: 10 });
  });

  it('is logged as its verb and id only, garbled or not', () => {
    expect(loggableLine('PIN 7 13010001 480913*ABCD')).toBe('PIN 7 (the rest hidden)');
    expect(loggableLine('PIN480913')).toBe('PIN (the rest hidden)');
    expect(loggableLine('HB*F1EC')).toBe('HB*F1EC');
  });

  it('never puts the PIN in the journal, from a line with a bad checksum or a wrong PIN', async () => {
    const { link, logs, answer } = setup(new StubPins());
    link.send('PIN 3 13010001 480913*0000');
    link.send(encodePanelCommand({ verb: 'PIN', id: 4, badge: '13010001', pin: '111999' }));
    expect(await answer(4)).toEqual({ verb: 'ERR', id: 4, code: 'REFUSED', text: '张三（13010001）的 PIN 不正确' });
    expect(JSON.stringify(logs.lines())).toMatch(/PIN 3 \(the rest hidden\)/);
    expect(JSON.stringify(logs.lines())).not.toMatch(/480913|111999/);
  });

  it('holds a checked PIN for START, which takes it once', async () => {
    const { link, rec, answer } = setup(new StubPins());
    link.send({ verb: 'MAT', id: 1, matter: 'sampling' });
    link.send({ verb: 'OFC', id: 2, slot: 1, badge: '13010001', name: '张三' });
    await answer(2);
    link.send({ verb: 'PIN', id: 3, badge: '13010001', pin: '480913' });
    expect(await answer(3)).toEqual({ verb: 'OK', id: 3 });
    link.send({ verb: 'START', id: 4, force: false });
    expect(await answer(4)).toEqual({ verb: 'OK', id: 4 });
    const start = rec.calls.find((c) => c.method === 'startSession') as { req: { confirmations?: Confirmation[] } };
    expect(start.req.confirmations).toEqual([expect.objectContaining({ name: '张三', badge: '13010001', via: 'panel' })]);
    link.send({ verb: 'STOP', id: 5 });
    expect(await answer(5)).toEqual({ verb: 'OK', id: 5 });
    expect(rec.calls.filter((c) => c.method === 'stopSession')).toEqual([{ method: 'stopSession' }]);
  });

  it('is refused as needless without a roster', async () => {
    const { link, answer } = setup(new StubPins(false));
    link.send({ verb: 'PIN', id: 1, badge: '13010001', pin: '480913' });
    expect(await answer(1)).toEqual({ verb: 'ERR', id: 1, code: 'BADARG', text: '未安装执法人员名单：无需输入 PIN' });
  });
});
