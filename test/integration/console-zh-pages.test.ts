/**
 * Issue 16.5 in a real browser (Debian's chromium): every console page a technician reads, in zh-CN, against a real
 * gateway (simulated sources) that has recorded a session with an interruption and waits with a queue of uploads.
 * Each page is checked for what the issue names - no ISO UTC times, the zone shown where times are, no raw config
 * keys or English status words, nothing running out of its box at a laptop's and at a tablet's width, and /reset
 * without the config file's path (test/helpers/console-pages.ts) - and photographed into test-artifacts/console-zh/
 * (gitignored).
 *
 * The status the console reads gets a source outage and serial/ONVIF devices added: those need hardware (or a camera
 * that fails) no test here has; their words come from exactly that status shape (src/app/serial-devices.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { cleanupTmp, freePort, makeCa, tmp } from '../helpers/fixtures.js';
import { PASSWORD, gatewayConsole, launchChromium, setupInBrowser, type GatewayConsole } from '../helpers/console.js';
import { checkZhPage, type PageFindings } from '../helpers/console-pages.js';
import { sleep } from '../helpers/evidence.js';
import type { ConsoleStatus } from '../../src/console/deps.js';
import { localTime } from '../../src/util/local-time.js';
import { dueText } from '../../src/console/deadline-text.js';
import { DeadlineAlarms } from '../../src/uplink/alarms.js';

const SHOTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'console-zh');
const LONG_PORT = '/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0-a-very-long-adapter-name-indeed';
const LOG = join(tmp('recgw-zh-log-'), '20261206T101500000Z-cam1-run-0123456789abcdef0123456789abcdef.log');

/** Adds what no gateway here can have: a source's outage with its kept ffmpeg log, a panel, a UPS, a PTZ head, an ONVIF camera. */
function withDevices(st: ConsoleStatus): ConsoleStatus {
  const at = new Date(Date.now() - 3600_000).toISOString();
  const outage = {
    cause: 'stream-ended',
    words: '网络摄像机停止发送视频（RTSP 连接被关闭）',
    technical: `ffmpeg exited with status 1: rtsp://192.168.10.21:554/Streaming/Channels/101?transportmode=unicast&profile=Profile_1 Connection refused; log ${LOG}`,
    log: LOG,
    at,
  };
  const port = { path: LONG_PORT, connected: false, since: at, lastError: `Error: No such file or directory, cannot open ${LONG_PORT}`, failures: 17 };
  return {
    ...st,
    sources: st.sources.map((s) => (s.id === 'cam1' ? { ...s, lastOutage: outage } : s)),
    panel: { port, panel: { proto: 1, model: 'RP-200', firmware: '1.4.2', at }, lastLineAt: at, commands: 3, garbage: 0 },
    ups: { port: { ...port, connected: true, lastError: null }, reading: { percent: 64, onMains: false, minutesLeft: 42, at }, stale: false, risk: 'warning', garbage: 0 },
    ptz: { cameras: [{ source: 'cam1', address: 1, path: LONG_PORT, connected: true, portError: null, power: 'on', powerAt: at, lastError: null, lastPreset: { preset: 3, ok: true, at } }], ports: [] },
    onvif: { cam1: { url: 'http://192.168.10.21/onvif/device_service', clockOffsetMs: 120, clockSetAt: at, overlay: 'set', gopSeconds: 2 } },
  };
}

describe('every console page in zh-CN (issue 16.5)', () => {
  const ca = makeCa();
  let gc: GatewayConsole;
  let browser: Browser;
  let page: Page;
  let n = 0;

  /** Check the page as the issue asks (times: it shows times, so the zone must be named) and photograph it. */
  const check = (name: string, o: { times: boolean }): Promise<PageFindings> => checkZhPage(page, join(SHOTS, `${String(++n).padStart(2, '0')}-${name}.png`), name, o);

  /** Each test starts logged in, whatever an earlier one left (so one failing check does not hide the others). */
  const loggedIn = async (): Promise<void> => {
    await page.goto(gc.base + '/');
    if (!new URL(page.url()).pathname.startsWith('/login')) return;
    await page.fill('#name', 'admin');
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(gc.base + '/');
  };

  beforeAll(async () => {
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    writeFileSync(LOG, "Input #0, rtsp, from 'rtsp://192.168.10.21:554/Streaming/Channels/101':\n[rtsp @ 0x55d0] method DESCRIBE failed: 503 Service Unavailable " + 'x'.repeat(300) + '\n');
    gc = await gatewayConsole(
      ca.dir,
      {
        place: '新华区市场监督管理局执法稽查大队第一中队一号询问室（东楼三层，靠近电梯的第二间，门牌 302-A）',
        time: { source: 'host', assumeSynchronised: true },
        console: { listen: '127.0.0.1:0' },
        // A broker nobody answers on: what is recorded waits in the queue; half an hour counts down to the second.
        uplink: { broker: `mqtts://127.0.0.1:${await freePort()}`, deadlineHours: 0.5 },
        recording: {
          segmentSeconds: 2,
          expectedSessionMinutes: 1,
          sources: [
            { id: 'cam1', kind: 'camera', driver: 'sim', label: '询问桌正面（带云台，可转向当事人和执法人员两侧）', width: 320, height: 180, fps: 10 },
            { id: 'mic1', kind: 'microphone', driver: 'sim' },
          ],
        },
      },
      { status: withDevices },
    );
    ({ browser, page } = await launchChromium());
    const rec = gc.gateway.recorderInterface;
    await rec.startSession({ matter: '现场检查', caseRef: '冀石新市监罚〔2026〕第00001234号-现场检查-补充调查', officers: [{ name: '张三', badge: '13010001' }, { name: '李四', badge: '13010002' }], party: '石家庄某某商贸有限公司' });
    await sleep(2500);
    await rec.pauseSession('obstruction', '当事人情绪激动，用手遮挡镜头并要求停止录像，经劝说后恢复');
    await rec.resumeSession();
    await sleep(2500);
    await rec.stopSession();
    // The uploader checks deadlines once a minute; check now instead of waiting for it (the same check, same ledger).
    const q = gc.gateway.uplinkQueue!;
    q.sync();
    new DeadlineAlarms(gc.gateway.evidence.db, gc.gateway.evidence.ledger, q, [6, 1]).check(Date.now());
  });

  afterAll(async () => {
    await browser?.close();
    await gc?.stop();
    cleanupTmp();
  });

  it('the anonymous pages: setup, login, and /reset without the config file path', async () => {
    await page.goto(gc.base + '/setup');
    await check('setup', { times: false });
    await setupInBrowser(page, gc.base, gc.gw.config.stateDir);
    await page.click('header button[type=submit]');
    await page.waitForURL(/\/login$/);
    await check('login', { times: false });
    await page.click('#forgot');
    await page.waitForURL(/\/reset$/);
    const html = await page.content();
    expect(html).not.toContain(gc.gw.configPath);
    expect(html).not.toContain(gc.gw.config.stateDir);
    expect(await page.textContent('main')).toContain('sudo recgw console reset-password --config 配置文件');
    await check('reset', { times: false });
    await page.goto(gc.base + '/login');
    await page.fill('#name', 'admin');
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(gc.base + '/');
  });

  it('the overview: session, clock, devices and the next deadline in Beijing time and in words', async () => {
    await loggedIn();
    await page.goto(gc.base + '/');
    const f = await check('overview', { times: true });
    const st = await gc.gateway.status();
    expect(await page.textContent('#clock-source')).toBe('主机系统时钟');
    expect(f.mainText).toContain(`自 ${localTime(Date.now() - 3600_000).slice(0, 10)}`);
    expect(await page.textContent('#devices')).toContain('未连接（/dev/serial/by-id/');
    expect(await page.textContent('#devices')).toContain('电量 64%，电池供电');
    expect(await page.textContent('#next-deadline')).toMatch(/^剩余 2\d 分 \d+ 秒（截止 \d{4}-\d\d-\d\d \d\d:\d\d 北京时间 UTC\+08:00）$/);
    expect(st.session).not.toBeNull();
    expect(f.mainText).toContain(localTime(st.session!.start));
  });

  it('the upload queue: one form of deadline, counting down in the browser and after each refresh', async () => {
    await loggedIn();
    await page.goto(gc.base + '/queue');
    await page.waitForSelector('#queue-rows tr');
    await check('queue', { times: true });
    const first = page.locator('#queue-rows tr:first-child [data-deadline]');
    const ms = Number(await first.getAttribute('data-deadline'));
    const due = dueText(ms, { left: '', overdue: '', hm: '', ms: '', zone: 'Asia/Shanghai', zoneName: '北京时间' }).replace('+', '\\+');
    const a = await first.textContent();
    expect(a).toMatch(new RegExp(`^剩余 2\\d 分 \\d+ 秒（截止 ${due}）$`));
    // Rows rebuilt from /api/queue (UTC milliseconds) say the same, and keep counting.
    await sleep(2600);
    const b = await page.locator('#queue-rows tr:first-child [data-deadline]').textContent();
    expect(b).toMatch(new RegExp(`（截止 ${due}）$`));
    expect(b).not.toBe(a);
    // Every deadline on the page, alarms included, in that form.
    const forms = await page.$$eval('[data-deadline]', (els) => els.map((e) => e.textContent ?? ''));
    expect(forms.length).toBeGreaterThan(2);
    for (const text of forms) expect(text).toMatch(/^(剩余|已超期) (\d+ 小时 \d+ 分|\d+ 分 \d+ 秒)（截止 \d{4}-\d\d-\d\d \d\d:\d\d 北京时间 UTC\+08:00）$/);
    expect(await page.textContent('#alarms')).toContain('距期限不足 1 小时');
  });

  it('interruptions and events: times in Beijing time, entries as sentences', async () => {
    await loggedIn();
    await page.goto(gc.base + '/interruptions');
    await check('interruptions', { times: true });
    expect(await page.textContent('#interruptions')).toContain('人为阻挠');
    await page.goto(gc.base + '/events');
    const f = await check('events', { times: true });
    expect(f.mainText).toContain('执法人员声明中断：人为阻挠（当事人情绪激动');
    expect(f.mainText).toContain('开始录制：现场检查，案号 冀石新市监罚');
    expect(f.mainText).toMatch(/中断结束，恢复录制：\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(北京时间 UTC\+08:00\)/);
    expect(f.mainText).not.toMatch(/[{}]/);
    expect(f.mainText).toMatch(/上传期限告警：\d+ 项距上传期限不足 1 小时（最早期限 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(北京时间 UTC\+08:00\)）/);
    await page.goto(gc.base + '/events?segments=1');
    const s = await check('events-segments', { times: true });
    expect(s.mainText).toMatch(/cam1 第 \d+ 段：\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(北京时间 UTC\+08:00\) 至 /);
  });

  it('config: keys in words, check and diff, applied', async () => {
    await loggedIn();
    await page.goto(gc.base + '/config');
    await check('config', { times: false });
    const cfg = JSON.parse(await page.inputValue('#config-text')) as { recording: { segmentSeconds: number; sources: { label?: string }[] }; time: Record<string, unknown> };
    cfg.recording.segmentSeconds = 1;
    cfg.recording.sources[0]!.label = '询问桌';
    cfg.time.zone = 'Asia/Beijing';
    await page.fill('#config-text', JSON.stringify(cfg, null, 2));
    await page.click('#check-config');
    const f = await check('config-invalid', { times: false });
    expect(await page.textContent('#fields tr[data-key="recording.segmentSeconds"] td:first-child')).toBe('录制 · 片段时长（秒）');
    expect(await page.textContent('#fields tr[data-key="time.zone"] .problem')).toBe('不是有效的时区：请填写 IANA 时区名，例如 Asia/Shanghai（北京时间）');
    expect(await page.textContent('#diff tr[data-key="recording.sources[0].label"] td:first-child')).toBe('录制 · 音视频源 1（cam1） · 名称');
    expect(f.mainText).toContain('不能小于 2');
    cfg.recording.segmentSeconds = 2;
    cfg.time.zone = 'Asia/Shanghai';
    await page.fill('#config-text', JSON.stringify(cfg, null, 2));
    await page.click('#check-config');
    await check('config-diff', { times: false });
    await page.click('#apply-config');
    expect(await page.textContent('#restart-note')).toContain('录制 · 音视频源 1（cam1） · 名称');
    await check('config-applied', { times: false });
    await page.goto(gc.base + '/');
    expect(await page.textContent('#restart-pending')).toContain('录制 · 音视频源 1 · 名称');
    await check('overview-restart-pending', { times: true });
  });

  it('the rest: self-test, certificate, recording control, aiming, cameras, accounts, password, the ffmpeg log, an error', async () => {
    await loggedIn();
    await page.goto(gc.base + '/selftest');
    await page.click('#run-selftest');
    await page.waitForSelector('#checks');
    await check('selftest', { times: false });
    await page.goto(gc.base + '/enrol');
    const e = await check('enrol', { times: true });
    expect(e.mainText).toMatch(/到期\s*\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(北京时间 UTC\+08:00\)（剩余 \d+ 天）/);
    await page.goto(gc.base + '/session');
    const s = await check('session', { times: true });
    expect(await page.textContent('#sess-state')).toBe('空闲（未录制）');
    expect(s.mainText).toContain('未安装执法人员名单，无需 PIN');
    expect(await page.$$('#start-form select#matter option')).toHaveLength(10);
    await page.goto(gc.base + '/aim');
    await check('aim', { times: false });
    await page.goto(gc.base + '/cameras');
    await check('cameras', { times: false });
    await page.goto(gc.base + '/accounts');
    await check('accounts', { times: true });
    await page.goto(gc.base + '/password');
    await check('password', { times: false });
    await page.goto(gc.base + '/source-log?source=cam1');
    await check('source-log', { times: true });
    await page.goto(gc.base + '/no-such-page');
    await check('not-found', { times: false });
  });

  it('in English: the zone named in English, the same one form of a deadline', async () => {
    await loggedIn();
    await page.goto(gc.base + '/queue?lang=en');
    await page.waitForSelector('#queue-rows tr');
    expect(await page.locator('#queue-rows tr:first-child [data-deadline]').textContent()).toMatch(/^\d+ min \d+ s left \(due \d{4}-\d\d-\d\d \d\d:\d\d Beijing time UTC\+08:00\)$/);
    await page.goto(gc.base + '/events?lang=en');
    expect(await page.textContent('main')).toContain('(Beijing time UTC+08:00)');
    await page.goto(gc.base + '/session?lang=en');
    expect(await page.textContent('h1')).toBe('Recording control');
    expect(await page.textContent('#sess-state')).toBe('idle (not recording)');
    expect(await page.textContent('#session-statements')).toContain('no spoken reason was heard after a resume');
    await page.goto(gc.base + '/?lang=zh-CN');
  });
});
