/**
 * Officers confirming with their PINs, through the real gateway with real ffmpeg sources: the room panel on a real
 * serial pty (socat) starts a session only once both officers typed their PINs, a wrong PIN is refused, recorded and
 * throttled, and an early stop needs two PINs; over the control socket a statement is refused from one officer, from
 * the same officer twice, from an officer not on the session and with a wrong PIN, and taken from two; `recgw session`
 * reads PINs from standard input, and a statement without --session does not attach to a session that ended normally.
 * The export verifies; the ledger names who confirmed, how and when, and holds no PIN; nor does the journal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { ptyPair, SimPanel, waitFor, type PtyPair } from '../helpers/serial.js';
import { entries, exportDevice, sleep, verify } from '../helpers/evidence.js';
import { LI, makeRoster, WANG, writeRoster, ZHANG } from '../helpers/roster.js';
import { Gateway } from '../../src/app/gateway.js';
import { call } from '../../src/control/client.js';
import { rosterSha256 } from '../../src/officers/roster.js';
import type { SessionSummary } from '../../src/recorder/recorder.js';
import { createLogger } from '../../src/util/log.js';

const BIN = join(import.meta.dirname, '../../bin/recgw.js');
const ca = makeCa();
const pairs: PtyPair[] = [];
const journal: string[] = [];
let rosterId: string;
let socket: string;
let configPath: string;
let deviceId: string;
let gw: Gateway;
let panel: SimPanel;

const named = (o: { name: string; badge: string }) => ({ name: o.name, badge: o.badge });
const withPin = (o: { name: string; badge: string; pin: string }, pin = o.pin) => ({ name: o.name, badge: o.badge, pin });
/** `recgw session ...` as a child process (not spawnSync: the gateway it talks to runs in this process). */
function cli(args: string[], stdin: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, 'session', ...args, '--socket', socket], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(stdin);
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
}

beforeAll(async () => {
  const dir = tmp('recgw-officers-');
  const roster = await makeRoster(ca.dir);
  rosterId = rosterSha256(roster.roster);
  const panelPty = await ptyPair(dir, 'panel');
  pairs.push(panelPty);
  const p = makeGateway(ca.dir, {
    config: {
      agency: { caCert: ca.paths.caCert, encryptionCert: ca.paths.agencyEncCert, roster: writeRoster(dir, roster) },
      time: { source: 'host', assumeSynchronised: true },
      serial: { panel: { path: panelPty.a } },
      recording: { segmentSeconds: 2 },
    },
  });
  configPath = p.configPath;
  socket = p.config.control.socket;
  deviceId = p.config.deviceId;
  gw = new Gateway(p.config, createLogger('test', { level: 'debug', sink: (l) => void journal.push(l) }));
  await gw.start();
  panel = await SimPanel.open(panelPty.b, { heartbeatMs: 1000 });
  panel.send({ verb: 'HELLO', proto: 1, model: 'SIM-1', firmware: '0.0.1' });
  await waitFor(() => panel.last('ST')?.state === 'IDLE', 'the panel showing IDLE', 5000);
}, 120_000);

afterAll(async () => {
  await panel?.close();
  await gw?.stop();
  for (const p of pairs) await p.stop();
  cleanupTmp();
});

describe('officers confirm with their PINs', () => {
  it('on the panel: START waits for both PINs, a wrong PIN is refused, STOP while paused needs two PINs', async () => {
    for (const c of [
      (id: number) => ({ verb: 'MAT' as const, id, matter: '现场检查' }),
      (id: number) => ({ verb: 'OFC' as const, id, slot: 1, badge: ZHANG.badge, name: ZHANG.name }),
      (id: number) => ({ verb: 'OFC' as const, id, slot: 2, badge: LI.badge, name: LI.name }),
    ]) {
      expect(await panel.command(c)).toMatchObject({ verb: 'OK' });
    }
    expect(await panel.command((id) => ({ verb: 'START', id, force: false }), 15_000)).toEqual({
      verb: 'ERR',
      id: expect.any(Number),
      code: 'REFUSED',
      text: '张三（13010001）、李四（13010002）须各自输入 PIN 确认',
    });
    expect(await panel.command((id) => ({ verb: 'PIN', id, badge: ZHANG.badge, pin: '111000' }))).toMatchObject({ verb: 'ERR', code: 'REFUSED', text: '张三（13010001）的 PIN 不正确' });
    expect(await panel.command((id) => ({ verb: 'PIN', id, badge: ZHANG.badge, pin: ZHANG.pin }))).toMatchObject({ verb: 'OK' });
    // The display follows the OK in its own message: wait for it rather than read it at once (a loaded machine).
    await waitFor(() => panel.rows()[3] === '张三（13010001）已确认', 'the confirmation on the display', 5000);
    expect(await panel.command((id) => ({ verb: 'START', id, force: false }), 15_000)).toMatchObject({ verb: 'ERR', text: '李四（13010002）须各自输入 PIN 确认' });
    expect(await panel.command((id) => ({ verb: 'PIN', id, badge: LI.badge, pin: LI.pin }))).toMatchObject({ verb: 'OK' });
    expect(await panel.command((id) => ({ verb: 'START', id, force: false }), 15_000)).toMatchObject({ verb: 'OK' });
    await waitFor(() => panel.last('ST')?.state === 'REC', 'REC on the panel', 5000);
    await sleep(2500);
    expect(await panel.command((id) => ({ verb: 'PAUSE', id, reason: 'device-fault' }))).toMatchObject({ verb: 'OK' });
    // The confirmations of the start were used: ending early needs two officers to confirm again.
    expect(await panel.command((id) => ({ verb: 'STOP', id }), 15_000)).toMatchObject({ verb: 'ERR', code: 'REFUSED', text: '需要 2 名不同的执法人员各自输入 PIN 确认' });
    expect(await panel.command((id) => ({ verb: 'PIN', id, badge: ZHANG.badge, pin: ZHANG.pin }))).toMatchObject({ verb: 'OK' });
    expect(await panel.command((id) => ({ verb: 'STOP', id }), 15_000)).toMatchObject({ verb: 'ERR', text: '需要 2 名不同的执法人员各自输入 PIN 确认' });
    expect(await panel.command((id) => ({ verb: 'PIN', id, badge: LI.badge, pin: LI.pin }))).toMatchObject({ verb: 'OK' });
    expect(await panel.command((id) => ({ verb: 'STOP', id }), 15_000)).toMatchObject({ verb: 'OK' });
    await waitFor(() => panel.last('ST')?.state === 'IDLE', 'IDLE after the stop', 5000);
    const st = await gw.recorderInterface.status();
    expect(st.session).toMatchObject({ closedBy: 'terminated', lacksStatement: true });

  }, 120_000);

  it('on the panel: a third officer\'s wrong PINs are refused, and the third in a row locks the officer and the panel', async () => {
    expect(await panel.command((id) => ({ verb: 'PIN', id, badge: WANG.badge, pin: '000111' }))).toMatchObject({ text: '王五（13010003）的 PIN 不正确' });
    expect(await panel.command((id) => ({ verb: 'PIN', id, badge: WANG.badge, pin: '000112' }))).toMatchObject({ text: '王五（13010003）的 PIN 不正确' });
    expect(await panel.command((id) => ({ verb: 'PIN', id, badge: WANG.badge, pin: '000113' }))).toMatchObject({ text: '王五（13010003）的 PIN 不正确；已锁定 5 秒' });
    expect(await panel.command((id) => ({ verb: 'PIN', id, badge: WANG.badge, pin: WANG.pin }))).toMatchObject({ code: 'REFUSED', text: expect.stringMatching(/^PIN 错误次数过多，请 [1-5] 秒后再试$/) });
    // Another officer on the panel waits too: the panel is locked as a channel.
    expect(await panel.command((id) => ({ verb: 'PIN', id, badge: ZHANG.badge, pin: ZHANG.pin }))).toMatchObject({ code: 'REFUSED', text: expect.stringMatching(/^PIN 错误次数过多/) });
    // The lock ends: 王五 is no officer of the session that needs a statement, which the next test shows over the socket.
    await sleep(5200);
  }, 60_000);

  it('over the control socket: a statement needs two distinct officers of the session, each with the right PIN', async () => {
    const statement = (officers: unknown[]) => call<SessionSummary>(socket, 'session.statement', { text: '设备故障，无法继续录制。', officers });
    await expect(statement([withPin(ZHANG)])).rejects.toThrow(/two different officers/);
    await expect(statement([withPin(ZHANG), withPin(ZHANG)])).rejects.toThrow(/two different officers/);
    await expect(statement([withPin(ZHANG), withPin(WANG)])).rejects.toThrow(/王五 \(13010003\) is not an officer of session/);
    await expect(statement([named(ZHANG), named(LI)])).rejects.toThrow(/张三 \(13010001\), 李四 \(13010002\) must confirm with their own PIN/);
    await expect(statement([withPin(ZHANG), withPin(LI, '999111')])).rejects.toThrow(/^wrong PIN for 李四 \(13010002\)$/);
    const s = await statement([withPin(ZHANG), withPin(LI)]);
    expect(s).toMatchObject({ closedBy: 'terminated', lacksStatement: false });
  }, 60_000);

  it('recgw session reads PINs from standard input; a statement without --session never goes to a session that ended normally', async () => {
    const started = await cli(['start', '--matter', 'sampling', '--case', 'PIN-2', '--officer', `${ZHANG.name}:${ZHANG.badge}`, '--officer', `${LI.name}:${LI.badge}`], `${ZHANG.pin}\n${LI.pin}\n`);
    expect(started.stderr).toBe('');
    expect(started.status, JSON.stringify(started)).toBe(0);
    expect(started.stdout).not.toContain(ZHANG.pin);
    await sleep(2500);
    const stopped = await call<SessionSummary>(socket, 'session.stop');
    expect(stopped).toMatchObject({ caseRef: 'PIN-2', closedBy: 'stopped' });
    const r = await cli(['statement', '--text', '补充说明', '--officer', `${ZHANG.name}:${ZHANG.badge}`, '--officer', `${LI.name}:${LI.badge}`], `${ZHANG.pin}\n${LI.pin}\n`);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no session lacks its written statement: to add one to another session, name it \(--session ID/);
    const few = await cli(['start', '--matter', 'sampling', '--officer', `${ZHANG.name}:${ZHANG.badge}`, '--officer', `${LI.name}:${LI.badge}`], `${ZHANG.pin}\n`);
    expect(few.status).toBe(2);
    expect(few.stderr).toMatch(/give 2 PIN\(s\), one per line on standard input/);
  }, 60_000);

  it('the export verifies, and the ledger says who confirmed, how and when, against which roster, with no PIN in it or in the journal', async () => {
    await panel.close();
    await gw.stop();
    const out = tmp();
    exportDevice(configPath, out);
    const report = await verify(out, ca.paths.caCert, ca.paths.agencyKey);
    expect(report.findings).toEqual([]);
    const es = entries(join(out, deviceId));
    const confirmation = (o: { name: string; badge: string }, via: string) => ({ name: o.name, badge: o.badge, via, at: expect.stringMatching(/Z$/), roster: rosterId });
    expect(es.filter((e) => e.type === 'roster.installed')).toHaveLength(1);
    const opened = es.filter((e) => e.type === 'session.opened');
    expect(opened[0]!.body.confirmations).toEqual([confirmation(ZHANG, 'panel'), confirmation(LI, 'panel')]);
    expect(opened[1]!.body.confirmations).toEqual([confirmation(ZHANG, 'cli'), confirmation(LI, 'cli')]);
    const closed = es.filter((e) => e.type === 'session.closed');
    expect(closed[0]!.body).toMatchObject({ reason: 'terminated', by: 'officer', confirmations: [confirmation(ZHANG, 'panel'), confirmation(LI, 'panel')] });
    expect(closed[1]!.body).toMatchObject({ reason: 'stopped' });
    expect(es.find((e) => e.type === 'session.statement')!.body.confirmations).toEqual([confirmation(ZHANG, 'cli'), confirmation(LI, 'cli')]);
    expect(es.filter((e) => e.type === 'officer.confirm_failed').map((e) => e.body)).toEqual([
      { badge: ZHANG.badge, name: ZHANG.name, via: 'panel', channel: 'panel:panel', reason: 'bad-pin' },
      { badge: WANG.badge, name: WANG.name, via: 'panel', channel: 'panel:panel', reason: 'bad-pin' },
      { badge: WANG.badge, name: WANG.name, via: 'panel', channel: 'panel:panel', reason: 'bad-pin' },
      { badge: WANG.badge, name: WANG.name, via: 'panel', channel: 'panel:panel', reason: 'bad-pin', lockedSeconds: 5 },
      { badge: WANG.badge, name: WANG.name, via: 'panel', channel: 'panel:panel', reason: 'throttled', lockedSeconds: expect.any(Number) },
      { badge: LI.badge, name: LI.name, via: 'cli', channel: 'cli:cli', reason: 'bad-pin' },
    ]);
    const ledger = readFileSync(join(out, deviceId, 'ledger.jsonl'), 'utf8');
    const logs = journal.join('\n');
    expect(logs).toMatch(/officer PIN confirmation refused/);
    for (const pin of [ZHANG.pin, LI.pin, WANG.pin, '111000', '000111', '000112', '000113', '999111']) {
      expect(ledger).not.toContain(pin);
      expect(logs).not.toContain(pin);
    }
  }, 60_000);
});
