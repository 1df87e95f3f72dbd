/**
 * Viewing under approval (issue 18 part 1, docs/desk.md §6) in Chromium over the shared test store, indexed in SQLite
 * and in a real PostgreSQL, with the desk holding the agency key and signing its audit chain: an officer asks to view
 * a session, a leader approves it (view only, for 2 hours) and refuses another with a reason; the officer decrypts a
 * segment on the server (the bytes hash to the manifest's plaintext hash), is refused export under a view-only
 * approval and everything once the window has passed, with the Chinese message saying why. Attacks: decrypting with
 * no approval, under a pending or refused one, under somebody else's, approving one's own request, a supervisor
 * approving, and `recgw decrypt` without an approval, with a view-only one, another's, or a wrong password. The
 * register shows every act with the right person and reason, its CSV the same, and the audit chain stays whole.
 * No file holding the plaintext is left in the temp folder.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { filesHolding as leaks } from '../helpers/leaks.js';
import { launchChromium } from '../helpers/console.js';
import { DESK_ACCOUNTS, DESK_PASSWORD, cli as deskCli, signedIn, startDesk, type TestDesk } from '../helpers/desk.js';
import { buildIndexStore, cli, type IndexStore } from '../helpers/index-store.js';
import { createDatabase, withPostgres } from '../helpers/postgres.js';
import { caPaths, initCa } from '../../src/pki/ca.js';
import { DeskStore } from '../../src/desk/desk-store.js';
import { SegmentPlaintext } from '../../src/desk/plaintext.js';
import { openIndexDb, type IndexDb } from '../../src/index/database.js';
import { findManifest } from '../../src/evidence/find-manifest.js';
import { hashHex } from '../../src/evidence/segment-scheme.js';
import { checkAudit } from '../../src/desk/audit-check.js';
import { readCaBundle } from '../../src/cli/args.js';
import { Approvals, type ApprovalRefused } from '../../src/desk/approvals.js';
import { DeskAudit } from '../../src/desk/audit.js';
import { loadDeskConfig, parseDeskConfig, readAgencyKeys, readSampleSigner } from '../../src/desk/config.js';

const OFFICER = DESK_ACCOUNTS['evidence-officer'];
const LEADER = DESK_ACCOUNTS.leader;
const SUPER = DESK_ACCOUNTS.supervisor;
const REASON = '复议案件审查需要查看现场录像';
const H = 3600_000;

let s: IndexStore;
const pg = withPostgres();
const shots = mkdtempSync(join(tmpdir(), 'recgw-desk-access-shots-'));
const started = Date.now();

beforeAll(async () => {
  s = await buildIndexStore();
  console.info(`[desk-access] screenshots in ${shots}`);
}, 120_000);
afterAll(cleanupTmp);

const filesHolding = (dir: string, needle: Buffer): string[] => leaks(dir, needle, started);

describe.each(['sqlite', 'postgres'] as const)('viewing under approval, index on %s', (kind) => {
  let desk: TestDesk;
  let db: IndexDb;
  let browser: Browser;
  let clock = Date.now();
  const contexts: Record<string, { ctx: BrowserContext; page: Page }> = {};
  let shot = 0;
  let storeFolderOf: (device: string) => Promise<string>;
  let approved = '';
  let refused = '';
  let exportable = '';
  let expired = '';
  let own = '';

  const as = async (name: string): Promise<Page> => {
    if (!contexts[name]) {
      const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
      contexts[name] = { ctx, page: await ctx.newPage() };
    }
    const page = contexts[name].page;
    await page.goto(`${desk.base}/access`);
    if (new URL(page.url()).pathname === '/login') {
      await page.fill('#name', name);
      await page.fill('#password', DESK_PASSWORD);
      await page.click('button[type=submit]');
      await page.waitForURL(/\/access$/);
    }
    return page;
  };
  const snap = async (page: Page, name: string): Promise<void> => {
    await page.screenshot({ path: join(shots, `${kind}-${String(++shot).padStart(2, '0')}-${name}.png`), fullPage: true });
  };
  const ask = async (page: Page, sessions: string, reason: string, scope: 'view' | 'export'): Promise<string> => {
    await page.goto(`${desk.base}/access`);
    await page.fill('#f-sessions', sessions);
    await page.fill('#f-reason', reason);
    await page.selectOption('#f-scope', scope);
    await page.click('#request button[type=submit]');
    await page.waitForURL(/\/access\/[0-9a-f-]{36}\?m=requested$/);
    return new URL(page.url()).pathname.split('/')[2]!;
  };
  const segmentsOf = async (device: string, session: string): Promise<string[]> =>
    (await db.query<{ name: string }>('SELECT name FROM segments WHERE device_id = $1 AND session_id = $2 ORDER BY start_ms, name', [device, session])).map((r) => r.name);
  const plainSha = async (device: string, segment: string): Promise<string> => hashHex((await findManifest(await storeFolderOf(device), segment))!.plain);
  const errorText = async (page: Page): Promise<string> => (await page.textContent('.msg.error')) ?? '';

  beforeAll(async () => {
    const url = kind === 'postgres' ? await createDatabase(pg.server(), 'desk_access') : `sqlite:${join(tmp('recgw-desk-db-'), 'index.db')}`;
    expect((await cli('index', 'rebuild', '--store', s.store, '--database', url, '--ca', caPaths(s.caDir).caCert, '--quiet')).code).toBe(0);
    const p = caPaths(s.caDir);
    desk = await startDesk(s.caDir, url, s.store, { agencyKey: p.agencyKey, sampleSigning: { key: p.receiptKey, cert: p.receiptCert } }, () => clock);
    db = await openIndexDb(url);
    storeFolderOf = async (device) => join(s.store, (await db.query<{ folder: string }>('SELECT folder FROM devices WHERE device_id = $1', [device]))[0]!.folder);
    ({ browser } = await launchChromium());
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await desk?.stop();
    await db?.close();
  });

  it('an officer asks to view a session; nothing decrypts while it is pending', async () => {
    const page = await as(OFFICER);
    expect(await page.textContent('h1')).toBe('调阅申请');
    // From the session page's link, prefilled.
    await page.goto(`${desk.base}/sessions/car-2/S-C`);
    await page.click('a#ask-access');
    expect(await page.inputValue('#f-sessions')).toBe('car-2/S-C');
    approved = await ask(page, 'car-2/S-C', REASON, 'view');
    expect(await page.textContent('#r-state')).toBe('待审批');
    expect(await page.textContent('#r-requester')).toBe(OFFICER);
    expect(await page.$('#decide')).toBeNull(); // an officer decides nothing
    expect(await page.$('#segments')).toBeNull();
    await snap(page, 'requested');

    const seg = (await segmentsOf('car-2', 'S-C'))[0]!;
    await page.goto(`${desk.base}/access/${approved}/segments/car-2/${seg}`);
    expect(await errorText(page)).toContain('调阅申请尚待负责人审批，暂不能查看');
  });

  it('a leader cannot approve their own request, nor can a supervisor approve anybody’s', async () => {
    const leader = await as(LEADER);
    own = await ask(leader, 'room-1/S-A', '领导本人想看一下', 'view');
    // The form is not offered to the requester; the POST made anyway is refused.
    expect(await leader.$('#decide')).toBeNull();
    const c = await signedIn(desk.base, LEADER);
    const self = await c.post(`/access/${own}/decide`, { decision: 'approve', scope: 'view', hours: '2', note: '' }, { page: `/access/${own}` });
    expect(self.status).toBe(403);
    expect(self.text).toContain('不能审批自己提出的调阅申请：须由另一位负责人审批');
    const sup = await signedIn(desk.base, SUPER);
    const bySup = await sup.post(`/access/${approved}/decide`, { decision: 'approve', scope: 'export', hours: '2', note: '' }, { page: `/access/${approved}` });
    expect(bySup.status).toBe(403);
    expect(bySup.text).toContain('只有负责人才能审批调阅申请');
    expect((await db.query<{ state: string }>('SELECT state FROM desk_view_requests WHERE id IN ($1, $2)', [own, approved])).map((r) => r.state)).toEqual(['pending', 'pending']);
  });

  it('a leader approves view only for 2 hours; the officer decrypts a segment on the server, and may not export it', async () => {
    const leader = await as(LEADER);
    await leader.goto(`${desk.base}/access/${approved}`);
    await leader.selectOption('#f-scope', 'view');
    await leader.fill('#f-hours', '2');
    await leader.fill('#f-note', '同意查看');
    await leader.click('#approve');
    await leader.waitForURL(/\?m=approved$/);
    expect(await leader.textContent('#r-state')).toBe('已批准');
    expect(await leader.textContent('#r-scope')).toBe('仅查看');
    expect(await leader.textContent('#r-decider')).toContain(LEADER);
    expect(await leader.$('#segments')).toBeNull(); // the approval is the officer's, not the leader's
    await snap(leader, 'approved');
    // Decided once.
    const again = await (await signedIn(desk.base, LEADER)).post(`/access/${approved}/decide`, { decision: 'refuse', note: '改主意了' }, { page: `/access/${approved}` });
    expect(again.text).toContain('这份申请已经审批过了');

    const page = await as(OFFICER);
    await page.goto(`${desk.base}/access/${approved}`);
    const listed = await page.$$eval('#segments tbody tr', (rows) => rows.map((r) => r.getAttribute('data-segment')));
    expect(listed).toEqual(await segmentsOf('car-2', 'S-C'));
    expect(await page.$$('#segments a.export')).toHaveLength(0);
    await snap(page, 'segments');
    for (const seg of listed) {
      const href = await page.getAttribute(`#segments tr[data-segment="${seg}"] a.decrypt`, 'href');
      const res = await page.request.get(`${desk.base}${href!}`);
      expect(res.status()).toBe(200);
      expect(res.headers()['content-type']).toBe('video/mp2t');
      expect(res.headers()['content-disposition']).toMatch(/^inline/);
      expect(res.headers()['cache-control']).toBe('no-store');
      const body = await res.body();
      expect(createHash('sha256').update(body).digest('hex')).toBe(await plainSha('car-2', seg!));
      // Nothing holding the plaintext was written to any temp folder (the store's sealed file is ciphertext).
      expect(filesHolding(tmpdir(), body.subarray(0, 64))).toEqual([]);
    }
    const exp = await page.request.get(`${desk.base}/access/${approved}/segments/car-2/${listed[0]!}?download=1`);
    expect(exp.status()).toBe(403);
    expect(await exp.text()).toContain('批准的范围是“仅查看”，不能导出');
  });

  it('nobody but the requester acts under an approval, and a session it does not name is refused', async () => {
    const sup = await signedIn(desk.base, SUPER);
    const seg = (await segmentsOf('car-2', 'S-C'))[0]!;
    const other = await sup.get(`/access/${approved}/segments/car-2/${seg}`);
    expect(other.status).toBe(403);
    expect(other.text).toContain('这份调阅申请不是您提出的');
    expect(other.headers['content-type']).toMatch(/^text\/html/);
    const officer = await signedIn(desk.base, OFFICER);
    const roomSeg = (await segmentsOf('room-1', 'S-A'))[0]!;
    const notNamed = await officer.get(`/access/${approved}/segments/room-1/${roomSeg}`);
    expect(notNamed.status).toBe(403);
    expect(notNamed.text).toContain('没有经批准的调阅申请');
  });

  it('a leader refuses a request with a reason (none given: refused with a message); nothing decrypts under it', async () => {
    const page = await as(OFFICER);
    refused = await ask(page, 'car-2/S-D', '想看看听证现场', 'export');
    const leader = await as(LEADER);
    await leader.goto(`${desk.base}/access/${refused}`);
    await leader.click('#refuse');
    expect(await errorText(leader)).toContain('驳回时请写明理由');
    await leader.goto(`${desk.base}/access/${refused}`);
    await leader.fill('#f-note', '事由不充分');
    await leader.click('#refuse');
    await leader.waitForURL(/\?m=refused$/);
    expect(await leader.textContent('#r-state')).toBe('已驳回');
    expect(await leader.textContent('#r-note')).toBe('事由不充分');
    await snap(leader, 'refused');
    const seg = (await segmentsOf('car-2', 'S-D'))[0]!;
    await page.goto(`${desk.base}/access/${refused}/segments/car-2/${seg}`);
    expect(await errorText(page)).toContain(`调阅申请已被 ${LEADER} 驳回（事由不充分），不能查看`);
    await snap(page, 'refused-decrypt');
  });

  it('an approval to view and export lets the officer download a segment as an attachment', async () => {
    const page = await as(OFFICER);
    exportable = await ask(page, 'room-1/S-A', '移送司法机关需要导出录像', 'export');
    const leader = await as(LEADER);
    await leader.goto(`${desk.base}/access/${exportable}`);
    expect(await leader.inputValue('#f-scope')).toBe('export');
    await leader.fill('#f-hours', '1');
    await leader.click('#approve');
    await leader.waitForURL(/\?m=approved$/);
    await page.goto(`${desk.base}/access/${exportable}`);
    const seg = (await page.getAttribute('#segments tbody tr', 'data-segment'))!;
    const res = await page.request.get(`${desk.base}${(await page.getAttribute(`#segments tr[data-segment="${seg}"] a.export`, 'href'))!}`);
    expect(res.status()).toBe(200);
    expect(res.headers()['content-disposition']).toBe(`attachment; filename="${seg}.ts"`);
    expect(createHash('sha256').update(await res.body()).digest('hex')).toBe(await plainSha('room-1', seg));
  });

  it('recgw decrypt refuses without an approval, with a view-only or somebody else’s one, or a wrong password; under an export approval it writes the file and registers it', async () => {
    const dir = await storeFolderOf('room-1');
    const seg = (await segmentsOf('room-1', 'S-A'))[0]!;
    const out = join(tmp('recgw-decrypt-out-'), 'seg.ts');
    const base = ['decrypt', dir, seg, '--agency-key', caPaths(s.caDir).agencyKey, '--out', out, '--desk-config', desk.configFile];
    const noApproval = await deskCli([...base, '--as', OFFICER, '--reason', '移送司法机关'], DESK_PASSWORD);
    expect(noApproval.code).toBe(2);
    expect(noApproval.err).toContain('--approval is required');
    const noReason = await deskCli([...base, '--approval', exportable, '--as', OFFICER], DESK_PASSWORD);
    expect(noReason.code).toBe(2);
    expect(noReason.err).toContain('--reason is required');
    const wrongPassword = await deskCli([...base, '--approval', exportable, '--as', OFFICER, '--reason', '移送司法机关'], 'not the password');
    expect(wrongPassword.code).not.toBe(0);
    expect(wrongPassword.err).toContain('wrong password');
    const made = await deskCli([...base, '--approval', '00000000-0000-4000-8000-000000000000', '--as', OFFICER, '--reason', '移送司法机关'], DESK_PASSWORD);
    expect(made.code).toBe(1);
    expect(made.err).toContain('没有这份调阅申请');
    const notTheirs = await deskCli([...base, '--approval', exportable, '--as', LEADER, '--reason', '移送司法机关'], DESK_PASSWORD);
    expect(notTheirs.code).toBe(1);
    expect(notTheirs.err).toContain('这份调阅申请不是您提出的');
    // The view-only approval names car-2/S-C: for room-1 it covers nothing; for car-2 it is view only.
    const carSeg = (await segmentsOf('car-2', 'S-C'))[0]!;
    const viewOnly = await deskCli(['decrypt', await storeFolderOf('car-2'), carSeg, ...base.slice(3), '--approval', approved, '--as', OFFICER, '--reason', '复议审查'], DESK_PASSWORD);
    expect(viewOnly.code).toBe(1);
    expect(viewOnly.err).toContain('批准的范围是“仅查看”，不能导出');
    expect(existsSync(out) || existsSync(`${out}.partial`)).toBe(false);

    // A sealed file changed in a copy of the folder: checked in memory first, nothing written.
    const copy = join(tmp('recgw-decrypt-copy-'), basename(dir));
    cpSync(dir, copy, { recursive: true });
    const file = (await findManifest(copy, seg))!.file;
    const bytes = readFileSync(join(copy, file));
    bytes[100] = bytes[100]! ^ 1;
    writeFileSync(join(copy, file), bytes);
    const changed = await deskCli(['decrypt', copy, seg, ...base.slice(3), '--approval', exportable, '--as', OFFICER, '--reason', '移送司法机关'], DESK_PASSWORD);
    expect(changed.code).toBe(1);
    expect(changed.err).toContain('nothing written');
    expect(existsSync(out) || existsSync(`${out}.partial`)).toBe(false);

    // A partial file a killed decrypt left is removed, and said so.
    writeFileSync(`${out}.partial`, 'left by a decrypt that was killed');
    const ok = await deskCli([...base, '--approval', exportable, '--as', OFFICER, '--reason', '移送司法机关'], DESK_PASSWORD);
    expect(ok.err).toBe(`removed ${out}.partial, left by an earlier decrypt that did not finish\n`);
    expect(ok.code).toBe(0);
    expect(existsSync(`${out}.partial`)).toBe(false);
    const plain = readFileSync(out);
    expect(createHash('sha256').update(plain).digest('hex')).toBe(await plainSha('room-1', seg));
    // The scan the desk's decryptions are checked with finds the one file an export was asked to write, and no other
    // (no partial file, nothing beside it).
    expect(filesHolding(tmpdir(), plain.subarray(0, 64))).toEqual([out]);
    rmSync(out); // the export done with: the next scans find nothing of it
  });

  it('once the window has passed, the approval is refused with a clear message, in the desk and the CLI', async () => {
    clock += 2 * H + 60_000; // past the view-only approval's 2 hours (and the export approval's 1)
    const page = await as(OFFICER); // signed in again: the idle session has expired too
    await page.goto(`${desk.base}/access/${approved}`);
    expect(await page.textContent('#r-state')).toBe('已过期');
    expect(await page.$('#segments')).toBeNull(); // no links to follow once it has expired
    const seg = (await segmentsOf('car-2', 'S-C'))[0]!;
    await page.goto(`${desk.base}/access/${approved}/segments/car-2/${seg}`);
    expect(await errorText(page)).toMatch(/批准已于 .+ 过期，不能再查看或导出：请重新申请/);
    await snap(page, 'expired');
    // `recgw decrypt` reads the real clock: an export approval given (by the desk's clock) 3 hours ago for 1 hour.
    clock = Date.now() - 3 * H;
    expired = await ask(await as(OFFICER), 'room-1/S-A', '补充取证需要再导出', 'export');
    const leader = await as(LEADER);
    await leader.goto(`${desk.base}/access/${expired}`);
    await leader.fill('#f-hours', '1');
    await leader.click('#approve');
    await leader.waitForURL(/\?m=approved$/);
    clock = Date.now();
    const roomSeg = (await segmentsOf('room-1', 'S-A'))[0]!;
    const out = join(tmp('recgw-decrypt-out-'), 'late.ts');
    const late = await deskCli(['decrypt', await storeFolderOf('room-1'), roomSeg, '--agency-key', caPaths(s.caDir).agencyKey, '--out', out, '--desk-config', desk.configFile, '--approval', expired, '--as', OFFICER, '--reason', '再导出一次'], DESK_PASSWORD);
    expect(late.code).toBe(1);
    expect(late.err).toContain('批准已于');
    expect(existsSync(out)).toBe(false);
  });

  it('the register shows every act with the right person, reason and approval; its CSV the same; the chain is whole', async () => {
    const page = await as(SUPER);
    await page.click('header a[href="/register"]');
    await page.waitForURL(/\/register$/);
    expect(await page.textContent('h1')).toBe('调阅登记簿');
    await snap(page, 'register');
    const rows = await page.$$eval('#register tbody tr', (trs) =>
      trs.map((r) => ({
        act: r.getAttribute('data-act'),
        request: r.getAttribute('data-request'),
        who: r.querySelector('.who')!.textContent,
        why: r.querySelector('.why')!.textContent,
        approver: r.querySelector('.approver')!.textContent,
        sessions: r.querySelector('.sessions')!.textContent,
      })),
    );
    const of = (act: string, request: string) => rows.filter((r) => r.act === act && r.request === request);
    expect(of('view-request', approved)).toEqual([{ act: 'view-request', request: approved, who: OFFICER, why: REASON, approver: '', sessions: 'car-2/S-C' }]);
    expect(of('view-approve', approved)).toEqual([{ act: 'view-approve', request: approved, who: LEADER, why: REASON, approver: LEADER, sessions: 'car-2/S-C' }]);
    const decrypted = of('decrypt', approved);
    expect(decrypted).toHaveLength((await segmentsOf('car-2', 'S-C')).length);
    for (const r of decrypted) expect(r).toMatchObject({ who: OFFICER, why: REASON, approver: LEADER });
    expect(of('denied:export', approved)[0]).toMatchObject({ who: OFFICER });
    expect(of('denied:decrypt', approved).map((r) => r.who).sort()).toEqual([OFFICER, OFFICER, OFFICER, SUPER].sort()); // pending, another's, a session it does not name, expired
    expect(of('view-refuse', refused)).toEqual([{ act: 'view-refuse', request: refused, who: LEADER, why: '想看看听证现场', approver: LEADER, sessions: 'car-2/S-D' }]);
    expect(of('denied:decrypt', refused)).toHaveLength(1);
    expect(of('export', exportable).map((r) => r.why)).toEqual(['移送司法机关 — 移送司法机关需要导出录像', '移送司法机关 — 移送司法机关需要导出录像', '移送司法机关需要导出录像']); // the CLI's two (newest first: the one written, the one of a changed file that wrote nothing), then the desk's
    expect(of('denied:export', exportable).map((r) => r.who)).toEqual([LEADER]); // under another's approval
    expect(of('denied:export', expired)).toMatchObject([{ who: OFFICER, why: '再导出一次 — 补充取证需要再导出' }]);
    // The own request a leader could not approve stays pending: no decision in the register.
    expect(of('view-request', own)).toMatchObject([{ who: LEADER, why: '领导本人想看一下' }]);
    expect(rows.filter((r) => r.request === own && r.act !== 'view-request')).toEqual([]);

    const csv = await page.request.get(`${desk.base}/register.csv`);
    expect(csv.status()).toBe(200);
    expect(csv.headers()['content-disposition']).toMatch(/^attachment; filename="recgw-register-/);
    const text = (await csv.text()).replace(/^\uFEFF/, '');
    const lines = text.trim().split('\r\n');
    expect(lines[0]).toBe('seq,time,who,act,sessions,what,why,request,approved_by,address,via');
    expect(lines).toHaveLength(rows.length + 1);
    expect(lines.some((l) => l.includes(`,${OFFICER},解密,car-2/S-C,`) && l.includes(REASON) && l.includes(approved) && l.endsWith(',desk'))).toBe(true);
    expect(lines.some((l) => l.includes(`,${OFFICER},导出,room-1/S-A,`) && l.includes('移送司法机关 — ') && l.endsWith(',cli'))).toBe(true);

    const officer = await signedIn(desk.base, OFFICER);
    expect((await officer.get('/register')).status).toBe(403);
    expect((await officer.get('/register.csv')).status).toBe(403);

    const chain = await checkAudit(db, readCaBundle(caPaths(s.caDir).caCert));
    expect(chain.problems).toEqual([]);
    expect(chain.ok).toBe(true);
    expect(chain.signed).toBe(chain.entries);
  });

  it('a sealed file altered after sealing is refused with the reason, and not one byte of plaintext is sent', async () => {
    const page = await as(OFFICER);
    const id = await ask(page, 'room-1/S-B', '核对被篡改的录像文件', 'view');
    const leader = await as(LEADER);
    await leader.goto(`${desk.base}/access/${id}`);
    await leader.click('#approve');
    await leader.waitForURL(/\?m=approved$/);
    const seg = (await segmentsOf('room-1', 'S-B'))[0]!;
    const m = (await findManifest(await storeFolderOf('room-1'), seg))!;
    const file = join(await storeFolderOf('room-1'), m.file);
    const orig = readFileSync(file);
    const bad = Buffer.from(orig);
    bad[10]! ^= 1;
    writeFileSync(file, bad);
    try {
      const res = await page.request.get(`${desk.base}/access/${id}/segments/room-1/${seg}`);
      expect(res.status()).toBe(400);
      expect(res.headers()['content-type']).toMatch(/^text\/html/);
      expect(await res.text()).toContain('the GCM authentication tag does not match: the sealed file was altered');
    } finally {
      writeFileSync(file, orig);
    }
    const ok = await page.request.get(`${desk.base}/access/${id}/segments/room-1/${seg}`);
    expect(createHash('sha256').update(await ok.body()).digest('hex')).toBe(hashHex(m.plain));
  });

  it('two leaders deciding one request at once: exactly one decision stands', async () => {
    const signer = readSampleSigner(loadDeskConfig(desk.configFile));
    const approvals = new Approvals(db, new DeskAudit(db, Date.now, signer), Date.now, 'Asia/Shanghai', readCaBundle(caPaths(s.caDir).caCert));
    const r = await approvals.request({ name: OFFICER, role: 'evidence-officer', ip: 'test' }, { sessions: ['room-1/S-B'], reason: '并发审批测试', scope: 'view' });
    const results = await Promise.allSettled([
      approvals.decide({ name: LEADER, role: 'leader', ip: 'test' }, r.id, { approve: true, scope: 'view', hours: 1 }),
      approvals.decide({ name: 'leader2', role: 'leader', ip: 'test' }, r.id, { approve: false, note: '不同意' }),
    ]);
    expect(results.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((x) => x.status === 'rejected') as PromiseRejectedResult;
    expect((lost.reason as ApprovalRefused).key).toBe('access.decidedAlready');
    const rows = await db.query<{ action: string }>("SELECT action FROM desk_audit WHERE action IN ('view-approve', 'view-refuse') AND detail LIKE $1", [`%${r.id}%`]);
    expect(rows).toHaveLength(1);
    expect((await checkAudit(db, readCaBundle(caPaths(s.caDir).caCert))).ok).toBe(true);
  });

  it('a request or decision whose register row cannot be written is not kept either', async () => {
    // The register row fails at its last step (the signature), inside the transaction that also keeps the change.
    const good = readSampleSigner(loadDeskConfig(desk.configFile))!;
    const failing = { certificatePem: good.certificatePem, suite: good.suite, sign: (): Buffer => { throw new Error('the signing key went away'); } };
    const broken = new Approvals(db, new DeskAudit(db, Date.now, failing), Date.now, 'Asia/Shanghai', readCaBundle(caPaths(s.caDir).caCert));
    const count = async (): Promise<number> => Number((await db.query<{ n: number | string }>('SELECT COUNT(*) AS n FROM desk_view_requests'))[0]!.n);
    const before = await count();
    await expect(broken.request({ name: OFFICER, role: 'evidence-officer', ip: 'test' }, { sessions: ['room-1/S-B'], reason: '签名失败测试', scope: 'view' })).rejects.toThrow('the signing key went away');
    expect(await count()).toBe(before);
    const working = new Approvals(db, new DeskAudit(db, Date.now, good), Date.now, 'Asia/Shanghai', readCaBundle(caPaths(s.caDir).caCert));
    const r = await working.request({ name: OFFICER, role: 'evidence-officer', ip: 'test' }, { sessions: ['room-1/S-B'], reason: '签名失败测试', scope: 'view' });
    await expect(broken.decide({ name: LEADER, role: 'leader', ip: 'test' }, r.id, { approve: true, scope: 'view', hours: 1 })).rejects.toThrow('the signing key went away');
    expect((await working.get(r.id))!.state).toBe('pending');
    expect((await checkAudit(db, readCaBundle(caPaths(s.caDir).caCert))).ok).toBe(true);
  });

  it('an agency key readable by others, or not a key, stops the desk with the config key named', () => {
    const dir = tmp('recgw-desk-key-');
    const loose = join(dir, 'agency-key.pem');
    writeFileSync(loose, readFileSync(caPaths(s.caDir).agencyKey), { mode: 0o644 });
    const base = JSON.parse(readFileSync(desk.configFile, 'utf8')) as Record<string, unknown>;
    expect(() => readAgencyKeys(parseDeskConfig({ ...base, agencyKey: loose }, dir))).toThrow(/^agencyKey in the desk config: .*is readable by others \(mode 644\): run chmod 600/);
    const notKey = join(dir, 'cert.pem');
    writeFileSync(notKey, readFileSync(caPaths(s.caDir).caCert), { mode: 0o600 });
    expect(() => readAgencyKeys(parseDeskConfig({ ...base, agencyKey: notKey }, dir))).toThrow(/^agencyKey in the desk config: .*is not a valid private key PEM/);
    expect(() => parseDeskConfig({ ...base, agencyKey: 7 }, dir)).toThrow(/agencyKey: must be the agency's private decryption key/);
  });

  it('during a migration between suites the desk holds two agency keys and decrypts each segment with the one its manifest names', async () => {
    const dir = tmp('recgw-desk-keys-');
    const gm = initCa({ out: join(dir, 'gm'), suite: 'gm' });
    const base = JSON.parse(readFileSync(desk.configFile, 'utf8')) as Record<string, unknown>;
    const both = parseDeskConfig({ ...base, agencyKey: [gm.agencyKey, caPaths(s.caDir).agencyKey] }, dir);
    expect(both.agencyKey).toEqual([gm.agencyKey, caPaths(s.caDir).agencyKey]);
    expect(() => parseDeskConfig({ ...base, agencyKey: [] }, dir)).toThrow(/agencyKey: must be .* or a list of two during a migration/);
    expect(() => parseDeskConfig({ ...base, agencyKey: [gm.agencyKey, 7] }, dir)).toThrow(/agencyKey: must be/);
    const seg = (await segmentsOf('room-1', 'S-A'))[0]!;
    // The gm key first: the intl segment is still opened with the intl key, which its manifest names.
    const plaintext = new SegmentPlaintext(db, readAgencyKeys(both), new DeskStore(db, undefined, undefined));
    const located = (await plaintext.locate('room-1', seg))!;
    const { stream } = await plaintext.open(located);
    const h = createHash('sha256');
    for await (const c of stream) h.update(c as Buffer);
    expect(h.digest('hex')).toBe(await plainSha('room-1', seg));
    // Only the other suite's key: refused, naming the key the segment needs.
    const gmOnly = new SegmentPlaintext(db, readAgencyKeys(parseDeskConfig({ ...base, agencyKey: gm.agencyKey }, dir)), new DeskStore(db, undefined, undefined));
    await expect(gmOnly.open(located)).rejects.toThrow(/its data key is wrapped for agency key [0-9a-f]{64}, which the desk config's agencyKey does not hold/);
  });

  it('an approval made by editing the database, without its signed register row, counts for nothing', async () => {
    // The refused request turned into an approval to export for a day, and the approved one widened to export: by
    // whoever can write the database but does not hold the desk's signing key.
    await db.query("UPDATE desk_view_requests SET state = 'approved', scope = 'export', valid_from_ms = $2, valid_until_ms = $3 WHERE id = $1", [refused, Date.now() - H, Date.now() + 24 * H]);
    const officer = await signedIn(desk.base, OFFICER);
    const seg = (await segmentsOf('car-2', 'S-D'))[0]!;
    for (const q of ['', '?download=1']) {
      const a = await officer.get(`/access/${refused}/segments/car-2/${seg}${q}`);
      expect(a.status).toBe(403);
      expect(a.text).toContain('这份批准在登记簿中没有相符的有效签名记录');
    }
    const r = await db.query<{ valid_until_ms: number | string }>('SELECT valid_until_ms FROM desk_view_requests WHERE id = $1', [approved]);
    await db.query("UPDATE desk_view_requests SET scope = 'export', valid_until_ms = $2 WHERE id = $1", [approved, Date.now() + 24 * H]);
    const carSeg = (await segmentsOf('car-2', 'S-C'))[0]!;
    const widened = await officer.get(`/access/${approved}/segments/car-2/${carSeg}?download=1`);
    expect(widened.status).toBe(403);
    expect(widened.text).toContain('这份批准在登记簿中没有相符的有效签名记录');
    const out = join(tmp('recgw-decrypt-out-'), 'forged.ts');
    const cliTry = await deskCli(['decrypt', await storeFolderOf('car-2'), carSeg, '--agency-key', caPaths(s.caDir).agencyKey, '--out', out, '--desk-config', desk.configFile, '--approval', approved, '--as', OFFICER, '--reason', '伪造的批准'], DESK_PASSWORD);
    expect(cliTry.code).toBe(1);
    expect(cliTry.err).toContain('这份批准在登记簿中没有相符的有效签名记录');
    expect(existsSync(out)).toBe(false);
    await db.query("UPDATE desk_view_requests SET scope = 'view', valid_until_ms = $2 WHERE id = $1", [approved, Number(r[0]!.valid_until_ms)]);
  });
});
