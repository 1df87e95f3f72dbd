/**
 * The one web stack (src/web/app.ts): the headers every answer carries, CSRF on every POST (and bound to a login when
 * asked), bodies refused by type, failures classified without leaking what went wrong, and the project's logger as
 * fastify's. Through fastify's inject: no socket.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classify, pinoLike, webApp, type WebAppOptions } from '../../src/web/app.js';
import { safeNext } from '../../src/web/next.js';

const dir = mkdtempSync(join(tmpdir(), 'recgw-web-'));
let tls: WebAppOptions['tls'];

beforeAll(() => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=web-test', '-days', '1', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' });
  tls = { key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An app with a page that hands out a token (for the user named in x-user, when bound) and a POST that echoes. */
async function testApp(bound: boolean): Promise<FastifyInstance> {
  const user = (h: unknown): string => (typeof h === 'string' ? h : 'anon');
  const app = await webApp({ tls, bodyLimit: 1024, csrfCookie: '__Host-t-csrf', ...(bound ? { csrfUserInfo: (req) => user(req.headers['x-user']) } : {}) });
  app.get('/token', (req, reply) => ({ token: reply.generateCsrf(bound ? { userInfo: user(req.headers['x-user']) } : undefined) }));
  app.post('/echo', (req) => ({ body: req.body }));
  app.get('/boom', () => {
    throw new Error('secret path /var/lib/recgw/state.db');
  });
  app.setErrorHandler((err, _req, reply) => {
    const f = classify(err);
    return reply.code(f.status).send({ kind: f.kind, message: f.message });
  });
  return app;
}

/** A token and its secret cookie, as a browser would hold them. */
async function token(app: FastifyInstance, headers: Record<string, string> = {}): Promise<{ token: string; cookie: string }> {
  const a = await app.inject({ method: 'GET', url: '/token', headers });
  const c = String(a.headers['set-cookie']);
  return { token: (a.json() as { token: string }).token, cookie: c.split(';')[0]! };
}

describe('the web stack', () => {
  it('sends the security headers on every answer, and no-store unless told', async () => {
    const app = await testApp(false);
    const a = await app.inject({ method: 'GET', url: '/token' });
    expect(a.statusCode).toBe(200);
    expect(a.headers['content-security-policy']).toBe(
      "default-src 'none';script-src 'self';style-src 'self';img-src 'self' data:;connect-src 'self';form-action 'self';frame-ancestors 'none';base-uri 'none'",
    );
    expect(a.headers['x-frame-options']).toBe('DENY');
    expect(a.headers['strict-transport-security']).toBe('max-age=31536000');
    expect(a.headers['referrer-policy']).toBe('no-referrer');
    expect(a.headers['x-content-type-options']).toBe('nosniff');
    expect(a.headers['permissions-policy']).toBe('camera=(), microphone=(), geolocation=()');
    expect(a.headers['cache-control']).toBe('no-store');
    const cookie = String(a.headers['set-cookie']);
    for (const flag of [/^__Host-t-csrf=/, /; Path=\/(;|$)/, /; HttpOnly/, /; Secure/, /; SameSite=Strict/]) expect(cookie).toMatch(flag);
    await app.close();
  });

  it('refuses a POST without its token, with a forged one, or with another browser’s; takes the right one as field or header', async () => {
    const app = await testApp(false);
    const mine = await token(app);
    const theirs = await token(app);
    const post = (headers: Record<string, string>, form: string) =>
      app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, payload: form });
    expect((await post({}, 'a=1')).statusCode).toBe(403);
    expect((await post({ cookie: mine.cookie }, 'a=1')).statusCode).toBe(403);
    expect((await post({ cookie: mine.cookie }, '_csrf=forged&a=1')).statusCode).toBe(403);
    expect((await post({ cookie: mine.cookie }, `_csrf=${encodeURIComponent(theirs.token)}&a=1`)).statusCode).toBe(403);
    expect((await post({ cookie: mine.cookie }, `_csrf=${encodeURIComponent(mine.token)}&a=1`)).json()).toEqual({ body: { _csrf: mine.token, a: '1' } });
    const json = await app.inject({ method: 'POST', url: '/echo', headers: { cookie: mine.cookie, 'x-csrf-token': mine.token }, payload: { a: 2 } });
    expect(json.json()).toEqual({ body: { a: 2 } });
    expect((await post({ cookie: mine.cookie }, `_csrf=${encodeURIComponent(mine.token)}&${'x'.repeat(2000)}`)).statusCode).toBe(413);
    const other = await app.inject({ method: 'POST', url: '/echo', headers: { cookie: mine.cookie, 'x-csrf-token': mine.token, 'content-type': 'text/plain' }, payload: 'x' });
    expect(other.statusCode).toBe(415);
    await app.close();
  });

  it('binds tokens to the login when asked: one made for another login, or for none, is refused', async () => {
    const app = await testApp(true);
    const anon = await token(app);
    const alice = await token(app, { 'x-user': 'alice', cookie: anon.cookie });
    const post = (user: string | undefined, t: string) =>
      app.inject({ method: 'POST', url: '/echo', headers: { cookie: anon.cookie, 'x-csrf-token': t, ...(user ? { 'x-user': user } : {}) }, payload: {} });
    expect((await post('alice', alice.token)).statusCode).toBe(200);
    expect((await post('bob', alice.token)).statusCode).toBe(403);
    expect((await post('alice', anon.token)).statusCode).toBe(403);
    expect((await post(undefined, anon.token)).statusCode).toBe(200);
    await app.close();
  });

  it('classifies failures without saying what went wrong inside', async () => {
    const app = await testApp(false);
    const a = await app.inject({ method: 'GET', url: '/boom' });
    expect([a.statusCode, a.json()]).toEqual([500, { kind: 'internal', message: 'internal error' }]);
    expect(a.body).not.toContain('/var/lib');
    await app.close();
    expect(classify(Object.assign(new Error('x'), { code: 'FST_CSRF_INVALID_TOKEN', statusCode: 403 })).kind).toBe('csrf');
    expect(classify(Object.assign(new Error('bad'), { validation: [] }))).toEqual({ status: 400, kind: 'input', message: 'bad' });
    expect(classify(Object.assign(new Error('too large'), { statusCode: 413 }))).toEqual({ status: 413, kind: 'client', message: 'too large' });
    expect(classify(Object.assign(new Error('db down'), { statusCode: 503 }))).toEqual({ status: 500, kind: 'internal', message: 'internal error' });
    expect(classify('a string')).toEqual({ status: 500, kind: 'internal', message: 'internal error' });
  });

  it('keeps `next` only when it is a plain path here', () => {
    for (const bad of ['//evil.example', '/\\evil.example', '/\t/evil.example', 'https://evil.example/', '', undefined, null, '/' + 'x'.repeat(2000)]) expect(safeNext(bad)).toBe('/');
    expect(safeNext('/status?tab=queue#now')).toBe('/status?tab=queue#now');
  });

  it("writes fastify's log calls through the project's logger", () => {
    const lines: [string, string, unknown][] = [];
    const rec = (level: string) => (msg: string, fields?: Record<string, unknown>) => lines.push([level, msg, fields]);
    const log = { debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error'), child: () => log };
    const l = pinoLike(log);
    l.info({ status: 200 }, 'request');
    l.error('plain');
    l.trace({ a: 1 }, 'fine');
    l.fatal({ b: 2 }, 'bad');
    l.child({}).warn({ c: 3 }, 'child');
    expect(lines).toEqual([
      ['info', 'request', { status: 200 }],
      ['error', 'plain', undefined],
      ['debug', 'fine', { a: 1 }],
      ['error', 'bad', { b: 2 }],
      ['warn', 'child', { c: 3 }],
    ]);
  });
});
