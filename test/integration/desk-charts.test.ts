/**
 * The statistics' charts (Apache ECharts, served by the desk from node_modules) in Chromium over an SQLite index of
 * the shared test store: every chart is drawn with no request to another origin and no CSP violation (no inline
 * script anywhere), and the figures they draw (/stats.json) equal the statistics tables' for the same period, per matter,
 * per reason and for uploads; per day and per month the buckets add up to the totals. Screenshot in a printed folder.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { launchChromium } from '../helpers/console.js';
import { DESK_ACCOUNTS, DESK_PASSWORD, signedIn, startDesk, type TestDesk } from '../helpers/desk.js';
import { H, buildIndexStore, cli, t0, type IndexStore } from '../helpers/index-store.js';
import { caPaths } from '../../src/pki/ca.js';
import type { ChartData } from '../../src/desk/charts.js';

const shots = mkdtempSync(join(tmpdir(), 'recgw-desk-charts-shots-'));
/** A day in the desk's zone (Asia/Shanghai, UTC+8). */
const shanghaiDay = (ms: number): string => new Date(ms + 8 * H).toISOString().slice(0, 10);
// A period holding every session: with a period the uploads are the sessions' segments' (without one, the total is
// every receipt's, as recgw report --json counts them, and no bucket holds the receipts of items outside sessions).
const period = `from=${shanghaiDay(t0 - 3 * 24 * H)}&to=${shanghaiDay(t0 + 24 * H)}`;

describe('the statistics charts in a browser', () => {
  let s: IndexStore;
  let desk: TestDesk;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    s = await buildIndexStore();
    const url = `sqlite:${join(tmp('recgw-desk-db-'), 'index.db')}`;
    const r = await cli('index', 'rebuild', '--store', s.store, '--database', url, '--ca', caPaths(s.caDir).caCert, '--quiet');
    expect(r.code, r.err).toBe(0);
    desk = await startDesk(s.caDir, url, s.store, { units: s.unitsFile });
    ({ browser, page } = await launchChromium());
    console.info(`[desk-charts] screenshots in ${shots}`);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await desk?.stop();
    cleanupTmp();
  });

  it('draws every chart from the desk alone, without a CSP violation, with the tables\u2019 figures', async () => {
    const foreign: string[] = [];
    const violations: string[] = [];
    page.on('request', (r) => void (r.url().startsWith(desk.base) || foreign.push(r.url())));
    page.on('console', (m) => void (/Content Security Policy|Refused to/i.test(m.text()) && violations.push(m.text())));
    await page.goto(`${desk.base}/login?next=/stats`);
    await page.fill('#name', DESK_ACCOUNTS.leader);
    await page.fill('#password', DESK_PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(`${desk.base}/stats`);
    await page.goto(`${desk.base}/stats?${period}`);
    await page.waitForSelector('#charts[data-ready="1"]', { timeout: 20_000 });
    for (const id of ['chart-matter', 'chart-officer', 'chart-device', 'chart-unit', 'chart-reasons', 'chart-uploads', 'chart-series']) {
      expect(await page.getAttribute(`#${id}`, 'data-ready'), id).toBe('1');
      expect(await page.$$eval(`#${id} canvas`, (c) => c.map((x) => (x as unknown as { width: number }).width)), id).not.toEqual([]);
    }
    expect(await page.$$eval('script', (els) => els.map((e) => [e.getAttribute('src'), e.textContent]))).toEqual([
      ['/assets/echarts.min.js', ''],
      ['/assets/desk-charts.js', ''],
    ]);
    expect(foreign).toEqual([]);
    expect(violations).toEqual([]);
    await page.locator('#charts').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(shots, 'stats-charts.png'), fullPage: true });

    const c = await signedIn(desk.base, DESK_ACCOUNTS['read-only']);
    const d = JSON.parse((await c.get(`/stats.json?${period}&unit=day`)).text) as ChartData;
    const cell = (table: string, key: string, k: string) => page.getAttribute(`#stats-${table} tr[data-key="${key}"] td[data-k="${k}"]`, 'data-v').then(Number);
    expect(d.byMatter.length).toBeGreaterThan(1);
    for (const m of d.byMatter) {
      expect(m.sessions, m.key).toBe(await cell('matter', m.key, 'sessions'));
      expect(m.hours, m.key).toBeCloseTo((await cell('matter', m.key, 'recorded_seconds')) / 3600, 2);
    }
    // Per officer, device and unit: the bars are the tables' rows with sessions, figure for figure.
    for (const [bars, table, n] of [[d.byOfficer, 'officer', 4], [d.byDevice, 'device', 2], [d.byUnit, 'unit', 2]] as const) {
      expect(bars.length, table).toBe(n);
      for (const b of bars) {
        expect(b.sessions, `${table} ${b.key}`).toBe(await cell(table, b.key, 'sessions'));
        expect(b.hours, `${table} ${b.key}`).toBeCloseTo((await cell(table, b.key, 'recorded_seconds')) / 3600, 2);
      }
    }
    expect(d.byUnit.map((b) => b.label)).toEqual(['朝阳分局', '未列入单位']);
    expect(d.byReason.length).toBeGreaterThan(0);
    for (const r of d.byReason) expect(r.count, r.reason).toBe(await cell('reasons', r.reason, 'count'));
    expect(d.uploads).toEqual({ onTime: await cell('total', '', 'uploads_on_time'), late: await cell('total', '', 'uploads_late') });
    const sum = (x: ChartData, k: 'sessions' | 'onTime' | 'late'): number => x.series.reduce((a, b) => a + b[k], 0);
    const month = JSON.parse((await c.get(`/stats.json?${period}&unit=month`)).text) as ChartData;
    const year = JSON.parse((await c.get(`/stats.json?${period}&unit=year`)).text) as ChartData;
    for (const x of [d, month, year]) {
      expect([sum(x, 'sessions'), sum(x, 'onTime'), sum(x, 'late')], x.unit).toEqual([await cell('total', '', 'sessions'), d.uploads.onTime, d.uploads.late]);
    }
    expect(d.series.length).toBeGreaterThanOrEqual(2);
    expect(d.series.every((b) => /^\d{4}-\d{2}-\d{2}$/.test(b.bucket))).toBe(true);
    expect(month.series.every((b) => /^\d{4}-\d{2}$/.test(b.bucket))).toBe(true);
    expect((await c.get('/stats.json?unit=week')).status).toBe(400);
    expect((await c.get('/stats.json?from=2020-01-01&to=2026-12-31&unit=day')).status).toBe(400);
  });
});
