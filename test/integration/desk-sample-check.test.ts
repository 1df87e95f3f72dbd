/**
 * The supervisor sample check on the desk (制度 §22, docs/desk.md §4) in Chromium over an SQLite index of the shared
 * test store: a supervisor draws 50 % of a period with a seed (the same sessions src/desk/samples.ts draws for that
 * seed), confirms or corrects every item of the checklist with a note, signs, downloads report.json and report.sig,
 * and openssl verifies them against the signing certificate (a changed byte failing). An evidence officer and a
 * read-only account see the sample but no form, and their draws, checks and signatures are refused with 403 and
 * change nothing. Every step is audited. Screenshots go to a folder the test prints.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { launchChromium } from '../helpers/console.js';
import { DESK_ACCOUNTS, DESK_PASSWORD, signedIn, startDesk, type TestDesk } from '../helpers/desk.js';
import { H, buildIndexStore, cli, t0, type IndexStore } from '../helpers/index-store.js';
import { caPaths } from '../../src/pki/ca.js';
import { openIndexDb, type IndexDb } from '../../src/index/database.js';
import { drawSessions } from '../../src/desk/samples.js';
import { periodOf } from '../../src/desk/period.js';

const shots = mkdtempSync(join(tmpdir(), 'recgw-desk-samples-shots-'));
/** A day in the desk's zone (Asia/Shanghai, UTC+8). */
const shanghaiDay = (ms: number): string => new Date(ms + 8 * H).toISOString().slice(0, 10);

describe('the sample check in a browser', () => {
  let s: IndexStore;
  let desk: TestDesk;
  let db: IndexDb;
  let browser: Browser;
  let page: Page;
  let sampleUrl = '';
  const from = shanghaiDay(t0 - 3 * 24 * H);
  const to = shanghaiDay(t0 + 24 * H);

  beforeAll(async () => {
    s = await buildIndexStore();
    const url = `sqlite:${join(tmp('recgw-desk-db-'), 'index.db')}`;
    const r = await cli('index', 'rebuild', '--store', s.store, '--database', url, '--ca', caPaths(s.caDir).caCert, '--quiet');
    expect(r.code, r.err).toBe(0);
    desk = await startDesk(s.caDir, url, s.store, { sampleSigning: { key: caPaths(s.caDir).receiptKey, cert: caPaths(s.caDir).receiptCert } });
    db = await openIndexDb(url);
    ({ browser, page } = await launchChromium());
    console.info(`[desk-samples] screenshots in ${shots}`);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await desk?.stop();
    await db?.close();
    cleanupTmp();
  });

  const sampleRow = async (): Promise<{ signed_ms: unknown; items: string }> => {
    const id = sampleUrl.split('/').pop()!;
    const [row] = await db.query<{ signed_ms: unknown; items: string }>('SELECT signed_ms, items FROM desk_samples WHERE id = $1', [id]);
    return row!;
  };

  it('a supervisor draws 50 % of a period with a seed: the sample src/desk/samples.ts draws', async () => {
    await page.goto(`${desk.base}/login?next=/samples`);
    await page.fill('#name', DESK_ACCOUNTS.supervisor);
    await page.fill('#password', DESK_PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(`${desk.base}/samples`);
    expect(await page.textContent('h1')).toBe('监督抽查');
    expect(await page.$('#no-samples')).not.toBeNull();
    await page.fill('#draw input[name=from]', from);
    await page.fill('#draw input[name=to]', to);
    await page.fill('#draw input[name=percent]', '50');
    await page.fill('#draw input[name=seed]', 'seed-1');
    await page.click('#draw button[type=submit]');
    await page.waitForURL(/\/samples\/[0-9a-f-]{36}\?m=drawn$/);
    sampleUrl = page.url().replace(/\?.*$/, '');
    expect(await page.textContent('#seed')).toBe('seed-1');
    const p = periodOf(from, to, 'Asia/Shanghai');
    const want = await drawSessions(db, p.from!, p.to!, 50, 'seed-1');
    expect(want.population).toBe(4);
    expect(await page.$$eval('#items tbody tr', (rows) => rows.map((r) => r.getAttribute('data-session')))).toEqual(want.items.map((i) => i.session));
    // Prefilled from the index: each check's box is as the index says.
    for (const [n, i] of want.items.entries()) {
      for (const k of ['matterRecorded', 'uninterruptedOrExplained', 'handedOverInTime'] as const) {
        expect(await page.isChecked(`#item-${n} input[name=${k}]`), `${i.session} ${k}`).toBe(i.facts[k]);
      }
    }
    await page.goto(`${desk.base}/samples`);
    expect(await page.$$eval('#samples tbody tr', (rows) => rows.length)).toBe(1);
  });

  it('refuses the evidence officer and the read-only account every write, and shows them no form', async () => {
    const id = sampleUrl.split('/').pop()!;
    const before = await sampleRow();
    for (const name of [DESK_ACCOUNTS['evidence-officer'], DESK_ACCOUNTS['read-only']]) {
      const c = await signedIn(desk.base, name);
      const list = await c.get('/samples');
      expect(list.status).toBe(200);
      expect(list.text).not.toContain('id="draw"');
      const one = await c.get(`/samples/${id}`);
      expect(one.status).toBe(200);
      expect(one.text).toContain('seed-1');
      expect(one.text).not.toContain('class="check"');
      expect(one.text).not.toContain('id="sign"');
      const csrf = await c.csrf('/samples');
      const tries: [string, Record<string, string>][] = [
        ['/samples', { from, to, percent: '100', seed: 'x' }],
        [`/samples/${id}/check`, { index: '0', matterRecorded: 'yes', note: 'not mine to check' }],
        [`/samples/${id}/sign`, {}],
      ];
      for (const [path, form] of tries) expect((await c.req('POST', path, { form: { _csrf: csrf, ...form } })).status, `${name} POST ${path}`).toBe(403);
    }
    expect(await sampleRow()).toEqual(before);
    expect(await db.query('SELECT id FROM desk_samples')).toHaveLength(1);
  });

  it('checks every item (one corrected with a note), refuses to sign before, signs, and openssl verifies the downloads', async () => {
    await page.goto(sampleUrl);
    const n = await page.$$eval('#items tbody tr', (rows) => rows.length);
    expect(n).toBe(2);
    // Signing before every item is checked is refused.
    await page.click('#sign button[type=submit]');
    await page.waitForURL(/m=unchecked/);
    expect(await page.textContent('.msg.error')).toContain('还有录制未核对');
    expect((await sampleRow()).signed_ms).toBeNull();

    const first = JSON.parse((await sampleRow()).items)[0] as { session: string; facts: { handedOverInTime: boolean } };
    await page.setChecked('#item-0 input[name=handedOverInTime]', !first.facts.handedOverInTime);
    await page.fill('#item-0 input[name=note]', '已调取接收记录核实');
    await page.click('#item-0 form.check button[type=submit]');
    await page.waitForURL(/m=checked/);
    await page.click('#item-1 form.check button[type=submit]');
    await page.waitForURL(/m=checked/);
    expect(await page.$$eval('#items tbody tr.checked', (rows) => rows.length)).toBe(2);
    expect(await page.textContent('#item-0 .note-text')).toBe('已调取接收记录核实');
    expect(await page.textContent('#item-0 [data-check=handedOverInTime]')).toContain('与索引不同');
    await page.screenshot({ path: join(shots, '01-sample-checked.png'), fullPage: true });

    await page.click('#sign button[type=submit]');
    await page.waitForURL(/m=signed/);
    expect(await page.textContent('#state')).toContain(`${DESK_ACCOUNTS.supervisor} 于`);
    expect(await page.$('form.check')).toBeNull();
    await page.screenshot({ path: join(shots, '02-sample-signed.png'), fullPage: true });

    const dir = tmp('recgw-sample-download-');
    for (const [link, file] of [['#report-json', 'report.json'], ['#report-sig', 'report.sig']] as const) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click(link)]);
      await download.saveAs(join(dir, file));
    }
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as { seed: string; percent: number; population: number; items: { session: string; finding: { handedOverInTime: boolean; note: string } }[]; signed: { by: string } };
    expect(report).toMatchObject({ type: 'recgw.sample-check', seed: 'seed-1', percent: 50, population: 4, signed: { by: DESK_ACCOUNTS.supervisor } });
    expect(report.items[0]!.finding).toMatchObject({ handedOverInTime: !first.facts.handedOverInTime, note: '已调取接收记录核实' });

    execFileSync('openssl', ['x509', '-in', caPaths(s.caDir).receiptCert, '-pubkey', '-noout', '-out', join(dir, 'pub.pem')]);
    const verify = () => spawnSync('openssl', ['dgst', '-sha256', '-verify', join(dir, 'pub.pem'), '-signature', join(dir, 'report.sig'), join(dir, 'report.json')], { encoding: 'utf8' });
    const ok = verify();
    expect([ok.status, ok.stdout.trim()]).toEqual([0, 'Verified OK']);
    writeFileSync(join(dir, 'report.json'), readFileSync(join(dir, 'report.json'), 'utf8').replace('"percent":50', '"percent":5'));
    expect(verify().status).not.toBe(0);

    // A signed sample's findings no longer change, even by its supervisor.
    const c = await signedIn(desk.base, DESK_ACCOUNTS.supervisor);
    const csrf = await c.csrf('/samples');
    const again = await c.req('POST', `${new URL(sampleUrl).pathname}/check`, { form: { _csrf: csrf, index: '0', note: 'changed later' } });
    expect([again.status, again.headers.location]).toEqual([303, `${new URL(sampleUrl).pathname}?m=signed-already`]);
    expect((await sampleRow()).items).not.toContain('changed later');

    const audit = await db.query<{ name: string; action: string }>("SELECT name, action FROM desk_audit WHERE action LIKE 'sample-%' ORDER BY at_ms, id");
    const count = (a: string): number => audit.filter((x) => x.action === a && x.name === DESK_ACCOUNTS.supervisor).length;
    expect([count('sample-draw'), count('sample-check'), count('sample-sign'), count('sample-download')]).toEqual([1, 2, 1, 2]);
  });
});
