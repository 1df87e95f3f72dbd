/** Account management (admins only): list accounts, create technicians or admins, disable and enable them. */
import { h } from '../html.js';
import type { Ctx, Route } from '../route.js';
import type { App } from '../app.js';
import { NAME_RE, ROLES, type Role } from '../accounts.js';
import { passwordProblem } from '../passwords.js';
import { csrfField } from './auth.js';
import { clock, timeHeading } from '../times.js';

export function userRoutes(app: App): Route[] {
  const view = (ctx: Ctx, message?: { kind: 'error' | 'success'; text: string }, status = 200) => {
    const { t } = ctx;
    const now = app.now();
    return app.page(
      ctx,
      t('nav.accounts'),
      h`<table id="accounts"><thead><tr><th>${t('field.name')}</th><th>${t('acc.role')}</th><th>${timeHeading(ctx, t('acc.created'), now)}</th><th>${t('acc.state')}</th><th></th></tr></thead><tbody>
${app.accounts.list().map(
  (a) => h`<tr data-name="${a.name}"><td>${a.name}</td><td>${t(a.role === 'admin' ? 'role.admin' : 'role.technician')}</td><td>${clock(ctx, a.createdAt, now)}${a.createdBy ? t('acc.by', { name: a.createdBy }) : ''}</td>
<td class="${a.disabled ? 'bad' : 'ok'}">${t(a.disabled ? 'acc.disabled' : 'acc.active')}</td>
<td>${a.name === ctx.user?.name ? '' : h`<form method="post" action="/accounts/disable" class="inline">${csrfField(ctx)}<input type="hidden" name="name" value="${a.name}">
<input type="hidden" name="disabled" value="${a.disabled ? '0' : '1'}"><button type="submit" class="plain">${t(a.disabled ? 'acc.enable' : 'acc.disable')}</button></form>`}</td></tr>`,
)}</tbody></table>
<h2>${t('acc.new')}</h2><form method="post" action="/accounts" class="box">${csrfField(ctx)}
<label for="name">${t('field.name')}</label><input type="text" id="name" name="name" required>
<label for="role">${t('acc.role')}</label><select id="role" name="role"><option value="technician">${t('role.technician')}</option><option value="admin">${t('role.admin')}</option></select>
<label for="password">${t('field.password')}</label><input type="password" id="password" name="password" autocomplete="new-password" required>
<label for="password2">${t('field.password2')}</label><input type="password" id="password2" name="password2" autocomplete="new-password" required>
<p><button type="submit" id="create-account">${t('acc.create')}</button></p></form>`,
      { status, ...(message ? { message } : {}) },
    );
  };
  return [
    { method: 'GET', path: '/accounts', access: 'admin', api: false, handle: (ctx) => view(ctx) },
    {
      method: 'POST',
      path: '/accounts',
      access: 'admin',
      api: false,
      handle: async (ctx) => {
        const name = (ctx.fields.name ?? '').trim().toLowerCase();
        const role = ctx.fields.role as Role;
        const password = ctx.fields.password ?? '';
        if (!NAME_RE.test(name)) return view(ctx, { kind: 'error', text: ctx.t('error.name') }, 400);
        if (!ROLES.includes(role)) return view(ctx, { kind: 'error', text: ctx.t('error.role') }, 400);
        if (password !== (ctx.fields.password2 ?? '')) return view(ctx, { kind: 'error', text: ctx.t('error.mismatch') }, 400);
        const p = passwordProblem(password, name);
        if (p) return view(ctx, { kind: 'error', text: ctx.t(p) }, 400);
        if (!(await app.accounts.create({ name, role, password, createdBy: ctx.user!.name }))) {
          return view(ctx, { kind: 'error', text: ctx.t('acc.exists', { name }) }, 409);
        }
        app.audit.account(ctx.user!.name, 'created', name, role);
        return view(ctx, { kind: 'success', text: ctx.t('acc.createdOk', { name }) });
      },
    },
    {
      method: 'POST',
      path: '/accounts/disable',
      access: 'admin',
      api: false,
      handle: (ctx) => {
        const name = ctx.fields.name ?? '';
        const disabled = ctx.fields.disabled !== '0';
        // An admin cannot lock themselves out (and so leave no admin).
        if (name === ctx.user!.name) return view(ctx, { kind: 'error', text: ctx.t('acc.notSelf') }, 400);
        if (!app.accounts.setDisabled(name, disabled)) return view(ctx, { kind: 'error', text: ctx.t('acc.unknown', { name }) }, 404);
        if (disabled) app.sessions.endUser(name);
        app.audit.account(ctx.user!.name, disabled ? 'disabled' : 'enabled', name);
        return view(ctx, { kind: 'success', text: ctx.t(disabled ? 'acc.disabledOk' : 'acc.enabledOk', { name }) });
      },
    },
  ];
}
