/**
 * Issue 6 security acceptance, with plain HTTPS requests against a console on a real evidence core: the first-run
 * gate, every route refused without a login, forged CSRF tokens refused, a technician kept from admin actions, login
 * throttling, server-side expiry, no route that serves recorded media (walking the route table with and without a
 * login), and fuzzed config editor input never crashing the service. The recording control routes are among them:
 * walked without a login, refused to a technician and without the CSRF token (console-session.test.ts drives them
 * against a real gateway).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import fc from 'fast-check';
import { cleanupTmp, makeCa } from '../helpers/fixtures.js';
import { Client, PASSWORD, consoleOnCore, login, setupAdmin, type Answer, type CoreConsole } from '../helpers/console.js';
import { validateConfig } from '../../src/config/load.js';
import { editedAgencyFileProblems } from '../../src/config/agency-files.js';
import { ConsoleServer } from '../../src/console/server.js';

const clock = { offset: 0 };
const now = (): number => Date.now() + clock.offset;

/** The ledger's entries of one type, bodies parsed. */
function ledger(cc: CoreConsole, type: string): Record<string, unknown>[] {
  return (cc.core.db.prepare('SELECT line FROM ledger WHERE type = ? ORDER BY seq').all(type) as { line: string }[]).map(
    (r) => (JSON.parse(r.line) as { body: Record<string, unknown> }).body,
  );
}

describe('console security', () => {
  const ca = makeCa();
  let cc: CoreConsole;
  /** Recorded media planted where the gateway keeps it: no answer may ever contain any of it. */
  const planted: { path: string; bytes: Buffer }[] = [];

  beforeAll(async () => {
    cc = await consoleOnCore(ca.dir, { now });
    const sd = cc.gw.config.stateDir;
    const files = [join(sd, 'sealed', '20260101T000000Z-cam1-000000.seg'), join(sd, 'spool', 'cam1', 'run-1', 'seg-000000.ts')];
    for (const p of files) {
      mkdirSync(join(p, '..'), { recursive: true });
      const bytes = randomBytes(8192);
      writeFileSync(p, bytes);
      planted.push({ path: p, bytes });
    }
  });

  afterAll(async () => {
    await cc?.stop();
    cleanupTmp();
  });

  const nonPublic = () => cc.server.routes.filter((r) => r.access !== 'public');

  function noMedia(a: Answer, what: string): void {
    const type = String(a.headers['content-type'] ?? '');
    expect(type, what).not.toMatch(/^(video|audio)\/|octet-stream|mp2t/);
    for (const p of planted) {
      for (const off of [0, 4000, 8160]) expect(a.body.includes(p.bytes.subarray(off, off + 32)), `${what} carries ${p.path}`).toBe(false);
    }
    expect(a.text, what).not.toContain(cc.gw.config.stateDir);
  }

  it('leads every route to the first-run setup until the admin exists, and the setup needs the code', async () => {
    const c = new Client(cc.base);
    for (const r of nonPublic().filter((x) => x.path !== '/setup')) {
      const a = await c.req(r.method, r.path, r.method === 'POST' ? { form: {} } : {});
      if (r.api) expect(a.status, `${r.method} ${r.path}`).toBe(403);
      else expect([a.status, a.headers.location], `${r.method} ${r.path}`).toEqual([303, '/setup']);
      noMedia(a, `${r.method} ${r.path}`);
    }
    const csrf = await c.csrf('/setup');
    const bad = await c.req('POST', '/setup', { form: { _csrf: csrf, code: '0000-0000-0000', name: 'admin', password: PASSWORD, password2: PASSWORD } });
    expect(bad.status).toBe(403);
    expect(ledger(cc, 'console.login_failed').at(-1)).toMatchObject({ reason: 'bad-setup-code' });
    const forged = await c.req('POST', '/setup', { form: { _csrf: 'forged', code: '', name: 'admin', password: PASSWORD, password2: PASSWORD } });
    expect(forged.status).toBe(403);
    await setupAdmin(c, cc.gw.config.stateDir);
    expect((await c.get('/')).status).toBe(200);
    expect(ledger(cc, 'console.login').at(-1)).toMatchObject({ user: 'admin', role: 'admin' });
  });

  it('refuses every route without a login', async () => {
    const c = new Client(cc.base);
    for (const r of nonPublic().filter((x) => x.access !== 'anon')) {
      const a = await c.req(r.method, r.path, r.method === 'POST' ? { form: { _csrf: 'x' } } : {});
      if (r.api) expect(a.status, `${r.method} ${r.path}`).toBe(401);
      else {
        expect(a.status, `${r.method} ${r.path}`).toBe(303);
        expect(a.headers.location, `${r.method} ${r.path}`).toMatch(/^\/login\?next=/);
      }
      noMedia(a, `${r.method} ${r.path}`);
    }
    // HEAD is GET without the body: refused the same way.
    for (const r of nonPublic().filter((x) => x.access !== 'anon' && x.method === 'GET')) {
      expect((await c.req('HEAD', r.path)).status, `HEAD ${r.path}`).toBe(r.api ? 401 : 303);
    }
    // A path the console has under another method only, or a method it has not at all.
    expect((await c.req('PUT', '/login')).status).toBe(405);
    expect((await c.req('GET', '/logout')).status).toBe(405);
    // A made-up session cookie is no login either.
    c.cookies.set('__Host-recgw', randomBytes(32).toString('base64url'));
    expect((await c.get('/api/status')).status).toBe(401);
  });

  it('refuses forged, missing and foreign CSRF tokens', async () => {
    const admin = new Client(cc.base);
    expect((await login(admin, 'admin')).status).toBe(303);
    const other = new Client(cc.base);
    expect((await login(other, 'admin')).status).toBe(303);
    const before = readFileSync(cc.gw.configPath, 'utf8');
    const cfg = JSON.parse((await admin.get('/api/config')).text) as { text: string; base: string };
    const changed = cfg.text.replace(/"place": "[^"]*"/, '"place": "forged"');
    const foreign = await other.csrf('/config');
    for (const [what, a] of [
      ['forged', await admin.req('POST', '/config/apply', { form: { _csrf: 'forged', text: changed, base: cfg.base } })],
      ['missing', await admin.req('POST', '/config/apply', { form: { text: changed, base: cfg.base } })],
      ['foreign', await admin.req('POST', '/config/apply', { form: { _csrf: foreign, text: changed, base: cfg.base } })],
      ['api forged', await admin.req('POST', '/api/config/apply', { json: { text: changed, base: cfg.base }, headers: { 'x-csrf-token': 'forged' } })],
      ['api missing', await admin.req('POST', '/api/config/apply', { json: { text: changed, base: cfg.base } })],
      ['session missing', await admin.req('POST', '/session/start', { form: { matter: 'sampling', 'o1-name': '张三', 'o1-badge': '13010001' } })],
      ['session forged', await admin.req('POST', '/session/stop', { form: { _csrf: 'forged' } })],
      ['session foreign', await admin.req('POST', '/session/pause', { form: { _csrf: foreign, reason: 'other', text: 'x' } })],
    ] as const) {
      expect(a.status, what).toBe(403);
    }
    expect(readFileSync(cc.gw.configPath, 'utf8')).toBe(before);
    expect(ledger(cc, 'config.changed').filter((b) => b.what === 'config')).toEqual([]);
    // Logins themselves: a login form posted without its page's token is refused.
    const anon = new Client(cc.base);
    expect((await anon.req('POST', '/login', { form: { _csrf: 'forged', name: 'admin', password: PASSWORD } })).status).toBe(403);
    // The real token works (the check above is not refusing everything).
    const ok = await admin.req('POST', '/api/config/preview', { json: { text: changed }, headers: { 'x-csrf-token': await admin.csrf('/config') } });
    expect(ok.status).toBe(200);
  });

  it('keeps a technician from admin actions', async () => {
    const admin = new Client(cc.base);
    await login(admin, 'admin');
    const made = await admin.post('/accounts', { name: 'tech1', role: 'technician', password: PASSWORD, password2: PASSWORD }, { page: '/accounts' });
    expect(made.status).toBe(200);
    expect(ledger(cc, 'config.changed').at(-1)).toMatchObject({ what: 'account', action: 'created', account: 'tech1', role: 'technician', user: 'admin' });
    const tech = new Client(cc.base);
    expect((await login(tech, 'tech1')).status).toBe(303);
    const csrf = await tech.csrf('/config');
    const cfg = JSON.parse((await tech.get('/api/config')).text) as { text: string; base: string };
    const changed = cfg.text.replace(/"place": "[^"]*"/, '"place": "by a technician"');
    for (const [method, path, form] of [
      ['GET', '/accounts', undefined],
      ['POST', '/accounts', { _csrf: csrf, name: 'evil', role: 'admin', password: PASSWORD, password2: PASSWORD }],
      ['POST', '/accounts/disable', { _csrf: csrf, name: 'admin', disabled: '1' }],
      ['POST', '/config/apply', { _csrf: csrf, text: changed, base: cfg.base }],
      // Recording control: a technician looks, never acts (docs/console.md).
      ['POST', '/session/start', { _csrf: csrf, matter: 'sampling', 'o1-name': '张三', 'o1-badge': '13010001' }],
      ['POST', '/session/pause', { _csrf: csrf, reason: 'other', text: 'x' }],
      ['POST', '/session/resume', { _csrf: csrf }],
      ['POST', '/session/stop', { _csrf: csrf }],
      ['POST', '/session/credentials', { _csrf: csrf }],
      ['POST', '/session/statement', { _csrf: csrf, text: 'x' }],
    ] as const) {
      const a = await tech.req(method, path, form ? { form } : {});
      expect(a.status, `${method} ${path}`).toBe(403);
    }
    expect((await tech.req('POST', '/api/config/apply', { json: { text: changed, base: cfg.base }, headers: { 'x-csrf-token': csrf } })).status).toBe(403);
    expect(readFileSync(cc.gw.configPath, 'utf8')).not.toContain('by a technician');
    // What technicians are for still works: checking a change, the self-test.
    const preview = await tech.post('/config/preview', { text: changed, base: cfg.base }, { csrf });
    expect(preview.status).toBe(200);
    expect(preview.text).toContain('只有管理员可以应用修改');
    expect((await tech.post('/selftest', {}, { csrf })).status).toBe(200);
    const look = await tech.get('/session');
    expect(look.status).toBe(200);
    expect(look.text).not.toContain('action="/session/');
    expect(cc.server.routes.filter((r) => r.access === 'admin').map((r) => `${r.method} ${r.path}`).sort()).toEqual(
      [
        'GET /accounts',
        'POST /accounts',
        'POST /accounts/disable',
        'POST /api/config/apply',
        'POST /config/apply',
        ...['start', 'pause', 'resume', 'stop', 'credentials', 'statement'].map((a) => `POST /session/${a}`),
      ].sort(),
    );
  });

  it('after a login, sends only to a path on this console, whatever `next` says (no open redirect)', async () => {
    const after = async (next: string, viaQuery: boolean): Promise<string> => {
      const c = new Client(cc.base);
      // As a browser does: the login page carries `next` from its query into the form, which posts it back.
      const page = await c.get(viaQuery ? `/login?next=${encodeURIComponent(next)}` : '/login');
      const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
      const field = viaQuery ? /name="next" value="([^"]*)"/.exec(page.text)![1]!.replace(/&amp;/g, '&') : next;
      const a = await c.req('POST', '/login', { form: { _csrf: csrf, name: 'admin', password: PASSWORD, next: field } });
      expect(a.status, next).toBe(303);
      return String(a.headers.location);
    };
    for (const bad of ['/\t/evil.example', '/\n/evil.example', '/\\evil.example', '//evil.example', 'https://evil.example/', '/ /evil.example', '/\u0000/x']) {
      expect(await after(bad, false), JSON.stringify(bad)).toBe('/');
    }
    // next=/%09/evil.example in the address bar: the query decodes to a tab, which a browser would drop.
    expect(await after('/\t/evil.example', true)).toBe('/');
    expect(await after('/status?tab=queue#now', false)).toBe('/status?tab=queue#now');
    expect(await after('/config', true)).toBe('/config');
  });

  it('throttles failed logins per account, exponentially, and audits them', async () => {
    const c = new Client(cc.base);
    const failedBefore = ledger(cc, 'console.login_failed').length;
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await login(c, 'tech1', 'wrong password!')).status);
    expect(statuses).toEqual([401, 401, 429]);
    // Locked: even the right password is refused without being checked.
    const locked = await login(c, 'tech1');
    expect(locked.status).toBe(429);
    expect(locked.text).toMatch(/请 \d+ 秒后再试/);
    const failed = ledger(cc, 'console.login_failed').slice(failedBefore);
    expect(failed.map((b) => b.reason)).toEqual(['bad-password', 'bad-password', 'bad-password', 'throttled']);
    expect(failed[2]).toMatchObject({ user: 'tech1', ip: '127.0.0.1', lockedSeconds: 1 });
    clock.offset += 1100;
    // The next failure doubles the lock.
    expect((await login(c, 'tech1', 'wrong again!!')).status).toBe(429);
    expect(ledger(cc, 'console.login_failed').at(-1)).toMatchObject({ reason: 'bad-password', lockedSeconds: 2 });
    clock.offset += 2100;
    expect((await login(c, 'tech1')).status).toBe(303);
  });

  it('ends a login on the server after the idle time, which self-refreshing pages do not restart', async () => {
    const c = new Client(cc.base);
    await login(c, 'admin');
    const idle = cc.gw.config.console!.sessionMinutes * 60_000;
    expect((await c.get('/api/status')).status).toBe(200);
    clock.offset += idle - 60_000;
    expect((await c.get('/api/queue', { 'x-console-poll': '1' })).status).toBe(200);
    clock.offset += 2 * 60_000;
    expect((await c.get('/', { 'x-console-poll': '1' })).headers.location).toMatch(/^\/login/);
    expect((await c.get('/api/status')).status).toBe(401);
  });

  it('has no route that serves recorded media, with or without a login', async () => {
    const anon = new Client(cc.base);
    const admin = new Client(cc.base);
    await login(admin, 'admin');
    const csrf = await admin.csrf('/');
    const sealed = planted[0]!.path.split('/').pop()!;
    const probes = ['', `?file=../sealed/${sealed}`, '?path=../../spool/cam1/run-1/seg-000000.ts', `?name=${sealed}&source=cam1`];
    let walked = 0;
    for (const c of [anon, admin]) {
      for (const r of cc.server.routes.filter((x) => x.path !== '/logout')) {
        for (const q of probes) {
          const form = { _csrf: csrf, source: 'cam1', file: `../sealed/${sealed}`, name: sealed, text: '{}', cert: '' };
          const a = await c.req(r.method, r.path + q, r.method === 'POST' ? { form } : {});
          expect(a.status, `${r.method} ${r.path}${q}`).toBeLessThan(500);
          noMedia(a, `${r.method} ${r.path}${q}`);
          walked++;
        }
      }
      for (const p of [`/sealed/${sealed}`, '/spool/cam1/run-1/seg-000000.ts', `/assets/../sealed/${sealed}`, `/%2e%2e/sealed/${sealed}`, `/segments/${sealed}`, '/api/segments', '/assets/']) {
        const a = await c.get(p);
        expect(a.status, p).toBe(404);
        noMedia(a, p);
      }
    }
    expect(walked).toBe(2 * (cc.server.routes.length - 1) * probes.length);
    expect((await admin.post('/logout', {}, { csrf })).status).toBe(303);
    expect((await admin.get('/api/status')).status).toBe(401);
    // The probes posted a segment's name to /login and /reset three times each: this address is locked for a second
    // (as it should be). Let it pass, or the next test's login is refused whenever it comes within that second.
    clock.offset += 2000;
  });

  it('drops connections from outside console.allowFrom before TLS', async () => {
    const lan = new ConsoleServer({ ...cc.deps, settings: { ...cc.deps.settings, allowFrom: ['192.168.0.0/16', 'fc00::/7'] } });
    await lan.start();
    try {
      const err = await new Client(`https://127.0.0.1:${lan.address().port}`).get('/login').then(
        () => undefined,
        (e: NodeJS.ErrnoException) => e,
      );
      expect(err?.code).toMatch(/ECONNRESET|EPIPE/);
    } finally {
      await lan.stop();
    }
    expect((await new Client(cc.base).get('/login')).status).toBe(200);
  });

  it('survives fuzzed config editor input, and only ever writes a valid config', async () => {
    const c = new Client(cc.base);
    expect((await login(c, 'admin')).status).toBe(303);
    const csrf = await c.csrf('/config');
    const original = JSON.parse(readFileSync(cc.gw.configPath, 'utf8')) as Record<string, unknown>;
    const keys = ['place', 'deviceId', 'recording', 'recording.segmentSeconds', 'recording.sources', 'uplink', 'uplink.deadlineHours', 'console', 'console.listen', 'time', 'gps', 'agency.encryptionCert', 'nonsense', '$schema'];
    const mutated = fc.tuple(fc.constantFrom(...keys), fc.jsonValue()).map(([key, value]) => {
      const o = structuredClone(original);
      const path = key.split('.');
      let at: Record<string, unknown> = o;
      for (const p of path.slice(0, -1)) at = (at[p] ??= {}) as Record<string, unknown>;
      if (typeof at === 'object' && at !== null) at[path.at(-1)!] = value;
      return JSON.stringify(o, null, 2);
    });
    const texts = fc.oneof(fc.string(), fc.json(), fc.string({ unit: 'binary' }), mutated);
    const api = (path: string, body: unknown) => c.req('POST', path, { json: body, headers: { 'x-csrf-token': csrf } });
    await fc.assert(
      fc.asyncProperty(texts, async (text) => {
        const a = await api('/api/config/preview', { text });
        expect([200, 400]).toContain(a.status);
        const f = await c.req('POST', '/config/preview', { form: { _csrf: csrf, text } });
        expect([200, 400]).toContain(f.status);
      }),
      { numRuns: 120 },
    );
    // Bodies that are not what the editor sends at all.
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.jsonValue().map((v) => JSON.stringify(v))), async (raw) => {
        const a = await c.req('POST', '/api/config/preview', { raw, type: 'application/json', headers: { 'x-csrf-token': csrf } });
        expect([400, 200]).toContain(a.status);
      }),
      { numRuns: 60 },
    );
    let applied = 0;
    const changesBefore = ledger(cc, 'config.changed').filter((b) => b.what === 'config').length;
    // Half of them a plausible edit (a new place), so valid changes are applied too.
    const place = fc.string({ minLength: 1, maxLength: 100 }).map((p) => JSON.stringify({ ...original, place: `${p} ${Math.random()}` }, null, 2));
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated, place), async (text) => {
        const base = (JSON.parse((await c.get('/api/config')).text) as { base: string }).base;
        const a = await api('/api/config/apply', { text, base });
        expect([200, 400]).toContain(a.status);
        if (a.status === 200) applied++;
        // Whatever happened, the file on disk is a valid config, naming the agency's encryption certificate.
        const written = JSON.parse(readFileSync(cc.gw.configPath, 'utf8')) as unknown;
        expect(validateConfig(written)).toEqual([]);
        expect(editedAgencyFileProblems(written, cc.gw.configPath, new Date())).toEqual([]);
      }),
      { numRuns: 40 },
    );
    // Valid changes did go through, each with its ledger entry.
    expect(applied).toBeGreaterThan(0);
    expect(ledger(cc, 'config.changed').filter((b) => b.what === 'config').length - changesBefore).toBe(applied);
    expect((await c.get('/api/status')).status).toBe(200);
  });
});
