/**
 * The upload queue: what still lacks the agency's receipt, earliest deadline first, each deadline in the console's
 * one form (times.ts) counting down in the browser, and the deadline alarms standing now. The page refreshes
 * itself from /api/queue. Items are named by segment; their files are never offered.
 */
import { h } from '../html.js';
import type { Ctx, Route } from '../route.js';
import type { App } from '../app.js';
import { deadline } from '../times.js';

const LIMIT = 200;

/** An alarm's level in words: "missed", or "6h" before the deadline. */
const level = (ctx: Ctx, l: string): string => (l === 'missed' ? ctx.t('queue.missed') : ctx.t('queue.before', { hours: l.replace(/h$/, '') }));

export function queueRoutes(app: App): Route[] {
  const snapshot = () => {
    const q = app.deps.queue;
    if (!q) return undefined;
    const items = q.items(LIMIT);
    return { connected: q.connected(), summary: q.summary(), alarms: q.alarms(), items, now: app.now() };
  };
  return [
    {
      method: 'GET',
      path: '/queue',
      access: 'user',
      api: false,
      handle: (ctx) => {
        const s = snapshot();
        if (!s) return app.page(ctx, ctx.t('nav.queue'), h`<p id="no-uplink">${ctx.t('ov.noUplink')}</p>`);
        const { t } = ctx;
        const now = s.now;
        return app.page(
          ctx,
          t('nav.queue'),
          h`<div class="grid"><div class="card"><dl>
<dt>${t('ov.link')}</dt><dd><span class="${s.connected ? 'ok' : 'bad'}">${t(s.connected ? 'word.connected' : 'word.disconnected')}</span></dd>
<dt>${t('queue.files')}</dt><dd id="queue-count">${s.summary.files}</dd>
<dt>${t('queue.entries')}</dt><dd>${s.summary.entries}</dd>
<dt>${t('queue.bytes')}</dt><dd>${(s.summary.bytes / 1e6).toFixed(1)} MB</dd>
<dt>${t('ov.nextDeadline')}</dt><dd id="next-deadline">${deadline(ctx, s.summary.nextDeadlineMs, now)}</dd></dl></div></div>
<h2>${t('queue.alarms')}</h2>${
            s.alarms.length === 0
              ? h`<p id="no-alarms">${t('queue.noAlarms')}</p>`
              : h`<table id="alarms"><thead><tr><th>${t('queue.item')}</th><th>${t('queue.level')}</th><th>${t('queue.deadline')}</th></tr></thead><tbody>
${s.alarms.map((a) => h`<tr class="bad">${a.item === 'entries' ? h`<td>${t('queue.entriesItem')}</td>` : h`<td class="mono">${a.item}</td>`}<td>${level(ctx, a.level)}</td><td>${deadline(ctx, a.deadline, now)}</td></tr>`)}</tbody></table>`
          }
<h2>${t('queue.items')}</h2><table id="queue"><thead><tr><th>${t('queue.item')}</th><th>${t('queue.size')}</th><th>${t('queue.deadline')}</th></tr></thead>
<tbody id="queue-rows">${s.items.map(
            (i) => h`<tr><td class="mono">${i.name}</td><td class="num">${i.size}</td><td>${deadline(ctx, i.deadlineMs, now)}</td></tr>`,
          )}</tbody></table>`,
        );
      },
    },
    {
      method: 'GET',
      path: '/api/queue',
      access: 'user',
      api: true,
      handle: () => ({ kind: 'json', body: snapshot() ?? { uplink: false } }),
    },
  ];
}
