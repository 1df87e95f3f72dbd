/**
 * The agency's units (单位: a bureau, a station, a squad) and the devices each one owns, from a units file the agency
 * writes: the ledgers name no unit, so the file says which rooms and vehicles are whose. `recgw report --units` and the
 * desk's statistics (config `units`) both read it here and both add a unit's figures up here, from their per-device
 * figures, so the two give the same numbers. Every session belongs to one device, so a unit's figures are its devices'
 * added up; devices no unit lists make one row of their own (unit null), so the rows add up to the total.
 */
import { readFileSync } from 'node:fs';
import { RecgwError, isENOENT } from '../util/errors.js';
import type { Totals } from './types.js';

export interface Unit {
  name: string;
  devices: string[];
}

/** The figures that add up (the report's Totals without its worst item, which a sum cannot give). */
export type CountTotals = Omit<Totals, 'uploads'> & { uploads: { onTime: number; late: number } };

const FORMAT = 'write {"units": [{"name": "朝阳分局", "devices": ["room-1", "car-2"]}, ...]}';

/** The units file's text as units; every problem names the unit and the fix. */
export function parseUnits(text: string, file: string): Unit[] {
  const bad = (what: string): never => {
    throw new RecgwError('config', `the units file ${file}: ${what}`);
  };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return bad(`is not JSON (${(err as Error).message}): ${FORMAT}`);
  }
  const list = (v as { units?: unknown } | null)?.units;
  if (!Array.isArray(list)) return bad(`holds no "units" list: ${FORMAT}`);
  const names = new Set<string>();
  const owner = new Map<string, string>();
  return list.map((u: unknown, i) => {
    const x = (typeof u === 'object' && u !== null ? u : {}) as Record<string, unknown>;
    const name = typeof x.name === 'string' ? x.name.trim() : '';
    if (name === '' || name.length > 64) bad(`unit ${i + 1} has no "name" of 1–64 characters: name it as people call it, e.g. "朝阳分局"`);
    if (names.has(name)) bad(`the unit "${name}" is listed twice: list each unit once, with all its devices`);
    names.add(name);
    if (!Array.isArray(x.devices) || !x.devices.every((d) => typeof d === 'string' && d !== '')) bad(`the unit "${name}" has no "devices" list of device IDs: give the IDs its gateways were enrolled with`);
    for (const d of x.devices as string[]) {
      const other = owner.get(d);
      if (other !== undefined) bad(`the device ${d} is listed under "${other}" and "${name}": a device belongs to one unit`);
      owner.set(d, name);
    }
    return { name, devices: [...(x.devices as string[])] };
  });
}

export function readUnitsFile(path: string): Unit[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RecgwError('config', isENOENT(err) ? `the units file ${path} does not exist: ${FORMAT}` : `cannot read the units file ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseUnits(text, path);
}

const ms3 = (s: number): number => Math.round(s * 1000) / 1000;

/** Two rows' figures added up; reasons merged and in code order, as the report orders them. */
export function addTotals(a: CountTotals, b: CountTotals): CountTotals {
  const reasons = new Map<string, { zh: string | null; count: number }>();
  for (const r of [...a.interruptions.byReason, ...b.interruptions.byReason]) {
    const had = reasons.get(r.reason);
    reasons.set(r.reason, { zh: r.zh, count: (had?.count ?? 0) + r.count });
  }
  const byReason = [...reasons].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).map(([reason, r]) => ({ reason, zh: r.zh, count: r.count }));
  return {
    sessions: a.sessions + b.sessions,
    unclosed: a.unclosed + b.unclosed,
    recorded: {
      seconds: ms3(a.recorded.seconds + b.recorded.seconds),
      cameraSessions: a.recorded.cameraSessions + b.recorded.cameraSessions,
      microphoneSessions: a.recorded.microphoneSessions + b.recorded.microphoneSessions,
      noFootageSessions: a.recorded.noFootageSessions + b.recorded.noFootageSessions,
    },
    interruptions: { total: a.interruptions.total + b.interruptions.total, byReason },
    terminated: { sessions: a.terminated.sessions + b.terminated.sessions, statementMissing: a.terminated.statementMissing + b.terminated.statementMissing },
    unexplained: { sessions: a.unexplained.sessions + b.unexplained.sessions, statementMissing: a.unexplained.statementMissing + b.unexplained.statementMissing },
    uploads: { onTime: a.uploads.onTime + b.uploads.onTime, late: a.uploads.late + b.uploads.late },
    clock: {
      unsynchronisedSegments: a.clock.unsynchronisedSegments + b.clock.unsynchronisedSegments,
      assumedSegments: a.clock.assumedSegments + b.clock.assumedSegments,
      sessions: a.clock.sessions + b.clock.sessions,
    },
  };
}

const ZERO: CountTotals = {
  sessions: 0,
  unclosed: 0,
  recorded: { seconds: 0, cameraSessions: 0, microphoneSessions: 0, noFootageSessions: 0 },
  interruptions: { total: 0, byReason: [] },
  terminated: { sessions: 0, statementMissing: 0 },
  unexplained: { sessions: 0, statementMissing: 0 },
  uploads: { onTime: 0, late: 0 },
  clock: { unsynchronisedSegments: 0, assumedSegments: 0, sessions: 0 },
};

/**
 * Each unit's figures from its devices' (in the file's order), then the devices no unit lists (unit null) when there
 * are any. `devices` names the devices of the store each row counts.
 */
export function unitRows<D extends { deviceId: string; totals: CountTotals }>(units: Unit[], devices: D[]): { unit: string | null; devices: D[]; totals: CountTotals }[] {
  const listed = new Set(units.flatMap((u) => u.devices));
  const row = (unit: string | null, ds: D[]) => ({ unit, devices: ds, totals: ds.reduce((t, d) => addTotals(t, d.totals), ZERO) });
  const out = units.map((u) => row(u.name, devices.filter((d) => u.devices.includes(d.deviceId))));
  const rest = devices.filter((d) => !listed.has(d.deviceId));
  if (rest.length > 0) out.push(row(null, rest));
  return out;
}
