/**
 * recgw's one web stack (issue 17 item 3): the fastify app every HTTPS web app of the project is built on (the
 * evidence desk, the gateway console), with the security every one of them needs set up once, here:
 * - headers (@fastify/helmet): a CSP with no inline script or style and nothing from another origin, no framing
 *   (frame-ancestors 'none' and X-Frame-Options DENY), no referrer, HSTS; a Permissions-Policy with no camera,
 *   microphone or location; `Cache-Control: no-store` unless a route says otherwise;
 * - cookies (@fastify/cookie), always with COOKIE_FLAGS: `__Host-` names, Path=/, Secure, HttpOnly, SameSite=Strict;
 * - bodies (fastify's JSON parser and @fastify/formbody), bounded by `bodyLimit`; any other type (text/plain too)
 *   is refused (415);
 * - CSRF (@fastify/csrf-protection): every POST carries a token (`_csrf` field or x-csrf-token header) made from a
 *   secret in its own cookie, optionally bound to the login (`userInfo`); checked after the app's own access check
 *   (an onRequest hook) and after the body is parsed, before validation, so a forged POST learns nothing of the form;
 * - @fastify/rate-limit when the app asks (`rateLimit`), with no global limit (routes opt in); loaded only then, as
 *   the gateway console (which does not use it) runs on the gateway's small memory;
 * - errors: `classify` turns any failure into a status and a message that is safe to show (never a stack trace; a
 *   500 says nothing of its cause): each app's error handler (its pages) starts from it;
 * - one log line per answered request, through the app's logger (pino, or the project's logger via pinoLike).
 *
 * The apps add their own guard, error pages and routes on top.
 */
import { randomBytes } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import type { Logger } from '../util/log.js';

/** Every cookie: this origin only, HTTPS only, never sent from another site, never read by script. */
export const COOKIE_FLAGS = { path: '/', secure: true, httpOnly: true, sameSite: 'strict' } as const;

export const PERMISSIONS_POLICY = 'camera=(), microphone=(), geolocation=()';

export interface WebAppOptions {
  tls: { key: string | Buffer; cert: string | Buffer };
  /** fastify's logger: a pino instance (or the project's logger through pinoLike), or false for none. */
  logger?: FastifyBaseLogger | false;
  /** The level of the one line per answered request. */
  requestLogLevel?: 'info' | 'debug';
  bodyLimit: number;
  /** The name of the cookie holding the CSRF secret (a `__Host-` name). */
  csrfCookie: string;
  /** Binds CSRF tokens to the request's login: a token made for one login is refused for any other. */
  csrfUserInfo?: (req: FastifyRequest) => string;
  requestTimeout?: number;
  connectionTimeout?: number;
  keepAliveTimeout?: number;
  /** Register @fastify/rate-limit (no global limit: routes opt in with `config.rateLimit`). */
  rateLimit?: boolean;
  /** Destroy open connections on close() (a server that must stop at once). */
  forceCloseConnections?: boolean;
}

/** A failure as an answer: its status and a message safe to show (a 500's is always 'internal'). */
export interface Failure {
  status: number;
  kind: 'csrf' | 'input' | 'client' | 'internal';
  message: string;
}

const CSRF_CODES = new Set(['FST_CSRF_MISSING_SECRET', 'FST_CSRF_INVALID_TOKEN']);

/** What to answer for an error thrown by a route, a hook or fastify itself (body too large, bad JSON, wrong type). */
export function classify(err: unknown): Failure {
  const e = err as Partial<FastifyError>;
  if (typeof e.code === 'string' && CSRF_CODES.has(e.code)) return { status: 403, kind: 'csrf', message: 'invalid CSRF token' };
  if (e.validation) return { status: 400, kind: 'input', message: String(e.message) };
  const s = e.statusCode;
  if (typeof s === 'number' && s >= 400 && s < 500) return { status: s, kind: 'client', message: String(e.message) };
  return { status: 500, kind: 'internal', message: 'internal error' };
}

export async function webApp(o: WebAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    https: { key: o.tls.key, cert: o.tls.cert, minVersion: 'TLSv1.2' },
    ...(o.logger ? { loggerInstance: o.logger } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: o.bodyLimit,
    requestTimeout: o.requestTimeout ?? 120_000,
    connectionTimeout: o.connectionTimeout ?? 60_000,
    keepAliveTimeout: o.keepAliveTimeout ?? 5_000,
    forceCloseConnections: o.forceCloseConnections ?? false,
    trustProxy: false,
    return503OnClosing: true,
  });
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
    },
    hsts: { maxAge: 31536000, includeSubDomains: false },
    referrerPolicy: { policy: 'no-referrer' },
    frameguard: { action: 'deny' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
  });
  await app.register(cookie);
  await app.register(csrf, {
    cookieKey: o.csrfCookie,
    cookieOpts: COOKIE_FLAGS,
    ...(o.csrfUserInfo ? { getUserInfo: o.csrfUserInfo, csrfOpts: { hmacKey: randomBytes(32) } } : {}),
  });
  await app.register(formbody);
  // fastify reads text/plain by default: a form a page on another site can send without asking. Forms and JSON only.
  app.removeContentTypeParser('text/plain');
  if (o.rateLimit) await app.register((await import('@fastify/rate-limit')).default, { global: false });

  // The body is parsed by now (and not yet validated): its _csrf field (or an x-csrf-token header) must match.
  app.addHook('preValidation', (req, reply, done) => {
    if (req.method !== 'POST') return done();
    app.csrfProtection(req, reply, done);
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    reply.header('permissions-policy', PERMISSIONS_POLICY);
    return payload;
  });
  const level = o.requestLogLevel ?? 'info';
  app.addHook('onResponse', async (req, reply) => {
    req.log[level]({ method: req.method, route: req.routeOptions.url ?? null, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });
  return app;
}

/**
 * The project's logger (src/util/log.ts) as fastify's: pino's calls (`(fields, msg)` or `(msg)`) become its
 * `(msg, fields)`; trace goes to debug and fatal to error.
 */
export function pinoLike(log: Logger, level: 'debug' | 'info' | 'warn' | 'error' = 'info'): FastifyBaseLogger {
  const at =
    (f: (msg: string, fields?: Record<string, unknown>) => void) =>
    (a?: unknown, b?: unknown): void => {
      if (typeof a === 'string') f(a);
      else f(typeof b === 'string' ? b : '', a && typeof a === 'object' ? (a as Record<string, unknown>) : undefined);
    };
  const make = (l: Logger): FastifyBaseLogger =>
    ({
      level,
      trace: at((m, x) => l.debug(m, x)),
      debug: at((m, x) => l.debug(m, x)),
      info: at((m, x) => l.info(m, x)),
      warn: at((m, x) => l.warn(m, x)),
      error: at((m, x) => l.error(m, x)),
      fatal: at((m, x) => l.error(m, x)),
      silent: () => undefined,
      child: () => make(l),
    }) as unknown as FastifyBaseLogger;
  return make(log);
}
