/**
 * The local web console for field technicians (docs/console.md): HTTPS on the configured address, LAN peers only,
 * a fixed route table, accounts with two roles, CSRF tokens on every POST. It reads states and events through its
 * dependencies and has no route that could return a recording: it serves no file from disk at all.
 *
 * The constructor assigns; start() loads TLS, builds the routes and listens; stop() closes every connection.
 * A request never crashes the service: every failure becomes an answer (and a log line when it is ours).
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { ConsoleDeps } from './deps.js';
import { AccountStore } from './accounts.js';
import { ConsoleSessions, PRE_COOKIE, SESSION_COOKIE } from './sessions.js';
import { LoginThrottle } from '../util/throttle.js';
import { Audit } from './audit.js';
import { Router, type Ctx, type Route } from './router.js';
import { HttpError, cookie, parseCookies, parseFields, readBody, send, type Reply } from './http.js';
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

const LANG_COOKIE = '__Host-recgw-lang';
/** A login lasts at most this long, however active. */
const MAX_LOGIN_MS = 12 * 3600_000;

const sameToken = (a: string | undefined, b: string | undefined): boolean =>
  !!a && !!b && a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** ::ffff:192.168.1.5 -> 192.168.1.5, for logs and throttle keys. */
const peer = (req: IncomingMessage): string => (req.socket.remoteAddress ?? '?').replace(/^::ffff:(?=\d+\.)/i, '');

export class ConsoleServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private router: Router | undefined;
  private app: App | undefined;
  private tls: ConsoleTls | undefined;
  private sweep: NodeJS.Timeout | undefined;

  constructor(private readonly deps: ConsoleDeps) {}

  /** The route table (after start): the whole surface of the console. */
  get routes(): readonly Route[] {
    return this.router?.table ?? [];
  }

  /** Where it listens (after start); the port is the real one when the config said 0. */
  address(): { host: string; port: number } {
    const a = this.server?.address();
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
            this.server?.setSecureContext({ key: this.tls.key, cert: this.tls.cert });
          } catch (err) {
            d.log.error('reloading the console certificate failed; keeping the old one', { err });
          }
        },
      },
    };
    this.app = app;
    this.router = new Router().add(
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
    );

    const server = createServer({ key: this.tls.key, cert: this.tls.cert, minVersion: 'TLSv1.2' }, (req, res) => void this.handle(req, res));
    // Peers outside allowFrom are dropped before the TLS handshake: the console is for the LAN only.
    server.on('connection', (sock: Socket) => {
      if (!allowed(sock.remoteAddress)) {
        d.log.debug('console connection refused: peer not in console.allowFrom', { peer: sock.remoteAddress });
        sock.destroy();
        return;
      }
      this.sockets.add(sock);
      sock.on('close', () => this.sockets.delete(sock));
    });
    server.on('tlsClientError', () => undefined);
    server.on('clientError', (_err, sock: Socket) => sock.destroy());
    server.headersTimeout = 10_000;
    server.requestTimeout = 60_000;
    server.keepAliveTimeout = 5_000;
    server.maxHeadersCount = 64;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new RecgwError('config', `the console cannot listen on ${d.settings.listen}: ${err.message}`, { cause: err })));
      server.listen(port, host, () => resolve());
    });
    this.server = server;
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
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const cookies = parseCookies(req.headers.cookie);
    let ctx: Ctx | undefined;
    let api = false;
    try {
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'https://console.invalid');
      } catch {
        throw new HttpError(400, 'bad request target');
      }
      const asked = url.searchParams.get('lang');
      const lang: Lang = isLang(asked) ? asked : (() => {
        const c = cookies.get(LANG_COOKIE);
        return isLang(c) ? c : this.deps.settings.language;
      })();
      ctx = {
        method: method === 'POST' ? 'POST' : 'GET',
        url,
        ip: peer(req),
        lang,
        t: translator(lang),
        zone: this.deps.zone,
        user: undefined,
        loginId: undefined,
        preId: undefined,
        csrf: '',
        fields: {},
        json: undefined,
        cookies: isLang(asked) ? [cookie(LANG_COOKIE, asked, { maxAgeSeconds: 365 * 86400 })] : [],
      };
      api = url.pathname.startsWith('/api/');
      if (method !== 'GET' && method !== 'POST') throw new HttpError(405, `method ${method ?? ''} not allowed`);
      const route = this.router!.match(method, url.pathname);
      if (route === undefined) throw new HttpError(404, 'no such page');
      if (route === 'method') throw new HttpError(405, `method ${method} not allowed here`);
      api = route.api;
      const reply = await this.authorise(route, ctx, req, cookies);
      send(res, { ...reply, cookies: [...ctx.cookies, ...(reply.cookies ?? [])] });
    } catch (err) {
      send(res, this.failure(err, api, ctx));
    }
  }

  /** Who may call this route, checked before anything else; then the body, its CSRF token, and the handler. */
  private async authorise(route: Route, ctx: Ctx, req: IncomingMessage, cookies: Map<string, string>): Promise<Reply> {
    const app = this.app!;
    if (route.access === 'public') return route.handle(ctx);
    // First run: until the admin exists, everything but the setup page leads there.
    if (app.accounts.count() === 0 && route.path !== '/setup') {
      if (route.api) throw new HttpError(403, 'the console is not set up yet: create the admin at /setup');
      return { kind: 'redirect', to: '/setup' };
    }
    // Requests a page makes to refresh itself say so; they do not count as the technician being active.
    const login = app.sessions.get(cookies.get(SESSION_COOKIE), req.headers['x-console-poll'] !== '1');
    if (route.access === 'anon') {
      if (login && ctx.method === 'GET' && route.path === '/login') return { kind: 'redirect', to: '/' };
      const preCookie = cookies.get(PRE_COOKIE);
      if (ctx.method === 'GET') {
        const pre = app.sessions.preLogin(preCookie);
        if (pre.fresh) ctx.cookies.push(cookie(PRE_COOKIE, pre.id, { maxAgeSeconds: 15 * 60 }));
        ctx.preId = pre.id;
        ctx.csrf = pre.csrf;
        return route.handle(ctx);
      }
      await this.readFields(ctx, req);
      const expected = app.sessions.preCsrf(preCookie);
      if (!sameToken(ctx.fields._csrf, expected)) throw new HttpError(403, ctx.t('error.csrf'));
      ctx.preId = preCookie;
      ctx.csrf = expected!;
      return route.handle(ctx);
    }
    if (!login) {
      if (route.api) throw new HttpError(401, ctx.t('error.login'));
      const next = ctx.method === 'GET' ? ctx.url.pathname + ctx.url.search : '/';
      return { kind: 'redirect', to: `/login?next=${encodeURIComponent(next)}` };
    }
    ctx.user = { name: login.user, role: login.role };
    ctx.loginId = login.id;
    ctx.csrf = login.csrf;
    if (route.access === 'admin' && login.role !== 'admin') throw new HttpError(403, ctx.t('error.forbidden'));
    if (ctx.method === 'POST') {
      await this.readFields(ctx, req);
      const header = req.headers['x-csrf-token'];
      const token = typeof header === 'string' ? header : ctx.fields._csrf;
      if (!sameToken(token, login.csrf)) throw new HttpError(403, ctx.t('error.csrf'));
    }
    return route.handle(ctx);
  }

  private async readFields(ctx: Ctx, req: IncomingMessage): Promise<void> {
    const body = await readBody(req);
    const parsed = parseFields(req.headers['content-type'], body);
    ctx.fields = parsed.fields;
    ctx.json = parsed.json;
  }

  /** Any failure as an answer: ours (HttpError, RecgwError) with its message, anything else as a logged 500. */
  private failure(err: unknown, api: boolean, ctx: Ctx | undefined): Reply {
    let status = 500;
    let message: string;
    if (err instanceof HttpError) {
      status = err.status;
      message = err.message;
    } else if (err instanceof RecgwError) {
      // A problem the user can act on (bad input, a refused certificate) says so; the gateway's own failures are logged.
      status = err.code === 'internal' || err.code === 'state' || err.code === 'io' ? 500 : 400;
      message = err.message;
      if (status === 500) this.deps.log.error('console request failed', { path: ctx?.url.pathname, err });
    } else {
      this.deps.log.error('console request failed', { path: ctx?.url.pathname, err });
      message = ctx ? ctx.t('error.internal') : 'internal error';
    }
    if (api || !ctx || !this.app) return { kind: 'json', status, body: { error: message } };
    if (status === 404) message = ctx.t('error.notFound');
    return this.app.page(ctx, ctx.t('error.title'), h`<p><a href="/">${ctx.t('nav.overview')}</a></p>`, { status, message: { kind: 'error', text: message } });
  }
}
