/**
 * The evidence desk's security (issue 17 item 2), with plain HTTPS requests against a desk over an SQLite index of
 * the shared test store: every route walked without a sign-in (sign-in page or 401) and per role (read-only refused
 * every write with 403), CSRF tokens missing, forged or from another browser refused with 403, cookie flags and the
 * CSP, sign-in throttling, and every sign-in, failure and sign-out in the audit table; hostile query strings, path
 * parameters and form fields on every route, as every role, answered without a 5xx or a stack trace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { join } from 'node:path';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { Client } from '../helpers/console.js';
import { DESK_ACCOUNTS, DESK_PASSWORD, cli as deskCli, signedIn, startDesk, type TestDesk } from '../helpers/desk.js';
import { A, H, ZHANG, buildIndexStore, cli, t0, type IndexStore } from '../helpers/index-store.js';
import { caPaths } from '../../src/pki/ca.js';
import { openIndexDb, type IndexDb } from '../../src/index/database.js';
import type { DeskRoute } from '../../src/desk/server.js';
import type { Role } from '../../src/desk/roles.js';
import { Samples } from '../../src/desk/samples.js';
import { loadDeskConfig, readSampleSigner } from '../../src/desk/config.js';
import { Approvals } from '../../src/desk/approvals.js';
import { readCaBundle } from '../../src/cli/args.js';
import { DeskAudit } from '../../src/desk/audit.js';
import { Retention } from '../../src/desk/retention.js';

/** A route's path with its parameters filled in with a session the index holds and a signed sample check drawn over it. */
let sampleId = '';
/** And a viewing request of the session, the evidence officer's, approved by the leader, and one of its segments. */
let requestId = '';
let segment = '';
/** And a pending request to mark the session as evidence, the evidence officer's. */
let retentionId = '';
const path = (r: DeskRoute): string =>
  r.url.replace(':grant', 'A'.repeat(24)).replace(':device', 'room-1').replace(':session', 'S-A').replace(':segment', segment).replace(':id', r.url.startsWith('/access/') ? requestId : r.url.startsWith('/retention/') ? retentionId : sampleId);

describe('desk security', () => {
  let s: IndexStore;
  let desk: TestDesk;
  let db: IndexDb;
  let url: string;

  beforeAll(async () => {
    s = await buildIndexStore();
    url = `sqlite:${join(tmp('recgw-desk-db-'), 'index.db')}`;
    const r = await cli('index', 'rebuild', '--store', s.store, '--database', url, '--ca', caPaths(s.caDir).caCert, '--quiet');
    expect(r.code).toBe(0);
    const signing = { key: caPaths(s.caDir).receiptKey, cert: caPaths(s.caDir).receiptCert };
    desk = await startDesk(s.caDir, url, s.store, { login: { attempts: 3, windowSeconds: 60 }, sampleSigning: signing, agencyKey: caPaths(s.caDir).agencyKey });
    db = await openIndexDb(url);
    // A signed sample of every session, so that the walk reaches its page and its downloads.
    const samples = new Samples(db);
    const drawn = await samples.draw({ name: DESK_ACCOUNTS.supervisor, fromMs: t0 - 48 * H, toMs: t0 + H, percent: 100, now: t0 });
    for (const [n, i] of drawn.items.entries()) await samples.check(drawn.id, n, { ...i.facts, note: '' }, DESK_ACCOUNTS.supervisor, t0);
    await samples.sign(drawn.id, readSampleSigner(loadDeskConfig(desk.configFile))!, DESK_ACCOUNTS.supervisor, t0);
    sampleId = drawn.id;
    // Written as the desk writes it, signed: an approval without its signed register row counts for nothing.
    const approvals = new Approvals(db, new DeskAudit(db, Date.now, readSampleSigner(loadDeskConfig(desk.configFile))), Date.now, 'Asia/Shanghai', readCaBundle(caPaths(s.caDir).caCert));
    const asked = await approvals.request({ name: DESK_ACCOUNTS['evidence-officer'], role: 'evidence-officer', ip: 'test' }, { sessions: ['room-1/S-A'], reason: '安全测试需要查看', scope: 'view' });
    await approvals.decide({ name: DESK_ACCOUNTS.leader, role: 'leader', ip: 'test' }, asked.id, { approve: true, scope: 'view', hours: 12 });
    requestId = asked.id;
    const retention = new Retention(db, new DeskAudit(db, Date.now, readSampleSigner(loadDeskConfig(desk.configFile))), Date.now, 1, 'Asia/Shanghai', readCaBundle(caPaths(s.caDir).caCert));
    retentionId = (await retention.request({ name: DESK_ACCOUNTS['evidence-officer'], role: 'evidence-officer', ip: 'test' }, { kind: 'evidence', sessions: ['room-1/S-A'], reason: '安全测试的证据标记', caseRef: 'CASE-SEC-1' })).id;
    segment = (await db.query<{ name: string }>("SELECT name FROM segments WHERE device_id = 'room-1' AND session_id = 'S-A' ORDER BY start_ms LIMIT 1"))[0]!.name;
  }, 120_000);

  afterAll(async () => {
    await desk?.stop();
    await db?.close();
    cleanupTmp();
  });

  const audit = async (action: string): Promise<{ name: string; detail: string }[]> =>
    db.query<{ name: string; detail: string }>('SELECT name, detail FROM desk_audit WHERE action = $1 ORDER BY at_ms, id', [action]);

  it('has the routes it should, each with a declared access', () => {
    const table = desk.server.routes.map((r) => `${r.method} ${r.url} ${r.access}`);
    for (const want of [
      'GET /sessions read',
      'GET /sessions/:device/:session read',
      'POST /sessions/:device/:session/verify write',
      'GET /stats read',
      'GET /stats.csv read',
      'GET /audit oversee',
      'POST /login anon',
      'POST /logout read',
      'GET /alerts read',
      'POST /alerts/ack write',
      'GET /samples read',
      'POST /samples supervise',
      'GET /samples/:id read',
      'POST /samples/:id/check supervise',
      'POST /samples/:id/sign supervise',
      'GET /samples/:id/report.json read',
      'GET /samples/:id/report.sig read',
      'GET /stats.json read',
      'GET /assets/echarts.min.js public',
      'GET /assets/desk-charts.js public',
      'GET /assets/desk-track.js public',
      'GET /access read',
      'POST /access write',
      'GET /access/:id read',
      'POST /access/:id/decide write',
      'GET /access/:id/segments/:device/:segment read',
      'GET /access/:id/play/:device/:session read',
      'GET /play/:grant/:segment read',
      'GET /assets/mpegts.js public',
      'GET /assets/desk-play.js public',
      'GET /register oversee',
      'GET /register.csv oversee',
      'GET /retention read',
      'POST /retention write',
      'GET /retention/:id read',
      'POST /retention/:id/decide write',
    ]) {
      expect(table).toContain(want);
    }
  });

  it('refuses every route but the stylesheet and the sign-in page without a sign-in', async () => {
    const c = new Client(desk.base);
    for (const r of desk.server.routes) {
      const a = await c.req(r.method, path(r), r.method === 'POST' ? { form: {} } : {});
      const what = `${r.method} ${r.url}`;
      if (r.access === 'public') expect(a.status, what).toBe(200);
      else if (r.access === 'anon') expect(a.status, what).toBe(r.method === 'GET' ? 200 : 403); // POST /login without a CSRF token
      else if (r.method === 'GET') expect([a.status, a.headers.location], what).toEqual([303, `/login?next=${encodeURIComponent(path(r))}`]);
      else expect(a.status, what).toBe(401);
      // Nothing of the evidence on a refusal: not the session's party, case reference or officers.
      for (const secret of [A.party!, A.caseRef!, ZHANG.badge]) expect(a.text, what).not.toContain(secret);
    }
  });

  it.each(Object.entries(DESK_ACCOUNTS) as [Role, string][])('lets %s read every page, and write only when its role may', async (role, name) => {
    const c = await signedIn(desk.base, name);
    for (const r of desk.server.routes.filter((x) => x.method === 'GET' && x.access !== 'public' && x.access !== 'anon')) {
      const a = await c.get(path(r));
      const oversees = role === 'leader' || role === 'supervisor';
      // The viewing request is shown to its requester and to those who oversee; only its requester decrypts under it.
      const want =
        r.url === '/' ? 303
        : r.access === 'oversee' && !oversees ? 403
        : r.url === '/access/:id' ? (role === 'evidence-officer' || oversees ? 200 : 404)
        : r.url === '/access/:id/segments/:device/:segment' || r.url === '/access/:id/play/:device/:session' ? (role === 'evidence-officer' ? 200 : 403)
        : r.url === '/play/:grant/:segment' ? 403 // no playback was opened under that grant
        : 200;
      expect(a.status, `${role} GET ${r.url}`).toBe(want);
    }
    const csrf = await c.csrf('/sessions');
    for (const r of desk.server.routes.filter((x) => x.method === 'POST' && x.access === 'write')) {
      const a = await c.req('POST', path(r), { form: { _csrf: csrf } });
      // An empty viewing request is refused as input; an empty decision is a refusal without its reason (a leader's)
      // or not the role's to make.
      const want = r.url === '/access' || r.url === '/retention' ? 400 : r.url === '/access/:id/decide' || r.url === '/retention/:id/decide' ? (role === 'leader' ? 400 : 403) : 303;
      if (role === 'read-only') expect(a.status, `${role} POST ${r.url}`).toBe(403);
      else expect(a.status, `${role} POST ${r.url}`).toBe(want);
    }
    // The sample check's writes: a supervisor's only (an empty draw form is refused as input, not by role).
    const supervise = desk.server.routes.filter((x) => x.method === 'POST' && x.access === 'supervise');
    expect(supervise.length).toBe(3);
    for (const r of supervise) {
      const a = await c.req('POST', path(r), { form: { _csrf: csrf } });
      if (role !== 'supervisor') expect(a.status, `${role} POST ${r.url}`).toBe(403);
      else expect(a.status, `${role} POST ${r.url}`).toBe(r.url === '/samples' ? 400 : 303);
    }
  }, 60_000);

  it('refuses a POST whose CSRF token is missing, forged or from another browser, for every POST route', async () => {
    const c = await signedIn(desk.base, DESK_ACCOUNTS['evidence-officer']);
    const other = await signedIn(desk.base, DESK_ACCOUNTS.leader);
    const foreign = await other.csrf('/sessions');
    for (const r of desk.server.routes.filter((x) => x.method === 'POST')) {
      for (const form of [{}, { _csrf: 'forged' }, { _csrf: foreign }] as Record<string, string>[]) {
        const a = await c.req('POST', path(r), { form: { ...form, name: 'x', password: 'y' } });
        expect(a.status, `POST ${r.url} with ${JSON.stringify(form).slice(0, 20)}`).toBe(403);
      }
    }
    // Still signed in: none of those signed it out.
    expect((await c.get('/sessions')).status).toBe(200);
  });

  it('sets only __Host- cookies that are HttpOnly, Secure and SameSite=Strict, and a CSP without inline script', async () => {
    const c = new Client(desk.base);
    const page = await c.get('/login?lang=en');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const ok = await c.req('POST', '/login', { form: { _csrf: csrf, name: DESK_ACCOUNTS.supervisor, password: DESK_PASSWORD } });
    const cookies = [...((page.headers['set-cookie'] as string[]) ?? []), ...((ok.headers['set-cookie'] as string[]) ?? [])];
    expect(cookies.map((x) => x.split('=')[0]).sort()).toEqual(['__Host-desk', '__Host-desk-csrf', '__Host-desk-lang']);
    for (const x of cookies) for (const flag of [/; Path=\/(;|$)/, /; HttpOnly/, /; Secure/, /; SameSite=Strict/]) expect(x, x).toMatch(flag);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(String(page.headers['strict-transport-security'])).toContain('max-age=31536000');
  });

  it('speaks zh-CN unless asked for English, and remembers the choice', async () => {
    const c = new Client(desk.base);
    expect((await c.get('/login')).text).toContain('<html lang="zh-CN">');
    expect((await c.get('/login')).text).toContain('账户名');
    expect((await c.get('/login?lang=en')).text).toContain('Account name');
    expect((await c.get('/login')).text).toContain('<html lang="en">');
  });

  it('throttles sign-in per address and name, and audits every attempt', async () => {
    const c = new Client(desk.base);
    const before = (await audit('sign-in-failed')).length;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const csrf = await c.csrf('/login');
      statuses.push((await c.req('POST', '/login', { form: { _csrf: csrf, name: 'guess', password: `wrong ${i}` } })).status);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    // The right password does not get through the throttle either.
    const csrf = await c.csrf('/login');
    const locked = await c.req('POST', '/login', { form: { _csrf: csrf, name: 'guess', password: DESK_PASSWORD } });
    expect(locked.status).toBe(429);
    expect(locked.text).toMatch(/登录失败次数过多，请 \d+ 秒后再试/);
    const failed = (await audit('sign-in-failed')).slice(before);
    expect(failed.map((f) => [f.name, JSON.parse(f.detail).reason])).toEqual([
      ['guess', 'bad-name-or-password'],
      ['guess', 'bad-name-or-password'],
      ['guess', 'bad-name-or-password'],
      ['guess', 'throttled'],
      ['guess', 'throttled'],
    ]);
    // Another name from the same address is not locked out by it.
    expect((await signedIn(desk.base, DESK_ACCOUNTS.leader)).cookies.has('__Host-desk')).toBe(true);
  });

  it('audits sign-in and sign-out, and a signed-out cookie signs nothing in', async () => {
    const c = await signedIn(desk.base, DESK_ACCOUNTS['read-only']);
    const token = c.cookies.get('__Host-desk')!;
    const out = await c.post('/logout', {}, { page: '/sessions' });
    expect([out.status, out.headers.location]).toEqual([303, '/login']);
    const replay = new Client(desk.base);
    replay.cookies.set('__Host-desk', token);
    expect((await replay.get('/sessions')).status).toBe(303);
    expect((await audit('sign-in')).map((a) => a.name)).toContain(DESK_ACCOUNTS['read-only']);
    expect((await audit('sign-out')).map((a) => a.name)).toEqual([DESK_ACCOUNTS['read-only']]);
  });

  it('adds accounts from the command line: a generated password printed once, a bad role or name named with the fix', async () => {
    const made = await deskCli(['desk', 'account', 'add', '王五', '--role', '负责人', '--config', desk.configFile]);
    expect(made.code).toBe(0);
    const password = /^password: (\S+)$/m.exec(made.out)![1]!;
    expect((await signedIn(desk.base, '王五', password)).cookies.has('__Host-desk')).toBe(true);
    const bad = await deskCli(['desk', 'account', 'add', 'x1', '--role', 'admin', '--config', desk.configFile]);
    expect([bad.code, bad.err]).toEqual([2, expect.stringContaining('--role "admin" is not a desk role: give one of evidence-officer (证据管理员)')]);
    const twice = await deskCli(['desk', 'account', 'add', '王五', '--role', 'leader', '--config', desk.configFile]);
    expect([twice.code, twice.err]).toEqual([2, expect.stringContaining('there is already a desk account "王五": choose another name')]);
    const weak = await deskCli(['desk', 'account', 'add', 'newbie', '--role', 'leader', '--config', desk.configFile, '--password-stdin'], 'short');
    expect([weak.code, weak.err]).toEqual([2, expect.stringContaining('shorter than 10 characters')]);
  });

  it('answers hostile query strings, path parameters and form fields on every route, as every role, without a 5xx or a stack trace', async () => {
    // Strings of every kind (fast-check, a fixed seed) and some a prober tries first.
    const hostile = [
      'A'.repeat(20_000), '../../../etc/passwd', "' OR '1'='1' --", '%00', '\u0000', '<script>alert(1)</script>', '-1', '1e309',
      '99999999999999999999', 'NaN', '2026-13-45T25:61:00Z', '[]', '{"$gt":""}', '𝌆'.repeat(200), '',
      ...fc.sample(fc.oneof(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40, unit: 'binary' })), { numRuns: 15, seed: 7 }),
    ];
    // What the desk's forms and links use, and what a prober guesses.
    const names = ['q', 'page', 'from', 'to', 'device', 'session', 'matter', 'case', 'caseRef', 'badge', 'officer', 'place', 'party', 'sort', 'lang', 'next', 'month', 'week', 'period', 'percent', 'hours', 'scope', 'approve', 'reason', 'sessions', 'kind', 'note', 'key', 'm', 'zone', 'limit'];
    const withParams = (r: DeskRoute, v: string): string => r.url.replace(/:[a-z]+/g, encodeURIComponent(v) || 'x');
    let asked = 0;
    // An account of each role of its own: sign-in attempts are counted per name, and the tests before used these.
    for (const role of Object.keys(DESK_ACCOUNTS)) {
      const name = `probe-${role}`;
      const made = await deskCli(['desk', 'account', 'add', name, '--role', role, '--config', desk.configFile]);
      expect(made.code, made.err).toBe(0);
      const c = await signedIn(desk.base, name, /^password: (\S+)$/m.exec(made.out)![1]!);
      const csrf = await c.csrf('/sessions');
      for (const r of desk.server.routes.filter((x) => x.url !== '/logout' && x.url !== '/login')) {
        for (let i = 0; i < 3; i++) {
          const v = hostile[(asked + i) % hostile.length]!;
          const query = names.map((n) => `${n}=${encodeURIComponent(v)}`).join('&');
          const what = `${role} ${r.method} ${r.url} with ${JSON.stringify(v).slice(0, 40)}`;
          const url = `${withParams(r, v)}?${query}`;
          const form = { ...Object.fromEntries(names.map((n) => [n, v])), _csrf: csrf };
          // A connection each: after refusing an oversized request Node closes its connection, which a client keeping
          // connections alive could otherwise pick for the next request (ECONNRESET: the client's race, not the desk's).
          const send = (): Promise<{ status: number; text: string }> => (r.method === 'GET' ? c.req('GET', url, { fresh: true }) : c.req('POST', withParams(r, v), { form, fresh: true }));

          const target = r.method === 'GET' ? url : withParams(r, v);
          if (target.length > 16_000 || (r.method === 'POST' && new URLSearchParams(form).toString().length > 64 * 1024)) {
            // Past Node's 16 KiB of headers or fastify's 100-character path parameters, or the desk's 64 KiB body limit: refused (431, 414, 413, or 403 first for a role that may not) or the connection
            // closed while it was still being sent; never served.
            const refused = await send().then((x) => String(x.status), (err: NodeJS.ErrnoException) => err.code);
            expect(refused, what).toMatch(/^(4\d\d|ECONNRESET|EPIPE)$/);
            asked++;
            continue;
          }
          const a = await send();
          expect(a.status, what).toBeLessThan(500);
          expect(a.text, what).not.toMatch(/\n\s+at .*\.[jt]s:\d+/);
          asked++;
        }
      }
      // Still signed in and served.
      expect((await c.get('/sessions')).status).toBe(200);
    }
    expect(asked).toBeGreaterThan(400);
  }, 120_000);
});
