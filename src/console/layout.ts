/** The frame of every console page: header with navigation, language switch and logout, then the page body. */
import { h, type Html } from './html.js';
import type { Ctx, Reply } from './route.js';
import type { Key } from './i18n.js';
import { deadlineWords, when } from './times.js';

const NAV: { path: string; key: Key; admin?: boolean }[] = [
  { path: '/', key: 'nav.overview' },
  { path: '/session', key: 'nav.session' },
  { path: '/config', key: 'nav.config' },
  { path: '/selftest', key: 'nav.selftest' },
  { path: '/queue', key: 'nav.queue' },
  { path: '/interruptions', key: 'nav.interruptions' },
  { path: '/events', key: 'nav.events' },
  { path: '/enrol', key: 'nav.enrol' },
  { path: '/aim', key: 'nav.aim' },
  { path: '/cameras', key: 'nav.cameras' },
  { path: '/accounts', key: 'nav.accounts', admin: true },
];

export interface PageOptions {
  status?: number;
  /** A message box above the body. */
  message?: { kind: 'error' | 'success' | 'info'; text: string | Html };
  /** The page reloads its content this often (without counting as activity of the technician). */
  pollSeconds?: number;
  /**
   * The page's parts marked `data-live` (with an id) are refreshed from `url` this often, each unless someone is
   * typing in it (so a form being filled in keeps what was typed).
   */
  live?: { url: string; seconds: number };
}

/** `now`: when the page is made (its footer says so, in the installation's zone). */
export function page(ctx: Ctx, deviceId: string, now: number, title: string, body: Html, o: PageOptions = {}): Reply {
  const { t } = ctx;
  const other = ctx.lang === 'en' ? { code: 'zh-CN', label: '中文' } : { code: 'en', label: 'English' };
  // The page a path belongs to: /config/preview is the config page (for the menu and the language link).
  const here = '/' + (ctx.url.pathname.split('/')[1] ?? '');
  const nav = ctx.user
    ? NAV.filter((n) => !n.admin || ctx.user?.role === 'admin').map(
        (n) => h`<a href="${n.path}" class="${here === n.path ? 'on' : ''}">${t(n.key)}</a>`,
      )
    : [];
  const user = ctx.user
    ? h`<span>${ctx.user.name} (${t(ctx.user.role === 'admin' ? 'role.admin' : 'role.technician')})</span>
        <a href="/password">${t('nav.password')}</a>
        <form method="post" action="/logout"><input type="hidden" name="_csrf" value="${ctx.csrf}"><button class="plain" type="submit">${t('nav.logout')}</button></form>`
    : '';
  const msg = o.message ? h`<div class="msg ${o.message.kind}" role="${o.message.kind === 'error' ? 'alert' : 'status'}">${o.message.text}</div>` : '';
  const html = h`<html lang="${ctx.lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title} · recgw ${deviceId}</title><link rel="stylesheet" href="/assets/console.css"></head>
<body data-deadline-words="${JSON.stringify(deadlineWords(ctx))}"><header><span class="brand">recgw · ${deviceId}</span>${nav}
<span class="right"><a href="${here}?lang=${other.code}" lang="${other.code}">${other.label}</a>${user}</span></header>
<main${o.pollSeconds ? h` data-poll="${o.pollSeconds}"` : ''}${o.live ? h` data-live-url="${o.live.url}" data-live-seconds="${o.live.seconds}"` : ''}><h1>${title}</h1>${msg}${body}
<footer id="page-time">${t('page.made', { time: when(ctx, now) })}</footer></main><script src="/assets/console.js"></script></body></html>`;
  return { kind: 'html', status: o.status ?? 200, body: html };
}
