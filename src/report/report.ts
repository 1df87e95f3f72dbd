/**
 * `recgw report`: the evidence officer's summary of a receiver's store, per device, per officer and per matter.
 * It reads what `recgw verify` reads but proves nothing: it counts.
 */
import { basename } from 'node:path';
import { MATTERS, matterByCode } from '../evidence/vocabulary.js';
import { findDeviceDirs } from '../verify/verifier.js';
import { RecgwError, describe } from '../util/errors.js';
import { readDeviceSessions, type ReportSession } from './device-sessions.js';
import { readReceipts } from './receipts.js';
import { judgeByRule, statedBeyondRule } from './deadline-rule.js';
import { readAlerts } from './alerts.js';
import { Tally } from './tally.js';
import { unitRows, type Unit } from './units.js';
import type { DeviceSummary, MatterSummary, OfficerSummary, StoreReport, UnitSummary, WorstLate } from './types.js';

export interface ReportOptions {
  /** The agency CA: with it, receipts are checked and invalid ones are not counted. */
  caPems?: string[];
  /** The agency's units (a units file, src/report/units.ts): with them, the figures per unit too. */
  units?: Unit[];
}

interface OfficerRow {
  name: string;
  otherNames: Set<string>;
  tally: Tally;
}

export async function buildReport(store: string, opts: ReportOptions = {}): Promise<StoreReport> {
  const dirs = findDeviceDirs(store);
  if (dirs.length === 0) throw new RecgwError('invalid', `${store} is not a store: neither it nor any folder in it holds a ledger.jsonl`);
  const total = new Tally();
  const officers = new Map<string, OfficerRow>();
  const matters = new Map<string, Tally>();
  const devices: DeviceSummary[] = [];

  // The rows a session counts toward: its matter and each distinct officer (by badge) on it.
  const rowsOf = (s: ReportSession): Tally[] => {
    const rows = new Map<string, Tally>();
    for (const o of s.officers) {
      let row = officers.get(o.badge);
      if (!row) officers.set(o.badge, (row = { name: o.name, otherNames: new Set(), tally: new Tally() }));
      else if (o.name !== row.name) row.otherNames.add(o.name);
      rows.set(o.badge, row.tally);
    }
    let m = matters.get(s.matter);
    if (!m) matters.set(s.matter, (m = new Tally()));
    return [m, ...rows.values()];
  };

  for (const dir of dirs) {
    const d = await readDevice(dir, opts.caPems ?? []);
    const device = new Tally();
    const bySegment = new Map<string, Tally[]>();
    for (const s of d.sessions) {
      const rows = [device, total, ...rowsOf(s)];
      for (const r of rows) r.addSession(s);
      for (const seg of s.segments) bySegment.set(seg.name, rows);
    }
    const receipts = readOrRefuse(dir, () => readReceipts(dir, d.deviceId, opts.caPems));
    // On time or late by the rule, never by the deadline the gateway states for itself (deadline-rule.ts).
    const items = judgeByRule(receipts.items, new Map(d.segments.map((g) => [g.name, g.end])), d.entryTimes, d.returns);
    const deadlines = { beyondRule: items.filter(statedBeyondRule).length, ruleUnknown: items.filter((i) => i.ruleUnknown).length };
    for (const item of items) {
      // Entries receipts and receipts for segments outside any session count for the device and the store only.
      const rows = (item.segment !== undefined && bySegment.get(item.segment)) || [device, total];
      for (const r of rows) r.addItem(item);
    }
    const alerts = readOrRefuse(dir, () => readAlerts(dir, d.deviceId, opts.caPems));
    devices.push({ deviceId: d.deviceId, folder: basename(dir), entries: d.entries, ...device.totals(), receipts: receipts.summary, deadlines, alerts });
  }

  const officerRows: OfficerSummary[] = [...officers]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([badge, o]) => ({ badge, name: o.name, otherNames: [...o.otherNames].sort(), ...o.tally.totals() }));
  // Matters in the order of the agency's list (事项清单), codes outside it after, alphabetically.
  const rank = (code: string): number => {
    const i = MATTERS.findIndex((m) => m.code === code);
    return i < 0 ? MATTERS.length : i;
  };
  const matterRows: MatterSummary[] = [...matters]
    .sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
    .map(([matter, t]) => ({ matter, zh: matterByCode(matter)?.zh ?? null, ...t.totals() }));

  return {
    ...(opts.units ? { units: perUnit(opts.units, devices) } : {}),
    v: 1,
    store,
    recordedBasis: 'camera, else microphone',
    receiptsChecked: opts.caPems !== undefined,
    devices,
    officers: officerRows,
    matters: matterRows,
    total: total.totals(),
  };
}

/** Each unit's figures, added up from its devices' in units.ts (as the desk adds them up); its worst item is its devices' worst. */
function perUnit(units: Unit[], devices: DeviceSummary[]): UnitSummary[] {
  return unitRows(units, devices.map((d) => ({ deviceId: d.deviceId, totals: d, worst: d.uploads.worst }))).map((u) => {
    const worst = u.devices.reduce<WorstLate | null>((w, d) => (d.worst && (!w || d.worst.lateSeconds > w.lateSeconds) ? d.worst : w), null);
    return { unit: u.unit, devices: u.devices.map((d) => d.deviceId), ...u.totals, uploads: { ...u.totals.uploads, worst } };
  });
}

/** A file that exists but cannot be read (permissions, a folder where a file should be) is exit 1, not a crash. */
const unreadable = (dir: string, err: unknown): RecgwError =>
  new RecgwError('io', `cannot read the device folder ${dir}: ${describe(err)}`, { cause: err });

async function readDevice(dir: string, caPems: string[]): ReturnType<typeof readDeviceSessions> {
  try {
    return await readDeviceSessions(dir, caPems, { entryTimes: true });
  } catch (err) {
    throw unreadable(dir, err);
  }
}

function readOrRefuse<T>(dir: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    throw unreadable(dir, err);
  }
}
