/**
 * The local web console for field technicians (docs/console.md): HTTPS on the configured address, LAN peers only,
 * a fixed route table, accounts with two roles, CSRF tokens on every POST. It reads states and events through its
 * dependencies and has no route that could return a recording: it serves no file from disk at all.
 *
 * Built on recgw's one web stack (src/web/app.ts: fastify with helmet, cookie, formbody and CSRF): this file adds the
 * console's guard (language, first-run gate, login, role), registers the route modules' routes, and turns their
 * replies and every failure into answers. The constructor assigns; start() loads TLS, builds the app and listens;
 * stop() closes every connection. A request never crashes the service: every failure becomes an answer (and a log
 * line when it is ours).
 */
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ConsoleDeps } from './deps.js';
import { AccountStore } from './accounts.js';
import { ConsoleSessions, CSRF_COOKIE, SESSION_COOKIE, type Login } from './sessions.js';
import { LoginThrottle } from '../util/throttle.js';
import { Audit } from './audit.js';
import { HttpError, MAX_BODY, type Ctx, type Fields, type Reply, type Route } from './route.js';
import { h } from './html.js';
import { isLang, translator, type Lang } from './i18n.js';
import { page } from './layout.js';
import { allowList, parseListen } from './net.js';
import { consoleDir, loadConsoleTls, type ConsoleTls } from './tls.js';
import { SetupCode } from './setup-code.js';
import { CSS, JS } from './assets.js';
import type { App } from './app.js';
import { authRoutes } from './routes/auth.js';
import { statusRoutes } from './routes/status.js';
import { configRoutes } from './routes/config.js';
import { queueRoutes } from './routes/queue.js';
import { eventRoutes } from './routes/events.js';
import { enrolRoutes } from './routes/enrol.js';
import { aimRoutes } from './routes/aim.js';
import { cameraRoutes } from './routes/cameras.js';
import { userRoutes } from './routes/users.js';
import { sessionRoutes } from './routes/session.js';
import { PromptBoard } from './prompts.js';
import { RecgwError } from '../util/errors.js';
import { COOKIE_FLAGS, classify, pinoLike, webApp } from '../web/app.js';

const LANG_COOKIE = '__Host-recgw-lang';
/** A login lasts at most this long, however active. */
const MAX_LOGIN_MS = 12 * 3600_000;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The console route this fastify route serves (absent on the desk's routes and on 404s). */
    consoleRoute?: Route;
  }
  interface FastifyRequest {
    consoleLogin: Login | undefined;
    consoleLang: Lang;
  }
}

/** ::ffff:192.168.1.5 -> 192.168.1.5, for logs and throttle keys. */
const peer = (req: FastifyRequest): string => (req.socket.remoteAddress ?? '?').replace(/^::ffff:(?=\d+\.)/i, '');

/** fastify's messages for bodies it refused, in the console's words. */
const BODY_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: `request body larger than ${MAX_BODY} bytes`,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'send a form (application/x-www-form-urlencoded) or JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'the request body is not valid JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'the request body is not valid JSON',
};

/** A parsed body as fields: a form's first value of each name; a JSON object's members, non-strings as JSON text. */
function fieldsOf(body: unknown, json: boolean): Fields {
  const fields: Fields = {};
  if (!body || typeof body !== 'object' || Array.isArray(body)) return fields;
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    if (json) fields[k] = typeof v === 'string' ? v : (JSON.stringify(v) ?? '');
    else if (typeof v === 'string') fields[k] = v;
    else if (Array.isArray(v) && typeof v[0] === 'string') fields[k] = v[0];
  }
  return fields;
}

export class ConsoleServer {
  private web: FastifyInstance | undefined;
  private readonly table: Route[] = [];
  private app: App | undefined;
  private tls: ConsoleTls | undefined;
  private sweep: NodeJS.Timeout | undefined;

  constructor(private readonly deps: ConsoleDeps) {}

  /** The route table (after start): the whole surface of the console. */
  get routes(): readonly Route[] {
    return this.table;
  }

  /** Where it listens (after start); the port is the real one when the config said 0. */
  address(): { host: string; port: number } {
    const a = this.web?.server.address();
    if (!a || typeof a === 'string') throw new Error('the console is not listening');
    return { host: a.address, port: a.port };
  }

  async start(): Promise<void> {
    const d = this.deps;
    const now = d.now ?? Date.now;
    const { host, port } = parseListen(d.settings.listen);
    const allowed = allowList(d.settings.allowFrom);
    const loadTls = (): ConsoleTls =>
      loadConsoleTls({ mode: d.settings.tls, deviceId: d.deviceId, stateDir: d.stateDir, identity: d.identity, log: d.log, at: new Date(now()) });
    this.tls = loadTls();
    const accounts = new AccountStore(d.db, now);
    const setup = new SetupCode(consoleDir(d.stateDir));
    if (accounts.count() === 0) setup.ensure();
    const app: App = {
      deps: d,
      accounts,
      sessions: new ConsoleSessions({ idleMs: d.settings.sessionMinutes * 60_000, maxMs: MAX_LOGIN_MS, now }),
      throttle: new LoginThrottle({ freeFailures: 3, baseMs: 1000, maxMs: 15 * 60_000, ...d.throttle, now }),
      audit: new Audit(d.ledger),
      prompts: new PromptBoard(d.sessions?.recorder, now),
      now,
      page: (ctx, title, body, o) => page(ctx, d.deviceId, now(), title, body, o),
      setup,
      tls: {
        fingerprint256: () => this.tls!.fingerprint256,
        source: () => this.tls!.source,
        reload: () => {
          // A newly installed device certificate is served at once (new connections); a failure keeps the old one.
          try {
            this.tls = loadTls();
            (this.web?.server as HttpsServer | undefined)?.setSecureContext({ key: this.tls.key, cert: this.tls.cert });
          } catch (err) {
            d.log.error('reloading the console certificate failed; keeping the old one', { err });
          }
        },
      },
    };
    this.app = app;
    const routes: Route[] = [
      { method: 'GET', path: '/assets/console.css', access: 'public', api: false, handle: () => ({ kind: 'bytes', type: 'text/css; charset=utf-8', body: CSS, cache: true }) },
      { method: 'GET', path: '/assets/console.js', access: 'public', api: false, handle: () => ({ kind: 'bytes', type: 'text/javascript; charset=utf-8', body: JS, cache: true }) },
      ...authRoutes(app),
      ...statusRoutes(app),
      ...sessionRoutes(app),
      ...configRoutes(app),
      ...queueRoutes(app),
      ...eventRoutes(app),
      ...enrolRoutes(app),
      ...aimRoutes(app),
      ...cameraRoutes(app),
      ...userRoutes(app),
    ];

    const web = await webApp({
      tls: this.tls,
      logger: pinoLike(d.log),
      requestLogLevel: 'debug',
      bodyLimit: MAX_BODY,
      csrfCookie: CSRF_COOKIE,
      // A token is made for one login (or for none, `anon`, on the login and first-run pages): another's is refused.
      csrfUserInfo: (req) => req.consoleLogin?.id ?? 'anon',
      requestTimeout: 60_000,
      keepAliveTimeout: 5_000,
      forceCloseConnections: true,
    });
    this.web = web;
    // Peers outside allowFrom are dropped before the TLS handshake: the console is for the LAN only.
    web.server.on('connection', (sock: Socket) => {
      if (allowed(sock.remoteAddress)) return;
      d.log.debug('console connection refused: peer not in console.allowFrom', { peer: sock.remoteAddress });
      sock.destroy();
    });
    web.server.on('tlsClientError', () => undefined);
    web.server.headersTimeout = 10_000;
    web.server.maxHeadersCount = 64;
    web.decorateRequest('consoleLogin', undefined);
    web.decorateRequest('consoleLang', 'zh-CN');
    web.addHook('onRequest', (req, reply) => this.guard(req, reply));
    const paths = new Set<string>();
    for (const r of routes) {
      if (this.table.some((x) => x.method === r.method && x.path === r.path)) throw new Error(`duplicate route ${r.method} ${r.path}`);
      this.table.push(r);
      paths.add(r.path);
      web.route({ method: r.method, url: r.path, config: { consoleRoute: r }, handler: async (req, reply) => this.answer(reply, await r.handle(this.ctx(req, reply))) });
    }
    web.setNotFoundHandler((req, reply) => {
      const path = new URL(req.url, 'https://console.invalid').pathname;
      return this.failure(req, reply, paths.has(path) ? new HttpError(405, `method ${req.method} not allowed here`) : new HttpError(404, 'no such page'));
    });
    web.setErrorHandler((err, req, reply) => this.failure(req, reply, err));

    try {
      await web.listen({ host, port });
    } catch (err) {
      throw new RecgwError('config', `the console cannot listen on ${d.settings.listen}: ${(err as Error).message}`, { cause: err });
    }
    app.prompts.start();
    this.sweep = setInterval(() => app.sessions.sweep(), 60_000);
    this.sweep.unref();
    const a = this.address();
    d.log.info('console listening', { address: `${a.host}:${a.port}`, tls: this.tls.source, fingerprint256: this.tls.fingerprint256 });
    if (accounts.count() === 0) d.log.warn('console: no account yet; open /setup in a browser and enter the setup code from the file', { file: setup.file });
  }

  async stop(): Promise<void> {
    clearInterval(this.sweep);
    this.app?.prompts.stop();
    this.app?.sessions.clear();
    const web = this.web;
    this.web = undefined;
    await web?.close();
  }

  /**
   * Before the body is read: the language, then who may call this route (first-run gate, login, role). The CSRF
   * token of a POST is checked after this, by the web stack, once the body is parsed.
   */
  private async guard(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const d = this.deps;
    const app = this.app!;
    const q = (req.query as Record<string, unknown> | undefined)?.lang;
    const asked = typeof q === 'string' ? q : undefined;
    if (isLang(asked)) {
      req.consoleLang = asked;
      reply.setCookie(LANG_COOKIE, asked, { ...COOKIE_FLAGS, maxAge: 365 * 86400 });
    } else {
      const c = req.cookies[LANG_COOKIE];
      req.consoleLang = isLang(c) ? c : d.settings.language;
    }
    const route = req.routeOptions.config.consoleRoute;
    if (!route || route.access === 'public') return undefined;
    const t = translator(req.consoleLang);
    // First run: until the admin exists, everything but the setup page leads there.
    if (app.accounts.count() === 0 && route.path !== '/setup') {
      if (route.api) throw new HttpError(403, 'the console is not set up yet: create the admin at /setup');
      return reply.redirect('/setup', 303);
    }
    // Requests a page makes to refresh itself say so; they do not count as the technician being active.
    const login = app.sessions.get(req.cookies[SESSION_COOKIE], req.headers['x-console-poll'] !== '1');
    req.consoleLogin = login;
    if (route.access === 'anon') {
      if (login && req.method === 'GET' && route.path === '/login') return reply.redirect('/', 303);
      return undefined;
    }
    if (!login) {
      if (route.api) throw new HttpError(401, t('error.login'));
      const next = req.method === 'GET' ? req.url : '/';
      return reply.redirect(`/login?next=${encodeURIComponent(next)}`, 303);
    }
    if (route.access === 'admin' && login.role !== 'admin') throw new HttpError(403, t('error.forbidden'));
    return undefined;
  }

  /** The context a handler (and a page) is built with. */
  private ctx(req: FastifyRequest, reply: FastifyReply): Ctx {
    const login = req.consoleLogin;
    const json = /^application\/json\b/i.test(req.headers['content-type'] ?? '');
    return {
      method: req.method === 'POST' ? 'POST' : 'GET',
      url: new URL(req.url, 'https://console.invalid'),
      ip: peer(req),
      lang: req.consoleLang,
      t: translator(req.consoleLang),
      zone: this.deps.zone,
      user: login ? { name: login.user, role: login.role } : undefined,
      loginId: login?.id,
      csrf: reply.generateCsrf({ userInfo: login?.id ?? 'anon' }),
      fields: req.method === 'POST' ? fieldsOf(req.body, json) : {},
      json: req.method === 'POST' && json ? req.body : undefined,
    };
  }

  /** A route's reply as the answer. */
  private answer(reply: FastifyReply, r: Reply): FastifyReply {
    for (const c of r.cookies ?? []) reply.setCookie(c.name, c.value, { ...COOKIE_FLAGS, ...(c.maxAgeSeconds !== undefined ? { maxAge: c.maxAgeSeconds } : {}) });
    switch (r.kind) {
      case 'html':
        return reply.code(r.status ?? 200).type('text/html; charset=utf-8').header('cache-control', 'no-store').send('<!doctype html>\n' + r.body.text);
      case 'json':
        return reply.code(r.status ?? 200).type('application/json; charset=utf-8').header('cache-control', 'no-store').send(JSON.stringify(r.body));
      case 'redirect':
        return reply.header('cache-control', 'no-store').redirect(r.to, 303);
      case 'bytes':
        reply.code(r.status ?? 200).type(r.type).header('cache-control', r.cache ? 'private, max-age=3600' : 'no-store');
        if (r.filename) reply.header('content-disposition', `attachment; filename="${r.filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`);
        return reply.send(r.body);
    }
  }

  /** Any failure as an answer: ours (HttpError, RecgwError) with its message, anything else as a logged 500. */
  private failure(req: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
    const route = req.routeOptions.config.consoleRoute as Route | undefined;
    const path = new URL(req.url, 'https://console.invalid').pathname;
    const api = route ? route.api : path.startsWith('/api/');
    const t = translator(req.consoleLang);
    let status: number;
    let message: string;
    if (err instanceof HttpError) {
      status = err.status;
      message = err.message;
    } else if (err instanceof RecgwError) {
      // A problem the user can act on (bad input, a refused certificate) says so; the gateway's own failures are logged.
      status = err.code === 'internal' || err.code === 'state' || err.code === 'io' ? 500 : 400;
      message = err.message;
      if (status === 500) this.deps.log.error('console request failed', { path, err });
    } else {
      const f = classify(err);
      status = f.status;
      const code = (err as { code?: unknown }).code;
      message = f.kind === 'csrf' ? t('error.csrf') : f.kind === 'internal' ? t('error.internal') : (BODY_MESSAGES[String(code)] ?? f.message);
      if (status === 500) this.deps.log.error('console request failed', { path, err });
    }
    if (api || !this.app) return this.answer(reply, { kind: 'json', status, body: { error: message } });
    if (status === 404) message = t('error.notFound');
    const ctx = { ...this.ctx(req, reply), fields: {}, json: undefined };
    return this.answer(reply, this.app.page(ctx, t('error.title'), h`<p><a href="/">${t('nav.overview')}</a></p>`, { status, message: { kind: 'error', text: message } }));
  }
}
