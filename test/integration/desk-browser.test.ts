/**
 * The evidence desk in Chromium (Debian's, through playwright-core) over the shared test store, indexed in SQLite and
 * in a real PostgreSQL: sign in, find a session by badge and by case reference, open its timeline, run the verifier on
 * it, and read the statistics, whose every figure must equal `recgw report --json` of the same store; the CSV export
 * gives the same figures and both actions are audited. Screenshots of each page go to a folder the test prints.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { launchChromium } from '../helpers/console.js';
import { DESK_ACCOUNTS, DESK_PASSWORD, signedIn, startDesk, type TestDesk } from '../helpers/desk.js';
import { C, LI, buildIndexStore, cli, type IndexStore } from '../helpers/index-store.js';
import { createDatabase, withPostgres } from '../helpers/postgres.js';
import { caPaths } from '../../src/pki/ca.js';
import { openIndexDb } from '../../src/index/database.js';
import type { Totals } from '../../src/report/types.js';

/** The figures of a report row in the statistics table's columns. */
const figures = (t: Totals): Record<string, number> => ({
  sessions: t.sessions,
  unclosed: t.unclosed,
  recorded_seconds: t.recorded.seconds,
  interruptions: t.interruptions.total,
  terminated: t.terminated.sessions,
  terminated_statement_missing: t.terminated.statementMissing,
  unexplained_sessions: t.unexplained.sessions,
});
const uploads = (t: Totals): Record<string, number> => ({ uploads_on_time: t.uploads.onTime, uploads_late: t.uploads.late });

let s: IndexStore;
const pg = withPostgres();
const shots = mkdtempSync(join(tmpdir(), 'recgw-desk-shots-'));

beforeAll(async () => {
  s = await buildIndexStore();
  console.info(`[desk] screenshots in ${shots}`);
}, 120_000);
afterAll(cleanupTmp);

describe.each(['sqlite', 'postgres'] as const)('the desk in a browser, index on %s', (kind) => {
  let desk: TestDesk;
  let browser: Browser;
  let page: Page;
  let url: string;
  let shot = 0;
  const snap = async (name: string): Promise<void> => {
    await page.screenshot({ path: join(shots, `${kind}-${String(++shot).padStart(2, '0')}-${name}.png`), fullPage: true });
  };

  beforeAll(async () => {
    url = kind === 'postgres' ? await createDatabase(pg.server(), 'desk_browser') : `sqlite:${join(tmp('recgw-desk-db-'), 'index.db')}`;
    const r = await cli('index', 'rebuild', '--store', s.store, '--database', url, '--ca', caPaths(s.caDir).caCert, '--quiet');
    expect(r.code).toBe(0);
    desk = await startDesk(s.caDir, url, s.store, { units: s.unitsFile });
    ({ browser, page } = await launchChromium());
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await desk?.stop();
  });

  it('signs in (zh-CN first) and finds a session by badge and by case reference', async () => {
    await page.goto(`${desk.base}/sessions`);
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(await page.textContent('h1')).toBe('登录');
    await snap('login');
    await page.fill('#name', DESK_ACCOUNTS['evidence-officer']);
    await page.fill('#password', DESK_PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(`${desk.base}/sessions`);
    expect(await page.textContent('h1')).toBe('查找录制');

    await page.fill('#f-officer', LI.badge);
    await page.click('form.search button[type=submit]');
    await page.waitForSelector('#results');
    const byBadge = await page.$$eval('#results tbody tr', (rows) => rows.map((r) => r.querySelectorAll('td')[3]!.textContent));
    expect(byBadge).toEqual(['京朝市监罚〔2026〕101号', C.caseRef]);
    await snap('search-badge');

    await page.goto(`${desk.base}/sessions?caseRef=${encodeURIComponent(C.caseRef!)}`);
    const byCase = await page.$$eval('#results tbody tr', (rows) => rows.map((r) => r.querySelectorAll('td')[1]!.textContent));
    expect(byCase).toEqual(['car-2']);
    await snap('search-case');
  });

  it("opens the session's timeline, with its gaps, interruptions, late receipts and the statement's officers", async () => {
    await page.click('#results a.open');
    await page.waitForSelector('#facts');
    expect(new URL(page.url()).pathname).toBe('/sessions/car-2/S-C');
    expect(await page.$$eval('.timeline', (els) => els.map((e) => e.getAttribute('data-source')))).toEqual(['cam1']);
    // Footage 0–30 and 35–65 min; gaps 30–35 (low battery) and 65–70 (the fault that ended it), both explained.
    expect(await page.$$eval('.timeline svg rect.seg', (els) => els.length)).toBe(2);
    expect(await page.$$eval('.timeline svg rect.gap', (els) => els.map((e) => e.getAttribute('class')))).toEqual(['gap explained', 'gap explained']);
    expect(await page.$$eval('.timeline svg rect.intr', (els) => els.length)).toBe(2);
    const intr = await page.$$eval('#interruptions tbody tr', (rows) => rows.map((r) => [r.children[0]!.textContent, r.children[1]!.textContent]));
    expect(intr).toEqual([
      ['电量不足 low-battery', '网关检测'],
      ['设备故障 device-fault', '网关检测'],
    ]);
    const verdicts = await page.$$eval('#segments tbody tr', (rows) => rows.map((r) => r.children[8]!.textContent));
    expect(verdicts).toEqual(['按时', '迟交 6 小时 10 分']);
    expect(await page.$$eval('#segments tbody tr', (rows) => rows.every((r) => r.children[6]!.textContent!.includes('超出规定')))).toBe(true);
    expect(await page.textContent('#statements')).toContain('李四（13010002）');
    await snap('session-timeline');
  });

  it("draws the session's GPS track from its manifests' fixes, from the desk alone, and says when there is none", async () => {
    const foreign: string[] = [];
    const listen = (r: { url(): string }): void => void (r.url().startsWith(desk.base) || foreign.push(r.url()));
    page.on('request', listen);
    try {
      await page.reload();
      await page.waitForSelector('#chart-track[data-ready="1"]', { timeout: 20_000 });
      expect(await page.$$eval('#chart-track canvas', (c) => c.length)).toBeGreaterThan(0);
      // Each segment's fix, in time order, as the plan put them (lat, lon): nothing invented, nothing lost.
      const points = await page.$$eval('#track-points tbody tr', (rows) => rows.map((r) => [Number(r.children[2]!.getAttribute('data-v')), Number(r.children[3]!.getAttribute('data-v'))]));
      expect(points).toEqual(C.gps);
      // 2.6 km east along Chang'an Avenue.
      expect(await page.textContent('#track-note')).toMatch(/2 个点，相连约 2\.59 公里/);
      await page.locator('#track').scrollIntoViewIfNeeded();
      await snap('session-track');
      expect(foreign).toEqual([]);
      await page.goto(`${desk.base}/sessions/room-1/S-A`);
      expect(await page.textContent('#no-track')).toContain('没有 GPS 定位');
      expect(await page.$$('#chart-track')).toEqual([]);
      await page.goto(`${desk.base}/sessions/car-2/S-C`);
    } finally {
      page.off('request', listen);
    }
  });

  it('runs the verifier on the session and keeps the result with its date', async () => {
    expect(await page.textContent('#verify-result')).toBe('尚未校验');
    await page.click('#verify');
    await page.waitForSelector('#verify-result p');
    const text = (await page.textContent('#verify-result'))!;
    expect(text).toContain(DESK_ACCOUNTS['evidence-officer']);
    expect(text).toMatch(/本次录制：2 个分段，缺口 2 处（无说明 0 处）/);
    // The verifier checks the whole device: car-2's other session, S-D, was never closed.
    expect(text).toContain('unclosed-session session S-D');
    await snap('session-verified');
    const db = await openIndexDb(url);
    try {
      const runs = await db.query<{ name: string; ran_ms: number }>("SELECT name, ran_ms FROM desk_verifications WHERE device_id = 'car-2' AND session_id = 'S-C'");
      expect(runs.map((r) => r.name)).toEqual([DESK_ACCOUNTS['evidence-officer']]);
      expect(Math.abs(Date.now() - Number(runs[0]!.ran_ms))).toBeLessThan(120_000);
      // Every action in the audit chain, in order: the searches and every view of a session too.
      const audit = await db.query<{ action: string }>('SELECT action FROM desk_audit WHERE name = $1 ORDER BY seq', [DESK_ACCOUNTS['evidence-officer']]);
      expect(audit.map((a) => a.action)).toEqual(['sign-in', 'search', 'search', 'search', ...Array<string>(4).fill('view-session'), 'verify', 'view-session']);
    } finally {
      await db.close();
    }
  }, 60_000);

  it('shows the statistics of recgw report --json, figure for figure, and exports them as CSV', async () => {
    await page.goto(`${desk.base}/stats`);
    const read = async (table: string): Promise<Record<string, Record<string, number>>> =>
      page.$$eval(`#stats-${table} tbody tr`, (rows) =>
        Object.fromEntries(rows.map((r) => [r.getAttribute('data-key'), Object.fromEntries([...r.querySelectorAll('td')].map((td) => [td.dataset.k, Number(td.dataset.v)]))])),
      );
    const r = s.report;
    const total = (await read('total'))['']!;
    expect(total).toEqual({ ...figures(r.total), ...uploads(r.total) });
    const devices = await read('device');
    expect(Object.keys(devices)).toEqual(r.devices.map((d) => d.deviceId));
    for (const d of r.devices) expect(devices[d.deviceId], d.deviceId).toEqual({ ...figures(d), ...uploads(d), beyond_rule: d.deadlines.beyondRule });
    const matters = await read('matter');
    expect(Object.keys(matters).sort()).toEqual(r.matters.map((m) => m.matter).sort());
    for (const m of r.matters) expect(matters[m.matter], m.matter).toMatchObject(figures(m));
    const officers = await read('officer');
    expect(Object.keys(officers).sort()).toEqual(r.officers.map((o) => o.badge).sort());
    for (const o of r.officers) expect(officers[o.badge], o.badge).toMatchObject(figures(o));
    // Per unit, as recgw report --units adds them up: 朝阳分局 (room-1), 交通支队 (none of the store's), car-2 in no unit.
    const units = await read('unit');
    expect(r.units!.map((u) => [u.unit, u.devices])).toEqual([['朝阳分局', ['room-1']], ['交通支队', []], [null, ['car-2']]]);
    expect(Object.keys(units)).toEqual(r.units!.map((u) => u.unit ?? ''));
    for (const u of r.units!) expect(units[u.unit ?? ''], String(u.unit)).toEqual({ ...figures(u), ...uploads(u) });
    const reasons = await page.$$eval('#stats-reasons tbody tr', (rows) => rows.map((x) => `${x.getAttribute('data-key')}:${x.querySelector('td')!.dataset.v}`));
    expect(reasons).toEqual(r.total.interruptions.byReason.map((x) => `${x.reason}:${x.count}`));
    // Both gateways stated deadlines beyond the rule: flagged.
    expect(await page.textContent('#stats-device')).toContain('该网关配置超出规定');
    await snap('stats');

    const c = await signedIn(desk.base, DESK_ACCOUNTS['read-only']);
    const csv = await c.get('/stats.csv?by=device');
    expect(csv.status).toBe(200);
    expect(String(csv.headers['content-type'])).toMatch(/^text\/csv/);
    const lines = csv.text.replace(/^\uFEFF/, '').trim().split('\r\n');
    expect(lines[0]).toBe('device,label,sessions,unclosed,recorded_seconds,interruptions,terminated,terminated_statement_missing,unexplained_sessions,uploads_on_time,uploads_late,beyond_rule');
    expect(lines.slice(1)).toEqual(
      r.devices.map((d) => [d.deviceId, d.deviceId, ...Object.values(figures(d)), ...Object.values(uploads(d)), d.deadlines.beyondRule].join(',')),
    );
    const unitCsv = (await c.get('/stats.csv?by=unit')).text.replace(/^\uFEFF/, '').trim().split('\r\n');
    expect(unitCsv[0]).toMatch(/^unit,label,sessions,.*,uploads_late,devices$/);
    expect(unitCsv.slice(1).map((l) => l.split(',').slice(2, 11).map(Number))).toEqual(r.units!.map((u) => [...Object.values(figures(u)), ...Object.values(uploads(u))]));
    const db = await openIndexDb(url);
    try {
      const audit = await db.query<{ detail: string }>("SELECT detail FROM desk_audit WHERE action = 'export-csv' AND name = $1", [DESK_ACCOUNTS['read-only']]);
      expect(audit.map((a) => JSON.parse(a.detail) as unknown)).toEqual([{ by: 'device', rows: 2 }, { by: 'unit', rows: 3 }]);
    } finally {
      await db.close();
    }
  });

  it('switches to English and back', async () => {
    await page.goto(`${desk.base}/stats?lang=en`);
    expect(await page.textContent('h1')).toBe('Recording statistics');
    await snap('stats-en');
    await page.goto(`${desk.base}/sessions?lang=zh-CN`);
    expect(await page.textContent('h1')).toBe('查找录制');
  });
});
