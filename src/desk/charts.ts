/**
 * The statistics' charts (issue 17, §28), drawn in the browser by Apache ECharts from GET /stats.json: sessions and
 * recorded hours by matter, officer, device and unit, interruptions by reason, uploads on time and late, and the same per day, month or year
 * (buckets of the desk's zone). Every figure comes from sessionTotals, as the tables' do, so charts and tables agree.
 * A bucket's uploads are its sessions' segments' (as a period's table counts them); without a period the total
 * uploads are every receipt's (as recgw report --json counts them), which no bucket of sessions holds.
 */
import type { Queryable } from '../index/database.js';
import { sessionTotals } from '../index/search.js';
import { reasonByCode } from '../evidence/vocabulary.js';
import { dayStart, localClock } from '../util/local-time.js';
import { RecgwError } from '../util/errors.js';
import { statistics, type StatRow } from './stats.js';
import type { Unit as UnitList } from '../report/units.js';

export const UNITS = ['day', 'month', 'year'] as const;
export type Unit = (typeof UNITS)[number];
/** At most this many buckets in one series (a year of days). */
export const MAX_BUCKETS = 400;

/** One bar of a "by" chart: a matter, officer, device or unit. */
export interface Bar {
  key: string;
  label: string;
  sessions: number;
  hours: number;
}

export interface ChartData {
  unit: Unit;
  byMatter: Bar[];
  byOfficer: Bar[];
  byDevice: Bar[];
  /** Empty when the desk has no units file. */
  byUnit: Bar[];
  byReason: { reason: string; label: string; count: number }[];
  uploads: { onTime: number; late: number };
  series: { bucket: string; sessions: number; hours: number; onTime: number; late: number }[];
}

const hours = (seconds: number): number => Math.round((seconds / 3600) * 100) / 100;

/** "2026-12-07" of an instant in the zone. */
const localDay = (ms: number, zone: string): string => localClock(ms, zone).slice(0, 10);

/** The start of each bucket from the one holding `from` to the one holding `to - 1`, and the bucket's label. */
export function buckets(fromMs: number, toMs: number, unit: Unit, zone: string): { label: string; from: number; to: number }[] {
  const first = localDay(fromMs, zone);
  let [y, m, d] = first.split('-').map(Number) as [number, number, number];
  if (unit !== 'day') d = 1;
  if (unit === 'year') m = 1;
  const out: { label: string; from: number; to: number }[] = [];
  const text = (yy: number, mm: number, dd: number): string => new Date(Date.UTC(yy, mm - 1, dd)).toISOString().slice(0, 10);
  let start = dayStart(text(y, m, d), zone)!;
  while (start < toMs) {
    if (out.length >= MAX_BUCKETS) throw new RecgwError('usage', `more than ${MAX_BUCKETS} ${unit}s in the period: choose a shorter period or a longer unit`);
    const next = new Date(Date.UTC(y, m - 1 + (unit === 'month' ? 1 : 0), d + (unit === 'day' ? 1 : 0)));
    if (unit === 'year') next.setUTCFullYear(y + 1);
    const label = unit === 'day' ? text(y, m, d) : unit === 'month' ? text(y, m, 1).slice(0, 7) : String(y);
    [y, m, d] = [next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate()];
    const end = dayStart(text(y, m, d), zone)!;
    out.push({ label, from: start, to: end });
    start = end;
  }
  return out;
}

/** The rows with sessions in the period, as bars. */
const bars = (rows: StatRow[], label: (r: StatRow) => string): Bar[] =>
  rows.filter((r) => r.totals.sessions > 0).map((r) => ({ key: r.key, label: label(r), sessions: r.totals.sessions, hours: hours(r.totals.recorded.seconds) }));

export async function chartData(db: Queryable, period: { from?: number; to?: number }, unit: Unit, zone: string, lang: 'zh-CN' | 'en', units?: UnitList[]): Promise<ChartData> {
  const [total] = await statistics(db, 'total', period);
  const matters = await statistics(db, 'matter', period);
  const unitLabel = (r: StatRow): string => r.key || (lang === 'en' ? 'in no unit' : '未列入单位');
  const t = total!.totals;
  let from = period.from;
  let to = period.to;
  if (from === undefined || to === undefined) {
    const [r] = await db.query<{ lo: number | string | null; hi: number | string | null }>('SELECT MIN(start_ms) AS lo, MAX(start_ms) AS hi FROM sessions');
    from ??= r?.lo === null || r?.lo === undefined ? undefined : Number(r.lo);
    to ??= r?.hi === null || r?.hi === undefined ? undefined : Number(r.hi) + 1;
  }
  const series = [];
  if (from !== undefined && to !== undefined && to > from) {
    for (const b of buckets(from, to, unit, zone)) {
      const bt = await sessionTotals(db, { from: b.from, to: b.to });
      series.push({ bucket: b.label, sessions: bt.sessions, hours: hours(bt.recorded.seconds), onTime: bt.uploads.onTime, late: bt.uploads.late });
    }
  }
  return {
    unit,
    byMatter: bars(matters, (r) => (lang === 'en' ? r.key : r.label)),
    byOfficer: bars(await statistics(db, 'officer', period), (r) => `${r.label}（${r.key}）`),
    byDevice: bars(await statistics(db, 'device', period), (r) => r.key),
    byUnit: bars(await statistics(db, 'unit', period, units), unitLabel),
    byReason: t.interruptions.byReason.map((r) => ({ reason: r.reason, label: lang === 'en' ? (reasonByCode(r.reason)?.en ?? r.reason) : (r.zh ?? r.reason), count: r.count })),
    uploads: { onTime: t.uploads.onTime, late: t.uploads.late },
    series,
  };
}
