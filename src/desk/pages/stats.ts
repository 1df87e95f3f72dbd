/**
 * The statistics page: the period form, the totals, one table per device / matter / officer (each cell carries its
 * raw figure in data-v, for checking against recgw report --json), interruptions by reason, and CSV links. Devices
 * whose gateway stated deadlines beyond the rule are flagged.
 */
import { h, type Html } from '../../console/html.js';
import { reasonByCode } from '../../evidence/vocabulary.js';
import { COLUMNS, type StatRow, type StatsBy } from '../stats.js';
import type { DeskKey } from '../i18n.js';
import { frame, type View } from '../view.js';
import { matterText } from './search.js';

const HEAD: Record<string, DeskKey> = {
  sessions: 'stats.sessions',
  unclosed: 'stats.unclosed',
  recorded_seconds: 'stats.hours',
  interruptions: 'stats.interruptions',
  terminated: 'stats.terminated',
  terminated_statement_missing: 'stats.statementMissing',
  unexplained_sessions: 'stats.unexplained',
  uploads_on_time: 'stats.onTime',
  uploads_late: 'stats.late',
};

const TITLE: Record<StatsBy, DeskKey> = { total: 'stats.total', device: 'stats.byDevice', matter: 'stats.byMatter', officer: 'stats.byOfficer', unit: 'stats.byUnit' };

function cell(name: string, n: number): Html {
  return h`<td data-k="${name}" data-v="${n}">${name === 'recorded_seconds' ? (n / 3600).toFixed(2) : n}</td>`;
}

function table(v: View, by: StatsBy, rows: StatRow[], csv: string): Html {
  const { t } = v;
  const label = (r: StatRow): string | Html =>
    by === 'total'
      ? t('stats.total')
      : by === 'matter'
        ? matterText(v, r.key)
        : by === 'officer'
          ? `${r.label}（${r.key}）`
          : by === 'unit'
            ? h`${r.key || t('stats.noUnit')} <small>${r.devices?.length ? `（${r.devices.join('、')}）` : ''}</small>`
            : r.key;
  const body = rows.map(
    (r) => h`<tr data-key="${r.key}"><th>${label(r)}</th>${COLUMNS.map((c) => cell(c.name, c.value(r)))}${
      by === 'device' ? h`<td data-k="beyond_rule" data-v="${r.beyondRule ?? 0}" class="${r.beyondRule ? 'late' : ''}">${r.beyondRule ? t('stats.beyondFlag', { n: r.beyondRule }) : '0'}</td>` : ''
    }</tr>`,
  );
  return h`<h2>${t(TITLE[by])} <a class="csv" href="${csv}">${t('stats.csv')}</a></h2><table id="stats-${by}"><thead><tr><th>${t('stats.key')}</th>${COLUMNS.map((c) => h`<th>${t(HEAD[c.name]!)}</th>`)}${
    by === 'device' ? h`<th>${t('stats.beyondRule')}</th>` : ''
  }</tr></thead><tbody>${body}</tbody></table>`;
}

/** The charts (drawn by /assets/desk-charts.js from /stats.json; no inline script), per day, month or year. */
function charts(v: View, q: URLSearchParams, unit: string, unitsConfigured: boolean): Html {
  const { t } = v;
  const src = `/stats.json?${new URLSearchParams([...q, ['unit', unit], ['lang', v.lang]]).toString()}`;
  const labels = JSON.stringify({ sessions: t('stats.sessions'), hours: t('stats.hours'), reasons: t('stats.byReason'), uploads: t('stats.uploads'), onTime: t('stats.onTime'), late: t('stats.late') });
  const unitLink = (u: string): Html =>
    u === unit ? h`<strong>${t(`stats.unit.${u as 'day'}`)}</strong>` : h`<a href="/stats?${new URLSearchParams([...q, ['unit', u]]).toString()}#charts">${t(`stats.unit.${u as 'day'}`)}</a>`;
  return h`<h2>${t('stats.chart')}</h2><section id="charts" data-src="${src}" data-labels="${labels}">
    <div class="chart-grid"><figure><figcaption>${t('stats.byMatter')}</figcaption><div class="chart" id="chart-matter"></div></figure>
    <figure><figcaption>${t('stats.byOfficer')}</figcaption><div class="chart" id="chart-officer"></div></figure>
    <figure><figcaption>${t('stats.byDevice')}</figcaption><div class="chart" id="chart-device"></div></figure>
    ${unitsConfigured ? h`<figure><figcaption>${t('stats.byUnit')}</figcaption><div class="chart" id="chart-unit"></div></figure>` : ''}
    <figure><figcaption>${t('stats.byReason')}</figcaption><div class="chart" id="chart-reasons"></div></figure>
    <figure><figcaption>${t('stats.uploads')}</figcaption><div class="chart" id="chart-uploads"></div></figure></div>
    <figure class="wide"><figcaption>${t('stats.perUnit')}：${['day', 'month', 'year'].map((u, i) => h`${i ? ' · ' : ''}${unitLink(u)}`)}</figcaption><div class="chart" id="chart-series"></div></figure></section>
    <script src="/assets/echarts.min.js"></script><script src="/assets/desk-charts.js"></script>`;
}

/** The units' table, or where the units come from when the desk has none. */
function unitTable(v: View, rows: StatRow[], csv: string, configured: boolean): Html {
  return configured ? table(v, 'unit', rows, csv) : h`<h2>${v.t('stats.byUnit')}</h2><p id="stats-unit-none">${v.t('stats.noUnits')}</p>`;
}

export function statsPage(v: View, period: { from?: string; to?: string; unit?: string }, tables: Record<StatsBy, StatRow[]>, unitsConfigured: boolean): string {
  const { t } = v;
  const q = new URLSearchParams();
  if (period.from) q.set('from', period.from);
  if (period.to) q.set('to', period.to);
  const csv = (by: StatsBy): string => `/stats.csv?${new URLSearchParams([...q, ['by', by]]).toString()}`;
  const reasons = tables.total[0]!.totals.interruptions.byReason.map(
    (r) => h`<tr data-key="${r.reason}"><th>${v.lang === 'en' ? (reasonByCode(r.reason)?.en ?? r.reason) : (r.zh ?? r.reason)}</th><td data-k="count" data-v="${r.count}">${r.count}</td></tr>`,
  );
  return frame(
    v,
    t('stats.title'),
    h`<p class="legend">${t('stats.note')}</p>
      <form class="search" method="get" action="/stats"><label>${t('search.from')}<input name="from" type="date" value="${period.from ?? ''}"></label>
      <label>${t('search.to')}<input name="to" type="date" value="${period.to ?? ''}"></label><button type="submit">${t('stats.apply')}</button></form>
      ${charts(v, q, period.unit ?? 'day', unitsConfigured)}
      ${(['total', 'device', 'matter', 'officer'] as const).map((by) => table(v, by, tables[by], csv(by)))}${unitTable(v, tables.unit, csv('unit'), unitsConfigured)}
      <h2>${t('stats.byReason')}</h2><table id="stats-reasons"><thead><tr><th>${t('stats.reason')}</th><th>${t('stats.count')}</th></tr></thead><tbody>${reasons}</tbody></table>`,
  );
}
