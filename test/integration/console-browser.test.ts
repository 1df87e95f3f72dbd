/**
 * Issue 6 acceptance in a real browser (Debian's chromium driven by playwright-core) against a real gateway with
 * simulated sources: first-run setup, login, a wrong password throttled, a setting changed and seen applied and
 * audited, the self-test, the aiming aid, an upload queue item counting down, the interruption log, and enrolling
 * a certificate. A screenshot of each page goes to a folder the test prints.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { cleanupTmp, freePort, makeCa } from '../helpers/fixtures.js';
import { PASSWORD, gatewayConsole, launchChromium, setupInBrowser, type GatewayConsole } from '../helpers/console.js';
import { sleep } from '../helpers/evidence.js';
import type { Gateway } from '../../src/app/gateway.js';
import { issueReceiverCertificate, signDeviceCsr } from '../../src/pki/ca.js';

const officers = [{ name: '张三', badge: '13010001' }];

describe('the console in a browser', () => {
  const ca = makeCa();
  const shots = mkdtempSync(join(tmpdir(), 'recgw-console-shots-'));
  let gc: GatewayConsole;
  let gw: GatewayConsole['gw'];
  let gateway: Gateway;
  let browser: Browser;
  let page: Page;
  let base = '';
  let shot = 0;

  const snap = async (name: string): Promise<void> => {
    await page.screenshot({ path: join(shots, `${String(++shot).padStart(2, '0')}-${name}.png`), fullPage: true });
  };
  const entries = (type: string): Record<string, unknown>[] =>
    (gateway.evidence.db.prepare('SELECT line FROM ledger WHERE type = ? ORDER BY seq').all(type) as { line: string }[]).map(
      (r) => (JSON.parse(r.line) as { body: Record<string, unknown> }).body,
    );

  beforeAll(async () => {
    gc = await gatewayConsole(
      ca.dir,
      {
        time: { source: 'host', assumeSynchronised: true },
        console: { listen: '127.0.0.1:0' },
        // A broker nobody answers on: what is recorded stays in the queue, counting down.
        uplink: { broker: `mqtts://127.0.0.1:${await freePort()}` },
        recording: {
          segmentSeconds: 2,
          expectedSessionMinutes: 1,
          sources: [
            { id: 'cam1', kind: 'camera', driver: 'sim', label: '询问桌', width: 320, height: 180, fps: 10 },
            { id: 'mic1', kind: 'microphone', driver: 'sim' },
          ],
        },
      },
      { throttle: { baseMs: 1500 } },
    );
    ({ gw, gateway, base } = gc);
    ({ browser, page } = await launchChromium());
    console.info(`[console] screenshots in ${shots}`);
  });

  afterAll(async () => {
    await browser?.close();
    await gc?.stop();
    cleanupTmp();
  });

  it('first-run setup forces creating the admin', async () => {
    await page.goto(base + '/queue');
    expect(new URL(page.url()).pathname).toBe('/setup');
    await snap('setup');
    await setupInBrowser(page, base, gw.config.stateDir);
    expect(await page.textContent('h1')).toBe('概览');
    expect(await page.textContent('#rec-state')).toBe('空闲（未录制）');
    await snap('overview');
    await page.click('a[lang=en]');
    expect(await page.textContent('h1')).toBe('Overview');
    await snap('overview-en');
    await page.click('a[lang=zh-CN]');
    expect(await page.textContent('h1')).toBe('概览');
    expect(entries('config.changed')[0]).toMatchObject({ what: 'account', action: 'created', account: 'admin', role: 'admin' });
  });

  it('logs in, and throttles a wrong password', async () => {
    await page.click('header button[type=submit]');
    await page.waitForURL(/\/login$/);
    /** Submit the login form; the message box's text after the answer came ('' when there is none). */
    const attempt = async (password: string): Promise<string> => {
      await page.fill('#name', 'admin');
      await page.fill('#password', password);
      await Promise.all([page.waitForResponse((r) => r.url().endsWith('/login') && r.request().method() === 'POST'), page.click('button[type=submit]')]);
      await page.waitForLoadState();
      const msg = page.locator('.msg');
      return (await msg.count()) ? ((await msg.textContent()) ?? '') : '';
    };
    expect(await attempt('not the password')).toBe('用户名或密码不正确');
    expect(await attempt('not the password')).toBe('用户名或密码不正确');
    expect(await attempt('not the password')).toMatch(/失败次数过多，请 2 秒后再试/);
    // Locked: the right password is refused too until the lock ends.
    expect(await attempt(PASSWORD)).toMatch(/失败次数过多/);
    await snap('login-throttled');
    await sleep(1600);
    expect(await attempt(PASSWORD)).toBe('');
    await page.waitForURL(base + '/');
    expect(entries('console.login_failed').map((b) => b.reason)).toEqual(['bad-password', 'bad-password', 'bad-password', 'throttled']);
    expect(entries('console.login').at(-1)).toMatchObject({ user: 'admin', ip: '127.0.0.1' });
  });

  it('changes settings: errors beside the key, the diff with restart notes, live keys applied at once, audited', async () => {
    await page.goto(base + '/config');
    const cfg = JSON.parse(await page.inputValue('#config-text')) as Record<string, Record<string, unknown>>;
    cfg.recording!.segmentSeconds = 1;
    await page.fill('#config-text', JSON.stringify(cfg, null, 2));
    await page.click('#check-config');
    expect(await page.textContent('#fields tr[data-key="recording.segmentSeconds"] .problem')).toBe('不能小于 2');
    await snap('config-invalid');
    cfg.recording!.segmentSeconds = 2;
    (cfg as Record<string, unknown>).place = '二号询问室（控制台测试）';
    cfg.uplink!.deadlineHours = 12;
    cfg.uplink!.protocolVersion = 4;
    await page.fill('#config-text', JSON.stringify(cfg, null, 2));
    await page.click('#check-config');
    // The place and the deadline apply to the running gateway; the broker's protocol waits for a restart.
    expect(await page.textContent('#diff tr[data-key="place"] td:last-child')).toBe('立即生效');
    expect(await page.textContent('#diff tr[data-key="uplink.deadlineHours"] td:last-child')).toBe('立即生效');
    expect(await page.textContent('#diff tr[data-key="uplink.protocolVersion"] td:last-child')).toBe('重启后生效');
    await snap('config-diff');
    await page.click('#apply-config');
    expect(await page.textContent('.msg')).toContain('修改已写入配置文件');
    expect(await page.textContent('#live-note')).toContain('地点；上传 · 上传期限（小时）');
    expect(await page.textContent('#restart-note')).toContain('上传 · MQTT 协议版本');
    expect(await page.textContent('#restart-note')).not.toContain('地点');
    await snap('config-applied');
    // The overview says what waits for a restart (and the queue test below sees the new deadline, the session the place).
    await page.goto(base + '/');
    expect(await page.textContent('#restart-pending')).toContain('上传 · MQTT 协议版本');
    expect(await page.getAttribute('#restart-pending', 'title')).toBe('uplink.protocolVersion');
    expect(JSON.parse(readFileSync(gw.configPath, 'utf8')).place).toBe('二号询问室（控制台测试）');
    const audit = entries('config.changed').at(-1)!;
    expect(audit).toMatchObject({ via: 'console', user: 'admin', what: 'config', restartNeeded: true });
    expect(audit.changes).toEqual([
      { key: 'place', from: '演示执法局 一号询问室 (demo interview room 1)', to: '二号询问室（控制台测试）', restart: false },
      { key: 'uplink.deadlineHours', to: 12, restart: false },
      { key: 'uplink.protocolVersion', to: 4, restart: true },
    ]);
    await page.goto(base + '/events');
    expect(await page.getAttribute('#events tbody tr:first-child', 'data-type')).toBe('config.changed');
    expect(await page.textContent('#events tbody tr:first-child')).toContain('admin 修改了配置：地点 → 二号询问室（控制台测试）');
    expect(await page.textContent('#events tbody tr:first-child td:nth-child(3)')).toBe('配置变更');
    await snap('events');
  });

  it('runs the self-test and shows each check', async () => {
    await page.goto(base + '/selftest');
    await page.click('#run-selftest');
    await page.waitForSelector('#checks');
    const checks = await page.$$eval('#checks tbody tr', (rows) => rows.map((r) => r.getAttribute('data-check')));
    expect(checks).toEqual(['storage', 'battery', 'clock', 'sources']);
    // The test's gateway has time.assumeSynchronised (a container cannot tell): a warning that says so, not a pass.
    expect(await page.textContent('#checks tr[data-check="clock"] td:nth-child(2)')).toBe('警告');
    expect(await page.textContent('#checks tr[data-check="clock"] td:nth-child(3)')).toBe('时钟按配置视为已同步（主机系统时钟，配置项“假定时钟已同步”）：操作系统未确认同步；录像时间标记为“假定”');
    await snap('selftest');
  });

  it('takes an aiming picture while no session is open', async () => {
    await page.goto(base + '/aim');
    await page.click('button[data-source="cam1"]');
    await page.waitForSelector('#still');
    expect(await page.$eval('#still', (img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBe(320);
    await snap('aim');
  });

  it('shows an upload queue item counting down, the interruption log, and refuses the aiming aid while recording', async () => {
    await page.goto(base + '/queue');
    expect(await page.$$('#queue-rows tr')).toHaveLength(0);
    const rec = gateway.recorderInterface;
    const overview = await browser.contexts()[0]!.newPage();
    await overview.goto(base + '/');
    expect(await overview.textContent('#rec-state')).toBe('空闲（未录制）');
    await rec.startSession({ matter: '现场检查', caseRef: 'C-2026-006', officers });
    // The overview refreshes itself.
    await overview.locator('#rec-state', { hasText: '录制中' }).waitFor({ timeout: 8000 });
    await overview.screenshot({ path: join(shots, `${String(++shot).padStart(2, '0')}-overview-recording.png`) });
    await overview.close();
    const aim = await browser.contexts()[0]!.newPage();
    await aim.goto(base + '/aim');
    await aim.click('button[data-source="cam1"]');
    expect(await aim.textContent('.msg')).toContain('有会话正在进行');
    await aim.screenshot({ path: join(shots, `${String(++shot).padStart(2, '0')}-aim-refused.png`) });
    await aim.close();
    await rec.pauseSession('obstruction', '当事人遮挡镜头');
    await rec.resumeSession();
    await sleep(2500);
    await rec.stopSession();
    // The open queue page picks the new items up by itself.
    await page.waitForSelector('#queue-rows tr', { timeout: 15_000 });
    const left = page.locator('#queue-rows tr:first-child [data-deadline]');
    // 12 h: the deadline changed in the console applies to what was recorded after the change.
    expect(await left.textContent()).toMatch(/^剩余 11 小时 59 分（截止 \d{4}-\d\d-\d\d \d\d:\d\d 北京时间 UTC\+08:00）$/);
    expect(entries('session.opened').at(-1)).toMatchObject({ caseRef: 'C-2026-006', place: '二号询问室（控制台测试）' });
    expect(Number(await page.textContent('#queue-count'))).toBeGreaterThan(0);
    await snap('queue');
    // Segment manifests are listed as events (source, span, case), never with where their files are.
    await page.goto(base + '/events?segments=1');
    expect(await page.$$('#events tr[data-type="segment.sealed"]')).not.toHaveLength(0);
    const listed = (await page.textContent('#events')) ?? '';
    expect(listed).not.toMatch(/\.seg\b|segments\/|sealed\/|spool/);
    await page.goto(base + '/interruptions');
    expect(await page.textContent('#interruptions tbody')).toContain('人为阻挠');
    expect(await page.textContent('#interruptions tbody')).toContain('当事人遮挡镜头');
    await snap('interruptions');
  });

  it('enrols a certificate: CSR download, a foreign certificate refused, the signed one installed', async () => {
    await page.goto(base + '/enrol');
    const before = await page.textContent('#cert-serial');
    await snap('enrol');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-csr')]);
    const csrPem = readFileSync((await download.path())!, 'utf8');
    expect(csrPem).toContain('BEGIN CERTIFICATE REQUEST');
    const foreign = issueReceiverCertificate({ caDir: ca.dir, name: 'receiver:not-this-device' }).certPem;
    await page.fill('#cert-pem', foreign);
    await page.click('#install-cert');
    const refused = await page.textContent('.msg');
    expect(refused).toContain('拒绝安装此证书');
    expect(refused).toContain('证书是签发给另一台设备的');
    expect(refused).toContain('这不是设备证书');
    const { certPem } = signDeviceCsr({ caDir: ca.dir, csrPem, days: 400 });
    await page.fill('#cert-pem', certPem);
    await page.click('#install-cert');
    expect(await page.textContent('.msg')).toContain('证书已安装');
    const after = await page.textContent('#cert-serial');
    expect(after).not.toBe(before);
    expect(await page.textContent('#cert-valid-to')).toMatch(/剩余 (399|400) 天/);
    await snap('enrol-installed');
    expect(entries('config.changed').at(-1)).toMatchObject({ what: 'certificate', user: 'admin', serial: after });
    await page.goto(base + '/accounts');
    await snap('accounts');
  });
});
