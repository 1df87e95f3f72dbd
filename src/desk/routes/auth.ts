/**
 * Sign-in and sign-out. A sign-in is throttled per address and account name (@fastify/rate-limit: `login.attempts`
 * within `login.windowSeconds`, then 429 until the window ends); every attempt, failed or refused, goes to the audit
 * trail. The session cookie is HttpOnly, Secure, SameSite=Strict and __Host- (this origin only, never from script).
 */
import type { FastifyInstance } from 'fastify';
import { h } from '../../console/html.js';
import { safeNext } from '../../web/next.js';
import { typed } from '../../util/typed.js';
import { COOKIE_FLAGS, SESSION_COOKIE, peer, viewOf, type DeskContext } from '../context.js';
import { Refusal } from '../guard.js';
import { csrfField, frame, type View } from '../view.js';

const FIELD = { type: 'string', maxLength: 256 } as const;

function loginPage(v: View, next: string, error?: string): string {
  const { t } = v;
  return frame(
    v,
    t('login.title'),
    h`<form class="login" method="post" action="/login">${csrfField(v)}<input type="hidden" name="next" value="${next}">
      <label>${t('login.name')}<input id="name" name="name" autocomplete="username" required maxlength="32"></label>
      <label>${t('login.password')}<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="256"></label>
      <button type="submit">${t('login.submit')}</button></form>`,
    error ? { kind: 'error', text: error } : undefined,
  );
}

export function authRoutes(ctx: DeskContext) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/', { config: { access: 'read' } }, (_req, reply) => reply.redirect('/sessions', 303));

    app.get<{ Querystring: { next?: string } }>(
      '/login',
      { config: { access: 'anon' }, schema: { querystring: { type: 'object', properties: { next: { type: 'string', maxLength: 2000 }, lang: FIELD } } } },
      (req, reply) => {
        const next = safeNext(req.query.next);
        if (req.account) return reply.redirect(next === '/' ? '/sessions' : next, 303);
        return reply.type('text/html; charset=utf-8').send(loginPage(viewOf(ctx, req, reply), next));
      },
    );

    app.post<{ Body: { name: string; password: string; next?: string } }>(
      '/login',
      {
        config: {
          access: 'anon',
          rateLimit: {
            max: ctx.config.login.attempts,
            timeWindow: ctx.config.login.windowSeconds * 1000,
            hook: 'preHandler',
            keyGenerator: (req) => `${peer(req)}\u0000${String((req.body as { name?: unknown } | undefined)?.name ?? '').trim()}`,
            onExceeded: (req) => {
              const name = String((req.body as { name?: unknown } | undefined)?.name ?? '');
              void ctx.audit.record(name, 'sign-in-failed', peer(req), { reason: 'throttled' }).catch((err: unknown) => req.log.error({ err }, 'desk audit failed'));
            },
            errorResponseBuilder: (_req, c) => new Refusal(429, 'login.throttled', { seconds: Math.ceil(c.ttl / 1000) }),
          },
        },
        schema: {
          body: {
            type: 'object',
            required: ['name', 'password'],
            properties: { name: { type: 'string', maxLength: 64 }, password: FIELD, next: { type: 'string', maxLength: 2000 }, _csrf: FIELD },
          },
        },
      },
      async (req, reply) => {
        const name = req.body.name.trim();
        const account = await ctx.accounts.check(name, req.body.password);
        const next = safeNext(req.body.next);
        if (!account) {
          await ctx.audit.record(typed(name), 'sign-in-failed', peer(req), { reason: 'bad-name-or-password' });
          const v = viewOf(ctx, req, reply);
          return reply.code(401).type('text/html; charset=utf-8').send(loginPage(v, next, v.t('login.bad')));
        }
        const token = await ctx.accounts.openSession(account.name, ctx.now());
        await ctx.audit.record(account.name, 'sign-in', peer(req), { role: account.role });
        reply.setCookie(SESSION_COOKIE, token, COOKIE_FLAGS);
        return reply.redirect(next === '/' ? '/sessions' : next, 303);
      },
    );

    app.post('/logout', { config: { access: 'read' } }, async (req, reply) => {
      const token = req.cookies[SESSION_COOKIE];
      if (token) await ctx.accounts.closeSession(token);
      await ctx.audit.record(req.account!.name, 'sign-out', peer(req));
      reply.clearCookie(SESSION_COOKIE, COOKIE_FLAGS);
      return reply.redirect('/login', 303);
    });
  };
}
