/**
 * Live alerts on the desk (docs/desk.md §4, /alerts) in Chromium over an SQLite index of the shared test store: an
 * interruption a gateway reports (an alerts.jsonl record as the receiver writes it, from the device's own signed
 * ledger line) appears on the open page by its own refresh once the index is made again, and is acknowledged by a
 * named account with a note (kept, audited); a forged alert is left out; upload deadlines missed by the rule are
 * alerts too; a read-only account sees no form and its POST is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { launchChromium } from '../helpers/console.js';
import { DESK_ACCOUNTS, DESK_PASSWORD, signedIn, startDesk, type TestDesk } from '../helpers/desk.js';
import { H, M, buildIndexStore, cli, t0, type IndexStore } from '../helpers/index-store.js';
import { NEAR_MS, liveAlerts } from '../../src/desk/alerts.js';
import { caPaths } from '../../src/pki/ca.js';
import { openIndexDb, type IndexDb } from '../../src/index/database.js';
import type { AlertRecord } from '../../src/receiver/alerts-file.js';

const shots = mkdtempSync(join(tmpdir(), 'recgw-desk-alerts-shots-'));

/** The receiver's record of the alert for the ledger entry at `seq` of `device` (signed line, certificate in force). */
function alertRecord(store: string, device: string, seq: number, tamper?: (line: string) => string): string {
  const lines = readFileSync(join(store, device, 'ledger.jsonl'), 'utf8').trim().split('\n');
  const line = lines.find((l) => (JSON.parse(l) as { seq: number }).seq === seq)!;
  const cert = (JSON.parse(lines[0]!) as { body: { cert: string } }).body.cert;
  const e = JSON.parse(line) as { type: string; time: string };
  const kind = e.type === 'interruption.started' ? 'interruption-started' : e.type === 'interruption.ended' ? 'interruption-ended' : 'session-ended-early';
  const l = tamper ? tamper(line) : line;
  const r: AlertRecord = { v: 1, device, seq, hash: createHash('sha256').update(l).digest('hex'), kind, sent: e.time, late: false, receivedAt: new Date().toISOString(), receiver: 'receiver:1', line: l, cert };
  return JSON.stringify(r) + '\n';
}

describe('live alerts on the desk', () => {
  let s: IndexStore;
  let desk: TestDesk;
  let db: IndexDb;
  let browser: Browser;
  let page: Page;
  let url: string;
  const rebuild = async (): Promise<void> => {
    const r = await cli('index', 'rebuild', '--store', s.store, '--database', url, '--ca', caPaths(s.caDir).caCert, '--quiet');
    expect(r.code, r.err).toBe(0);
  };

  beforeAll(async () => {
    s = await buildIndexStore();
    url = `sqlite:${join(tmp('recgw-desk-db-'), 'index.db')}`;
    await rebuild();
    // The desk's clock 25 h on: car-2's unclosed hearing S-D (its only segment ended at t0 - 2:45, while the vehicle
    // was away; no receipt) is past its deadline by the rule, 24 h after the return to base at t0 - 10 min.
    desk = await startDesk(s.caDir, url, s.store, {}, () => Date.now() + 25 * H);
    db = await openIndexDb(url);
    ({ browser, page } = await launchChromium());
    console.info(`[desk-alerts] screenshots in ${shots}`);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await desk?.stop();
    await db?.close();
    cleanupTmp();
  });

  it('shows an interruption the gateway reports on the open page, and a named officer acknowledges it', async () => {
    await page.goto(`${desk.base}/login?next=/alerts`);
    await page.fill('#name', DESK_ACCOUNTS['evidence-officer']);
    await page.fill('#password', DESK_PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(`${desk.base}/alerts`);
    expect(await page.textContent('h1')).toBe('实时告警');
    expect(await page.$$('tr[data-kind="interruption-started"]')).toHaveLength(0);
    // Missed deadlines by the rule: car-2's unclosed hearing has a segment without a receipt past its deadline.
    const missed = await page.$$eval('tr[data-kind="deadline-missed"]', (rows) => rows.map((r) => r.getAttribute('data-key')));
    expect(missed).toContain('deadline-missed:car-2:S-D');

    // The power loss in S-B (seq 15) arrives as an alert, and a forged copy whose reason was changed after signing.
    appendFileSync(join(s.store, 'room-1', 'alerts.jsonl'), alertRecord(s.store, 'room-1', 15) + alertRecord(s.store, 'room-1', 12, (l) => l.replace('"reason":"site-change"', '"reason":"bad-weather"')));
    await rebuild();
    // No reload: the page loads itself again (meta refresh) and the alert is there.
    const row = await page.waitForSelector('tr[data-key="alert:room-1:15:interruption-started"]', { timeout: 25_000 });
    expect(await row.textContent()).toContain('断电');
    expect(await row.getAttribute('class')).toBe('unacked');
    expect(await page.$$('tr[data-key^="alert:room-1:12:"]')).toHaveLength(0);
    await page.screenshot({ path: join(shots, '01-alert.png'), fullPage: true });

    await row.$eval('input[name=note]', (el) => ((el as unknown as { value: string }).value = '已电话联系现场，设备断电'));
    await (await row.$('button[type=submit]'))!.click();
    await page.waitForURL(`${desk.base}/alerts?m=acked`);
    const acked = (await page.$('tr[data-key="alert:room-1:15:interruption-started"]'))!;
    expect(await acked.getAttribute('class')).toBe('acked');
    expect(await acked.textContent()).toMatch(new RegExp(`${DESK_ACCOUNTS['evidence-officer']} 于 .* 确认：已电话联系现场，设备断电`));
    await page.screenshot({ path: join(shots, '02-acknowledged.png'), fullPage: true });

    const [ack] = await db.query<{ name: string; note: string; at_ms: number }>('SELECT name, note, at_ms FROM desk_alert_acks WHERE alert_key = $1', ['alert:room-1:15:interruption-started']);
    expect(ack).toMatchObject({ name: DESK_ACCOUNTS['evidence-officer'], note: '已电话联系现场，设备断电' });
    const audit = await db.query<{ name: string; detail: string }>("SELECT name, detail FROM desk_audit WHERE action = 'ack-alert'");
    expect(audit.map((a) => [a.name, JSON.parse(a.detail) as unknown])).toEqual([
      [DESK_ACCOUNTS['evidence-officer'], { key: 'alert:room-1:15:interruption-started', kind: 'interruption-started', device: 'room-1', session: 'S-B', note: '已电话联系现场，设备断电' }],
    ]);

    // A second acknowledgement (another leader's tab) changes nothing and says so.
    const leader = await signedIn(desk.base, DESK_ACCOUNTS.leader);
    const again = await leader.post('/alerts/ack', { key: 'alert:room-1:15:interruption-started' }, { page: '/alerts' });
    expect([again.status, again.headers.location]).toEqual([303, '/alerts?m=already']);
    expect((await db.query('SELECT name FROM desk_alert_acks WHERE alert_key = $1', ['alert:room-1:15:interruption-started']))).toEqual([{ name: DESK_ACCOUNTS['evidence-officer'] }]);
  }, 90_000);

  it('says a deadline is near within two hours of it, and missed after it; received segments are no alert', async () => {
    const due = t0 - 10 * M + 24 * H; // the vehicle's rule: 24 h after its signed return to base
    const at = async (now: number): Promise<string[]> => (await liveAlerts(db, now)).filter((a) => a.kind.startsWith('deadline')).map((a) => a.key);
    expect(await at(due - NEAR_MS - M)).toEqual([]);
    expect(await at(due - NEAR_MS + M)).toEqual(['deadline-near:car-2:S-D']);
    expect(await at(due + M)).toEqual(['deadline-missed:car-2:S-D']);
  });

  it('refuses a read-only account: no form on the page, and its POST is refused with 403', async () => {
    const viewer = await signedIn(desk.base, DESK_ACCOUNTS['read-only']);
    const p = await viewer.get('/alerts');
    expect(p.status).toBe(200);
    expect(p.text).toContain('deadline-missed:car-2:S-D');
    expect(p.text).not.toContain('action="/alerts/ack"');
    const csrf = await viewer.csrf('/alerts');
    const a = await viewer.req('POST', '/alerts/ack', { form: { _csrf: csrf, key: 'deadline-missed:car-2:S-D' } });
    expect(a.status).toBe(403);
    expect(await db.query('SELECT name FROM desk_alert_acks WHERE alert_key = $1', ['deadline-missed:car-2:S-D'])).toEqual([]);
  });
});
