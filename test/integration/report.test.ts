/**
 * `recgw report`: a store of two devices with four planned sessions (hours long, with interruptions, a
 * terminated session with and one without a statement, an unclosed one, a resume explained aloud and one not) and
 * receipts on time, late (by the rule, whatever deadline the gateway stated), repeated, forged, for another device
 * and broken. Every figure is known from the plan, so the test asserts them exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import {
  buildDevice,
  entriesReceipt,
  forgerSigner,
  receiptSigner,
  segName,
  segmentReceipt,
  writeReceipts,
  type PlannedSession,
} from '../helpers/report-store.js';
import { encodeReceipt } from '../../src/evidence/receipt.js';
import { caPaths } from '../../src/pki/ca.js';
import { main } from '../../src/cli/main.js';
import { verifyStore } from '../../src/verify/verifier.js';
import type { StoreReport, Totals } from '../../src/report/types.js';

const ZHANG = { name: '张三', badge: '13010001' };
const LI = { name: '李四', badge: '13010002' };
const WANG = { name: '王五', badge: '13010003' };
const ZHAO = { name: '赵六', badge: '13010004' };

// Device room-1: a 2 h 40 min inspection whose camera stopped 10 min for a fault while the microphone went on
// (camera time 2:30, microphone 2:40), nobody heard stating why after it came back and no statement; and a
// microphone-only sampling ended by a power loss, with no statement.
const A: PlannedSession = {
  id: 'S-A',
  matter: 'site-inspection',
  officers: [ZHANG, LI],
  start: '2026-03-02T01:00:00.000Z',
  segments: [['cam1', 'camera', 0, 60], ['cam1', 'camera', 60, 120], ['cam1', 'camera', 130, 160], ['mic1', 'microphone', 0, 160]],
  interruptions: [['device-fault', 120, 130, ['cam1']]],
  explanations: { missing: [0] },
  close: { reason: 'stopped', at: 160 },
};
const B: PlannedSession = {
  id: 'S-B',
  matter: 'sampling',
  officers: [ZHANG, WANG],
  start: '2026-03-02T06:00:00.000Z',
  segments: [['mic1', 'microphone', 0, 45]],
  interruptions: [['power-loss', 45, null]],
  close: { reason: 'terminated', at: 50 },
};
// Device car-2: an inspection (1:00 of camera around a battery change, its reason stated aloud after) ended by a
// fault, explained by two officers; a hearing never closed, with a reason code outside the vocabulary and 赵六's name
// mistyped.
const C: PlannedSession = {
  id: 'S-C',
  matter: 'site-inspection',
  officers: [LI, ZHAO],
  start: '2026-03-03T02:00:00.000Z',
  // Its second segment was timed by a clock that had lost its sync; S-D's by one only assumed synchronised.
  segments: [['cam1', 'camera', 0, 30], ['cam1', 'camera', 35, 65, { source: 'rtc', synced: false }]],
  interruptions: [['low-battery', 30, 35], ['device-fault', 65, null]],
  explanations: { heard: [0] },
  close: { reason: 'terminated', at: 70 },
  statementBy: [LI, ZHAO],
};
const D: PlannedSession = {
  id: 'S-D',
  matter: 'hearing',
  officers: [{ name: '赵陆', badge: ZHAO.badge }],
  start: '2026-03-03T05:00:00.000Z',
  segments: [['cam1', 'camera', 0, 15, { source: 'system', synced: true, assumed: true }]],
  interruptions: [['fire-alarm', 10, 12]],
};

const H = 3_600_000;
const M = 60_000;
let caDir: string;
let store: string;
let now: number;
const iso = (t: number): string => new Date(t).toISOString();
/** When the rule wants a planned segment stored: 24 h after it ended (the n-th segment of `source`). */
const due = (p: PlannedSession, source: string, n: number): number => Date.parse(p.start) + p.segments.filter((g) => g[0] === source)[n]![3] * M + 24 * H;

beforeAll(async () => {
  // The sessions are dated March 2026: the agency's receipt certificate must be valid since then.
  caDir = makeCa({ now: new Date('2026-03-01T00:00:00Z') }).dir;
  store = tmp('recgw-report-');
  const room = await buildDevice(caDir, store, 'room-1', [A, B]);
  const car = await buildDevice(caDir, store, 'car-2', [C, D]);
  // The entries receipt is due 24 h after the oldest entry it delivers, written just now.
  now = Math.floor(Date.now() / 1000) * 1000;
  const sig = receiptSigner(caDir);
  const stored = (p: PlannedSession, source: string, n: number, lateMs: number, stated = due(p, source, n)): { deadline: number; storedAt: number } => ({
    deadline: stated,
    storedAt: due(p, source, n) + lateMs,
  });
  const a0 = segmentReceipt(room, 'room-1', segName('S-A', 'cam1', 0), stored(A, 'cam1', 0, -H), sig);
  writeReceipts(room, [
    a0,
    segmentReceipt(room, 'room-1', segName('S-A', 'cam1', 1), stored(A, 'cam1', 1, 2 * H + 5 * M), sig),
    '{"v":1,"type":"receipt","kind":"seg',
    entriesReceipt(room, 'room-1', { deadline: now + H, storedAt: now + 10 * M }, sig),
    segmentReceipt(room, 'room-1', segName('S-B', 'mic1', 0), stored(B, 'mic1', 0, 30 * M), sig),
    a0, // the receiver repeated a receipt
    segmentReceipt(room, 'room-1', segName('S-A', 'cam1', 2), stored(A, 'cam1', 2, -H), forgerSigner(caDir)),
    '{"v":1,"type":"receipt","kind":"segment"}',
  ]);
  writeReceipts(car, [
    segmentReceipt(car, 'car-2', segName('S-C', 'cam1', 0), stored(C, 'cam1', 0, -H), sig),
    // A gateway configured for 720 h states a deadline the rule does not grant: stored 3:15 after the rule's, it is late.
    segmentReceipt(car, 'car-2', segName('S-C', 'cam1', 1), stored(C, 'cam1', 1, 3 * H + 15 * M, due(C, 'cam1', 1) + 696 * H), sig),
    segmentReceipt(car, 'car-2', segName('S-D', 'cam1', 0), stored(D, 'cam1', 0, -55 * M), sig),
    encodeReceipt(a0), // another device's receipt filed in the wrong folder
  ]);
}, 60_000);
afterAll(cleanupTmp);

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['report', ...args], { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

async function json(withCa: boolean): Promise<StoreReport> {
  const r = await run(store, '--json', ...(withCa ? ['--ca', caPaths(caDir).caCert] : []));
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  expect(r.out.endsWith('\n') && !r.out.slice(0, -1).includes('\n')).toBe(true); // one line
  return JSON.parse(r.out) as StoreReport;
}

const reasons = (...r: [string, string | null, number][]): Totals['interruptions']['byReason'] => r.map(([reason, zh, count]) => ({ reason, zh, count }));
const late = (deviceId: string, item: string, deadline: number, storedAt: number): NonNullable<Totals['uploads']['worst']> => ({
  deviceId,
  kind: 'segment',
  item,
  deadline: iso(deadline),
  storedAt: iso(storedAt),
  lateSeconds: (storedAt - deadline) / 1000,
});
const totalsOf = (t: Totals): Totals => ({
  sessions: t.sessions,
  unclosed: t.unclosed,
  recorded: t.recorded,
  interruptions: t.interruptions,
  terminated: t.terminated,
  unexplained: t.unexplained,
  uploads: t.uploads,
  clock: t.clock,
});

describe('recgw report', () => {
  it('counts sessions, camera hours, interruptions, missing statements and uploads for the whole store', async () => {
    const r = await json(true);
    expect(r.total).toEqual({
      sessions: 4,
      unclosed: 1,
      recorded: { seconds: (150 + 45 + 60 + 15) * 60, cameraSessions: 3, microphoneSessions: 1, noFootageSessions: 0 },
      interruptions: { total: 5, byReason: reasons(['device-fault', '设备故障', 2], ['fire-alarm', null, 1], ['low-battery', '电量不足', 1], ['power-loss', '断电', 1]) },
      terminated: { sessions: 2, statementMissing: 1 },
      clock: { unsynchronisedSegments: 1, assumedSegments: 1, sessions: 2 },
      unexplained: { sessions: 1, statementMissing: 1 },
      uploads: { onTime: 4, late: 3, worst: late('car-2', segName('S-C', 'cam1', 1), due(C, 'cam1', 1), due(C, 'cam1', 1) + 3 * H + 15 * M) },
    });
  });

  it('gives the same figures per device, with the receipts file summarised line by line', async () => {
    const r = await json(true);
    expect(r.devices.map((d) => [d.deviceId, d.folder])).toEqual([['car-2', 'car-2'], ['room-1', 'room-1']]);
    const [car, room] = r.devices as [StoreReport['devices'][0], StoreReport['devices'][0]];
    expect(totalsOf(room)).toEqual({
      sessions: 2,
      unclosed: 0,
      recorded: { seconds: (150 + 45) * 60, cameraSessions: 1, microphoneSessions: 1, noFootageSessions: 0 },
      interruptions: { total: 2, byReason: reasons(['device-fault', '设备故障', 1], ['power-loss', '断电', 1]) },
      terminated: { sessions: 1, statementMissing: 1 },
      clock: { unsynchronisedSegments: 0, assumedSegments: 0, sessions: 0 },
      unexplained: { sessions: 1, statementMissing: 1 },
      // On time: S-A cam1 #0 and the entries receipt; late: S-A cam1 #1 (2:05) and S-B mic1 #0 (0:30).
      uploads: { onTime: 2, late: 2, worst: late('room-1', segName('S-A', 'cam1', 1), due(A, 'cam1', 1), due(A, 'cam1', 1) + 2 * H + 5 * M) },
    });
    expect(room.receipts).toEqual({
      present: true,
      lines: 8,
      accepted: 5,
      duplicates: 1,
      malformed: [
        { line: 3, problem: 'not valid JSON' },
        { line: 8, problem: "the receipt's device is missing" },
      ],
      invalid: [{ line: 7, problem: 'the receipt signature does not verify with its certificate' }],
    });
    expect(totalsOf(car)).toEqual({
      sessions: 2,
      unclosed: 1,
      recorded: { seconds: (60 + 15) * 60, cameraSessions: 2, microphoneSessions: 0, noFootageSessions: 0 },
      interruptions: { total: 3, byReason: reasons(['device-fault', '设备故障', 1], ['fire-alarm', null, 1], ['low-battery', '电量不足', 1]) },
      terminated: { sessions: 1, statementMissing: 0 },
      clock: { unsynchronisedSegments: 1, assumedSegments: 1, sessions: 2 },
      unexplained: { sessions: 0, statementMissing: 0 },
      uploads: { onTime: 2, late: 1, worst: late('car-2', segName('S-C', 'cam1', 1), due(C, 'cam1', 1), due(C, 'cam1', 1) + 3 * H + 15 * M) },
    });
    expect(car.receipts).toEqual({ present: true, lines: 4, accepted: 3, duplicates: 0, malformed: [], invalid: [{ line: 4, problem: 'names device "room-1", not "car-2"' }] });
    // car-2 stated one deadline 29 days after the segment: judged by the rule, and the device named as configured beyond it.
    expect([room.deadlines, car.deadlines]).toEqual([
      { beyondRule: 0, ruleUnknown: 0 },
      { beyondRule: 1, ruleUnknown: 0 },
    ]);
  });

  it('adds up across devices per officer (by badge) and per matter', async () => {
    const r = await json(true);
    const brief = (t: Totals): unknown[] => [
      t.sessions,
      t.unclosed,
      t.recorded.seconds / 60,
      t.interruptions.byReason.map((x) => `${x.reason}:${x.count}`).join(' '),
      t.terminated.sessions,
      t.terminated.statementMissing,
      t.uploads.onTime,
      t.uploads.late,
      t.uploads.worst?.item ?? null,
    ];
    expect(r.officers.map((o) => [o.badge, o.name, o.otherNames, ...brief(o)])).toEqual([
      ['13010001', '张三', [], 2, 0, 195, 'device-fault:1 power-loss:1', 1, 1, 1, 2, segName('S-A', 'cam1', 1)],
      ['13010002', '李四', [], 2, 0, 210, 'device-fault:2 low-battery:1', 1, 0, 2, 2, segName('S-C', 'cam1', 1)],
      ['13010003', '王五', [], 1, 0, 45, 'power-loss:1', 1, 1, 0, 1, segName('S-B', 'mic1', 0)],
      ['13010004', '赵六', ['赵陆'], 2, 1, 75, 'device-fault:1 fire-alarm:1 low-battery:1', 1, 0, 2, 1, segName('S-C', 'cam1', 1)],
    ]);
    expect(r.matters.map((m) => [m.matter, m.zh, ...brief(m)])).toEqual([
      ['site-inspection', '现场检查', 2, 0, 210, 'device-fault:2 low-battery:1', 1, 0, 2, 2, segName('S-C', 'cam1', 1)],
      ['sampling', '抽样取证', 1, 0, 45, 'power-loss:1', 1, 1, 0, 1, segName('S-B', 'mic1', 0)],
      ['hearing', '举行听证', 1, 1, 15, 'fire-alarm:1', 0, 0, 1, 0, null],
    ]);
  });

  it('without --ca counts the forged receipt, and says the signatures were not checked', async () => {
    const r = await json(false);
    expect(r.receiptsChecked).toBe(false);
    const room = r.devices.find((d) => d.deviceId === 'room-1')!;
    expect(room.uploads.onTime).toBe(3);
    expect(room.uploads.late).toBe(2);
    expect(room.receipts.invalid).toEqual([]);
    expect(room.receipts.malformed.map((m) => m.line)).toEqual([3, 8]);
    const text = await run(store);
    expect(text.out).toContain('回执签名未核验，核验请加 --ca ca.pem (receipt signatures NOT checked: add --ca ca.pem)');
  });

  it('has the documented --json shape', async () => {
    const r = await json(true);
    expect(Object.keys(r)).toEqual(['v', 'store', 'recordedBasis', 'receiptsChecked', 'devices', 'officers', 'matters', 'total']);
    expect([r.v, r.store, r.recordedBasis, r.receiptsChecked]).toEqual([1, store, 'camera, else microphone', true]);
    const totals = ['sessions', 'unclosed', 'recorded', 'interruptions', 'terminated', 'unexplained', 'uploads', 'clock'];
    expect(Object.keys(r.total)).toEqual(totals);
    expect(Object.keys(r.devices[0]!)).toEqual(['deviceId', 'folder', 'entries', ...totals, 'receipts', 'deadlines', 'alerts']);
    expect(Object.keys(r.officers[0]!)).toEqual(['badge', 'name', 'otherNames', ...totals]);
    expect(Object.keys(r.matters[0]!)).toEqual(['matter', 'zh', ...totals]);
    expect(Object.keys(r.devices[0]!.receipts)).toEqual(['present', 'lines', 'accepted', 'duplicates', 'malformed', 'invalid']);
    expect(Object.keys(r.devices[0]!.alerts)).toEqual(['present', 'lines', 'repeated', 'malformed', 'invalid', 'items']);
    expect(Object.keys(r.total.uploads.worst!)).toEqual(['deviceId', 'kind', 'item', 'deadline', 'storedAt', 'lateSeconds']);
    expect(r.devices[0]!.entries).toBeGreaterThan(10);
  });

  it('prints tables with h:mm and Chinese labels, and ends by pointing to recgw verify', async () => {
    const { code, out } = await run(store, '--ca', caPaths(caDir).caCert);
    expect(code).toBe(0);
    const lines = out.trimEnd().split('\n');
    const row = (first: string): string => lines.find((l) => l.trimStart().startsWith(first))!.trim().split(/\s{2,}/).join(' | ');
    // Columns: sessions, unclosed, recorded, interruptions, terminated, no statement, unspoken (of sessions with a
    // resume nobody was heard explaining, those still without a statement), on time, late, worst late.
    expect(row('room-1')).toBe('room-1 | 2 | 0 | 3:15 (1 mic) | 2 | 1 | 1 | 1/1 | 2 | 2 | 2:05');
    expect(row('car-2')).toBe('car-2 | 2 | 1 | 1:15 | 3 | 1 | 0 | 0/0 | 2 | 1 | 3:15');
    expect(row('合计 (total)')).toBe('合计 (total) | 4 | 1 | 4:30 (1 mic) | 5 | 2 | 1 | 1/1 | 4 | 3 | 3:15');
    expect(row('赵六 / 赵陆')).toBe('赵六 / 赵陆 | 13010004 | 2 | 1 | 1:15 | 3 | 1 | 0 | 0/0 | 2 | 1 | 3:15');
    expect(row('抽样取证')).toBe('抽样取证 | sampling | 1 | 0 | 0:45 (1 mic) | 1 | 1 | 1 | 0/0 | 0 | 1 | 0:30');
    expect(out).toContain('    car-2: 设备故障 [device-fault] 1, fire-alarm 1, 电量不足 [low-battery] 1');
    expect(out).toContain('  时钟未经确认同步的片段 (segments timed by a clock not confirmed synchronised):');
    expect(out).toContain('    car-2: 未同步 (not synchronised) 1, 假定同步 (assumed, time.assumeSynchronised) 1, 涉及场次 (sessions) 2');
    expect(out).not.toContain('    room-1: 未同步');
    // Beijing time, worked out without Intl: UTC+8 all year (China keeps no daylight saving).
    const bj = (t: number): string => `${new Date(t + 8 * H).toISOString().slice(0, 19).replace('T', ' ')} (北京时间 UTC+08:00)`;
    expect(out).toContain(`    room-1: room-1 segment ${segName('S-A', 'cam1', 1)}, 期限 (deadline) ${bj(due(A, 'cam1', 1))}, 入库 (stored) ${bj(due(A, 'cam1', 1) + 2 * H + 5 * M)}, 逾期 (late) 2:05`);
    const utc = await run(store, '--ca', caPaths(caDir).caCert, '--zone', 'UTC');
    expect(utc.out).toContain(`期限 (deadline) ${iso(due(A, 'cam1', 1)).slice(0, 19).replace('T', ' ')} (UTC UTC+00:00)`);
    expect(out).toContain('  room-1: 8 行 (lines), 5 计入 (counted), 其中 1 重复 (of which repeats), 2 格式错误 (malformed), 1 无效 (invalid)');
    expect(out).toContain('    格式错误 (malformed) line 3: not valid JSON');
    expect(out).toContain('    注意：该网关为 1 项自报的上传期限晚于规定的 24 小时，其配置超出规定；按规定期限计');
    expect(out.match(/自报的上传期限晚于规定/g)).toHaveLength(1);
    expect(out).toContain('    无效 (invalid) line 7: the receipt signature does not verify with its certificate');
    expect(lines.at(-1)).toMatch(/不能代替 recgw verify .*does not replace `recgw verify`/);
  });

  it('agrees with recgw verify on the missing statements and the unclosed session', async () => {
    const v = await verifyStore(store, { caPems: [readFileSync(caPaths(caDir).caCert, 'utf8')] });
    const sessions = v.findings.filter((f) => f.kind === 'unclosed-session' || f.kind === 'unexplained-gap');
    expect(sessions.map((f) => `${f.deviceId} ${f.kind}`).sort()).toEqual(['car-2 unclosed-session', 'room-1 unexplained-gap', 'room-1 unexplained-gap']);
    expect(sessions.find((f) => f.detail.includes('S-A'))?.detail).toBe(
      'session S-A: 1 resume(s) after an interruption with no spoken explanation heard, and no written statement confirmed by two officers',
    );
    const room = v.devices.find((d) => d.deviceId === 'room-1')!;
    expect(room.sessions.map((s) => s.explanations ?? null)).toEqual([{ heard: 0, missing: 1 }, null]);
    expect(v.devices.find((d) => d.deviceId === 'car-2')!.sessions[0]!.explanations).toEqual({ heard: 1, missing: 0 });
    // The receipts lines the report leaves out as malformed or invalid, the verifier reports (and this synthetic store's
    // heads are the devices' own, which a store with receipts may not have).
    const receipts = v.findings.filter((f) => f.deviceId === 'room-1' && /receipts\.jsonl line/.test(f.detail)).map((f) => `${f.kind} ${/line (\d+)/.exec(f.detail)![1]}`);
    expect(receipts).toEqual(expect.arrayContaining(['malformed 3', 'bad-receipt 7']));
  });

  it('exits 2 on usage errors and 1 on a folder that is not a store', async () => {
    expect((await run()).code).toBe(2);
    expect((await run(join(store, 'nope'))).code).toBe(2);
    expect((await run(store, '--ca', join(store, 'nope.pem'))).code).toBe(2);
    expect((await run(store, '--colour')).code).toBe(2);
    const empty = tmp('recgw-not-a-store-');
    mkdirSync(join(empty, 'room-9'));
    const r = await run(empty);
    expect(r.code).toBe(1);
    expect(r.err).toContain('is not a store');
  });
});

describe('recgw reconcile', () => {
  const reconcile = async (...args: string[]): Promise<{ code: number; out: string; err: string }> => {
    let out = '';
    let err = '';
    const code = await main(['reconcile', store, ...args], { out: (t) => void (out += t), err: (t) => void (err += t) });
    return { code, out, err };
  };

  // S-A: camera and microphone from 01:00 to 03:40 UTC, i.e. 09:00 to 11:40 Beijing time.
  it('agrees when the record gives the minutes the recordings start and end in, written either way', async () => {
    const r = await reconcile('--session', 'S-A', '--start', '2026年3月2日9时00分', '--end', '2026-03-02 11:40');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('笔录开始 (written start): 2026-03-02 09:00:00 - 2026-03-02 09:00:59');
    expect(r.out).toMatch(/cam1 +2026-03-02 09:00:00 +0 +2026-03-02 11:40:00 +0 +一致 \(agrees\)/);
    expect(r.out).toMatch(/mic1 +2026-03-02 09:00:00/);
    expect(r.out).toContain('北京时间 UTC+08:00');
  });

  it('gives the difference per source when they do not agree, and the same in UTC with --zone UTC', async () => {
    const r = await reconcile('--session', 'S-A', '--start', '2026-03-02 09:00', '--end', '2026-03-02 11:37', '--json');
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out) as { agrees: boolean; sources: { source: string; startDifferenceSeconds: number; endDifferenceSeconds: number; agrees: boolean }[] };
    // Recorded end 11:40:00 against the written minute 11:37:00-11:37:59: 120 s late, beyond the 60 s tolerance.
    expect(j.sources.map((s) => [s.source, s.startDifferenceSeconds, s.endDifferenceSeconds, s.agrees])).toEqual([
      ['cam1', 0, 120, false],
      ['mic1', 0, 120, false],
    ]);
    expect(j.agrees).toBe(false);
    const tolerant = await reconcile('--session', 'S-A', '--start', '2026-03-02 09:00', '--end', '2026-03-02 11:37', '--tolerance', '120');
    expect(tolerant.code).toBe(0);
    const early = await reconcile('--session', 'S-A', '--start', '2026-03-02 09:02:30', '--end', '2026-03-02 11:40', '--json');
    expect((JSON.parse(early.out) as { sources: { startDifferenceSeconds: number }[] }).sources[0]!.startDifferenceSeconds).toBe(-150);
    const utc = await reconcile('--session', 'S-A', '--start', '2026-03-02 01:00', '--end', '2026-03-02T03:40Z', '--zone', 'UTC');
    expect(utc.code).toBe(0);
    expect(utc.out).toContain('(times in UTC UTC+00:00)');
  });

  it('refuses with a clear message what it cannot read', async () => {
    const bad = await reconcile('--session', 'S-A', '--start', 'nine o\'clock', '--end', '2026-03-02 11:40');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('write it as 2026-12-07 10:05');
    const backwards = await reconcile('--session', 'S-A', '--start', '2026-03-02 11:40', '--end', '2026-03-02 09:00');
    expect(backwards.code).toBe(2);
    expect(backwards.err).toContain('the written end is before the written start');
    const none = await reconcile('--session', 'S-X', '--start', '2026-03-02 09:00', '--end', '2026-03-02 11:40');
    expect(none.code).toBe(1);
    expect(none.err).toContain('no session S-X');
    expect((await reconcile('--session', 'S-A', '--start', '2026-03-02 09:00', '--end', '2026-03-02 11:40', '--zone', 'Mars/Olympus')).code).toBe(2);
    expect((await reconcile('--session', 'S-A', '--start', '2026-02-30 09:00', '--end', '2026-03-02 11:40')).code).toBe(2);
  });
});
