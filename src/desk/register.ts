/**
 * The register (登记簿) of viewing under approval: the audit trail's register rows (approvals.ts REGISTER_ACTIONS)
 * read as who, what act, when, on what, why and under which approval, for the /register page and its CSV.
 */
import type { Queryable } from '../index/database.js';
import { latestAudit, type AuditRow } from './audit.js';
import { REGISTER_ACTIONS } from './approvals.js';
import { csvTable } from './csv.js';
import type { T } from './i18n.js';
import { localTime } from '../util/local-time.js';

export interface RegisterEntry {
  seq: number | null;
  at: number;
  who: string;
  /** view-request, view-approve, view-refuse, view, decrypt, export; or denied:<act>. */
  act: string;
  sessions: string[];
  /** The segment or file acted on, the requester of a decision, or the scope and window approved. */
  what: string;
  why: string;
  request: string;
  approver: string;
  ip: string;
  via: string;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v));

function entryOf(r: AuditRow): RegisterEntry {
  const d = r.detail;
  const act = r.action === 'view-act' ? str(d.act) : r.action === 'view-denied' ? `denied:${str(d.act)}` : r.action;
  const what =
    r.action === 'view-act' || r.action === 'view-denied'
      ? [d.device && d.segment ? `${str(d.device)}/${str(d.segment)}` : '', d.file ? str(d.file) : '', d.refused ? str(d.refused) : ''].filter(Boolean).join(' ')
      : r.action === 'view-approve'
        ? `${str(d.scope)} ${new Date(Number(d.validFrom)).toISOString()} – ${new Date(Number(d.validUntil)).toISOString()}`
        : r.action === 'view-refuse'
          ? str(d.note)
          : str(d.scope);
  return {
    seq: r.seq,
    at: r.at,
    who: r.name,
    act,
    sessions: Array.isArray(d.sessions) ? d.sessions.map(str) : [],
    what,
    // The approval's reason; with `recgw decrypt`, the purpose its user stated first.
    why: [str(d.purpose), str(d.reason)].filter(Boolean).join(' — '),
    request: str(d.request),
    approver: r.action === 'view-act' ? str(d.approvedBy) : r.action === 'view-approve' || r.action === 'view-refuse' ? r.name : '',
    ip: r.ip,
    via: str(d.via) || 'desk',
  };
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
    rows.map((r) => [r.seq ?? '', localTime(r.at, zone, 'zh'), r.who, actName(t, r.act), r.sessions.join(' '), r.what, r.why, r.request, r.approver, r.ip, r.via]),
  );
}
