/** The interruption log and the ledger's event list (events only, a page at a time; no media, no file locations). */
import { h } from '../html.js';
import type { Ctx, Route } from '../route.js';
import type { App } from '../app.js';
import { reasonByCode } from '../../evidence/vocabulary.js';
import { DICT, type Key } from '../i18n.js';
import { clock, timeHeading } from '../times.js';
import { entrySentence } from '../event-sentences.js';

const PAGE = 50;

/** An entry type in the page's language (the type itself in the cell's title); types this console does not know, as "other". */
function typeLabel(ctx: Ctx, type: string): string {
  const key = `evt.${type}`;
  return key in DICT ? ctx.t(key as Key) : ctx.t('evt.other');
}

export function eventRoutes(app: App): Route[] {
  const query = (url: URL) => {
    const b = Number(url.searchParams.get('before'));
    return { before: Number.isSafeInteger(b) && b > 0 ? b : undefined, segments: url.searchParams.get('segments') === '1', limit: PAGE };
  };
  return [
    {
      method: 'GET',
      path: '/interruptions',
      access: 'user',
      api: false,
      handle: (ctx) => {
        const rows = app.deps.interruptions.interruptions(200);
        const { t } = ctx;
        const now = app.now();
        const label = (code: string): string => {
          const r = reasonByCode(code);
          return r ? (ctx.lang === 'en' ? r.en : r.zh) : code;
        };
        return app.page(
          ctx,
          t('nav.interruptions'),
          rows.length === 0
            ? h`<p id="no-interruptions">${t('int.none')}</p>`
            : h`<table id="interruptions"><thead><tr><th>${t('int.case')}</th><th>${t('int.reason')}</th><th>${t('int.origin')}</th><th>${timeHeading(ctx, t('int.start'), now)}</th><th>${timeHeading(ctx, t('int.end'), now)}</th><th>${t('int.text')}</th></tr></thead><tbody>
${rows.map(
  (r) => h`<tr class="${r.end ? '' : 'bad'}"><td>${r.caseRef}<small class="sub mono">${r.sessionId}</small></td><td>${label(r.reason)}</td>
<td>${t(r.origin === 'declared' ? 'int.declared' : 'int.detected')}</td><td class="nowrap">${clock(ctx, r.start, now)}</td><td class="nowrap">${r.end ? clock(ctx, r.end, now) : t('int.open')}</td><td class="long">${r.text ?? ''}</td></tr>`,
)}</tbody></table>`,
        );
      },
    },
    {
      method: 'GET',
      path: '/events',
      access: 'user',
      api: false,
      handle: (ctx) => {
        const q = query(ctx.url);
        const rows = app.deps.ledger.events(q);
        const { t } = ctx;
        const now = app.now();
        const say = { lang: ctx.lang, zone: ctx.zone };
        const seg = q.segments ? '&segments=1' : '';
        const older = rows.length === PAGE ? h`<a href="/events?before=${rows.at(-1)!.seq}${seg}" id="older">${t('ev.older')}</a>` : '';
        return app.page(
          ctx,
          t('nav.events'),
          h`<p>${t('ev.intro')}</p><nav class="pages"><a href="/events${q.segments ? '' : '?segments=1'}">${t(q.segments ? 'ev.hideSegments' : 'ev.showSegments')}</a>
${q.before ? h` · <a href="/events${q.segments ? '?segments=1' : ''}">${t('ev.newest')}</a>` : ''} ${older ? h` · ${older}` : ''}</nav>
<table id="events"><thead><tr><th>#</th><th>${timeHeading(ctx, t('ev.time'), now)}</th><th>${t('ev.type')}</th><th>${t('ev.summary')}</th></tr></thead><tbody>
${rows.map(
  (r) =>
    h`<tr data-type="${r.type}"><td class="num">${r.seq}</td><td class="nowrap">${clock(ctx, r.time, now)}</td><td class="nowrap" title="${r.type}">${typeLabel(ctx, r.type)}</td><td class="long">${entrySentence(r.type, r.body, say)}</td></tr>`,
)}
</tbody></table>`,
        );
      },
    },
    {
      method: 'GET',
      path: '/api/events',
      access: 'user',
      api: true,
      handle: (ctx) => ({ kind: 'json', body: { events: app.deps.ledger.events(query(ctx.url)) } }),
    },
  ];
}
