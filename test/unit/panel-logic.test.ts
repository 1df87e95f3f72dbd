/**
 * The panel's logic without any serial port: a fake line link and a fake recorder. Panel actions reach the recorder
 * interface with the panel's matter, officers and reason; answers (ACK, then OK or ERR) carry the command id;
 * retransmissions never act twice; the display follows the recorder's state and shows prompts and refusals.
 */
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { Panel, type LineLink, type RecorderApi } from '../../src/panel/panel.js';
import { decodeGatewayLine, encodePanelCommand, frameLine, type GatewayMessage, type PanelCommand } from '../../src/panel/protocol.js';
import type { Recorder } from '../../src/recorder/recorder.js';
import type { LinePort } from '../../src/hal/serial/line-port.js';
import { RecgwError } from '../../src/util/errors.js';
import { localClock } from '../../src/util/local-time.js';
import { captureLogger, FakeRecorder, sleep, waitFor } from '../helpers/serial.js';

// Compile-time: the gateway can hand the Recorder and a LinePort to the panel as they are.
export const recorderIsApi: (r: Recorder) => RecorderApi = (r) => r;
export const linePortIsLink: (p: LinePort) => LineLink = (p) => p;

class FakeLink extends EventEmitter<{ line: [string]; open: [] }> implements LineLink {
  connected = true;
  readonly out: string[] = [];
  writeLine(line: string): boolean {
    if (!this.connected) return false;
    this.out.push(line);
    return true;
  }
  msgs(): GatewayMessage[] {
    return this.out.map((l) => {
      const d = decodeGatewayLine(l);
      if (!d.ok) throw new Error(`the panel sent a bad line ${l}: ${d.reason}`);
      return d.msg;
    });
  }
  from(n: number): GatewayMessage[] {
    return this.msgs().slice(n);
  }
  last<V extends GatewayMessage['verb']>(verb: V): Extract<GatewayMessage, { verb: V }> | undefined {
    return this.msgs().filter((m): m is Extract<GatewayMessage, { verb: V }> => m.verb === verb).at(-1);
  }
  rows(): string[] {
    const rows = ['', '', '', ''];
    for (const m of this.msgs()) if (m.verb === 'DSP') rows[m.row - 1] = m.text;
    return rows;
  }
  send(c: PanelCommand): void {
    this.emit('line', encodePanelCommand(c));
  }
}

const panels: Panel[] = [];
function setup(opts: { heartbeatMs?: number; zone?: string } = {}): { link: FakeLink; rec: FakeRecorder; panel: Panel; logs: ReturnType<typeof captureLogger> } {
  const link = new FakeLink();
  const rec = new FakeRecorder();
  const logs = captureLogger();
  const panel = new Panel(rec, link, { deviceId: 'room-1', version: '0.1.0', heartbeatMs: opts.heartbeatMs ?? 60_000, log: logs.log, ...(opts.zone ? { zone: opts.zone } : {}) });
  panels.push(panel);
  panel.start();
  return { link, rec, panel, logs };
}
afterEach(() => {
  for (const p of panels.splice(0)) p.stop();
});

/** Sends a command and waits for its final answer. */
async function cmd(link: FakeLink, c: PanelCommand): Promise<Extract<GatewayMessage, { verb: 'OK' | 'ERR' }>> {
  const id = (c as { id: number }).id;
  const n = link.out.length;
  link.send(c);
  return waitFor(() => link.from(n).find((m): m is Extract<GatewayMessage, { verb: 'OK' | 'ERR' }> => (m.verb === 'OK' || m.verb === 'ERR') && m.id === id), `answer ${id}`);
}

async function enter(link: FakeLink): Promise<void> {
  expect(await cmd(link, { verb: 'MAT', id: 1, matter: '现场检查' })).toEqual({ verb: 'OK', id: 1 });
  expect(await cmd(link, { verb: 'CASE', id: 2, caseRef: '京市监罚〔2025〕18号' })).toEqual({ verb: 'OK', id: 2 });
  expect(await cmd(link, { verb: 'OFC', id: 3, slot: 1, badge: '13010001', name: '张三' })).toEqual({ verb: 'OK', id: 3 });
  expect(await cmd(link, { verb: 'OFC', id: 4, slot: 2, badge: '13010002', name: '李四' })).toEqual({ verb: 'OK', id: 4 });
}

describe('Panel', () => {
  it('greets and shows the whole state when started on an open link', async () => {
    const { link } = setup();
    await waitFor(() => link.msgs().some((m) => m.verb === 'DSP' && m.row === 3), 'display');
    expect(link.msgs()[0]).toEqual({ verb: 'HELLO', proto: 1, name: 'recgw', version: '0.1.0', device: 'room-1' });
    expect(link.msgs()).toContainEqual({ verb: 'ST', state: 'IDLE', session: null });
    expect(link.rows().slice(0, 3)).toEqual(['待机：可开始录制', '事项：未选择  案号：无', '执法人员：未录入']);
  });

  it('starts a session through the recorder interface with the matter, case and officers entered on the panel', async () => {
    const { link, rec } = setup();
    await enter(link);
    expect(link.rows()[1]).toBe('事项：现场检查  案号：京市监罚〔2025〕18号');
    expect(link.rows()[2]).toBe('执法人员：张三(13010001) 李四(13010002)');
    const n = link.out.length;
    expect(await cmd(link, { verb: 'START', id: 5, force: false })).toEqual({ verb: 'OK', id: 5 });
    // ACK first, at once; the answer after the recorder is done.
    expect(link.from(n)[0]).toEqual({ verb: 'ACK', id: 5 });
    expect(rec.calls).toEqual([
      {
        method: 'startSession',
        req: { matter: 'site-inspection', caseRef: '京市监罚〔2025〕18号', officers: [{ name: '张三', badge: '13010001' }, { name: '李四', badge: '13010002' }], force: false },
      },
    ]);
    await waitFor(() => link.msgs().some((m) => m.verb === 'ST' && m.state === 'REC'), 'ST REC');
    // Beijing time, named, whatever the gateway's own TZ (UTC on the build machine, often on gateways too).
    expect(link.rows()[0]).toBe(`录制中  开始 ${localClock(rec.session!.start, 'Asia/Shanghai').slice(11, 16)}（北京时间）`);
    expect(link.rows()[3]).toBe('已开始录制');
  });

  it('shows the start time in the installation\'s zone, named', async () => {
    const { link, rec } = setup({ zone: 'Europe/Berlin' });
    await enter(link);
    expect(await cmd(link, { verb: 'START', id: 5, force: false })).toEqual({ verb: 'OK', id: 5 });
    await waitFor(() => link.rows()[0]!.startsWith('录制中'), 'row 1');
    expect(link.rows()[0]).toBe(`录制中  开始 ${localClock(rec.session!.start, 'Europe/Berlin').slice(11, 16)}（Europe/Berlin）`);
  });

  it('refuses a start without a matter or an officer without asking the recorder', async () => {
    const { link, rec } = setup();
    expect(await cmd(link, { verb: 'START', id: 1, force: false })).toEqual({ verb: 'ERR', id: 1, code: 'BADARG', text: '请先选择事项' });
    await cmd(link, { verb: 'MAT', id: 2, matter: 'hearing' });
    expect(await cmd(link, { verb: 'START', id: 3, force: false })).toMatchObject({ verb: 'ERR', code: 'BADARG', text: expect.stringContaining('执法人员') });
    expect(await cmd(link, { verb: 'MAT', id: 4, matter: '吃饭' })).toEqual({ verb: 'ERR', id: 4, code: 'BADARG', text: '未知事项：吃饭' });
    expect(rec.calls).toEqual([]);
    expect(link.rows()[3]).toBe('未知事项：吃饭');
  });

  it('shows a refused pre-flight with its reasons, and a forced start says what was forced', async () => {
    const { link, rec } = setup();
    await enter(link);
    rec.failingChecks = [
      { check: 'battery', ok: false, detail: 'battery at 12%, below the 20% needed: charge it or connect mains power' },
      { check: 'clock', ok: false, detail: 'clock not synchronised (source ntp): check the network' },
    ];
    const refused = await cmd(link, { verb: 'START', id: 5, force: false });
    expect(refused).toEqual({ verb: 'ERR', id: 5, code: 'REFUSED', text: '无法开始：电池电量不足、时钟未同步。确认后可强制开始' });
    expect(link.rows()[3]).toBe(refused.verb === 'ERR' ? refused.text : '');
    expect(await cmd(link, { verb: 'START', id: 6, force: true })).toEqual({ verb: 'OK', id: 6 });
    expect(rec.calls.map((c) => c.method === 'startSession' && c.req.force)).toEqual([false, true]);
    expect(link.rows()[3]).toBe('已强制开始录制（预检未通过：电池电量不足、时钟未同步）');
  });

  it('pauses with the reason chosen on the panel, by code or Chinese name; "other" needs a text', async () => {
    const { link, rec } = setup();
    await enter(link);
    await cmd(link, { verb: 'START', id: 5, force: false });
    expect(await cmd(link, { verb: 'PAUSE', id: 6, reason: 'rain' })).toEqual({ verb: 'ERR', id: 6, code: 'BADARG', text: '未知中断原因：rain' });
    expect(await cmd(link, { verb: 'PAUSE', id: 7, reason: 'other' })).toMatchObject({ verb: 'ERR', code: 'BADARG' });
    expect(await cmd(link, { verb: 'PAUSE', id: 8, reason: '设备故障' })).toEqual({ verb: 'OK', id: 8 });
    await waitFor(() => link.msgs().some((m) => m.verb === 'ST' && m.state === 'PAUSED'), 'ST PAUSED');
    expect(link.rows()[3]).toBe('已暂停：设备故障');
    expect(await cmd(link, { verb: 'PAUSE', id: 9, reason: 'device-fault' })).toEqual({ verb: 'ERR', id: 9, code: 'REFUSED', text: '已处于暂停状态' });
    await cmd(link, { verb: 'RESUME', id: 10 });
    expect(await cmd(link, { verb: 'PAUSE', id: 11, reason: 'other', text: '当事人要求休息' })).toEqual({ verb: 'OK', id: 11 });
    expect(rec.calls.filter((c) => c.method === 'pauseSession')).toEqual([
      { method: 'pauseSession', reason: 'device-fault', text: undefined },
      { method: 'pauseSession', reason: 'device-fault', text: undefined },
      { method: 'pauseSession', reason: 'other', text: '当事人要求休息' },
    ]);
  });

  it('on resume shows 「请口述中断原因」 as a prompt and keeps it on the display', async () => {
    const { link } = setup();
    await enter(link);
    await cmd(link, { verb: 'START', id: 5, force: false });
    await cmd(link, { verb: 'PAUSE', id: 6, reason: 'site-change' });
    const n = link.out.length;
    expect(await cmd(link, { verb: 'RESUME', id: 7 })).toEqual({ verb: 'OK', id: 7 });
    expect(link.from(n)).toContainEqual({ verb: 'PRM', code: 'state-reason', text: '请口述中断原因' });
    await waitFor(() => link.last('ST')?.state === 'REC', 'ST REC');
    await sleep(30);
    expect(link.rows()[3]).toBe('请口述中断原因');
    expect(await cmd(link, { verb: 'RESUME', id: 8 })).toEqual({ verb: 'ERR', id: 8, code: 'REFUSED', text: '当前未暂停' });
  });

  it('stops, and says so when there is nothing to stop', async () => {
    const { link, rec } = setup();
    expect(await cmd(link, { verb: 'STOP', id: 1 })).toEqual({ verb: 'ERR', id: 1, code: 'REFUSED', text: '当前没有进行中的录制' });
    await enter(link);
    await cmd(link, { verb: 'START', id: 5, force: false });
    expect(await cmd(link, { verb: 'STOP', id: 6 })).toEqual({ verb: 'OK', id: 6 });
    await waitFor(() => link.msgs().at(-1)?.verb === 'DSP' && link.rows()[0] === '待机：可开始录制', 'idle display');
    expect(rec.calls.map((c) => c.method)).toEqual(['stopSession', 'startSession', 'stopSession']);
    // The officers stay entered for the next session.
    expect(link.rows()[2]).toBe('执法人员：张三(13010001) 李四(13010002)');
  });

  it('marks 亮证 on the CRED key while a session records, and refuses it with none', async () => {
    const { link, rec } = setup();
    expect(await cmd(link, { verb: 'CRED', id: 1 })).toEqual({ verb: 'ERR', id: 1, code: 'REFUSED', text: '当前没有进行中的录制' });
    await enter(link);
    await cmd(link, { verb: 'START', id: 5, force: false });
    expect(await cmd(link, { verb: 'CRED', id: 6 })).toEqual({ verb: 'OK', id: 6 });
    await waitFor(() => link.rows()[3] === '已记录亮证', 'the message row');
    expect(rec.calls.filter((c) => c.method === 'credentialsShown')).toEqual([
      { method: 'credentialsShown', via: 'panel' },
      { method: 'credentialsShown', via: 'panel' },
    ]);
  });

  it('answers a retransmitted command again without carrying it out twice; HELLO forgets the ids', async () => {
    const { link, rec } = setup();
    await enter(link);
    const start: PanelCommand = { verb: 'START', id: 5, force: false };
    link.send(start);
    link.send(start); // while the first is still running
    await waitFor(() => link.msgs().some((m) => m.verb === 'OK' && m.id === 5), 'OK 5');
    const n = link.out.length;
    link.send(start); // after it is done: the ACK and the OK again
    await waitFor(() => link.from(n).some((m) => m.verb === 'OK' && m.id === 5), 'repeated OK');
    expect(link.from(n).slice(0, 2)).toEqual([
      { verb: 'ACK', id: 5 },
      { verb: 'OK', id: 5 },
    ]);
    expect(rec.calls.filter((c) => c.method === 'startSession')).toHaveLength(1);
    expect(link.msgs().filter((m) => m.verb === 'ACK' && m.id === 5)).toHaveLength(3);
    // The same id for another line is a new command.
    expect(await cmd(link, { verb: 'STOP', id: 5 })).toEqual({ verb: 'OK', id: 5 });
    // After a panel reboot (HELLO) the id is new again.
    link.send({ verb: 'HELLO', proto: 1, model: 'RP-200', firmware: '1.4.2' });
    expect(await cmd(link, { verb: 'START', id: 5, force: false })).toEqual({ verb: 'OK', id: 5 });
    expect(rec.calls.filter((c) => c.method === 'startSession')).toHaveLength(2);
  });

  it('logs and ignores garbage; an intact line with an unknown command is answered BADCMD', async () => {
    const { link, rec, panel, logs } = setup();
    await waitFor(() => link.rows()[2] !== '', 'display');
    for (const g of ['', 'hello', '\u0000\u0001\u0002', 'START 1*0000', '\uFFFD\uFFFD*12', 'x'.repeat(5000), frameLine('MAT abc')]) link.emit('line', g);
    const n = link.out.length;
    link.emit('line', frameLine('EJECT 77'));
    await waitFor(() => link.from(n).length > 0, 'BADCMD');
    expect(link.from(n)).toEqual([{ verb: 'ERR', id: 77, code: 'BADCMD', text: 'unknown verb "EJECT"' }]);
    expect(rec.calls).toEqual([]);
    expect(panel.status().garbage).toBe(8);
    expect(logs.lines().filter((l) => l.msg === 'ignored garbage on the serial line')).toHaveLength(8);
    await enter(link); // still works
  });

  it('sends heartbeats with the state', async () => {
    const { link } = setup({ heartbeatMs: 20 });
    await waitFor(() => link.msgs().filter((m) => m.verb === 'HB').length >= 3, 'three heartbeats');
    expect(link.msgs().find((m) => m.verb === 'HB')).toEqual({ verb: 'HB', state: 'IDLE' });
  });

  it('resends only what changed, and everything after a reconnect', async () => {
    const { link, rec } = setup();
    await waitFor(() => link.rows()[2] !== '', 'display');
    const n = link.out.length;
    rec.emit('changed', await rec.status());
    await sleep(10);
    expect(link.from(n)).toEqual([]);
    link.connected = false;
    link.send({ verb: 'MAT', id: 1, matter: 'sampling' });
    await sleep(20);
    link.connected = true;
    link.emit('open');
    await waitFor(() => link.rows()[1] === '事项：抽样取证  案号：无', 'full state after reconnect');
    expect(link.from(n).map((m) => m.verb)).toEqual(['HELLO', 'ST', 'DSP', 'DSP', 'DSP', 'DSP']);
  });

  it('shows alarms', () => {
    const { link } = setup();
    link.out.length = 0;
    link.emit('open');
    const n = link.out.length;
    const panel = panels.at(-1)!;
    panel.alert('battery', '电池供电，电量 28%，约 6 分钟后降至下限 20%，录制可能中断，请接通电源');
    expect(link.from(n)).toEqual([
      { verb: 'ALM', code: 'battery', text: '电池供电，电量 28%，约 6 分钟后降至下限 20%，录制可能中断，请接通电源' },
      { verb: 'DSP', row: 4, text: '电池供电，电量 28%，约 6 分钟后降至下限 20%，录制可能中断，请接通电源' },
    ]);
  });

  it('reports internal failures as FAILED', async () => {
    const { link, rec } = setup();
    await enter(link);
    rec.startSession = async () => {
      throw new RecgwError('storage', 'disk on fire');
    };
    expect(await cmd(link, { verb: 'START', id: 5, force: false })).toEqual({ verb: 'ERR', id: 5, code: 'FAILED', text: '操作失败：disk on fire' });
  });

  it('refuses an officer entered twice and clears the form', async () => {
    const { link, panel } = setup();
    await enter(link);
    expect(await cmd(link, { verb: 'OFC', id: 5, slot: 3, badge: '13010001', name: '张三' })).toEqual({ verb: 'ERR', id: 5, code: 'BADARG', text: '执法证号 13010001 已录入为执法人员 1' });
    expect(await cmd(link, { verb: 'OFC', id: 6, slot: 2, badge: null, name: '' })).toEqual({ verb: 'OK', id: 6 });
    expect(panel.status().draft.officers).toEqual([{ name: '张三', badge: '13010001' }]);
    expect(await cmd(link, { verb: 'CLR', id: 7 })).toEqual({ verb: 'OK', id: 7 });
    expect(panel.status().draft).toEqual({ matter: null, caseRef: '', officers: [] });
  });
});
