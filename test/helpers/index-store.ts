/**
 * The store the agency index's tests and the desk's tests share, built with the report's store helpers: an interview
 * room and a vehicle (sessions with parties and places, detected and declared interruptions, a terminated session with
 * and one without a statement, an unclosed one, a vehicle's return to base and a return to coverage, receipts from a
 * gateway configured with a 720 h deadline), and `recgw report --json` of it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { ENTRY } from '../../src/evidence/types.js';
import { caPaths } from '../../src/pki/ca.js';
import type { StoreReport } from '../../src/report/types.js';
import type { IndexDb } from '../../src/index/database.js';
import { TABLES } from '../../src/index/device-rows.js';
import { makeCa, tmp } from './fixtures.js';
import { buildDevice, entriesReceipt, receiptSigner, segName, segmentReceipt, writeReceipts, type PlannedSession } from './report-store.js';

export async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

/** Every row of every table, in a fixed order: two equal dumps are two equal indexes. */
export async function dumpIndex(db: IndexDb): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const t of TABLES) {
    const rows = await db.query<Record<string, unknown>>(`SELECT * FROM ${t}`);
    out[t] = rows.map((r) => JSON.stringify(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1)))).sort();
  }
  return out;
}

export const ZHANG = { name: '张三', badge: '13010001' };
export const LI = { name: '李四', badge: '13010002' };
export const WANG = { name: '王五', badge: '13010003' };
export const ZHAO = { name: '赵六', badge: '13010004' };

export const M = 60_000;
export const H = 60 * M;
export const iso = (t: number): string => new Date(t).toISOString();
// Receipts must be stored within the receipt certificate's validity, which starts when the CA is made: plan around now.
export const t0 = Math.floor(Date.now() / M) * M + M;

// room-1: an inspection whose camera stopped 10 min for a fault (explained) and whose microphone has 5 min that
// nothing explains; a sampling with a declared pause, ended by a power loss and no statement.
export const A: PlannedSession = {
  id: 'S-A',
  matter: 'site-inspection',
  officers: [ZHANG, LI],
  start: iso(t0 - 25 * H),
  segments: [['cam1', 'camera', 0, 60], ['cam1', 'camera', 60, 120], ['cam1', 'camera', 130, 160], ['mic1', 'microphone', 0, 100], ['mic1', 'microphone', 105, 160]],
  interruptions: [['device-fault', 120, 130, ['cam1']]],
  close: { reason: 'stopped', at: 160 },
  caseRef: '京朝市监罚〔2026〕101号',
  party: '某某食品有限公司',
  place: '一号询问室',
};
export const B: PlannedSession = {
  id: 'S-B',
  matter: 'sampling',
  officers: [ZHANG, WANG],
  start: iso(t0 - 6 * H),
  segments: [['mic1', 'microphone', 0, 45]],
  interruptions: [['site-change', 10, 12, undefined, 'declared'], ['power-loss', 45, null]],
  explanations: { heard: [0] },
  close: { reason: 'terminated', at: 50 },
  caseRef: '京朝市监罚〔2026〕102号',
  party: '张记餐馆',
  place: '张记餐馆后厨',
};
// car-2: an inspection ended by a fault, explained by two officers who confirmed with PINs; a hearing never closed,
// with a reason outside the vocabulary and 赵六 written 赵陆.
export const C: PlannedSession = {
  id: 'S-C',
  matter: 'site-inspection',
  officers: [LI, ZHAO],
  start: iso(t0 - 40 * H),
  segments: [['cam1', 'camera', 0, 30], ['cam1', 'camera', 35, 65]],
  // Along Chang'an Avenue, Beijing: about 2.6 km east.
  gps: [[39.90872, 116.39748], [39.90893, 116.42789]],
  interruptions: [['low-battery', 30, 35], ['device-fault', 65, null]],
  close: { reason: 'terminated', at: 70 },
  statementBy: [LI, ZHAO],
  statementConfirmations: [
    { badge: LI.badge, name: LI.name, via: 'panel', at: iso(t0 - 38 * H), roster: 'r1' },
    { badge: ZHAO.badge, name: ZHAO.name, via: 'console', at: iso(t0 - 38 * H), roster: 'r1' },
  ],
  caseRef: '京朝市监罚〔2026〕103号',
  party: '某某运输有限公司',
  place: '京A12345 车内',
};
export const D: PlannedSession = {
  id: 'S-D',
  matter: 'hearing',
  officers: [{ name: '赵陆', badge: ZHAO.badge }],
  start: iso(t0 - 3 * H),
  segments: [['cam1', 'camera', 0, 15]],
  interruptions: [['fire-alarm', 10, 12]],
  caseRef: '',
};
// The vehicle was away from 41 h before t0 and entered its home base 10 min before t0: what ended meanwhile is due
// 24 h after that. A return to coverage (no base) claiming a later return must move nothing.
export const RETURNS = [
  { type: ENTRY.uploadDeadlineExtended, body: { reason: 'returned-to-base', away: { from: iso(t0 - 41 * H), returned: iso(t0 - 10 * M) }, deadline: iso(t0 + 1430 * M), count: 2, items: [] } },
  { type: ENTRY.uploadDeadlineExtended, body: { reason: 'returned-to-coverage', away: { from: iso(t0 - 41 * H), returned: iso(t0 + 48 * H) }, deadline: iso(t0 + 72 * H), count: 2, items: [] } },
];

export interface IndexStore {
  caDir: string;
  store: string;
  /** The agency's units: 朝阳分局 owns room-1, 交通支队 only a device the store lacks; car-2 is in no unit. */
  unitsFile: string;
  /** recgw report --json --ca --units of it. */
  report: StoreReport;
}

export const UNITS = { units: [{ name: '朝阳分局', devices: ['room-1'] }, { name: '交通支队', devices: ['car-9'] }] };

/** The store, in a temp folder, with its CA and its report. */
export async function buildIndexStore(): Promise<IndexStore> {
  const caDir = makeCa().dir;
  const store = tmp('recgw-index-store-');
  const room = await buildDevice(caDir, store, 'room-1', [A, B]);
  const car = await buildDevice(caDir, store, 'car-2', [C, D], RETURNS);
  const sig = receiptSigner(caDir);
  // The gateway states 720 h after each segment's end (uplink.deadlineHours far beyond the rule): recgw report
  // trusts that and finds nothing late; the index judges by the rule.
  const end = (p: PlannedSession, to: number): number => Date.parse(p.start) + to * M;
  const r = (d: typeof room, id: string, p: PlannedSession, source: string, n: number, to: number, storedAt: number): ReturnType<typeof segmentReceipt> =>
    segmentReceipt(d, id, segName(p.id, source, n), { deadline: end(p, to) + 720 * H, storedAt }, sig);
  writeReceipts(room, [
    r(room, 'room-1', A, 'cam1', 0, 60, t0 + 5 * M), // due t0: 5 min late
    r(room, 'room-1', A, 'cam1', 1, 120, t0 + 10 * M), // due t0 + 1 h
    r(room, 'room-1', A, 'cam1', 2, 160, t0 + 2 * H), // due t0 + 1:40: 20 min late
    r(room, 'room-1', A, 'mic1', 0, 100, t0 + 10 * M),
    r(room, 'room-1', A, 'mic1', 1, 160, t0 + 10 * M),
    r(room, 'room-1', B, 'mic1', 0, 45, t0 + 10 * M),
    entriesReceipt(room, 'room-1', { deadline: t0 + 720 * H, storedAt: t0 + 10 * M }, sig), // the entries were written about t0
  ]);
  writeReceipts(car, [
    r(car, 'car-2', C, 'cam1', 0, 30, t0 + 30 * M), // due 24 h after the return to base (t0 + 23:50): on time
    r(car, 'car-2', C, 'cam1', 1, 65, t0 + 30 * H), // 6:10 late; the return to coverage would have made it on time
  ]);
  const unitsFile = join(tmp('recgw-units-'), 'units.json');
  writeFileSync(unitsFile, JSON.stringify(UNITS));
  const rep = await cli('report', store, '--json', '--ca', caPaths(caDir).caCert, '--units', unitsFile);
  if (rep.code !== 0) throw new Error(`recgw report failed: ${rep.err}`);
  return { caDir, store, unitsFile, report: JSON.parse(rep.out) as StoreReport };
}
