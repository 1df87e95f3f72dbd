/**
 * The evidence desk's searches over the index, the same SQL on PostgreSQL and SQLite. Sessions are found by device,
 * officer (执法证号 or full name), matter, case reference, party and place (part of the text), and start time, newest
 * first, a page at a time. Paging is by keyset: the next page starts after the last row's (start, device, session),
 * which is where an index range scan resumes, so page 1,000 costs what page 1 does (OFFSET would read and discard
 * every row before it). Totals give, for the same filters, the figures `recgw report` gives.
 */
import type { CountTotals } from '../report/units.js';
import { reasonByCode } from '../evidence/vocabulary.js';
import type { Officer } from '../evidence/types.js';
import { RecgwError } from '../util/errors.js';
import type { IndexDb, Queryable } from './database.js';

export interface SessionFilter {
  device?: string;
  /** An officer's 执法证号, or full name. */
  officer?: string;
  matter?: string;
  /** The case reference (案号), exactly. */
  caseRef?: string;
  /** Part of the party's name (当事人). */
  party?: string;
  /** Part of the place. */
  place?: string;
  /** Sessions that started at or after `from` and before `to` (ms since 1970). */
  from?: number;
  to?: number;
}

export interface SessionRow {
  deviceId: string;
  sessionId: string;
  matter: string;
  caseRef: string;
  party: string | null;
  place: string | null;
  start: number;
  end: number | null;
  closedBy: 'stopped' | 'terminated' | null;
  officers: Officer[];
  recordedSeconds: number;
  segments: number;
  interruptions: number;
  gaps: number;
  unexplainedGaps: number;
  /** Distinct officers who signed its written statements. */
  statementBadges: number;
  /** Segments stored after the rule's deadline, and segments without a receipt. */
  lateSegments: number;
  unreceipted: number;
}

export interface Page<T> {
  rows: T[];
  /** Give it back as `after` for the next page; null on the last one. */
  next: string | null;
}

export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 500;

/** LIKE's wildcards taken literally: the text is searched for as typed. */
const contains = (text: string): string => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * The rows a filter reads: `sessions s`, or, with an officer, that officer's rows of `session_officers o` joined to
 * their sessions; then the page order and the time filter use o's copy of (start, device, session), which its primary
 * key holds in that order, so a page is read in order and stops after its last row. Adds the filter's parameters to
 * `params`.
 */
function source(f: SessionFilter, params: unknown[]): { from: string; where: string[]; key: string } {
  const p = (v: unknown): string => {
    params.push(v);
    return `$${params.length}`;
  };
  const byOfficer = f.officer !== undefined;
  const t = byOfficer ? 'o' : 's';
  const from = byOfficer ? 'session_officers o JOIN sessions s ON s.device_id = o.device_id AND s.session_id = o.session_id' : 'sessions s';
  const c: string[] = [];
  if (byOfficer) c.push(`o.officer = ${p(f.officer)}`);
  if (f.device !== undefined) c.push(`${t}.device_id = ${p(f.device)}`);
  if (f.matter !== undefined) c.push(`s.matter = ${p(f.matter)}`);
  if (f.caseRef !== undefined) c.push(`s.case_ref = ${p(f.caseRef)}`);
  if (f.party !== undefined) c.push(`s.party LIKE ${p(contains(f.party))} ESCAPE '\\'`);
  if (f.place !== undefined) c.push(`s.place LIKE ${p(contains(f.place))} ESCAPE '\\'`);
  if (f.from !== undefined) c.push(`${t}.start_ms >= ${p(f.from)}`);
  if (f.to !== undefined) c.push(`${t}.start_ms < ${p(f.to)}`);
  return { from, where: c, key: `${t}.start_ms, ${t}.device_id, ${t}.session_id` };
}

const whereOf = (c: string[]): string => (c.length > 0 ? `WHERE ${c.join(' AND ')}` : '');

type Cursor = [number, string, string];

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c), 'utf8').toString('base64url');
}

function decodeCursor(text: string): Cursor {
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    c = undefined;
  }
  if (!Array.isArray(c) || c.length !== 3 || !Number.isSafeInteger(c[0]) || typeof c[1] !== 'string' || typeof c[2] !== 'string') {
    throw new RecgwError('usage', 'the page position (after) is not one this index gave out: start again from the first page');
  }
  return c as Cursor;
}

interface SessionDbRow {
  device_id: string;
  session_id: string;
  matter: string;
  case_ref: string;
  party: string | null;
  place: string | null;
  start_ms: number;
  end_ms: number | null;
  closed_by: 'stopped' | 'terminated' | null;
  officers: string;
  recorded_ms: number;
  segments: number;
  interruptions: number;
  gaps: number;
  unexplained_gaps: number;
  statement_badges: number;
  late_segments: number;
  unreceipted: number;
}

const toSession = (r: SessionDbRow): SessionRow => ({
  deviceId: r.device_id,
  sessionId: r.session_id,
  matter: r.matter,
  caseRef: r.case_ref,
  party: r.party,
  place: r.place,
  start: r.start_ms,
  end: r.end_ms,
  closedBy: r.closed_by,
  officers: JSON.parse(r.officers) as Officer[],
  recordedSeconds: r.recorded_ms / 1000,
  segments: r.segments,
  interruptions: r.interruptions,
  gaps: r.gaps,
  unexplainedGaps: r.unexplained_gaps,
  statementBadges: r.statement_badges,
  lateSegments: r.late_segments,
  unreceipted: r.unreceipted,
});

/** SQLite indexes that have sessions_text (the trigram FTS5 table of place and party; schema.ts). */
const withText = new WeakSet<IndexDb>();

async function hasTextIndex(db: IndexDb): Promise<boolean> {
  if (db.dialect !== 'sqlite') return false;
  if (withText.has(db)) return true;
  const [t] = await db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'sessions_text'");
  if (t) withText.add(db);
  return t !== undefined;
}

/**
 * The FTS5 query for the filter's fragments of place and party that the trigram index can answer (3 characters or
 * more; shorter ones have no trigram), each a quoted string so that nothing typed is read as query syntax; undefined
 * when there is none.
 */
function textMatch(f: SessionFilter): string | undefined {
  const terms: string[] = [];
  for (const [column, text] of [['place', f.place], ['party', f.party]] as const) {
    if (text !== undefined && [...text].length >= 3) terms.push(`${column} : "${text.replaceAll('"', '""')}"`);
  }
  return terms.length > 0 ? terms.join(' AND ') : undefined;
}

/** One page of the sessions that match, newest first. */
export async function searchSessions(db: IndexDb, f: SessionFilter, page: { limit?: number; after?: string } = {}): Promise<Page<SessionRow>> {
  const limit = page.limit ?? DEFAULT_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new RecgwError('usage', `a page holds 1 to ${MAX_PAGE} sessions, not ${limit}`);
  const params: unknown[] = [];
  const q = source(f, params);
  if (page.after !== undefined) {
    const [start, device, session] = decodeCursor(page.after);
    params.push(start, device, session);
    const n = params.length;
    q.where.push(`(${q.key}) < ($${n - 2}, $${n - 1}, $${n})`);
  }
  // A part of a place or party (without an officer): the page's keys first, then their rows. On SQLite the sessions
  // holding the fragments come from sessions_text (CROSS JOIN keeps it first), then are sorted: a cost that grows
  // with the matches, not with the index; LIKE still decides. Otherwise (PostgreSQL, or fragments too short for a
  // trigram) from sessions_by_start_text alone where the walk in page order is the plan (the text is in that index).
  const byText = f.officer === undefined && (f.place !== undefined || f.party !== undefined);
  const match = byText && (await hasTextIndex(db)) ? textMatch(f) : undefined;
  if (match !== undefined) q.where.unshift(`sessions_text MATCH $${params.push(match)}`);
  params.push(limit + 1);
  const desc = q.key.split(', ').map((k) => `${k} DESC`).join(', ');
  const columns = `s.device_id, s.session_id, s.matter, s.case_ref, s.party, s.place, s.start_ms, s.end_ms, s.closed_by, s.officers, s.recorded_ms,
            s.segments, s.interruptions, s.gaps, s.unexplained_gaps, s.statement_badges, s.late_segments, s.unreceipted`;
  const keys = match !== undefined ? 'sessions_text CROSS JOIN sessions s ON s.rowid = sessions_text.rowid' : 'sessions s';
  const rows = await db.query<SessionDbRow>(
    byText
      ? `SELECT ${columns}
           FROM (SELECT s.start_ms, s.device_id, s.session_id FROM ${keys} ${whereOf(q.where)} ORDER BY ${desc} LIMIT $${params.length}) k
           JOIN sessions s ON s.device_id = k.device_id AND s.session_id = k.session_id
          ORDER BY ${desc}`
      : `SELECT ${columns}
           FROM ${q.from} ${whereOf(q.where)}
          ORDER BY ${desc}
          LIMIT $${params.length}`,
    params,
  );
  const more = rows.length > limit;
  const out = rows.slice(0, limit).map(toSession);
  const last = out[out.length - 1];
  return { rows: out, next: more && last ? encodeCursor([last.start, last.deviceId, last.sessionId]) : null };
}

/**
 * The figures of the sessions that match, as `recgw report` counts them, with uploads judged by the rule: for a filter
 * on sessions, the segments of those sessions; with no filter but a device (or none), every item of the device(s),
 * entries included, as `recgw report` counts them.
 */
export type IndexTotals = CountTotals;

const sum = (cond: string): string => `CAST(COALESCE(SUM(CASE WHEN ${cond} THEN 1 ELSE 0 END), 0) AS BIGINT)`;

export async function sessionTotals(db: Queryable, f: SessionFilter): Promise<IndexTotals> {
  const params: unknown[] = [];
  const q = source(f, params);
  const from = q.from;
  const where = whereOf(q.where);
  const [t] = await db.query<Record<string, number>>(
    `SELECT COUNT(*) AS sessions, ${sum('s.end_ms IS NULL')} AS unclosed, CAST(COALESCE(SUM(s.recorded_ms), 0) AS BIGINT) AS recorded_ms,
            ${sum("s.recorded_basis = 'camera'")} AS camera, ${sum("s.recorded_basis = 'microphone'")} AS microphone,
            ${sum('s.recorded_basis IS NULL')} AS no_footage, ${sum("s.closed_by = 'terminated'")} AS terminated,
            ${sum("s.closed_by = 'terminated' AND s.statement_badges < 2")} AS statement_missing,
            ${sum('s.unexplained_resumes > 0')} AS unexplained, ${sum('s.unexplained_resumes > 0 AND s.statement_badges < 2')} AS unexplained_missing
       FROM ${from} ${where}`,
    params,
  );
  const reasons = await db.query<{ reason: string; count: number }>(
    `SELECT i.reason, COUNT(*) AS count FROM ${from} JOIN interruptions i ON i.device_id = s.device_id AND i.session_id = s.session_id
      ${where} GROUP BY i.reason`,
    params,
  );
  // recgw report orders reasons by code point; collations differ between databases, so the order is made here.
  const byReason = reasons
    .sort((a, b) => (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0))
    .map((r) => ({ reason: r.reason, zh: reasonByCode(r.reason)?.zh ?? null, count: r.count }));
  const [c] = await db.query<{ unsynchronised: number; assumed: number; sessions: number }>(
    `SELECT CAST(COALESCE(SUM(k.unsynchronised), 0) AS BIGINT) AS unsynchronised, CAST(COALESCE(SUM(k.assumed), 0) AS BIGINT) AS assumed,
            ${sum('k.unsynchronised + k.assumed > 0')} AS sessions
       FROM (SELECT ${sum("g.clock = 'unsynchronised'")} AS unsynchronised, ${sum("g.clock = 'assumed'")} AS assumed
               FROM ${from} JOIN segments g ON g.device_id = s.device_id AND g.session_id = s.session_id ${where}
              GROUP BY s.device_id, s.session_id) k`,
    params,
  );
  const onlyDevices = Object.keys(f).every((k) => k === 'device' || (f as Record<string, unknown>)[k] === undefined);
  const [u] = onlyDevices
    ? await db.query<{ on_time: number; late: number }>(
        `SELECT ${sum('r.late_ms <= 0')} AS on_time, ${sum('r.late_ms > 0')} AS late FROM receipts r ${f.device !== undefined ? 'WHERE r.device_id = $1' : ''}`,
        f.device !== undefined ? [f.device] : [],
      )
    : await db.query<{ on_time: number; late: number }>(
        `SELECT ${sum('g.stored_ms <= g.deadline_ms')} AS on_time, ${sum('g.stored_ms > g.deadline_ms')} AS late
           FROM ${from} JOIN segments g ON g.device_id = s.device_id AND g.session_id = s.session_id ${where}`,
        params,
      );
  return {
    sessions: t!.sessions!,
    unclosed: t!.unclosed!,
    recorded: { seconds: t!.recorded_ms! / 1000, cameraSessions: t!.camera!, microphoneSessions: t!.microphone!, noFootageSessions: t!.no_footage! },
    interruptions: { total: byReason.reduce((n, r) => n + r.count, 0), byReason },
    terminated: { sessions: t!.terminated!, statementMissing: t!.statement_missing! },
    unexplained: { sessions: t!.unexplained!, statementMissing: t!.unexplained_missing! },
    clock: { unsynchronisedSegments: c!.unsynchronised, assumedSegments: c!.assumed, sessions: c!.sessions },
    uploads: { onTime: u!.on_time, late: u!.late },
  };
}

export interface SessionDetail {
  session: SessionRow;
  segments: {
    name: string;
    source: string;
    kind: string;
    seq: number;
    start: number;
    end: number;
    size: number;
    sha256: string;
    preEvent: boolean;
    explanation: boolean;
    /** The rule's deadline, and when it was stored (null: no receipt yet). */
    deadline: number;
    stored: number | null;
  }[];
  gaps: { source: string; start: number; end: number; explained: boolean; reason: string | null }[];
  interruptions: {
    id: string;
    reason: string;
    zh: string | null;
    origin: 'detected' | 'declared';
    start: number;
    end: number | null;
    sources: string[] | null;
    text: string | null;
    cause: string | null;
    technical: string | null;
    spokenExplanation: boolean;
    endedBy: string | null;
  }[];
  statements: { text: string; officers: Officer[]; made: number; confirmations: { badge: string; name: string; via: string; at: string }[] }[];
  /** Its segments' GPS fixes in time order, each once (every source's segment sealed at a moment carries the same fix). */
  track: { lat: number; lon: number; at: number }[];
}

/** Everything the index holds about one session, for its page; undefined when there is no such session. */
export async function sessionDetail(db: Queryable, deviceId: string, sessionId: string): Promise<SessionDetail | undefined> {
  const key = [deviceId, sessionId];
  const [s] = await db.query<SessionDbRow>('SELECT * FROM sessions s WHERE s.device_id = $1 AND s.session_id = $2', key);
  if (!s) return undefined;
  const segments = await db.query<Record<string, number | string | null>>(
    'SELECT * FROM segments WHERE device_id = $1 AND session_id = $2 ORDER BY source_id, start_ms, name',
    key,
  );
  const gaps = await db.query<Record<string, number | string | null>>('SELECT * FROM gaps WHERE device_id = $1 AND session_id = $2 ORDER BY start_ms, source_id', key);
  const interruptions = await db.query<Record<string, number | string | null>>(
    'SELECT * FROM interruptions WHERE device_id = $1 AND session_id = $2 ORDER BY ledger_seq',
    key,
  );
  const statements = await db.query<Record<string, number | string>>('SELECT * FROM statements WHERE device_id = $1 AND session_id = $2 ORDER BY ledger_seq', key);
  const confirmations = await db.query<Record<string, number | string>>(
    `SELECT c.* FROM statement_confirmations c JOIN statements t ON t.device_id = c.device_id AND t.ledger_seq = c.ledger_seq
      WHERE t.device_id = $1 AND t.session_id = $2 ORDER BY c.ledger_seq, c.position`,
    key,
  );
  const json = <T>(v: unknown): T => JSON.parse(v as string) as T;
  const track = new Map<string, { lat: number; lon: number; at: number }>();
  for (const g of segments) {
    if (g.gps_lat === null || g.gps_lon === null || g.gps_ms === null || g.gps_lat === undefined) continue;
    const p = { lat: Number(g.gps_lat), lon: Number(g.gps_lon), at: Number(g.gps_ms) };
    track.set(`${p.at}/${p.lat}/${p.lon}`, p);
  }
  return {
    track: [...track.values()].sort((a, b) => a.at - b.at),
    session: toSession(s),
    segments: segments.map((g) => ({
      name: g.name as string,
      source: g.source_id as string,
      kind: g.kind as string,
      seq: g.source_seq as number,
      start: g.start_ms as number,
      end: g.end_ms as number,
      size: g.size as number,
      sha256: g.sha256 as string,
      preEvent: g.pre_event === 1,
      explanation: g.explanation === 1,
      deadline: g.deadline_ms as number,
      stored: g.stored_ms as number | null,
    })),
    gaps: gaps.map((g) => ({ source: g.source_id as string, start: g.start_ms as number, end: g.end_ms as number, explained: g.explained === 1, reason: g.reason as string | null })),
    interruptions: interruptions.map((i) => ({
      id: i.interruption_id as string,
      reason: i.reason as string,
      zh: reasonByCode(i.reason as string)?.zh ?? null,
      origin: i.origin as 'detected' | 'declared',
      start: i.start_ms as number,
      end: i.end_ms as number | null,
      sources: i.sources === null ? null : json<string[]>(i.sources),
      text: i.text as string | null,
      cause: i.cause as string | null,
      technical: i.technical as string | null,
      spokenExplanation: i.spoken_explanation === 1,
      endedBy: i.ended_by as string | null,
    })),
    statements: statements.map((t) => ({
      text: t.text as string,
      officers: json<Officer[]>(t.officers),
      made: t.made_ms as number,
      confirmations: confirmations
        .filter((c) => c.ledger_seq === t.ledger_seq)
        .map((c) => ({ badge: c.badge as string, name: c.name as string, via: c.via as string, at: c.at as string })),
    })),
  };
}
