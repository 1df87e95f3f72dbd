/**
 * Times on the console's pages: in the installation's zone (`time.zone`), with the zone named, the way officers
 * read a clock; the JSON API keeps UTC. A single time says its zone itself; a table names the zone in its heading
 * and each cell gives the clock alone (with its own offset only where daylight saving makes it differ).
 */
import { h, type Html } from './html.js';
import type { Ctx } from './route.js';
import { localClock, localTime, zoneLabel, zoneName, zoneOffset } from '../util/local-time.js';
import { deadlineText, type DeadlineWords } from './deadline-text.js';

const lang = (ctx: Ctx): 'zh' | 'en' => (ctx.lang === 'en' ? 'en' : 'zh');
const ms = (at: number | string): number => (typeof at === 'number' ? at : Date.parse(at));

/** "2026-12-07 10:05:03 (北京时间 UTC+08:00)"; '–' for none. */
export function when(ctx: Ctx, at: number | string | null | undefined): string {
  if (at === null || at === undefined || at === '') return '–';
  return localTime(at, ctx.zone, lang(ctx));
}

/** A table's time column heading: "时间（北京时间 UTC+08:00）". */
export function timeHeading(ctx: Ctx, title: string, now: number): string {
  return ctx.lang === 'en' ? `${title} (${zoneLabel(now, ctx.zone, 'en')})` : `${title}（${zoneLabel(now, ctx.zone)}）`;
}

/** A time in a table whose heading names the zone: the clock alone, its offset only when it is not the heading's. */
export function clock(ctx: Ctx, at: number | string | null | undefined, now: number): string {
  if (at === null || at === undefined || at === '') return '–';
  const t = ms(at);
  if (!Number.isFinite(t)) return String(at);
  const own = zoneOffset(t, ctx.zone);
  return own === zoneOffset(now, ctx.zone) ? localClock(t, ctx.zone) : `${localClock(t, ctx.zone)} UTC${own}`;
}

/** The page's deadline words and zone (also handed to the browser's script, which keeps deadlines counting down). */
export function deadlineWords(ctx: Ctx): DeadlineWords {
  return { left: ctx.t('dl.left'), overdue: ctx.t('dl.overdue'), hm: ctx.t('dl.hm'), ms: ctx.t('dl.ms'), zone: ctx.zone, zoneName: zoneName(ctx.zone, lang(ctx)) };
}

/** A deadline in its one form, counting down in the browser; '–' for none. */
export function deadline(ctx: Ctx, at: number | string | null | undefined, now: number): Html | string {
  if (at === null || at === undefined || at === '') return '–';
  const t = ms(at);
  if (!Number.isFinite(t)) return String(at);
  const d = deadlineText(t, now, deadlineWords(ctx));
  return h`<span class="deadline ${d.level}" data-deadline="${t}">${d.text}</span>`;
}
