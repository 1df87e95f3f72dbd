/**
 * One device folder of a store (a folder or a bucket, through the store interface) as the index's rows. It
 * interprets nothing itself: the ledger through the report's reader (which reads through the verifier's), receipts
 * and alerts through the report's tallies, recorded time as the report counts it, gaps as the
 * verifier finds them, deadlines by the rule (report/deadline-rule.ts). Only the shape of the rows is its own.
 */
import { basename } from 'node:path';
import { readDeviceSessions, type DeviceSessions, type ReportSession } from '../report/device-sessions.js';
import { RECEIPTS_FILE } from '../evidence/receipt.js';
import { LEDGER_FILE } from '../evidence/head.js';
import { ALERTS_FILE } from '../receiver/alerts-file.js';
import { ReceiptTally, type UploadItem } from '../report/receipts.js';
import { deviceFile, eachLine, objectBytes } from '../store/devices.js';
import type { EvidenceStore } from '../store/store.js';
import { RecgwError, describe } from '../util/errors.js';
import { recordedTime } from '../report/tally.js';
import { analyseSession } from '../verify/sessions.js';
import { judgeByRule, ruleDeadline } from '../report/deadline-rule.js';
import { AlertTally } from '../report/alerts.js';

/** Each table's columns, in the order the rows below give them. */
export const COLUMNS = {
  devices: ['device_id', 'folder', 'entries', 'sessions', 'segments'],
  sessions: [
    'device_id', 'session_id', 'opened_seq', 'matter', 'case_ref', 'party', 'place', 'start_ms', 'end_ms', 'closed_by', 'officers',
    'declared_sources', 'recorded_ms', 'recorded_basis', 'segments', 'interruptions', 'gaps', 'unexplained_gaps', 'statement_badges',
    'late_segments', 'unreceipted', 'unexplained_resumes',
  ],
  session_officers: ['officer', 'kind', 'start_ms', 'device_id', 'session_id'],
  segments: [
    'device_id', 'name', 'session_id', 'source_id', 'kind', 'source_seq', 'start_ms', 'end_ms', 'size', 'sha256', 'ledger_seq', 'sealed_ms',
    'pre_event', 'explanation', 'deadline_ms', 'stored_ms', 'clock', 'gps_lat', 'gps_lon', 'gps_ms',
  ],
  gaps: ['device_id', 'session_id', 'source_id', 'start_ms', 'end_ms', 'explained', 'reason'],
  interruptions: [
    'device_id', 'ledger_seq', 'session_id', 'interruption_id', 'reason', 'origin', 'start_ms', 'end_ms', 'sources', 'text', 'cause',
    'technical', 'spoken_explanation', 'ended_by',
  ],
  statements: ['device_id', 'ledger_seq', 'session_id', 'text', 'officers', 'made_ms'],
  statement_confirmations: ['device_id', 'ledger_seq', 'position', 'badge', 'name', 'via', 'at'],
  receipts: ['device_id', 'kind', 'item', 'segment', 'through_seq', 'receiver', 'stored_ms', 'stated_deadline_ms', 'deadline_ms', 'late_ms'],
  vehicle_returns: ['device_id', 'ledger_seq', 'reason', 'away_from_ms', 'returned_ms'],
  alerts: ['device_id', 'ledger_seq', 'kind', 'session_id', 'reason', 'origin', 'event_ms', 'received_ms', 'late'],
} as const;

export type Table = keyof typeof COLUMNS;
export const TABLES = Object.keys(COLUMNS) as Table[];

export type DeviceRows = { deviceId: string } & Record<Table, unknown[][]>;

const flag = (b: boolean): number => (b ? 1 : 0);
const ms = (iso: string): number => Date.parse(iso);

export interface DeviceRowsOptions {
  /** With the agency CA, receipts that are not genuine are left out (as `recgw report --ca` does); without, all count. */
  caPems?: string[];
  /** Every 4096 ledger lines. */
  onProgress?: (lineNo: number) => void;
}

/**
 * The rows of the device folder `device` of `store` ('' when the store's top is the device folder). Reads its
 * ledger, receipts and alerts, each streamed; nothing else.
 */
export async function readDeviceRows(store: EvidenceStore, device: string, opts: DeviceRowsOptions = {}): Promise<DeviceRows> {
  const folderName = device === '' ? basename(store.location) : device;
  const failures: unknown[] = [];
  const ledger = deviceFile(device, LEDGER_FILE);
  const d = await readDeviceSessions({ folderName, ledger: objectBytes(store, ledger, failures) }, opts.caPems ?? [], {
    entryTimes: true,
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  // The reader reads on past a read failure (for the verifier, a finding); the index must not keep half a ledger.
  if (failures.length > 0) throw new RecgwError('storage', `could not read ${ledger} of ${store.location}: ${describe(failures[0])}`, { cause: failures[0] });
  const id = d.deviceId;
  const receipts = new ReceiptTally(id, opts.caPems);
  const { items } = (await eachLine(store, deviceFile(device, RECEIPTS_FILE), (l) => receipts.line(l))) ? receipts.result() : ReceiptTally.none();
  const alerts = new AlertTally(id, opts.caPems);
  await eachLine(store, deviceFile(device, ALERTS_FILE), (l) => alerts.line(l));
  const due = (endMs: number): number => ruleDeadline(endMs, d.returns);

  const stored = new Map<string, number>();
  for (const i of items) if (i.kind === 'segment') stored.set(i.item, ms(i.storedAt));

  const rows = { deviceId: id, ...Object.fromEntries(TABLES.map((t) => [t, []])) } as unknown as DeviceRows;
  rows.devices.push([id, folderName, d.entries, d.sessions.length, d.segments.length]);
  for (const g of d.segments) {
    rows.segments.push([
      id, g.name, g.sessionId, g.source, g.kind, g.seq, g.start, g.end, g.size, g.sha256, g.ledgerSeq, g.sealedAt,
      flag(g.preEvent), flag(g.explanation), due(g.end), stored.get(g.name) ?? null, g.clock, g.gps?.lat ?? null, g.gps?.lon ?? null, g.gps?.at ?? null,
    ]);
  }
  for (const s of d.sessions) addSession(rows, s, due, stored);
  rows.receipts = receiptRows(id, items, d.segments, d.entryTimes, d.returns);
  for (const r of d.returns) rows.vehicle_returns.push([id, r.ledgerSeq, r.reason, r.from, r.returned]);
  // As recgw report lists them: with the CA, an alert whose signature or certificate fails is left out.
  for (const a of alerts.result().items) {
    rows.alerts.push([id, a.seq, a.kind, a.sessionId, a.reason, a.origin, ms(a.eventAt), ms(a.receivedAt), flag(a.late)]);
  }
  return rows;
}

function addSession(rows: DeviceRows, s: ReportSession, due: (endMs: number) => number, stored: Map<string, number>): void {
  const id = s.deviceId;
  const rec = recordedTime(s);
  const analysis = analyseSession({
    sessionId: s.sessionId,
    matter: s.matter,
    caseRef: s.caseRef,
    officers: s.officers,
    start: s.start,
    end: s.end,
    closedBy: s.closedBy,
    statementBadges: s.statementBadges,
    statement: s.statementBadges.size >= 2,
    segments: s.segments.map((g) => ({ sourceId: g.source, seq: g.seq, start: g.start, end: g.end, preEvent: g.preEvent, clock: g.clock })),
    interruptions: s.interruptions.map((i) => ({ id: i.id, reason: i.reason, origin: i.origin, start: i.start, end: i.end, ...(i.sources ? { sources: i.sources } : {}) })),
    declaredSources: s.declaredSources,
  });
  let late = 0;
  let unreceipted = 0;
  for (const g of s.segments) {
    const at = stored.get(g.name);
    if (at === undefined) unreceipted++;
    else if (at > due(g.end)) late++;
  }
  rows.sessions.push([
    id, s.sessionId, s.openedSeq, s.matter, s.caseRef, s.party ?? null, s.place ?? null, s.start, s.end, s.closedBy, JSON.stringify(s.officers),
    JSON.stringify(s.declaredSources), rec.ms, rec.kind, s.segments.length, s.interruptions.length, analysis.gaps.length,
    analysis.gaps.filter((g) => !g.explained).length, s.statementBadges.size, late, unreceipted, s.unexplainedResumes,
  ]);
  for (const o of s.officers) {
    rows.session_officers.push([o.badge, 'badge', s.start, id, s.sessionId], [o.name, 'name', s.start, id, s.sessionId]);
  }
  for (const g of analysis.gaps) rows.gaps.push([id, s.sessionId, g.source, ms(g.start), ms(g.end), flag(g.explained), g.reason]);
  for (const i of s.interruptions) {
    rows.interruptions.push([
      id, i.ledgerSeq, s.sessionId, i.id, i.reason, i.origin, i.start, i.end, i.sources ? JSON.stringify(i.sources) : null, i.text ?? null,
      i.cause ?? null, i.technical ?? null, flag(i.spokenExplanation), i.endedBy ?? null,
    ]);
  }
  for (const st of s.statements) {
    rows.statements.push([id, st.ledgerSeq, s.sessionId, st.text, JSON.stringify(st.officers), st.time]);
    st.confirmations.forEach((c, n) => rows.statement_confirmations.push([id, st.ledgerSeq, n, c.badge, c.name, c.via, c.at]));
  }
}

/** Receipts judged by the rule (deadline-rule.ts), with the gateway's stated deadline beside it. */
function receiptRows(id: string, items: UploadItem[], segments: { name: string; end: number }[], entryTimes: number[], returns: DeviceSessions['returns']): unknown[][] {
  return judgeByRule(items, new Map(segments.map((g) => [g.name, g.end])), entryTimes, returns).map((i) => {
    const storedMs = ms(i.storedAt);
    const deadline = i.ruleUnknown ? null : ms(i.deadline);
    return [id, i.kind, i.item, i.segment ?? null, i.throughSeq ?? null, i.receiver, storedMs, ms(i.statedDeadline!), deadline, deadline === null ? null : storedMs - deadline];
  });
}
