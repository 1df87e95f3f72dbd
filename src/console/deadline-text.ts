/**
 * The one form a deadline takes on every console page: "剩余 3 小时 12 分（截止 2026-12-07 10:05 北京时间 UTC+08:00）",
 * or "已超期 …" once it passed. The server writes it into the page and the browser's script keeps it counting down
 * with these very functions: assets.ts sends their source text to the browser, so each must stay self-contained
 * (no imports, no closures over module values, nothing Node-only).
 */

/** The page's words for a deadline (from i18n.ts) and the zone its due time is shown in. */
export interface DeadlineWords {
  /** "剩余 {span}（截止 {due}）" */
  left: string;
  /** "已超期 {span}（截止 {due}）" */
  overdue: string;
  /** "{h} 小时 {m} 分": a span of an hour or more. */
  hm: string;
  /** "{m} 分 {s} 秒": the last hour, to the second. */
  ms: string;
  zone: string;
  /** The zone's name in the page's language ("北京时间"), the offset is added to it. */
  zoneName: string;
}

/** "2026-12-07 10:05 北京时间 UTC+08:00": the due time to the minute, in the zone, the zone named (Intl as util/local-time.ts uses it; the browser cannot import that). */
export function dueText(at: number, w: DeadlineWords): string {
  const f = new Intl.DateTimeFormat('en-CA', {
    timeZone: w.zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'longOffset',
  });
  const p: Record<string, string> = {};
  f.formatToParts(at).forEach((x) => (p[x.type] = x.value));
  const gmt = p.timeZoneName ?? 'GMT';
  const offset = gmt === 'GMT' ? '+00:00' : gmt.slice(3);
  return p.year + '-' + p.month + '-' + p.day + ' ' + p.hour + ':' + p.minute + ' ' + w.zoneName + ' UTC' + offset;
}

/** The deadline's text at `now`, and how urgent it is: '' (more than an hour), 'warn' (the last hour), 'bad' (passed). */
export function deadlineText(at: number, now: number, w: DeadlineWords): { text: string; level: '' | 'warn' | 'bad' } {
  const fill = (s: string, v: Record<string, string | number>): string => s.replace(/\{(\w+)\}/g, (m, k: string) => (k in v ? String(v[k]) : m));
  const left = at - now;
  const secs = Math.floor(Math.abs(left) / 1000);
  const h = Math.floor(secs / 3600);
  const m = Math.floor((secs % 3600) / 60);
  const span = h > 0 ? fill(w.hm, { h, m }) : fill(w.ms, { m, s: secs % 60 });
  const text = fill(left >= 0 ? w.left : w.overdue, { span, due: dueText(at, w) });
  return { text, level: left < 0 ? 'bad' : left < 3600_000 ? 'warn' : '' };
}
