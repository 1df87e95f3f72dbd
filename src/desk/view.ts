/**
 * What a desk page is made with: the request's language, dictionary, zone, account and CSRF token, and the frame
 * around every page. Pages are built only with the console's escaping template `h` (src/console/html.ts), so nothing
 * typed by anybody (names, places, statements) can become markup.
 */
import { h, type Html } from '../console/html.js';
import { localClock, localTime, zoneLabel, zoneOffset } from '../util/local-time.js';
import type { Account } from './accounts.js';
import type { DeskLang, T } from './i18n.js';
import { mayOversee, roleName } from './roles.js';

export interface View {
  lang: DeskLang;
  t: T;
  zone: string;
  user: Account | undefined;
  /** The CSRF token every form of the page carries. */
  csrf: string;
  /** The page's own path and query (for the language switch). */
  path: string;
  now: number;
}

const zl = (v: View): 'zh' | 'en' => (v.lang === 'en' ? 'en' : 'zh');

/** "2026-12-07 10:05:03 (北京时间 UTC+08:00)"; '–' for none. */
export const when = (v: View, at: number | null | undefined): string => (at === null || at === undefined ? '–' : localTime(at, v.zone, zl(v)));

/** The zone, named, for a table heading: "北京时间 UTC+08:00". */
export const zoneHead = (v: View): string => zoneLabel(v.now, v.zone, zl(v));

/** A time in a table whose heading names the zone: the clock alone, its own offset where it differs from the heading's. */
export function clock(v: View, at: number | null | undefined): string {
  if (at === null || at === undefined) return '–';
  const own = zoneOffset(at, v.zone);
  return own === zoneOffset(v.now, v.zone) ? localClock(at, v.zone) : `${localClock(at, v.zone)} UTC${own}`;
}

/** A length of time: "1 小时 5 分" / "3 分 20 秒". */
export function span(v: View, ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  return s >= 3600 ? v.t('span.hm', { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) }) : v.t('span.ms', { m: Math.floor(s / 60), s: s % 60 });
}

/** The same page in the other language. */
function switchLink(v: View): Html {
  const u = new URL(v.path, 'https://desk');
  const other = v.lang === 'en' ? { code: 'zh-CN', label: '中文' } : { code: 'en', label: 'English' };
  u.searchParams.set('lang', other.code);
  return h`<a href="${u.pathname + u.search}" lang="${other.code}">${other.label}</a>`;
}

/** `refresh`: the page loads itself again every so many seconds (a meta refresh: no script). */
export function frame(v: View, title: string, body: Html, message?: { kind: 'error' | 'info'; text: string }, o: { refresh?: number } = {}): string {
  const { t } = v;
  const user = v.user
    ? h`<a href="/sessions">${t('nav.search')}</a><a href="/alerts">${t('nav.alerts')}</a><a href="/stats">${t('nav.stats')}</a><a href="/samples">${t('nav.samples')}</a><a href="/access">${t('nav.access')}</a><a href="/retention">${t('nav.retention')}</a>${mayOversee(v.user.role) ? h`<a href="/register">${t('nav.register')}</a><a href="/audit">${t('nav.audit')}</a>` : ''}<span class="right"><span id="who">${v.user.name}（${roleName(v.user.role, zl(v))}）</span>${switchLink(v)}
        <form method="post" action="/logout"><input type="hidden" name="_csrf" value="${v.csrf}"><button class="plain" type="submit">${t('nav.logout')}</button></form></span>`
    : h`<span class="right">${switchLink(v)}</span>`;
  const msg = message ? h`<div class="msg ${message.kind}" role="${message.kind === 'error' ? 'alert' : 'status'}">${message.text}</div>` : '';
  return h`<!doctype html><html lang="${v.lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
${o.refresh ? h`<meta http-equiv="refresh" content="${o.refresh}">` : ''}<title>${title} · ${t('app.name')}</title><link rel="stylesheet" href="/assets/desk.css"></head>
<body><header><span class="brand">${t('app.name')}</span>${user}</header>
<main><h1>${title}</h1>${msg}${body}<footer>${t('page.made', { time: when(v, v.now) })}</footer></main></body></html>`.text;
}

/** A form's hidden CSRF field. */
export const csrfField = (v: View): Html => h`<input type="hidden" name="_csrf" value="${v.csrf}">`;

/** The stylesheet, served from /assets/desk.css (the CSP allows no inline style). */
export const DESK_CSS = `
*{box-sizing:border-box}body{margin:0;font:15px/1.5 "Noto Sans CJK SC","Microsoft YaHei",system-ui,sans-serif;color:#1d2733;background:#f4f6f8}
header{display:flex;flex-wrap:wrap;gap:1em;align-items:center;padding:.6em 1.2em;background:#1f3a5f;color:#fff}
header a,header button.plain{color:#fff}.brand{font-weight:bold}.right{margin-left:auto;display:flex;gap:1em;align-items:center}
header form{margin:0}button.plain{background:none;border:0;text-decoration:underline;cursor:pointer;font:inherit;padding:0}
main{padding:1em 1.5em;max-width:1200px;margin:0 auto}h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
.msg{padding:.6em 1em;border-radius:4px;margin:1em 0}.msg.error{background:#fde8e8;color:#8a1c1c}.msg.info{background:#e6f0fb}
form.search{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:.6em 1em;align-items:end}
label{display:flex;flex-direction:column;font-size:.9em;gap:.2em}input,select,button{font:inherit;padding:.35em .5em;max-width:100%}
table{border-collapse:collapse;width:100%;margin:.6em 0;background:#fff}th,td{border:1px solid #d5dbe1;padding:.35em .5em;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#eef2f6}dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.3em 1.2em;background:#fff;padding:1em;border:1px solid #d5dbe1}
dl.facts dt{font-weight:bold}dl.facts dd{margin:0;overflow-wrap:anywhere}
.timeline{margin:.4em 0 1.2em}.timeline svg{width:100%;height:34px;background:#fff;border:1px solid #d5dbe1;display:block}
.timeline .seg{fill:#3b9c5a}.timeline .gap{fill:#d9534f}.timeline .gap.explained{fill:#f0ad4e}.timeline .intr{fill:#6c757d}
.axis{display:flex;justify-content:space-between;font-size:.85em;color:#555}.legend{font-size:.9em;color:#555}
.late,.missing{color:#8a1c1c;font-weight:bold}.ontime{color:#256a3a}.pager{display:flex;gap:1em;margin:1em 0}
tr.unacked td{background:#fff4e5}tr.open td{background:#fff4e5}form.check{display:flex;flex-wrap:wrap;gap:.4em;margin:.4em 0 0}label.box{flex-direction:row;align-items:center;gap:.3em}ul.facts,ul.finding{margin:0;padding-left:1.1em}.note{width:12em}form.ack{display:flex;gap:.4em;margin:0}
#charts .chart-grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:1em}#charts figure{margin:0;background:#fff;border:1px solid #d5dbe1;padding:.5em}
#charts .chart{height:300px;width:100%}#chart-track{height:360px;max-width:720px;background:#fff;border:1px solid #d5dbe1}#charts figure.wide{margin-top:1em}figcaption{font-weight:bold}
#stage{position:relative;background:#111;min-height:120px}#stage .screens{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:4px}
#stage figure{margin:0;position:relative}#stage video{width:100%;display:block;aspect-ratio:16/9;background:#000}#stage figcaption{color:#fff;font-size:.85em;padding:.2em .4em}
#watermark{position:absolute;inset:0;width:100%;height:100%;pointer-events:none}.mics{display:flex;flex-wrap:wrap;gap:1em;margin:.4em 0}.mic{background:#fff;border:1px solid #d5dbe1;padding:.3em .6em}
#stage [data-state=gap] .src-state,#stage [data-state=error] .src-state{color:#fff;background:#8a1c1c;padding:0 .4em}.mic[data-state=gap] .src-state,.mic[data-state=error] .src-state{color:#8a1c1c}.controls{display:flex;flex-wrap:wrap;gap:1em;align-items:end;margin:.6em 0}
.controls form{display:flex;gap:.4em;align-items:end;margin:0}.timelines .timeline{position:relative}.playhead{position:absolute;top:1.5em;height:34px;width:2px;background:#1f3a5f;pointer-events:none}.timelines svg{cursor:pointer}
footer{margin-top:2em;font-size:.85em;color:#666}form.login{display:flex;flex-direction:column;gap:.8em;max-width:320px}
`;
