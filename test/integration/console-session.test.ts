/**
 * Issue 16.4 and its browser acceptance: session control in the console, in Debian's chromium, against `recgw run`
 * with an agency-signed officer roster and a room (test/helpers/room.ts) whose microphone the gateway records.
 *
 * 1. A session started in the console, each of two officers confirming with their own PIN (refused before they
 *    do, and refused naming one officer twice), 亮证, paused with a reason, resumed while someone in the room states
 *    the reason (espeak-ng Mandarin): the page asks 请口述中断原因 while the gateway listens, then says it was heard;
 *    `explanation.heard` in the ledger. Stopped.
 * 2. A second session whose interruption never resumes: the early stop is refused without PINs and taken with two;
 *    the page lists it as lacking its statement, refuses a statement one officer confirms, and takes one two confirm.
 * 3. A third officer's wrong PINs are refused with the Chinese sentence, the third locks, the fourth is throttled,
 *    each an `officer.confirm_failed` entry (channel console:127.0.0.1), exactly as on the panel.
 * 4. Over the control socket, with the same gateway: a session whose statement only one officer confirms (the gateway
 *    refuses to write it; the entry is then appended with the device's own key, as a tampered gateway would) and one
 *    whose resume has neither speech nor a statement. `recgw verify` on the export passes the first two sessions and
 *    reports exactly those two.
 * 5. A technician sees the page without its forms and is refused every action; a POST without the CSRF token is
 *    refused; no PIN is ever in a page, a URL, the ledger or the gateway's output.
 * Each page and state is checked for English, raw keys and overflow (console-pages.ts) and photographed into
 * test-artifacts/console-session/ (gitignored).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { cleanupTmp, freePort, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { PASSWORD, launchChromium, setupInBrowser } from '../helpers/console.js';
import { checkZhPage } from '../helpers/console-pages.js';
import { startGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { entries, exportDevice, sleep } from '../helpers/evidence.js';
import { LI, makeRoster, WANG, writeRoster, ZHANG } from '../helpers/roster.js';
import { startRoom, type Room } from '../helpers/room.js';
import { PHRASES, speech } from '../helpers/room-sound.js';
import { startEvidenceCore } from '../../src/app/evidence-core.js';
import { ENTRY } from '../../src/evidence/types.js';
import type { LedgerEntry } from '../../src/evidence/entry.js';
import { rosterSha256 } from '../../src/officers/roster.js';
import type { RecorderStatus, SessionSummary } from '../../src/recorder/recorder.js';
import type { VerifyReport } from '../../src/verify/findings.js';
import { silentLogger } from '../../src/util/log.js';

const BIN = join(import.meta.dirname, '../../bin/recgw.js');
const SHOTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'console-session');
const WRONG = ['000111', '000112', '000113'];
const PINS = [ZHANG.pin, LI.pin, WANG.pin, ...WRONG];
const withPin = (o: { name: string; badge: string; pin: string }, pin = o.pin) => ({ name: o.name, badge: o.badge, pin });

describe('session control in the console (issue 16.4)', () => {
  const ca = makeCa();
  const dir = tmp('recgw-consess-');
  let room: Room;
  let gw: ReturnType<typeof makeGateway>;
  let proc: GatewayProcess;
  let rosterId = '';
  let base = '';
  let browser: Browser;
  let page: Page;
  let tech: BrowserContext | undefined;
  let n = 0;
  /** Every page the browser was shown and every address it asked for: no PIN may be in any. */
  const seen: string[] = [];
  const sessions = { spoken: '', unresumed: '', oneConfirmation: '', unexplained: '' };
  let ledger: LedgerEntry[] = [];
  let report: VerifyReport;

  const check = (name: string, times = true) => checkZhPage(page, join(SHOTS, `${String(++n).padStart(2, '0')}-${name}.png`), name, { times });
  /** Submit with a button; the page's message afterwards ('' when none). */
  const submit = async (selector: string): Promise<string> => {
    await Promise.all([page.waitForNavigation(), page.click(selector)]);
    seen.push(await page.content());
    const msg = page.locator('main > .msg');
    return (await msg.count()) ? ((await msg.first().textContent()) ?? '') : '';
  };
  const status = (): Promise<RecorderStatus> => proc.call<RecorderStatus>('status');
  const fillOfficers = async (rows: { name: string; badge: string; pin?: string }[]): Promise<void> => {
    for (const [i, o] of rows.entries()) {
      await page.fill(`#o${i + 1}-name`, o.name);
      await page.fill(`#o${i + 1}-badge`, o.badge);
      if (o.pin !== undefined) await page.fill(`#start-o${i + 1}-pin`, o.pin);
    }
  };

  beforeAll(async () => {
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    const roster = await makeRoster(ca.dir);
    rosterId = rosterSha256(roster.roster);
    // A quiet room: pink noise at -60 dBFS; what is said in it reaches the gateway's microphone.
    room = await startRoom(dir, { bedDb: -60, speakerDb: -10 });
    const port = await freePort();
    gw = makeGateway(ca.dir, {
      config: {
        agency: { caCert: ca.paths.caCert, encryptionCert: ca.paths.agencyEncCert, roster: writeRoster(dir, roster) },
        time: { source: 'host', assumeSynchronised: true },
        console: { listen: `127.0.0.1:${port}` },
        recording: { segmentSeconds: 2, expectedSessionMinutes: 1, sources: [room.microphone('mic1')], explanation: { windowSeconds: 20 } },
      },
    });
    proc = await startGateway(gw.configPath, gw.config.control.socket, 20_000, room.env);
    base = `https://127.0.0.1:${port}`;
    ({ browser, page } = await launchChromium());
    page.on('request', (r) => seen.push(r.url()));
    // The admin, through the first-run page.
    await page.goto(base + '/setup');
    await setupInBrowser(page, base, gw.config.stateDir);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (proc?.proc.exitCode === null) await proc.kill9();
    await room?.stop();
    cleanupTmp();
  });

  it('starts a session with two officers each confirming with their PIN; 亮证; pauses; hears the reason stated after the resume; stops', async () => {
    await page.goto(base + '/session');
    expect(await page.textContent('#sess-state')).toBe('空闲（未录制）');
    expect(await page.textContent('#session-live')).toContain('执法人员各自输入本人 PIN 确认');
    await check('idle', false);
    await page.selectOption('#matter', 'site-inspection');
    await page.fill('#caseRef', '冀石新市监罚〔2026〕第16号');
    await page.fill('#party', '石家庄某某商贸有限公司');
    await fillOfficers([ZHANG, LI].map((o) => ({ name: o.name, badge: o.badge })));
    expect(await submit('#start-session')).toBe('张三（13010001）、李四（13010002）须各自输入 PIN 确认');
    // What was typed comes back, the PIN fields empty.
    expect(await page.inputValue('#o2-badge')).toBe(LI.badge);
    expect(await page.inputValue('#caseRef')).toBe('冀石新市监罚〔2026〕第16号');
    await check('start-refused-no-pins', false);
    // One person cannot confirm for two: the same badge twice, each with its PIN.
    await fillOfficers([withPin(ZHANG), withPin(ZHANG)]);
    expect(await submit('#start-session')).toBe('执法证号 13010001 重复：同一名执法人员只能确认一次');
    await fillOfficers([withPin(ZHANG), withPin(LI)]);
    expect(await submit('#start-session')).toBe('已开始录制');
    expect(await page.textContent('#sess-state')).toBe('录制中');
    sessions.spoken = (await status()).session!.sessionId;
    expect(await page.textContent('#sess-prompt')).toContain('请向当事人亮证');
    await check('recording');
    expect(await submit('#credentials-shown')).toBe('已记录亮证');
    // The microphone's noise floor needs two seconds of sound before anything counts as speech.
    await sleep(2500);
    await page.selectOption('#reason', 'site-change');
    expect(await submit('#pause-session')).toBe('已暂停，中断已记录');
    expect(await page.textContent('#sess-state')).toBe('已中断（暂停）');
    expect(await page.textContent('#sess-reason')).toContain('转换执法场所');
    await check('paused');
    expect(await submit('#resume-session')).toBe('已恢复录制');
    expect(await page.textContent('#sess-prompt')).toMatch(/^请口述中断原因：网关正在聆听，至 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(北京时间 UTC\+08:00\)$/);
    await check('listening');
    await room.say(speech(dir, PHRASES[0], 'cmn', 'explanation'), -5);
    // The page refreshes its state by itself: the gateway heard it.
    await page.locator('#sess-prompt[data-prompt="reason-heard"]').waitFor({ timeout: 20_000 });
    expect(await page.textContent('#sess-prompt')).toContain('已录到中断原因的口头说明');
    await check('heard');
    expect(await submit('#stop-session')).toBe('已停止录制');
    expect(await page.textContent('#sess-state')).toBe('空闲（未录制）');
    expect(await page.textContent('#no-lacking')).toBe('没有缺少书面说明的会话');
  }, 60_000);

  it('ends a session early only with two PINs, then takes its written statement from two officers, not one', async () => {
    await fillOfficers([withPin(ZHANG), withPin(LI)]);
    await page.selectOption('#matter', 'sampling');
    await page.fill('#caseRef', '冀石新市监罚〔2026〕第17号');
    expect(await submit('#start-session')).toBe('已开始录制');
    sessions.unresumed = (await status()).session!.sessionId;
    await page.selectOption('#reason', 'device-fault');
    expect(await submit('#pause-session')).toBe('已暂停，中断已记录');
    expect(await page.textContent('#stop-form')).toContain('须由本次执法的两名执法人员各自输入 PIN 确认');
    expect(await submit('#stop-session')).toBe('需要 2 名不同的执法人员各自输入 PIN 确认');
    await check('stop-early-refused');
    await page.fill('#stop-o1-pin', ZHANG.pin);
    await page.fill('#stop-o2-pin', LI.pin);
    expect(await submit('#stop-session')).toBe('已停止录制');
    const card = page.locator(`[data-session="${sessions.unresumed}"]`);
    expect(await card.textContent()).toContain('中断未恢复即结束');
    expect(await page.textContent('#sess-prompt')).toContain('需两名执法人员书面说明');
    await check('lacking-statement');
    const form = `form[data-statement-for="${sessions.unresumed}"]`;
    await page.fill(`${form} textarea`, '摄像机故障，更换后无法恢复录制，现场检查改为书面记录。');
    await page.fill(`${form} input[name="o1-pin"]`, ZHANG.pin);
    expect(await submit(`${form} button`)).toBe('书面说明须由两名不同的执法人员确认');
    expect(await page.inputValue(`${form} textarea`)).toBe('摄像机故障，更换后无法恢复录制，现场检查改为书面记录。');
    await check('statement-refused');
    await page.fill(`${form} input[name="o1-pin"]`, ZHANG.pin);
    await page.fill(`${form} input[name="o2-pin"]`, LI.pin);
    expect(await submit(`${form} button`)).toBe('书面说明已记录');
    expect(await page.textContent('#no-lacking')).toBe('没有缺少书面说明的会话');
    expect(await page.locator('#sess-prompt').count()).toBe(0);
    expect((await status()).lackingStatement).toEqual([]);
    await check('statement-done');
  }, 60_000);

  it("refuses a third officer's wrong PIN in Chinese, and throttles after repeated tries", async () => {
    const attempt = async (pin: string): Promise<string> => {
      await fillOfficers([{ ...WANG, pin }]);
      return submit('#start-session');
    };
    expect(await attempt(WRONG[0]!)).toBe('王五（13010003）的 PIN 不正确');
    await check('pin-wrong', false);
    expect(await attempt(WRONG[1]!)).toBe('王五（13010003）的 PIN 不正确');
    expect(await attempt(WRONG[2]!)).toBe('王五（13010003）的 PIN 不正确；已锁定 5 秒');
    // Locked: even the right PIN is refused unchecked, and nothing starts.
    expect(await attempt(WANG.pin)).toMatch(/^PIN 错误次数过多，请 [1-5] 秒后再试$/);
    await check('pin-throttled', false);
    expect((await status()).session?.sessionId).toBe(sessions.unresumed);
    // The console's own event list (newest first) has them, as the ledger does.
    const { events } = (await (await page.request.get(base + '/api/events')).json()) as { events: { type: string; body: Record<string, unknown> }[] };
    expect(events.filter((e) => e.type === 'officer.confirm_failed').map((e) => e.body.reason)).toEqual(['throttled', 'bad-pin', 'bad-pin', 'bad-pin']);
  }, 30_000);

  it('keeps a technician to looking, and refuses a POST without the CSRF token', async () => {
    await page.goto(base + '/accounts');
    await page.fill('#name', 'tech1');
    await page.fill('#password', PASSWORD);
    await page.fill('#password2', PASSWORD);
    await page.click('#create-account');
    await page.waitForLoadState();
    tech = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
    const tp = await tech.newPage();
    await tp.goto(base + '/login');
    await tp.fill('#name', 'tech1');
    await tp.fill('#password', PASSWORD);
    await tp.click('button[type=submit]');
    await tp.waitForURL(base + '/');
    await tp.goto(base + '/session');
    expect(await tp.textContent('#read-only')).toContain('技术员在此只能查看');
    expect(await tp.locator('main form').count()).toBe(0);
    const saved = page;
    page = tp;
    await check('technician');
    page = saved;
    const csrf = (await tp.getAttribute('header input[name=_csrf]', 'value'))!;
    for (const [path, form] of [
      ['/session/start', { matter: 'sampling', 'o1-name': ZHANG.name, 'o1-badge': ZHANG.badge, 'o1-pin': ZHANG.pin }],
      ['/session/pause', { reason: 'other', text: '技术员' }],
      ['/session/resume', {}],
      ['/session/stop', {}],
      ['/session/credentials', {}],
      ['/session/statement', { sessionId: sessions.unresumed, text: '技术员' }],
    ] as const) {
      const a = await tp.request.post(base + path, { form: { _csrf: csrf, ...form }, maxRedirects: 0 });
      expect(a.status(), path).toBe(403);
      expect(await a.text(), path).toContain('只有管理员可以这样做');
    }
    // The admin's own browser, without the token: refused before anything happens.
    const noToken = await page.request.post(base + '/session/start', { form: { matter: 'sampling', 'o1-name': ZHANG.name, 'o1-badge': ZHANG.badge, 'o1-pin': ZHANG.pin }, maxRedirects: 0 });
    expect(noToken.status()).toBe(403);
    expect(await noToken.text()).toContain('页面已过期或请求来源不明');
    expect((await status()).session?.state).toBe('closed');
  }, 30_000);

  it('over the control socket: a statement one officer confirms is refused; a resume with no speech leaves the session lacking one', async () => {
    const start = async (caseRef: string): Promise<string> =>
      (await proc.call<{ session: SessionSummary }>('session.start', { matter: 'sampling', caseRef, officers: [withPin(ZHANG), withPin(LI)] })).session.sessionId;
    sessions.oneConfirmation = await start('T-16-4-ONE');
    await proc.call('session.pause', { reason: 'device-fault' });
    await proc.call('session.stop', { officers: [withPin(ZHANG), withPin(LI)] });
    await expect(proc.call('session.statement', { sessionId: sessions.oneConfirmation, text: '设备故障', officers: [withPin(ZHANG)] })).rejects.toThrow(/two different officers/);
    sessions.unexplained = await start('T-16-4-SILENT');
    await proc.call('session.pause', { reason: 'site-change' });
    await proc.call('session.resume');
    expect((await status()).listening?.sessionId).toBe(sessions.unexplained);
    await proc.call('session.stop');
    expect((await status()).lackingStatement.map((l) => l.sessionId)).toEqual([sessions.oneConfirmation, sessions.unexplained]);
    await page.goto(base + '/session');
    expect(await page.locator('#session-statements [data-session]').count()).toBe(2);
    expect(await page.textContent(`[data-session="${sessions.unexplained}"]`)).toContain('恢复录制后未录到中断原因的口头说明');
    await check('two-lacking');
    expect(await proc.stop()).toBe(0);
    // What the gateway refused to write, written with the device's own key (a tampered gateway): one confirmation.
    const core = await startEvidenceCore(gw.config, silentLogger);
    try {
      core.ledger.append(ENTRY.sessionStatement, {
        sessionId: sessions.oneConfirmation,
        text: '设备故障',
        officers: [ZHANG, LI].map((o) => ({ name: o.name, badge: o.badge })),
        time: new Date().toISOString(),
        confirmations: [{ name: ZHANG.name, badge: ZHANG.badge, via: 'console', at: new Date().toISOString(), roster: rosterId }],
      });
    } finally {
      await core.stop();
    }
    const out = join(dir, 'export');
    exportDevice(gw.configPath, out);
    ledger = entries(join(out, gw.config.deviceId));
    const v = spawnSync(process.execPath, [BIN, 'verify', out, '--ca', ca.paths.caCert, '--json'], { encoding: 'utf8' });
    expect(v.status, v.stderr).toBe(1);
    report = JSON.parse(v.stdout) as VerifyReport;
  }, 60_000);

  it('recgw verify passes the sessions run from the console and reports the one-confirmation statement and the unexplained resume', () => {
    const about = (sid: string): string[] => report.findings.filter((f) => f.detail.includes(sid)).map((f) => `${f.kind}: ${f.detail.replace(/^line \d+: /, '')}`);
    expect(about(sessions.spoken)).toEqual([]);
    expect(about(sessions.unresumed)).toEqual([]);
    expect(about(sessions.oneConfirmation)).toEqual([
      expect.stringMatching(new RegExp(`^unconfirmed-statement: the statement for session ${sessions.oneConfirmation} carries 1 valid PIN confirmation\\(s\\) of distinct officers, where 2 are needed`)),
      `unexplained-gap: session ${sessions.oneConfirmation} ended with an interruption that never resumed, and lacks a written statement confirmed by two officers`,
    ]);
    expect(about(sessions.unexplained)).toEqual([
      `unexplained-gap: session ${sessions.unexplained}: 1 resume(s) after an interruption with no spoken explanation heard, and no written statement confirmed by two officers`,
    ]);
    expect(report.findings).toHaveLength(3);
  });

  it('records who confirmed, on the console, and the refused PINs, and no PIN anywhere', () => {
    const of = (type: string, sid: string) => ledger.filter((e) => e.type === type && e.body.sessionId === sid).map((e) => e.body);
    const confirmed = (o: { name: string; badge: string }, via: string) => ({ name: o.name, badge: o.badge, via, at: expect.stringMatching(/Z$/), roster: rosterId });
    for (const sid of [sessions.spoken, sessions.unresumed]) expect(of('session.opened', sid)[0]!.confirmations).toEqual([confirmed(ZHANG, 'console'), confirmed(LI, 'console')]);
    expect(of('credentials.shown', sessions.spoken)).toEqual([expect.objectContaining({ via: 'console', officers: [ZHANG, LI].map((o) => ({ name: o.name, badge: o.badge })) })]);
    expect(of('interruption.started', sessions.spoken)[0]).toMatchObject({ reason: 'site-change', origin: 'declared' });
    expect(of('explanation.heard', sessions.spoken)).toEqual([expect.objectContaining({ source: 'mic1', resumed: ['declared'] })]);
    expect(of('session.closed', sessions.unresumed)[0]).toMatchObject({ reason: 'terminated', by: 'officer', confirmations: [confirmed(ZHANG, 'console'), confirmed(LI, 'console')] });
    expect(of('session.statement', sessions.unresumed)[0]).toMatchObject({ text: '摄像机故障，更换后无法恢复录制，现场检查改为书面记录。', confirmations: [confirmed(ZHANG, 'console'), confirmed(LI, 'console')] });
    expect(of('explanation.missing', sessions.unexplained)).toEqual([expect.objectContaining({ why: 'session-closed' })]);
    expect(ledger.filter((e) => e.type === 'officer.confirm_failed').map((e) => e.body)).toEqual([
      { badge: WANG.badge, name: WANG.name, via: 'console', channel: 'console:127.0.0.1', reason: 'bad-pin' },
      { badge: WANG.badge, name: WANG.name, via: 'console', channel: 'console:127.0.0.1', reason: 'bad-pin' },
      { badge: WANG.badge, name: WANG.name, via: 'console', channel: 'console:127.0.0.1', reason: 'bad-pin', lockedSeconds: 5 },
      { badge: WANG.badge, name: WANG.name, via: 'console', channel: 'console:127.0.0.1', reason: 'throttled', lockedSeconds: expect.any(Number) },
    ]);
    const text = readFileSync(join(dir, 'export', gw.config.deviceId, 'ledger.jsonl'), 'utf8');
    const output = proc.log();
    expect(output).toMatch(/officer PIN confirmation refused/);
    expect(seen.length).toBeGreaterThan(20);
    for (const pin of PINS) {
      expect(text, 'ledger').not.toContain(pin);
      expect(output, 'gateway output').not.toContain(pin);
      for (const s of seen) expect(s, 'a page or an address').not.toContain(pin);
    }
  });
});
