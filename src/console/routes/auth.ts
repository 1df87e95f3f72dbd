/**
 * First-run setup, login, logout and changing one's own password. Setup needs the one-time code the gateway wrote
 * under its state folder (so the first browser on the LAN cannot claim the admin account); login is throttled per
 * address and per account; every login, failed login and account change is a ledger entry.
 */
import { h } from '../html.js';
import { HttpError, type Ctx, type Reply, type Route } from '../route.js';
import { safeNext } from '../../web/next.js';
import type { App } from '../app.js';
import { NAME_RE } from '../accounts.js';
import { MAX_PASSWORD, passwordProblem } from '../passwords.js';
import { SESSION_COOKIE } from '../sessions.js';
import type { Key } from '../i18n.js';
import { consoleDir } from '../tls.js';
import { checkResetCode, dropResetCode } from '../reset-code.js';

const csrfField = (ctx: Ctx): ReturnType<typeof h> => h`<input type="hidden" name="_csrf" value="${ctx.csrf}">`;

/** Log in `name`: a new session id, and its cookie (CSRF tokens made before are bound to no login: they stop working). */
function startLogin(app: App, ctx: Ctx, name: string, role: 'technician' | 'admin', next: string): Reply {
  const l = app.sessions.create(name, role);
  app.audit.login(name, role, ctx.ip);
  app.deps.log.info('console login', { user: name, role, ip: ctx.ip });
  return { kind: 'redirect', to: safeNext(next), cookies: [{ name: SESSION_COOKIE, value: l.id }] };
}

export function authRoutes(app: App): Route[] {
  const setupPage = (ctx: Ctx, error?: string, status = 200): Reply =>
    app.page(
      ctx,
      ctx.t('setup.title'),
      h`<p>${ctx.t('setup.intro', { file: app.setup.file })}</p><form method="post" action="/setup" class="box">${csrfField(ctx)}
<label for="code">${ctx.t('setup.code')}</label><input type="text" id="code" name="code" autocomplete="off" required>
<label for="name">${ctx.t('field.name')}</label><input type="text" id="name" name="name" value="admin" autocomplete="username" required>
<label for="password">${ctx.t('field.password')}</label><input type="password" id="password" name="password" autocomplete="new-password" required>
<label for="password2">${ctx.t('field.password2')}</label><input type="password" id="password2" name="password2" autocomplete="new-password" required>
<p><button type="submit">${ctx.t('setup.submit')}</button></p></form>`,
      { status, ...(error ? { message: { kind: 'error' as const, text: error } } : {}) },
    );

  const loginPage = (ctx: Ctx, error?: string, status = 200): Reply =>
    app.page(
      ctx,
      ctx.t('login.title'),
      h`<form method="post" action="/login" class="box">${csrfField(ctx)}
<input type="hidden" name="next" value="${safeNext(ctx.url.searchParams.get('next') ?? ctx.fields.next)}">
<label for="name">${ctx.t('field.name')}</label><input type="text" id="name" name="name" autocomplete="username" required autofocus>
<label for="password">${ctx.t('field.password')}</label><input type="password" id="password" name="password" autocomplete="current-password" required>
<p><button type="submit">${ctx.t('login.submit')}</button></p></form><p><a href="/reset" id="forgot">${ctx.t('login.forgot')}</a></p>`,
      { status, ...(error ? { message: { kind: 'error' as const, text: error } } : {}) },
    );

  const resetPage = (ctx: Ctx, error?: string, status = 200): Reply =>
    app.page(
      ctx,
      ctx.t('reset.title'),
      h`<p>${ctx.t('reset.intro')}</p><form method="post" action="/reset" class="box">${csrfField(ctx)}
<label for="code">${ctx.t('reset.code')}</label><input type="text" id="code" name="code" autocomplete="off" required>
<label for="password">${ctx.t('field.password')}</label><input type="password" id="password" name="password" autocomplete="new-password" required>
<label for="password2">${ctx.t('field.password2')}</label><input type="password" id="password2" name="password2" autocomplete="new-password" required>
<p><button type="submit" id="reset-submit">${ctx.t('reset.submit')}</button></p></form>`,
      { status, ...(error ? { message: { kind: 'error' as const, text: error } } : {}) },
    );

  /** The new name and password of a form, or the dictionary key of what is wrong with them. */
  const newAccount = (ctx: Ctx): { name: string; password: string } | Key => {
    const name = (ctx.fields.name ?? '').trim().toLowerCase();
    const password = ctx.fields.password ?? '';
    if (!NAME_RE.test(name)) return 'error.name';
    if (password !== (ctx.fields.password2 ?? '')) return 'error.mismatch';
    return passwordProblem(password, name) ?? { name, password };
  };

  return [
    {
      method: 'GET',
      path: '/setup',
      access: 'anon',
      api: false,
      handle: (ctx) => (app.accounts.count() > 0 ? { kind: 'redirect', to: '/login' } : setupPage(ctx)),
    },
    {
      method: 'POST',
      path: '/setup',
      access: 'anon',
      api: false,
      handle: async (ctx) => {
        if (app.accounts.count() > 0) return { kind: 'redirect', to: '/login' };
        const keys = [`setup:${ctx.ip}`];
        const wait = app.throttle.wait(keys);
        if (wait.ms > 0) return setupPage(ctx, ctx.t('login.throttled', { seconds: Math.ceil(wait.ms / 1000) }), 429);
        if (!app.setup.check((ctx.fields.code ?? '').trim())) {
          const lock = app.throttle.fail(keys);
          app.audit.loginFailed('(setup)', ctx.ip, 'bad-setup-code', Math.ceil(lock / 1000));
          return setupPage(ctx, ctx.t('setup.badCode'), 403);
        }
        const a = newAccount(ctx);
        if (typeof a === 'string') return setupPage(ctx, ctx.t(a), 400);
        // Only if still empty: two browsers racing through setup cannot both become admin.
        if (!(await app.accounts.create({ name: a.name, role: 'admin', password: a.password, createdBy: null }, true))) {
          return { kind: 'redirect', to: '/login' };
        }
        app.throttle.succeed(keys);
        app.setup.done();
        app.audit.account(a.name, 'created', a.name, 'admin');
        return startLogin(app, ctx, a.name, 'admin', '/');
      },
    },
    {
      method: 'GET',
      path: '/reset',
      access: 'anon',
      api: false,
      handle: (ctx) => resetPage(ctx),
    },
    {
      method: 'POST',
      path: '/reset',
      access: 'anon',
      api: false,
      handle: async (ctx) => {
        const keys = [`reset:${ctx.ip}`];
        const wait = app.throttle.wait(keys);
        if (wait.ms > 0) return resetPage(ctx, ctx.t('login.throttled', { seconds: Math.ceil(wait.ms / 1000) }), 429);
        const dir = consoleDir(app.deps.stateDir);
        const r = checkResetCode(dir, (ctx.fields.code ?? '').trim(), app.now());
        if (!r.ok) {
          const lock = app.throttle.fail(keys);
          app.audit.loginFailed('(reset)', ctx.ip, `reset-${r.reason}`, Math.ceil(lock / 1000));
          return resetPage(ctx, ctx.t(r.reason === 'expired' ? 'reset.expired' : 'reset.badCode'), 403);
        }
        const account = app.accounts.get(r.account);
        if (!account || account.disabled) {
          dropResetCode(dir);
          return resetPage(ctx, ctx.t('reset.noAccount', { account: r.account }), 409);
        }
        const password = ctx.fields.password ?? '';
        if (password !== (ctx.fields.password2 ?? '')) return resetPage(ctx, ctx.t('error.mismatch'), 400);
        const p = passwordProblem(password, account.name);
        if (p) return resetPage(ctx, ctx.t(p), 400);
        await app.accounts.setPassword(account.name, password);
        dropResetCode(dir);
        app.throttle.succeed([...keys, `user:${account.name}`]);
        // Whoever is logged in with the old password is logged out.
        app.sessions.endUser(account.name);
        app.audit.account('(reset code)', 'password-reset', account.name);
        app.deps.log.warn('console password reset with a reset code', { account: account.name, ip: ctx.ip });
        return startLogin(app, ctx, account.name, account.role, '/');
      },
    },
    {
      method: 'GET',
      path: '/login',
      access: 'anon',
      api: false,
      handle: (ctx) => loginPage(ctx),
    },
    {
      method: 'POST',
      path: '/login',
      access: 'anon',
      api: false,
      handle: async (ctx) => {
        const typed = (ctx.fields.name ?? '').trim();
        const name = typed.toLowerCase().slice(0, 64);
        const password = (ctx.fields.password ?? '').slice(0, MAX_PASSWORD + 1);
        const keys = [`ip:${ctx.ip}`, `user:${name}`];
        const wait = app.throttle.wait(keys);
        if (wait.ms > 0) {
          const seconds = Math.ceil(wait.ms / 1000);
          // One entry per lock, not per refused attempt: a flood of attempts cannot flood the ledger.
          if (wait.firstRefusal) app.audit.loginFailed(typed, ctx.ip, 'throttled', seconds);
          return loginPage(ctx, ctx.t('login.throttled', { seconds }), 429);
        }
        const v = await app.accounts.verify(name, password);
        if (!v.ok) {
          const lock = app.throttle.fail(keys);
          const seconds = Math.ceil(lock / 1000);
          app.audit.loginFailed(typed, ctx.ip, v.reason, seconds);
          app.deps.log.warn('console login failed', { user: typed.slice(0, 64), ip: ctx.ip, reason: v.reason, lockedSeconds: seconds });
          return loginPage(ctx, lock > 0 ? ctx.t('login.failedLocked', { seconds }) : ctx.t('login.failed'), lock > 0 ? 429 : 401);
        }
        app.throttle.succeed(keys);
        return startLogin(app, ctx, v.account.name, v.account.role, ctx.fields.next ?? '/');
      },
    },
    {
      method: 'POST',
      path: '/logout',
      access: 'user',
      api: false,
      handle: (ctx) => {
        app.sessions.end(ctx.loginId);
        return { kind: 'redirect', to: '/login', cookies: [{ name: SESSION_COOKIE, value: '', maxAgeSeconds: 0 }] };
      },
    },
    {
      method: 'GET',
      path: '/password',
      access: 'user',
      api: false,
      handle: (ctx) => passwordPage(app, ctx),
    },
    {
      method: 'POST',
      path: '/password',
      access: 'user',
      api: false,
      handle: async (ctx) => {
        const user = ctx.user!;
        const v = await app.accounts.verify(user.name, ctx.fields.current ?? '');
        if (!v.ok) return passwordPage(app, ctx, ctx.t('password.wrongCurrent'), 403);
        const next = ctx.fields.password ?? '';
        if (next !== (ctx.fields.password2 ?? '')) return passwordPage(app, ctx, ctx.t('error.mismatch'), 400);
        const p = passwordProblem(next, user.name);
        if (p) return passwordPage(app, ctx, ctx.t(p), 400);
        await app.accounts.setPassword(user.name, next);
        // Whoever else is logged in as this account (with the old password) is logged out.
        app.sessions.endUser(user.name, ctx.loginId);
        app.audit.account(user.name, 'password-changed', user.name);
        return app.page(ctx, ctx.t('password.title'), h``, { message: { kind: 'success', text: ctx.t('password.changed') } });
      },
    },
  ];
}

function passwordPage(app: App, ctx: Ctx, error?: string, status = 200): Reply {
  if (!ctx.user) throw new HttpError(401, 'log in first');
  return app.page(
    ctx,
    ctx.t('password.title'),
    h`<form method="post" action="/password" class="box">${csrfField(ctx)}
<label for="current">${ctx.t('password.current')}</label><input type="password" id="current" name="current" autocomplete="current-password" required>
<label for="password">${ctx.t('field.password')}</label><input type="password" id="password" name="password" autocomplete="new-password" required>
<label for="password2">${ctx.t('field.password2')}</label><input type="password" id="password2" name="password2" autocomplete="new-password" required>
<p><button type="submit">${ctx.t('password.submit')}</button></p></form>`,
    { status, ...(error ? { message: { kind: 'error' as const, text: error } } : {}) },
  );
}

export { csrfField };
