/**
 * The desk's audit trail is tamper-evident (docs/desk.md §5): over an SQLite index of the shared test store, with the
 * agency's signing key, every action (sign-in, search, a session viewed, statistics, a CSV export, an account added
 * with the CLI) is a row of one hash chain, each signed; /audit and `recgw desk audit-check` find it whole. A row
 * changed, a row removed, and a chain made again without the key are each found, by seq. Screenshots in a printed folder.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerify, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { launchChromium } from '../helpers/console.js';
import { DESK_ACCOUNTS, DESK_PASSWORD, cli as deskCli, signedIn, startDesk, type TestDesk } from '../helpers/desk.js';
import { buildIndexStore, cli, type IndexStore } from '../helpers/index-store.js';
import { caPaths } from '../../src/pki/ca.js';
import { openIndexDb, type IndexDb } from '../../src/index/database.js';
import { auditRecord, sha256 } from '../../src/desk/audit.js';

const shots = mkdtempSync(join(tmpdir(), 'recgw-desk-audit-shots-'));

describe('the desk audit chain', () => {
  let s: IndexStore;
  let desk: TestDesk;
  let db: IndexDb;

  beforeAll(async () => {
    s = await buildIndexStore();
    const url = `sqlite:${join(tmp('recgw-desk-db-'), 'index.db')}`;
    expect((await cli('index', 'rebuild', '--store', s.store, '--database', url, '--ca', caPaths(s.caDir).caCert, '--quiet')).code).toBe(0);
    desk = await startDesk(s.caDir, url, s.store, { sampleSigning: { key: caPaths(s.caDir).receiptKey, cert: caPaths(s.caDir).receiptCert } });
    db = await openIndexDb(url);
  }, 120_000);

  afterAll(async () => {
    await desk?.stop();
    await db?.close();
    cleanupTmp();
  });

  const check = () => deskCli(['desk', 'audit-check', '--config', desk.configFile]);

  it('keeps every action in one signed chain, found whole by the page and the CLI; a change, a removal and a chain made again are each found', async () => {
    const c = await signedIn(desk.base, DESK_ACCOUNTS.leader);
    expect((await c.get('/sessions?officer=13010002')).status).toBe(200);
    expect((await c.get('/sessions/car-2/S-C')).status).toBe(200);
    expect((await c.get('/stats')).status).toBe(200);
    expect((await c.get('/stats.csv?by=matter')).status).toBe(200);
    expect((await deskCli(['desk', 'account', 'add', 'clerk2', '--role', 'read-only', '--config', desk.configFile, '--password-stdin'], 'clerk password 5678')).code).toBe(0);

    const rows = await db.query<{ seq: number; name: string; action: string; detail: string; sha256: string; prev_sha256: string | null; signature: string; at_ms: number; ip: string }>(
      'SELECT seq, name, action, detail, sha256, prev_sha256, signature, at_ms, ip FROM desk_audit ORDER BY seq',
    );
    // The accounts the helper made (by the CLI), then the leader's actions, then the clerk's account.
    expect(rows.map((r) => r.action)).toEqual(['account-add', 'account-add', 'account-add', 'account-add', 'sign-in', 'search', 'view-session', 'view-stats', 'export-csv', 'account-add']);
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
    expect(JSON.parse(rows[5]!.detail)).toEqual({ officer: '13010002', rows: 2 });
    expect(JSON.parse(rows[9]!.detail)).toEqual({ account: 'clerk2', role: 'read-only' });
    expect(rows[9]!.name).toMatch(/^cli:/);
    // Each row by hand: its record hashes to its sha256, names the one before, and the agency key signed it.
    const cert = new X509Certificate(readFileSync(caPaths(s.caDir).receiptCert, 'utf8'));
    rows.forEach((r, i) => {
      const text = auditRecord({ seq: r.seq, at: Number(r.at_ms), name: r.name, action: r.action, ip: r.ip, detail: JSON.parse(r.detail) as Record<string, unknown>, prev: r.prev_sha256 });
      expect(sha256(text)).toBe(r.sha256);
      expect(r.prev_sha256).toBe(i === 0 ? null : rows[i - 1]!.sha256);
      expect(createVerify('sha256').update(text).verify(cert.publicKey, Buffer.from(r.signature, 'base64'))).toBe(true);
    });

    const whole = await check();
    expect(whole.code, whole.err).toBe(0);
    expect(whole.out).toMatch(/the desk audit chain is whole: 1\d rows, 1\d signed/);
    const { browser, page } = await launchChromium();
    const shot = async (name: string): Promise<void> => void (await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true }));
    try {
      await page.goto(`${desk.base}/login?next=/audit`);
      await page.fill('#name', DESK_ACCOUNTS.supervisor);
      await page.fill('#password', DESK_PASSWORD);
      await page.click('button[type=submit]');
      await page.waitForSelector('#audit-check');
      expect(await page.getAttribute('#audit-check', 'data-ok')).toBe('1');
      expect(await page.textContent('#audit-check')).toContain('操作记录链完整');
      // No auditAnchor in this desk's config: the page says the chain is not anchored.
      expect(await page.getAttribute('#audit-anchor', 'data-anchored')).toBe('none');
      await shot('audit-whole');

      // A row changed (who exported): its hash no longer matches.
      await db.query("UPDATE desk_audit SET name = 'viewer1' WHERE seq = 9");
      let r = await check();
      expect([r.code, r.out]).toEqual([1, expect.stringContaining('#9: its content does not hash to its sha256: the row was changed')]);
      await page.reload();
      expect(await page.getAttribute('#audit-check', 'data-ok')).toBe('0');
      expect(await page.textContent('#audit-check li[data-seq="9"]')).toContain('the row was changed');
      await shot('audit-changed');
      await db.query(`UPDATE desk_audit SET name = '${DESK_ACCOUNTS.leader}' WHERE seq = 9`);
      expect((await check()).code).toBe(0);

      // A row removed (the search): the next one no longer follows.
      const removed = (await db.query<Record<string, unknown>>('SELECT * FROM desk_audit WHERE seq = 6'))[0]!;
      await db.query('DELETE FROM desk_audit WHERE seq = 6');
      r = await check();
      expect(r.code).toBe(1);
      expect(r.out).toContain('#7: rows 6 to 6 are missing');
      const cols = Object.keys(removed);
      await db.query(`INSERT INTO desk_audit (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`, cols.map((k) => removed[k]));
      expect((await check()).code).toBe(0);

      // The chain made again from seq 6 on, hashes and all, without the key: the signatures give it away.
      const tail = await db.query<{ seq: number; name: string; action: string; detail: string; at_ms: number; ip: string }>('SELECT seq, name, action, detail, at_ms, ip FROM desk_audit WHERE seq >= 6 ORDER BY seq');
      let prev = rows[4]!.sha256;
      for (const t of tail) {
        const detail = t.seq === 6 ? { officer: 'someone else', rows: 0 } : (JSON.parse(t.detail) as Record<string, unknown>);
        const text = auditRecord({ seq: t.seq, at: Number(t.at_ms), name: t.name, action: t.action, ip: t.ip, detail, prev });
        await db.query('UPDATE desk_audit SET detail = $1, prev_sha256 = $2, sha256 = $3 WHERE seq = $4', [JSON.stringify(detail), prev, sha256(text), t.seq]);
        prev = sha256(text);
      }
      r = await check();
      expect(r.code).toBe(1);
      expect(r.out).toContain('#6: its signature does not verify');
      await page.reload();
      await shot('audit-remade');
    } finally {
      await browser.close();
    }
    console.info(`[desk-audit] screenshots in ${shots}`);
  }, 120_000);
});
