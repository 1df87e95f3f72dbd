/**
 * Serial devices end to end. Over real ptys from socat: a simulated control panel drives a fake recorder through
 * the Panel (start with the panel's matter and officers, pause with a reason, resume with the prompt, stop, a refused
 * pre-flight), the display follows; a simulated VISCA camera gets its preset recalled at session start and answers
 * power inquiries; a simulated UPS's levels reach state() and a falling charge raises the risk; socat killed and
 * restarted is a replug the gateway recovers from. Over @serialport/binding-mock: an unplug is noticed, reported and
 * retried with backoff and a replug recovers; a silently vanished device is noticed by silence or a failed write;
 * garbage on every line is logged and ignored.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LinePort } from '../../src/hal/serial/line-port.js';
import { SerialUpsFeed } from '../../src/hal/serial/ups.js';
import { UpsMonitor, type UpsRisk } from '../../src/hal/power/ups-monitor.js';
import { PtzGroup } from '../../src/hal/serial/visca.js';
import type { PortState } from '../../src/hal/serial/supervised-port.js';
import { Panel } from '../../src/panel/panel.js';
import { decodeGatewayLine, encodePanelCommand, frameLine } from '../../src/panel/protocol.js';
import { captureLogger, FakeRecorder, FlakyBinding, ptyPair, SimCamera, SimPanel, SimUps, sleep, waitFor, type PtyPair } from '../helpers/serial.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('serial devices over socat ptys', () => {
  let dir: string;
  let pairs: { panel: PtyPair; ups: PtyPair; ptz: PtyPair };
  let rec: FakeRecorder;
  let panelPort: LinePort;
  let panel: Panel;
  let upsPort: LinePort;
  let upsFeed: SerialUpsFeed;
  let ups: UpsMonitor;
  let ptz: PtzGroup;
  let simPanel: SimPanel;
  let simUps: SimUps;
  let cam: SimCamera;
  const risks: UpsRisk[] = [];
  const logs = captureLogger();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'recgw-serial-'));
    const [p, u, z] = await Promise.all([ptyPair(dir, 'panel'), ptyPair(dir, 'ups'), ptyPair(dir, 'ptz')]);
    pairs = { panel: p, ups: u, ptz: z };
    const fastRetry = { minBackoffMs: 200, maxBackoffMs: 1000 };
    rec = new FakeRecorder();
    panelPort = new LinePort({ path: p.a, baudRate: 9600, silenceMs: 3000, ...fastRetry, log: logs.log.child('panel-port') });
    panel = new Panel(rec, panelPort, { deviceId: 'room-1', version: '0.1.0', heartbeatMs: 300, log: logs.log.child('panel') });
    upsPort = new LinePort({ path: u.a, baudRate: 9600, silenceMs: 1500, ...fastRetry, log: logs.log.child('ups-port') });
    upsFeed = new SerialUpsFeed(upsPort, { log: logs.log.child('ups') });
    ups = new UpsMonitor(upsFeed, { thresholdPercent: 20, log: logs.log.child('ups') });
    ups.on('risk', (r) => risks.push(r));
    ptz = new PtzGroup([{ path: z.a, baudRate: 9600, address: 1, source: 'cam1', preset: 3 }], { ...fastRetry, timeouts: { replyMs: 500, completionMs: 2000 }, log: logs.log });
    // The gateway's wiring: presets follow the recorder's sessions.
    rec.on('changed', (st) => ptz.onRecorderStatus(st));
    simPanel = await SimPanel.open(p.b, { heartbeatMs: 500 });
    simUps = await SimUps.open(u.b);
    simUps.set('BATT 87 ONLINE');
    cam = await SimCamera.open(z.b, 1);
    panelPort.start();
    panel.start();
    upsPort.start();
    upsFeed.start();
    ups.start();
    ptz.start();
    await waitFor(() => panelPort.isConnected && upsPort.isConnected && ptz.status().ports.every((s) => s.connected), 'ports open');
  });

  afterAll(async () => {
    panel?.stop();
    ups?.stop();
    upsFeed?.stop();
    await Promise.all([panelPort?.stop(), upsPort?.stop(), ptz?.stop(), simPanel?.close(), simUps?.close(), cam?.close()]);
    if (pairs) await Promise.all(Object.values(pairs).map((x) => x.stop()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a session driven from the panel goes through the recorder interface, and the display follows it', async () => {
    simPanel.send({ verb: 'HELLO', proto: 1, model: 'SIM-1', firmware: '0.0.1' });
    await waitFor(() => simPanel.last('HELLO'), 'gateway HELLO');
    expect(simPanel.last('HELLO')).toEqual({ verb: 'HELLO', proto: 1, name: 'recgw', version: '0.1.0', device: 'room-1' });

    expect(await simPanel.command((id) => ({ verb: 'MAT', id, matter: '现场检查' }))).toMatchObject({ verb: 'OK' });
    expect(await simPanel.command((id) => ({ verb: 'CASE', id, caseRef: '京市监罚〔2025〕18号' }))).toMatchObject({ verb: 'OK' });
    expect(await simPanel.command((id) => ({ verb: 'OFC', id, slot: 1, badge: '13010001', name: '张三' }))).toMatchObject({ verb: 'OK' });
    expect(await simPanel.command((id) => ({ verb: 'OFC', id, slot: 2, badge: '13010002', name: '李四' }))).toMatchObject({ verb: 'OK' });
    expect(await simPanel.command((id) => ({ verb: 'START', id, force: false }))).toMatchObject({ verb: 'OK' });
    expect(rec.calls).toEqual([
      {
        method: 'startSession',
        req: { matter: 'site-inspection', caseRef: '京市监罚〔2025〕18号', officers: [{ name: '张三', badge: '13010001' }, { name: '李四', badge: '13010002' }], force: false },
      },
    ]);
    await waitFor(() => simPanel.last('ST')?.state === 'REC', 'ST REC');
    expect(simPanel.last('ST')?.session).toBe(rec.session!.sessionId);
    expect(simPanel.rows()).toEqual([expect.stringMatching(/^录制中 {2}开始 \d\d:\d\d（北京时间）$/), '事项：现场检查  案号：京市监罚〔2025〕18号', '执法人员：张三(13010001) 李四(13010002)', '已开始录制']);

    // The session start recalled the camera's preset: 81 01 04 3F 02 03 FF.
    await waitFor(() => cam.received.some((p) => p.equals(hex('81 01 04 3F 02 03 FF'))), 'preset recall at the camera');
    await waitFor(() => ptz.status().cameras[0]!.lastPreset?.ok, 'preset recall completed');

    expect(await simPanel.command((id) => ({ verb: 'PAUSE', id, reason: 'other', text: '当事人要求休息 10 分钟' }))).toMatchObject({ verb: 'OK' });
    expect(rec.calls.at(-1)).toEqual({ method: 'pauseSession', reason: 'other', text: '当事人要求休息 10 分钟' });
    await waitFor(() => simPanel.last('ST')?.state === 'PAUSED', 'ST PAUSED');
    expect(simPanel.rows()[0]).toMatch(/^已暂停（录制中断）/);
    expect(await simPanel.command((id) => ({ verb: 'PAUSE', id, reason: 'device-fault' }))).toMatchObject({ verb: 'ERR', code: 'REFUSED', text: '已处于暂停状态' });

    expect(await simPanel.command((id) => ({ verb: 'RESUME', id }))).toMatchObject({ verb: 'OK' });
    expect(simPanel.last('PRM')).toEqual({ verb: 'PRM', code: 'state-reason', text: '请口述中断原因' });
    await waitFor(() => simPanel.last('ST')?.state === 'REC', 'ST REC after resume');
    expect(simPanel.rows()[3]).toBe('请口述中断原因');

    expect(await simPanel.command((id) => ({ verb: 'STOP', id }))).toMatchObject({ verb: 'OK' });
    await waitFor(() => simPanel.last('ST')?.state === 'IDLE', 'ST IDLE');
    expect(simPanel.rows()[0]).toBe('待机：可开始录制');
    expect(rec.calls.map((c) => c.method)).toEqual(['startSession', 'pauseSession', 'pauseSession', 'resumeSession', 'stopSession']);

    // Heartbeats both ways kept the link up, and nothing the gateway sent was malformed.
    await waitFor(() => simPanel.last('HB')?.state === 'IDLE', 'a heartbeat with the state');
    expect(simPanel.garbage).toEqual([]);
    expect(panel.status()).toMatchObject({ panel: { model: 'SIM-1', firmware: '0.0.1', proto: 1 }, garbage: 0 });
  });

  it('a refused pre-flight is shown with its reason, and the panel may force the start', async () => {
    rec.failingChecks = [{ check: 'battery', ok: false, detail: 'battery at 12%, below the 20% needed' }];
    const refused = await simPanel.command((id) => ({ verb: 'START', id, force: false }));
    expect(refused).toMatchObject({ verb: 'ERR', code: 'REFUSED', text: '无法开始：电池电量不足。确认后可强制开始' });
    await waitFor(() => simPanel.rows()[3] === '无法开始：电池电量不足。确认后可强制开始', 'refusal on the display');
    expect(await simPanel.command((id) => ({ verb: 'START', id, force: true }))).toMatchObject({ verb: 'OK' });
    expect(rec.calls.at(-1)).toMatchObject({ method: 'startSession', req: { force: true } });
    await waitFor(() => simPanel.rows()[3] === '已强制开始录制（预检未通过：电池电量不足）', 'forced start on the display');
    await simPanel.command((id) => ({ verb: 'STOP', id }));
    rec.failingChecks = [];
  });

  it('VISCA: preset recall bytes, the power inquiry for pre-flight, camera errors and silence', async () => {
    const n = cam.received.length;
    expect(await ptz.cameras[0]!.recallPreset(5)).toEqual({ ok: true });
    expect(cam.received.slice(n)).toEqual([hex('81 01 04 3F 02 05 FF')]);

    cam.power = 'on';
    expect(await ptz.preflightCheck()).toEqual({ ok: true, detail: 'all 1 PTZ cameras powered on', zh: '全部 1 台云台摄像机已开机' });
    expect(cam.received.at(-1)).toEqual(hex('81 09 04 00 FF'));
    cam.power = 'off';
    expect(await ptz.preflightCheck()).toMatchObject({ ok: false, detail: `PTZ camera of cam1 (VISCA 1 on ${pairs.ptz.a}) is switched off (standby): switch it on`, zh: expect.stringContaining('cam1') });
    expect(ptz.status().cameras[0]).toMatchObject({ source: 'cam1', power: 'off', connected: true });

    cam.mode = 'error';
    expect(await ptz.cameras[0]!.recallPreset()).toEqual({ ok: false, error: 'camera error: command not executable' });
    cam.mode = 'silent';
    const check = await ptz.preflightCheck();
    expect(check.ok).toBe(false);
    expect(check.detail).toContain('does not answer: check its RS-232 cable, power and VISCA address');
    cam.mode = 'ok';
    cam.power = 'on';
  });

  it('UPS levels reach state(), and a charge falling on battery raises the risk before the minimum', async () => {
    await waitFor(() => ups.state()?.percent === 87, 'first reading');
    expect(ups.state()).toEqual({ percent: 87, onMains: true });
    expect(ups.preflightCheck()).toEqual({ ok: true, detail: 'UPS reporting: 87%, on mains', zh: 'UPS 正常报告：87%，市电供电' });
    simUps.set(frameLine('BATT 31 ONBATT'));
    await waitFor(() => ups.state()?.percent === 31, 'on battery');
    expect(ups.state()).toEqual({ percent: 31, onMains: false });
    expect(risks).toEqual([]);
    simUps.set('BATT 29 ONBATT');
    await waitFor(() => risks.length === 1, 'warning');
    expect(risks[0]).toMatchObject({ level: 'warning', percent: 29, thresholdPercent: 20 });
    simUps.set('BATT 19 ONBATT');
    await waitFor(() => risks.length === 2, 'critical');
    expect(risks[1]).toMatchObject({ level: 'critical', percent: 19 });
    simUps.set('BATT 19 ONLINE');
    await waitFor(() => ups.state()?.onMains, 'mains back');
    expect(ups.status().risk).toBeNull();
  });

  it('socat killed and restarted: the UPS port is noticed gone, reported, and recovers without a restart', async () => {
    const states: PortState[] = [];
    upsPort.on('state', (s) => states.push(s));
    await simUps.close();
    await pairs.ups.kill();
    // Noticed by a close event or, where a dead pty gives none, by the UPS's silence.
    await waitFor(() => !upsPort.state().connected, 'disconnect noticed', 4000);
    expect(upsPort.state().lastError).toMatch(/disconnected|nothing received|error/);
    expect(ups.preflightCheck()).toMatchObject({ ok: false, detail: expect.stringContaining(`its serial port ${pairs.ups.a} is not connected`) });
    await sleep(600); // a failed reopen or two while socat is gone
    expect(upsPort.state().failures).toBeGreaterThanOrEqual(1);
    expect(upsPort.state().lastError).toMatch(/cannot open/);
    await pairs.ups.restart();
    simUps = await SimUps.open(pairs.ups.b);
    simUps.set('BATT 64 ONLINE');
    await waitFor(() => upsPort.state().connected, 'reopened and heard', 4000);
    await waitFor(() => ups.state()?.percent === 64, 'readings again');
    expect(states.map((s) => s.connected)).toContain(false);
    expect(states.at(-1)?.connected).toBe(true);
  });
});

describe('unplugging and garbage (binding-mock)', () => {
  const stops: (() => unknown)[] = [];
  afterEach(async () => {
    for (const s of stops.splice(0).reverse()) await s();
  });

  it('an unplugged panel is noticed and reported, reopened with backoff, and a replug recovers', async () => {
    const binding = new FlakyBinding();
    const path = '/dev/ttyPANEL';
    binding.addDevice(path);
    const logs = captureLogger();
    const rec = new FakeRecorder();
    const port = new LinePort({ path, baudRate: 9600, binding, minBackoffMs: 100, maxBackoffMs: 400, log: logs.log });
    const panel = new Panel(rec, port, { deviceId: 'room-1', heartbeatMs: 60_000 });
    const states: PortState[] = [];
    port.on('state', (s) => states.push(s));
    port.start();
    panel.start();
    stops.push(() => port.stop(), () => panel.stop());
    await waitFor(() => binding.writtenLines(path).some((l) => l.startsWith('ST ')), 'state sent on open');

    binding.unplug(path);
    await waitFor(() => !port.state().connected, 'unplug noticed');
    expect(port.state().lastError).toMatch(/^disconnected: device disconnected/);
    expect(logs.lines()).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'serial device lost; reopening', path }));

    // Reopened after 100 ms, then 100, 200, 400, 400 ms between failed attempts.
    await waitFor(() => (binding.attempts.get(path)?.length ?? 0) >= 6, 'five reopen attempts', 4000);
    const t = binding.attempts.get(path)!.slice(1);
    const gaps = t.slice(1).map((x, i) => x - t[i]!);
    [100, 200, 400, 400].forEach((want, i) => {
      expect(gaps[i]).toBeGreaterThanOrEqual(want - 10);
      expect(gaps[i]).toBeLessThan(want + 150);
    });
    expect(port.state()).toMatchObject({ connected: false, failures: expect.any(Number), lastError: expect.stringMatching(/^cannot open: .*No such file/) });
    expect(port.state().failures).toBeGreaterThanOrEqual(4);
    expect(port.state().nextAttempt).not.toBeNull();

    const before = binding.writtenLines(path).length;
    binding.replug(path);
    await waitFor(() => port.state().connected, 'replug recovers', 2000);
    expect(port.state()).toMatchObject({ connected: true, failures: 0 });
    // The panel is greeted and given the whole state again, and commands work.
    await waitFor(() => binding.writtenLines(path).slice(before).some((l) => l.startsWith('DSP 3 ')), 'state resent');
    expect(decodeGatewayLine(binding.writtenLines(path)[before]!)).toMatchObject({ ok: true, msg: { verb: 'HELLO' } });
    binding.emit(path, encodePanelCommand({ verb: 'STOP', id: 1 }) + '\r\n');
    await waitFor(() => rec.calls.length === 1, 'command after replug');
    expect(states.map((s) => s.connected)).toEqual(expect.arrayContaining([true, false]));
  });

  it('a device that vanishes without a close event is noticed by its silence, or by a failing write', async () => {
    const binding = new FlakyBinding();
    const q = '/dev/ttyQUIET';
    binding.addDevice(q);
    binding.addDevice('/dev/ttyWRITE');
    const quiet = new LinePort({ path: q, baudRate: 9600, binding, silenceMs: 300, minBackoffMs: 100, maxBackoffMs: 400 });
    const writer = new LinePort({ path: '/dev/ttyWRITE', baudRate: 9600, binding, minBackoffMs: 100, maxBackoffMs: 200 });
    const states: PortState[] = [];
    quiet.on('state', (s) => states.push(s));
    let beating = true;
    const hb = setInterval(() => beating && binding.isOpen(q) && binding.emit(q, 'HB*F1EC\r\n'), 100);
    stops.push(() => clearInterval(hb));
    quiet.start();
    writer.start();
    stops.push(() => quiet.stop(), () => writer.stop());
    // With heartbeats the device counts as connected once heard, and stays so past the silence timeout.
    await waitFor(() => quiet.isConnected && writer.isConnected, 'connected');
    await sleep(500);
    expect(quiet.state().connected).toBe(true);

    // It vanishes: no event at all, only silence.
    beating = false;
    binding.vanish(q);
    await waitFor(() => !quiet.state().connected, 'silence noticed', 1000);
    expect(quiet.state().lastError).toBe('nothing received for 300 ms');

    // Back at the port but silent (an adapter whose device is off): opens that hear nothing count as failures and
    // back off; the state stays disconnected instead of flapping.
    binding.replug(q);
    const n = states.length;
    await waitFor(() => quiet.state().failures >= 3, 'silent opens backing off', 3000);
    expect(states.slice(n).every((s) => !s.connected)).toBe(true);
    expect(quiet.state().lastError).toBe('nothing received for 300 ms');
    beating = true;
    await waitFor(() => quiet.state().connected, 'heard again', 3000);
    expect(quiet.state().failures).toBe(0);

    binding.vanish('/dev/ttyWRITE', { writesFail: true });
    expect(writer.writeLine(frameLine('HB REC'))).toBe(true);
    await waitFor(() => !writer.state().connected, 'write failure noticed', 1000);
    expect(writer.state().lastError).toMatch(/EIO/);
    expect(writer.writeLine(frameLine('HB REC'))).toBe(false);
    binding.replug('/dev/ttyWRITE');
    await waitFor(() => writer.state().connected, 'back', 2000);
  });

  it('PTZ: presets follow new sessions only, and an unplugged camera port fails pre-flight with the reason', async () => {
    const binding = new FlakyBinding();
    const path = '/dev/ttyPTZ';
    binding.addDevice(path);
    const ptz = new PtzGroup([{ path, baudRate: 9600, address: 2, source: 'cam1', preset: 7 }], { binding, minBackoffMs: 100, maxBackoffMs: 200, timeouts: { replyMs: 200 } });
    ptz.start();
    stops.push(() => ptz.stop());
    await waitFor(() => ptz.status().ports[0]!.connected, 'open');
    const recall = hex('82 01 04 3F 02 07 FF');
    const recalls = (): number => {
      const w = binding.written.get(path) ?? Buffer.alloc(0);
      let n = 0;
      for (let i = w.indexOf(recall); i >= 0; i = w.indexOf(recall, i + 1)) n++;
      return n;
    };
    // A session found recording after a gateway restart (started long ago) does not move the camera.
    ptz.onRecorderStatus({ session: { sessionId: 'old', state: 'recording', start: new Date(Date.now() - 3600_000).toISOString() } });
    ptz.onRecorderStatus({ session: { sessionId: 'new', state: 'paused', start: new Date().toISOString() } });
    await sleep(50);
    expect(recalls()).toBe(0);
    ptz.onRecorderStatus({ session: { sessionId: 'new', state: 'recording', start: new Date().toISOString() } });
    await waitFor(() => recalls() === 1, 'recall for the new session');
    binding.emit(path, hex('A0 41 FF A0 51 FF'));
    await waitFor(() => ptz.status().cameras[0]!.lastPreset?.ok, 'recall done');
    ptz.onRecorderStatus({ session: { sessionId: 'new', state: 'recording', start: new Date().toISOString() } });
    await sleep(50);
    expect(recalls()).toBe(1);

    binding.unplug(path);
    await waitFor(() => !ptz.status().ports[0]!.connected, 'unplug noticed');
    const check = await ptz.preflightCheck();
    expect(check).toMatchObject({ ok: false, detail: expect.stringMatching(/^PTZ camera of cam1 \(VISCA 2 on \/dev\/ttyPTZ\) cannot be asked: its serial port is not connected \((disconnected|cannot open): .*\): check the RS-232 adapter$/) });
    binding.replug(path);
    await waitFor(() => ptz.status().ports[0]!.connected, 'replugged');
    const power = ptz.preflightCheck();
    await waitFor(() => binding.written.get(path)?.includes(hex('82 09 04 00 FF')), 'power inquiry');
    binding.emit(path, hex('A0 50 02 FF'));
    expect(await power).toMatchObject({ ok: true, detail: 'all 1 PTZ cameras powered on' });
  });

  it('garbage on the panel, UPS and VISCA lines is logged and ignored, never a crash', async () => {
    const binding = new FlakyBinding();
    for (const p of ['/dev/ttyPANEL', '/dev/ttyUPS', '/dev/ttyPTZ']) binding.addDevice(p);
    const logs = captureLogger();
    const rec = new FakeRecorder();
    const panelPort = new LinePort({ path: '/dev/ttyPANEL', baudRate: 9600, binding, log: logs.log });
    const panel = new Panel(rec, panelPort, { deviceId: 'room-1', log: logs.log });
    const upsPort = new LinePort({ path: '/dev/ttyUPS', baudRate: 9600, binding, log: logs.log });
    const upsFeed = new SerialUpsFeed(upsPort, { log: logs.log });
    const ups = new UpsMonitor(upsFeed, { thresholdPercent: 20, log: logs.log });
    const ptz = new PtzGroup([{ path: '/dev/ttyPTZ', baudRate: 9600, address: 1, source: 'cam1', preset: 1 }], { binding, log: logs.log, timeouts: { replyMs: 300 } });
    for (const x of [panelPort, upsPort, ptz]) x.start();
    panel.start();
    upsFeed.start();
    ups.start();
    stops.push(() => panelPort.stop(), () => upsPort.stop(), () => ptz.stop(), () => panel.stop(), () => ups.stop(), () => upsFeed.stop());
    await waitFor(() => panelPort.isConnected && upsPort.isConnected && ptz.status().ports[0]!.connected, 'open');

    const noise = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 37 + 11) % 256).filter((b) => b !== 0x0d && b !== 0x0a && b !== 0xff));
    binding.emit('/dev/ttyPANEL', Buffer.concat([noise, Buffer.from('\r\n'), Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0x0d, 0x0a]), Buffer.from('START 1*0000\r\nhello\r\n\r\n'), Buffer.from(frameLine('EJECT 9') + '\r\n')]));
    binding.emit('/dev/ttyUPS', Buffer.concat([noise, Buffer.from('\r\nBATT 50\r\n{"charge":50}\r\nBATT 150 ONLINE\r\n')]));
    binding.emit('/dev/ttyPTZ', Buffer.concat([noise, Buffer.from([0xff, 0x12, 0x34, 0xff, 0x90, 0x51, 0xff, 0xd0, 0x41, 0xff])]));
    await sleep(100);
    const garbage = logs.lines().filter((l) => l.msg === 'ignored garbage on the serial line');
    expect(garbage.length).toBeGreaterThanOrEqual(8);
    expect(garbage.some((l) => String(l.reason).startsWith('more than'))).toBe(true);
    expect(binding.writtenLines('/dev/ttyPANEL').map((l) => decodeGatewayLine(l))).toContainEqual({ ok: true, msg: { verb: 'ERR', id: 9, code: 'BADCMD', text: 'unknown verb "EJECT"' } });
    expect(rec.calls).toEqual([]);

    // Everything still works.
    for (const p of [panelPort, upsPort]) expect(p.state().connected).toBe(true);
    binding.emit('/dev/ttyUPS', 'BATT 77 ONLINE\r\n');
    await waitFor(() => ups.state()?.percent === 77, 'UPS reading after garbage');
    binding.emit('/dev/ttyPANEL', encodePanelCommand({ verb: 'MAT', id: 2, matter: 'hearing' }) + '\r\n');
    await waitFor(() => panel.status().draft.matter === 'hearing', 'panel command after garbage');
    const recall = ptz.cameras[0]!.recallPreset();
    await waitFor(() => binding.written.get('/dev/ttyPTZ')?.includes(hex('81 01 04 3F 02 01 FF')), 'recall written');
    binding.emit('/dev/ttyPTZ', hex('90 41 FF 90 51 FF'));
    expect(await recall).toEqual({ ok: true });
  });
});
