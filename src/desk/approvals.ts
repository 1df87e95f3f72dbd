/**
 * Viewing under approval (004 规定 §12, 制度 §18; docs/desk.md §6): a request names the sessions, the reason and who
 * asks; a leader other than the requester approves it for a window, view only or view and export, or refuses it with
 * a reason. Every request, decision and act under an approval (a view, a decryption, an export), and every act
 * refused, is registered in the desk's signed hash-chained audit trail (audit.ts): that is the register (登记簿).
 *
 * requireApproval is the one gate every route that shows, decrypts or exports recordings calls (the decrypt route,
 * `recgw decrypt`, and playback and the evidence package after them): it returns the approval that covers the act or
 * throws ApprovalRefused, and registers either way.
 */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../index/database.js';
import type { DeskAudit } from './audit.js';
import { AUDIT_COLUMNS, auditSigners, checkAuditRow, type AuditDbRow } from './audit-check.js';
import type { DeskKey } from './i18n.js';
import type { Role } from './roles.js';
import { localTime } from '../util/local-time.js';

export type Scope = 'view' | 'export';
/** What is done under an approval: `view` and `decrypt` need a view approval, `export` (plaintext leaves) an export one. */
export type Act = 'view' | 'decrypt' | 'export';
export const SCOPES: readonly Scope[] = ['view', 'export'];

export interface ViewRequest {
  id: string;
  requestedMs: number;
  requester: string;
  reason: string;
  /** "device/session", in the order given. */
  sessions: string[];
  scopeAsked: Scope;
  state: 'pending' | 'approved' | 'refused';
  decidedMs: number | null;
  decider: string | null;
  decisionNote: string | null;
  scope: Scope | null;
  validFromMs: number | null;
  validUntilMs: number | null;
}

/** Refusals that are about what was typed (400), not about who may (403). */
const INPUT: readonly DeskKey[] = ['access.reasonNeeded', 'access.sessionsNeeded', 'access.noSuchSession', 'access.badScope', 'access.noteTooLong', 'access.refusalReasonNeeded', 'access.badHours', 'retention.badKind', 'retention.caseNeeded'];

/** Why an act or a decision is refused: the message's key in the desk's dictionary (Chinese by default), and its values. */
export class ApprovalRefused extends Error {
  /** The HTTP status the desk answers with. */
  readonly status: number;

  constructor(
    readonly key: DeskKey,
    readonly vars: Record<string, string | number> = {},
  ) {
    super(key);
    this.status = INPUT.includes(key) ? 400 : key === 'access.noRequest' || key === 'retention.noRequest' ? 404 : key === 'access.decidedAlready' ? 409 : 403;
  }
}

/** Who acts: an account's name and role, and where from (a client address, or "cli:HOST" for `recgw decrypt`). */
export interface Actor {
  name: string;
  role: Role;
  ip: string;
}

/** The audit actions that make up the register. */
export const REGISTER_ACTIONS = ['view-request', 'view-approve', 'view-refuse', 'view-act', 'view-denied'] as const;

export const MAX_SESSIONS = 50;
export const MAX_HOURS = 720;
const SESSION_REF = /^[^/\s]{1,200}\/[^/\s]{1,200}$/;

type Row = {
  id: string; requested_ms: number | string; requester: string; reason: string; sessions: string; scope_asked: Scope; state: ViewRequest['state'];
  decided_ms: number | string | null; decider: string | null; decision_note: string | null; scope: Scope | null; valid_from_ms: number | string | null; valid_until_ms: number | string | null;
};
const num = (v: number | string | null): number | null => (v === null ? null : Number(v));
const fromRow = (r: Row): ViewRequest => ({
  id: r.id,
  requestedMs: Number(r.requested_ms),
  requester: r.requester,
  reason: r.reason,
  sessions: JSON.parse(r.sessions) as string[],
  scopeAsked: r.scope_asked,
  state: r.state,
  decidedMs: num(r.decided_ms),
  decider: r.decider,
  decisionNote: r.decision_note,
  scope: r.scope,
  validFromMs: num(r.valid_from_ms),
  validUntilMs: num(r.valid_until_ms),
});

// eslint-disable-next-line no-control-regex
export const cleanText = (text: string | undefined): string => (text ?? '').replace(/[\u0000-\u001f\u007f]/g, ' ').trim();

/** "device/session" lines (or separated by spaces or commas), each once. */
export function sessionRefs(text: string): string[] {
  return [...new Set(text.split(/[\s,，]+/).filter((s) => s !== ''))];
}

export class Approvals {
  constructor(
    private readonly db: Queryable,
    private readonly audit: DeskAudit,
    private readonly now: () => number,
    /** The zone the times in refusals are written in (the desk's). */
    private readonly zone: string,
    /** The agency CA, which issued the certificates that sign the register's rows. */
    private readonly caPems: string[],
  ) {}

  async request(who: Actor, o: { sessions: string[]; reason: string; scope: Scope }): Promise<ViewRequest> {
    const reason = cleanText(o.reason);
    if ([...reason].length < 4 || reason.length > 500) throw new ApprovalRefused('access.reasonNeeded');
    if (o.sessions.length === 0 || o.sessions.length > MAX_SESSIONS) throw new ApprovalRefused('access.sessionsNeeded', { max: MAX_SESSIONS });
    for (const s of o.sessions) {
      const [device, session] = s.split('/');
      const found = SESSION_REF.test(s) ? await this.db.query('SELECT 1 FROM sessions WHERE device_id = $1 AND session_id = $2', [device, session]) : [];
      if (found.length === 0) throw new ApprovalRefused('access.noSuchSession', { session: s });
    }
    if (!SCOPES.includes(o.scope)) throw new ApprovalRefused('access.badScope');
    const id = randomUUID();
    const at = this.now();
    // The request and its register row in one transaction: neither is kept without the other.
    await this.audit.record(who.name, 'view-request', who.ip, { request: id, sessions: o.sessions, reason, scope: o.scope }, async (tx) => {
      await tx.query(
        "INSERT INTO desk_view_requests (id, requested_ms, requester, reason, sessions, scope_asked, state) VALUES ($1, $2, $3, $4, $5, $6, 'pending')",
        [id, at, who.name, reason, JSON.stringify(o.sessions), o.scope],
      );
    });
    return (await this.get(id))!;
  }

  /** A leader's decision: approve for `hours` from now with a scope, or refuse with a note (the reason). */
  async decide(who: Actor, id: string, d: { approve: true; scope: Scope; hours: number; note?: string } | { approve: false; note: string }): Promise<ViewRequest> {
    const r = await this.get(id);
    if (!r) throw new ApprovalRefused('access.noRequest');
    const note = decisionNote(who, r.requester, d.approve, d.note);
    if (d.approve && (!Number.isInteger(d.hours) || d.hours < 1 || d.hours > MAX_HOURS)) throw new ApprovalRefused('access.badHours', { max: MAX_HOURS });
    if (d.approve && !SCOPES.includes(d.scope)) throw new ApprovalRefused('access.badScope');
    const at = this.now();
    const until = d.approve ? at + d.hours * 3600_000 : undefined;
    const detail = {
      request: id,
      requester: r.requester,
      sessions: r.sessions,
      reason: r.reason,
      note,
      ...(d.approve ? { scope: d.scope, validFrom: at, validUntil: until } : {}),
    };
    // The decision and its register row in one transaction. Decided once: the state is checked in the UPDATE itself,
    // so two leaders deciding at once cannot both win (the loser's transaction rolls back, its row with it).
    await this.audit.record(who.name, d.approve ? 'view-approve' : 'view-refuse', who.ip, detail, async (tx) => {
      const changed = d.approve
        ? await tx.query<{ id: string }>(
            "UPDATE desk_view_requests SET state = 'approved', decided_ms = $2, decider = $3, decision_note = $4, scope = $5, valid_from_ms = $2, valid_until_ms = $6 WHERE id = $1 AND state = 'pending' RETURNING id",
            [id, at, who.name, note, d.scope, until],
          )
        : await tx.query<{ id: string }>("UPDATE desk_view_requests SET state = 'refused', decided_ms = $2, decider = $3, decision_note = $4 WHERE id = $1 AND state = 'pending' RETURNING id", [id, at, who.name, note]);
      if (changed.length === 0) throw new ApprovalRefused('access.decidedAlready');
    });
    return (await this.get(id))!;
  }

  async get(id: string): Promise<ViewRequest | undefined> {
    const [r] = await this.db.query<Row>('SELECT * FROM desk_view_requests WHERE id = $1', [id]);
    return r ? fromRow(r) : undefined;
  }

  /** Newest first; `requester`: only theirs. */
  async list(requester?: string, limit = 200): Promise<ViewRequest[]> {
    const rows = requester
      ? await this.db.query<Row>('SELECT * FROM desk_view_requests WHERE requester = $1 ORDER BY requested_ms DESC, id LIMIT $2', [requester, limit])
      : await this.db.query<Row>('SELECT * FROM desk_view_requests ORDER BY requested_ms DESC, id LIMIT $1', [limit]);
    return rows.map(fromRow);
  }

  /**
   * The approval under which `who` may do `act` on every one of `sessions` now, registered with `what` (the segment,
   * the file: what was shown, decrypted or exported); or ApprovalRefused naming why, registered as refused. `request`
   * names the approval to use; without it, any of the person's approvals that covers the act.
   */
  async requireApproval(who: Actor, sessions: string[], act: Act, o: { what: Record<string, unknown>; request?: string; via?: 'desk' | 'cli' }): Promise<ViewRequest> {
    const named = o.request ? await this.get(o.request) : undefined;
    const mine = o.request ? [named].filter((r): r is ViewRequest => r !== undefined && r.requester === who.name) : await this.list(who.name, 1000);
    const at = this.now();
    const covering = mine.filter((r) => sessions.every((s) => r.sessions.includes(s)));
    const ok = covering.find((r) => r.state === 'approved' && at >= r.validFromMs! && at < r.validUntilMs! && (act !== 'export' || r.scope === 'export'));
    const via = o.via ?? 'desk';
    if (ok && !(await this.attested(ok))) {
      throw await this.refuse(who, new ApprovalRefused('access.unattested'), { act, sessions, what: o.what, request: ok.id, via });
    }
    if (ok) {
      await this.audit.record(who.name, 'view-act', who.ip, { act, sessions, ...o.what, request: ok.id, reason: ok.reason, approvedBy: ok.decider, validUntil: ok.validUntilMs, via });
      return ok;
    }
    const refusal = o.request && !named ? new ApprovalRefused('access.noRequest') : whyRefused(covering, at, act, o.request !== undefined && mine.length === 0, this.zone);
    const own = mine.length === 1 && o.request ? mine[0] : undefined;
    throw await this.refuse(who, refusal, { act, sessions, what: { ...o.what, ...(own ? { reason: own.reason } : {}) }, ...(o.request ? { request: o.request } : {}), via });
  }

  /** Registers `refusal` of an act (a `view-denied` row: the act, what, the request named, why) and returns it to throw. */
  async refuse(who: Actor, refusal: ApprovalRefused, o: { act: Act; sessions: string[]; what: Record<string, unknown>; request?: string; via?: 'desk' | 'cli' }): Promise<ApprovalRefused> {
    const { act, sessions, what, request } = o;
    await this.audit.record(who.name, 'view-denied', who.ip, { act, sessions, ...what, ...(request ? { request } : {}), refused: refusal.key, refusedVars: refusal.vars, via: o.via ?? 'desk' });
    return refusal;
  }

  /**
   * Whether an approval is the one its register row recorded: the row exists once, hashes right, is signed by a
   * certificate the agency CA issued (when the desk signs), and names the same requester, sessions, reason, decider,
   * scope and window. Whoever can write the database but does not hold the signing key cannot approve anything by
   * editing desk_view_requests.
   */
  private attested(r: ViewRequest): Promise<boolean> {
    return attestedDecision(this.db, this.caPems, this.audit.signs, 'view-approve', r.id, r.decider, {
      requester: r.requester,
      reason: r.reason,
      sessions: r.sessions,
      scope: r.scope,
      validFrom: r.validFromMs,
      validUntil: r.validUntilMs,
    });
  }
}

/**
 * A leader's decision on somebody else's request (viewing, evidence marks, deletions): who may decide, and the note,
 * cleaned; a refusal needs one. Throws ApprovalRefused naming what is wrong.
 */
export function decisionNote(who: Actor, requester: string, approve: boolean, text: string | undefined): string {
  if (who.role !== 'leader') throw new ApprovalRefused('access.notLeader');
  // Nobody approves their own request: the rule asks for somebody else's approval.
  if (who.name === requester) throw new ApprovalRefused('access.selfApproval');
  const note = cleanText(text);
  if (note.length > 500) throw new ApprovalRefused('access.noteTooLong');
  if (!approve && [...note].length < 2) throw new ApprovalRefused('access.refusalReasonNeeded');
  return note;
}

/**
 * Whether a decision is the one its register row recorded: the `action` row for request `id` is there once, hashes
 * right, is signed by a certificate the agency CA issued (when the desk signs), is by `decider`, and its detail has
 * every member of `fields` with the same value. Whoever can write the database but does not hold the signing key
 * cannot approve anything, nor widen an approval, by editing the request tables.
 */
export async function attestedDecision(db: Queryable, caPems: string[], signs: boolean, action: string, id: string, decider: string | null, fields: Record<string, unknown>): Promise<boolean> {
  return (await attestedRow(db, caPems, signs, action, id, decider, fields)) !== undefined;
}

/** The register row attestedDecision accepts, or undefined. */
export async function attestedRow(db: Queryable, caPems: string[], signs: boolean, action: string, id: string, decider: string | null, fields: Record<string, unknown>): Promise<AuditDbRow | undefined> {
  const rows = await db.query<AuditDbRow>(`SELECT ${AUDIT_COLUMNS} FROM desk_audit WHERE action = $1 AND detail LIKE $2`, [action, `{"request":"${id}",%`]);
  if (rows.length !== 1) return undefined;
  const row = rows[0]!;
  const c = checkAuditRow(row, await auditSigners(db, caPems));
  const d = c.detail;
  const ok =
    c.problems.length === 0 &&
    (c.signed || !signs) &&
    row.name === decider &&
    d.request === id &&
    Object.entries(fields).every(([k, v]) => JSON.stringify(d[k]) === JSON.stringify(v));
  return ok ? row : undefined;
}

/** The most telling reason none of the person's requests covering the sessions allows the act now. */
function whyRefused(covering: ViewRequest[], at: number, act: Act, notTheirs: boolean, zone: string): ApprovalRefused {
  if (notTheirs) return new ApprovalRefused('access.notYours');
  const approved = covering.filter((r) => r.state === 'approved');
  const current = approved.filter((r) => at >= r.validFromMs! && at < r.validUntilMs!);
  if (act === 'export' && current.length > 0) return new ApprovalRefused('access.viewOnly');
  const expired = approved.filter((r) => at >= r.validUntilMs!).sort((a, b) => b.validUntilMs! - a.validUntilMs!)[0];
  if (expired) return new ApprovalRefused('access.expired', { until: localTime(expired.validUntilMs!, zone, 'zh') });
  if (covering.some((r) => r.state === 'pending')) return new ApprovalRefused('access.pending');
  const refused = covering.find((r) => r.state === 'refused');
  if (refused) return new ApprovalRefused('access.refused', { by: refused.decider ?? '', note: refused.decisionNote ?? '' });
  return new ApprovalRefused('access.none');
}
