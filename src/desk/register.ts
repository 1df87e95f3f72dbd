/**
 * The register (登记簿) of viewing under approval: the audit trail's register rows (approvals.ts REGISTER_ACTIONS)
 * read as who, what act, when, on what, why and under which approval, for the /register page and its CSV.
 */
import type { Queryable } from '../index/database.js';
import { latestAudit, type AuditRow } from './audit.js';
import { REGISTER_ACTIONS } from './approvals.js';
import { csvTable } from './csv.js';
import { DESK_DICT, type DeskKey, type T } from './i18n.js';
import { localClock, localTime } from '../util/local-time.js';

export interface RegisterEntry {
  seq: number | null;
  at: number;
  who: string;
  /** view-request, view-approve, view-refuse, view, decrypt, export; or denied:<act>. */
  act: string;
  sessions: string[];
  /** The segment and its file acted on ("device/segment file"), or '' for a request or decision. */
  target: string;
  /** A playback opened in the browser (the session's whole playback, registered once per opening). */
  playback: boolean;
  /** The scope asked or approved, and an approval's window. */
  scope: string;
  window: { from: number; until: number } | undefined;
  /** A refusal's note (view-refuse), or why an act was refused (its message's key and values). */
  note: string;
  refused: { key: DeskKey; vars: Record<string, string | number> } | undefined;
  why: string;
  request: string;
  approver: string;
  ip: string;
  via: string;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v));

function entryOf(r: AuditRow): RegisterEntry {
  const d = r.detail;
  const acted = r.action === 'view-act' || r.action === 'view-denied';
  return {
    seq: r.seq,
    at: r.at,
    who: r.name,
    act: r.action === 'view-act' ? str(d.act) : r.action === 'view-denied' ? `denied:${str(d.act)}` : r.action,
    sessions: Array.isArray(d.sessions) ? d.sessions.map(str) : [],
    target: acted ? [d.device && d.segment ? `${str(d.device)}/${str(d.segment)}` : '', str(d.file)].filter(Boolean).join(' ') : '',
    playback: acted && d.playback === true,
    scope: acted ? '' : str(d.scope),
    window: r.action === 'view-approve' ? { from: Number(d.validFrom), until: Number(d.validUntil) } : undefined,
    note: r.action === 'view-refuse' || r.action === 'view-approve' ? str(d.note) : '',
    refused: typeof d.refused === 'string' && d.refused in DESK_DICT ? { key: d.refused as DeskKey, vars: (d.refusedVars ?? {}) as Record<string, string | number> } : undefined,
    // The approval's reason; with `recgw decrypt`, the purpose its user stated first.
    why: [str(d.purpose), str(d.reason)].filter(Boolean).join(' — '),
    request: str(d.request),
    approver: r.action === 'view-act' ? str(d.approvedBy) : r.action === 'view-approve' || r.action === 'view-refuse' ? r.name : '',
    ip: r.ip,
    via: str(d.via) || 'desk',
  };
}

/** What an entry was about, in the reader's language: the segment, the scope and window approved, the refusal. */
export function whatText(t: T, zone: string, e: RegisterEntry): string {
  const scope = e.scope === 'export' || e.scope === 'view' ? t(`scope.${e.scope}`) : '';
  const window = e.window ? `${localClock(e.window.from, zone)} – ${localClock(e.window.until, zone)}` : '';
  const refused = e.refused ? t(e.refused.key, e.refused.vars) : '';
  return [e.playback ? t('play.registered') : '', e.target, scope, window, e.note, refused].filter(Boolean).join('；');
}

export async function registerEntries(db: Queryable, limit = 1000): Promise<RegisterEntry[]> {
  return (await latestAudit(db, limit, REGISTER_ACTIONS)).map(entryOf);
}

/** An act's name in the reader's language. */
export function actName(t: T, act: string): string {
  const key = act.startsWith('denied:') ? act.slice(7) : act;
  const name = ['view-request', 'view-approve', 'view-refuse', 'view', 'decrypt', 'export'].includes(key) ? t(`act.${key}` as Parameters<T>[0]) : key;
  return act.startsWith('denied:') ? t('act.denied', { act: name }) : name;
}

export function registerCsv(t: T, zone: string, rows: RegisterEntry[]): string {
  return csvTable(
    ['seq', 'time', 'who', 'act', 'sessions', 'what', 'why', 'request', 'approved_by', 'address', 'via'],
    rows.map((r) => [r.seq ?? '', localTime(r.at, zone, 'zh'), r.who, actName(t, r.act), r.sessions.join(' '), whatText(t, zone, r), r.why, r.request, r.approver, r.ip, r.via]),
  );
}
