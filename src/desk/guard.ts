/**
 * The desk's one gate, on every request before its handler: the language (`?lang=` sets a cookie, zh-CN by default),
 * the signed-in account (from the session cookie, checked against the database every time), the route's declared
 * access (guard order: not signed in → sign-in page or 401; read-only on a `write` route, or anybody but a supervisor
 * on a `supervise` route → 403); the CSRF token of every POST is checked after it by the web stack (src/web/app.ts).
 * Failures of every kind become pages here, in one error handler.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { h } from '../console/html.js';
import { RecgwError } from '../util/errors.js';
import { ApprovalRefused } from './approvals.js';
import { classify } from '../web/app.js';
import { COOKIE_FLAGS, LANG_COOKIE, SESSION_COOKIE, viewOf, type DeskContext } from './context.js';
import { isDeskLang, type DeskKey } from './i18n.js';
import { mayOversee, maySupervise, mayWrite } from './roles.js';
import { frame } from './view.js';

/** A refusal the guard or a route throws: its status, and the message's key in the dictionary. */
export class Refusal extends Error {
  constructor(
    readonly statusCode: number,
    readonly key: DeskKey,
    readonly vars: Record<string, string | number> = {},
  ) {
    super(key);
  }
}

export function installGuard(app: FastifyInstance, ctx: DeskContext): void {
  app.decorateRequest('account', undefined);
  app.decorateRequest('lang', 'zh-CN');

  app.addHook('onRequest', async (req, reply) => {
    const asked = (req.query as Record<string, unknown> | undefined)?.lang;
    if (isDeskLang(asked)) {
      req.lang = asked;
      reply.setCookie(LANG_COOKIE, asked, { ...COOKIE_FLAGS, maxAge: 365 * 86400 });
    } else {
      const c = req.cookies[LANG_COOKIE];
      req.lang = isDeskLang(c) ? c : 'zh-CN';
    }
    const access = req.routeOptions.config.access ?? 'write';
    if (access === 'public') return;
    const token = req.cookies[SESSION_COOKIE];
    req.account = token ? await ctx.accounts.session(token, ctx.now()) : undefined;
    if (access === 'anon') return;
    if (!req.account) {
      if (req.method === 'GET' || req.method === 'HEAD') return reply.redirect(`/login?next=${encodeURIComponent(req.url)}`, 303);
      throw new Refusal(401, 'login.first');
    }
    if (access === 'write' && !mayWrite(req.account.role)) throw new Refusal(403, 'error.forbidden');
    if (access === 'oversee' && !mayOversee(req.account.role)) throw new Refusal(403, 'error.forbidden');
    if (access === 'supervise' && !maySupervise(req.account.role)) throw new Refusal(403, 'error.forbidden');
  });

  app.setNotFoundHandler((req, reply) => page(ctx, req, reply, 404, 'error.notFound'));

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof Refusal) return page(ctx, req, reply, err.statusCode, err.key, err.vars);
    if (err instanceof ApprovalRefused) return page(ctx, req, reply, err.status, err.key, err.vars);
    if (err instanceof RecgwError && (err.code === 'usage' || err.code === 'invalid')) return page(ctx, req, reply, 400, 'error.input', err.message);
    const f = classify(err);
    if (f.kind === 'csrf') return page(ctx, req, reply, 403, 'error.csrf');
    if (f.status === 500) req.log.error({ err, path: req.url }, 'desk request failed');
    return page(ctx, req, reply, f.status, f.status === 500 ? 'error.internal' : 'error.input', f.status === 500 ? undefined : f.message);
  });
}

/** An error page (the frame with the message), with the status. */
function page(ctx: DeskContext, req: FastifyRequest, reply: FastifyReply, status: number, key: DeskKey, detail?: string | Record<string, string | number>): FastifyReply {
  const v = viewOf(ctx, req, reply);
  const text = v.t(key, typeof detail === 'object' ? detail : { detail: detail ?? '' });
  const back = v.user ? h`<p><a href="/sessions">${v.t('nav.search')}</a></p>` : h`<p><a href="/login">${v.t('login.title')}</a></p>`;
  return reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(frame(v, v.t('error.title'), back, { kind: 'error', text }));
}
