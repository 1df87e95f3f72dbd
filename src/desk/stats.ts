/**
 * The statistics for supervision (000 §28), the figures `recgw report --json` gives, from the index: per device, per
 * matter, per officer (by badge), per unit (added up from the devices as the report does) and for the whole store
 * (src/index/search.ts sessionTotals), with each device's
 * receipts whose gateway-stated deadline is beyond the rule (the report's `deadlines.beyondRule`). The page and the
 * CSV export both read these rows.
 */
import { matterByCode } from '../evidence/vocabulary.js';
import type { Officer } from '../evidence/types.js';
import type { Queryable } from '../index/database.js';
import { sessionTotals, type IndexTotals, type SessionFilter } from '../index/search.js';
import { unitRows, type Unit } from '../report/units.js';
import { csvTable } from './csv.js';

export type StatsBy = 'total' | 'device' | 'matter' | 'officer' | 'unit';
export const STATS_BY: readonly StatsBy[] = ['total', 'device', 'matter', 'officer', 'unit'];

export interface StatRow {
  /** The device, matter code, badge or unit name ('' for the total, and for the devices no unit lists). */
  key: string;
  /** What people read: the matter's Chinese name, the officer's name. */
  label: string;
  totals: IndexTotals;
  /** Devices only: receipts whose stated deadline is later than the rule's. */
  beyondRule?: number;
  /** Units only: the devices it counts. */
  devices?: string[];
}

type Period = Pick<SessionFilter, 'from' | 'to'>;

const strip = (p: Period): Period => ({ ...(p.from !== undefined ? { from: p.from } : {}), ...(p.to !== undefined ? { to: p.to } : {}) });

/** One table of figures; per unit, the units file's units (none without one). */
export async function statistics(db: Queryable, by: StatsBy, period: Period = {}, units?: Unit[]): Promise<StatRow[]> {
  const p = strip(period);
  switch (by) {
    case 'unit': {
      if (!units) return [];
      // Added up from the devices' figures in src/report/units.ts, as recgw report --units adds them up.
      const devices = (await statistics(db, 'device', period)).map((r) => ({ deviceId: r.key, totals: r.totals }));
      return unitRows(units, devices).map((u) => ({ key: u.unit ?? '', label: u.unit ?? '', totals: u.totals, devices: u.devices.map((d) => d.deviceId) }));
    }
    case 'total':
      return [{ key: '', label: '', totals: await sessionTotals(db, p) }];
    case 'device': {
      const devices = await db.query<{ device_id: string }>('SELECT device_id FROM devices ORDER BY device_id');
      const beyond = await db.query<{ device_id: string; n: number }>(
        `SELECT device_id, CAST(SUM(CASE WHEN deadline_ms IS NOT NULL AND stated_deadline_ms > deadline_ms THEN 1 ELSE 0 END) AS BIGINT) AS n
           FROM receipts GROUP BY device_id`,
      );
      const n = new Map(beyond.map((b) => [b.device_id, Number(b.n)]));
      return Promise.all(
        devices.map(async (d) => ({ key: d.device_id, label: d.device_id, totals: await sessionTotals(db, { ...p, device: d.device_id }), beyondRule: n.get(d.device_id) ?? 0 })),
      );
    }
    case 'matter': {
      const matters = await db.query<{ matter: string }>('SELECT DISTINCT matter FROM sessions ORDER BY matter');
      return Promise.all(matters.map(async (m) => ({ key: m.matter, label: matterByCode(m.matter)?.zh ?? m.matter, totals: await sessionTotals(db, { ...p, matter: m.matter }) })));
    }
    case 'officer': {
      const badges = await db.query<{ officer: string }>("SELECT DISTINCT officer FROM session_officers WHERE kind = 'badge' ORDER BY officer");
      return Promise.all(badges.map(async (b) => ({ key: b.officer, label: await officerName(db, b.officer), totals: await sessionTotals(db, { ...p, officer: b.officer }) })));
    }
  }
}

/** The name a badge goes by in its earliest session (recgw report names an officer so too; other spellings aside). */
async function officerName(db: Queryable, badge: string): Promise<string> {
  const [row] = await db.query<{ officers: string }>(
    `SELECT s.officers FROM session_officers o JOIN sessions s ON s.device_id = o.device_id AND s.session_id = o.session_id
      WHERE o.officer = $1 AND o.kind = 'badge' ORDER BY o.start_ms, o.device_id, o.session_id LIMIT 1`,
    [badge],
  );
  return row ? ((JSON.parse(row.officers) as Officer[]).find((o) => o.badge === badge)?.name ?? '') : '';
}

/** The columns of the table and the CSV: a name and how to read it from a row. */
export const COLUMNS: readonly { name: string; value: (r: StatRow) => number }[] = [
  { name: 'sessions', value: (r) => r.totals.sessions },
  { name: 'unclosed', value: (r) => r.totals.unclosed },
  { name: 'recorded_seconds', value: (r) => r.totals.recorded.seconds },
  { name: 'interruptions', value: (r) => r.totals.interruptions.total },
  { name: 'terminated', value: (r) => r.totals.terminated.sessions },
  { name: 'terminated_statement_missing', value: (r) => r.totals.terminated.statementMissing },
  { name: 'unexplained_sessions', value: (r) => r.totals.unexplained.sessions },
  { name: 'uploads_on_time', value: (r) => r.totals.uploads.onTime },
  { name: 'uploads_late', value: (r) => r.totals.uploads.late },
];

export function toCsv(by: StatsBy, rows: StatRow[]): string {
  const extra = by === 'device' ? ['beyond_rule'] : by === 'unit' ? ['devices'] : [];
  const head = [by === 'total' ? 'total' : by, 'label', ...COLUMNS.map((c) => c.name), ...extra];
  const more = (r: StatRow): (string | number)[] => (by === 'device' ? [r.beyondRule ?? 0] : by === 'unit' ? [(r.devices ?? []).join(' ')] : []);
  return csvTable(head, rows.map((r) => [r.key, r.label, ...COLUMNS.map((c) => c.value(r)), ...more(r)]));
}
