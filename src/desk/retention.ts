/**
 * Retention by the rules (004 规定 §10, 制度 §16, 000 §27, 003 §19; docs/desk.md §10): a session is evidence while a
 * mark ties it to a case, else non-evidence, kept `retention.years` (at least one) after it ended. Marking as
 * evidence, releasing a mark and deleting expired sessions are each a request a leader other than the requester
 * decides, registered in the signed audit chain as viewing requests are (approvals.ts: decisionNote and
 * attestedDecision are shared). A deletion is checked when asked, when approved and when carried out (toApply, for
 * `recgw retention apply`): nothing within its term, unclosed or marked as evidence passes, whatever the tables say.
 */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../index/database.js';
import { termEnds, type Attestation } from '../evidence/deletion-event.js';
import { auditRecord, type DeskAudit } from './audit.js';
import { ApprovalRefused, MAX_SESSIONS, attestedRow, cleanText, decisionNote, type Actor } from './approvals.js';
import type { AuditDbRow } from './audit-check.js';
import { checkCertificate } from '../pki/certs.js';
import { ROLE_DESK } from '../pki/roles.js';
import { localTime } from '../util/local-time.js';
import { deskTranslator } from './i18n.js';

export type RetentionKind = 'evidence' | 'release' | 'delete';
export const RETENTION_KINDS: readonly RetentionKind[] = ['evidence', 'release', 'delete'];

export interface RetentionRequest {
  id: string;
  kind: RetentionKind;
  requestedMs: number;
  requester: string;
  reason: string;
  /** "device/session", in the order given. */
  sessions: string[];
  /** The case the sessions are evidence for (kind evidence). */
  caseRef: string | null;
  state: 'pending' | 'approved' | 'refused';
  decidedMs: number | null;
  decider: string | null;
  decisionNote: string | null;
  /** When `recgw retention apply` carried out an approved deletion. */
  appliedMs: number | null;
}

export interface RetentionStatus {
  cls: 'evidence' | 'non-evidence';
  caseRef?: string;
  /** Non-evidence, closed, a term configured: when its term runs out. */
  keptUntilMs?: number;
  /** When `recgw retention apply` deleted its files. */
  deletedMs?: number;
}

/** A closed session whose term has run out, with its class. */
export interface ExpiredSession {
  device: string;
  session: string;
  matter: string;
  caseRef: string;
  endMs: number;
  expiresMs: number;
}

type Row = {
  id: string; kind: RetentionKind; requested_ms: number | string; requester: string; reason: string; sessions: string; case_ref: string | null; state: RetentionRequest['state'];
  decided_ms: number | string | null; decider: string | null; decision_note: string | null; applied_ms: number | string | null;
};
const num = (v: number | string | null): number | null => (v === null ? null : Number(v));
const fromRow = (r: Row): RetentionRequest => ({
  id: r.id,
  kind: r.kind,
  requestedMs: Number(r.requested_ms),
  requester: r.requester,
  reason: r.reason,
  sessions: JSON.parse(r.sessions) as string[],
  caseRef: r.case_ref,
  state: r.state,
  decidedMs: num(r.decided_ms),
  decider: r.decider,
  decisionNote: r.decision_note,
  appliedMs: num(r.applied_ms),
});

const split = (ref: string): [string, string] => {
  const i = ref.indexOf('/');
  return [ref.slice(0, i), ref.slice(i + 1)];
};

export class Retention {
  constructor(
    private readonly db: Queryable,
    private readonly audit: DeskAudit,
    private readonly now: () => number,
    /** The term of non-evidence sessions (desk config retention.years); undefined: nothing expires. */
    readonly years: number | undefined,
    private readonly zone: string,
    private readonly caPems: string[],
  ) {}

  /** 'evidence' while a mark ties the session to a case, else 'non-evidence'. */
  async classOf(device: string, session: string, q: Queryable = this.db): Promise<{ cls: 'evidence' | 'non-evidence'; caseRef?: string }> {
    const [m] = await q.query<{ case_ref: string }>('SELECT case_ref FROM desk_evidence_marks WHERE device_id = $1 AND session_id = $2', [device, session]);
    return m ? { cls: 'evidence', caseRef: m.case_ref } : { cls: 'non-evidence' };
  }

  /** What the session page says of a session's retention: its class, until when it is kept, or when it was deleted. */
  async status(device: string, session: string, endMs: number | null): Promise<RetentionStatus> {
    const c = await this.classOf(device, session);
    const [gone] = await this.db.query<{ deleted_ms: number | string }>('SELECT deleted_ms FROM desk_retention_deleted WHERE device_id = $1 AND session_id = $2', [device, session]);
    return {
      ...c,
      ...(gone ? { deletedMs: Number(gone.deleted_ms) } : {}),
      ...(c.cls === 'non-evidence' && endMs !== null && this.years !== undefined ? { keptUntilMs: termEnds(endMs, this.years) } : {}),
    };
  }

  /** The expiry list: closed, unmarked, not yet deleted sessions whose term ran out by now, oldest first. */
  async expired(limit = 1000): Promise<ExpiredSession[]> {
    if (this.years === undefined) return [];
    const years = this.years;
    const now = this.now();
    // A year is at most 366 days: the query narrows, termEnds decides.
    const rows = await this.db.query<{ device_id: string; session_id: string; matter: string; case_ref: string; end_ms: number | string }>(
      `SELECT s.device_id, s.session_id, s.matter, s.case_ref, s.end_ms FROM sessions s
        WHERE s.end_ms IS NOT NULL AND s.end_ms <= $1
          AND NOT EXISTS (SELECT 1 FROM desk_evidence_marks m WHERE m.device_id = s.device_id AND m.session_id = s.session_id)
          AND NOT EXISTS (SELECT 1 FROM desk_retention_deleted d WHERE d.device_id = s.device_id AND d.session_id = s.session_id)
        ORDER BY s.end_ms, s.device_id, s.session_id LIMIT $2`,
      [now - years * 365 * 86_400_000, limit],
    );
    return rows
      .map((r) => ({ device: r.device_id, session: r.session_id, matter: r.matter, caseRef: r.case_ref, endMs: Number(r.end_ms), expiresMs: termEnds(Number(r.end_ms), years) }))
      .filter((s) => s.expiresMs <= now);
  }

  /** A request: its sessions checked for what it asks (ApprovalRefused naming the first that does not fit). */
  async request(who: Actor, o: { kind: RetentionKind; sessions: string[]; reason: string; caseRef?: string }): Promise<RetentionRequest> {
    if (!RETENTION_KINDS.includes(o.kind)) throw new ApprovalRefused('retention.badKind');
    const reason = cleanText(o.reason);
    if ([...reason].length < 4 || reason.length > 500) throw new ApprovalRefused('access.reasonNeeded');
    if (o.sessions.length === 0 || o.sessions.length > MAX_SESSIONS) throw new ApprovalRefused('access.sessionsNeeded', { max: MAX_SESSIONS });
    const caseRef = o.kind === 'evidence' ? cleanText(o.caseRef) : '';
    if (o.kind === 'evidence' && ([...caseRef].length < 2 || caseRef.length > 200)) throw new ApprovalRefused('retention.caseNeeded');
    for (const s of o.sessions) await this.fits(o.kind, s, this.db);
    const id = randomUUID();
    await this.audit.record(who.name, 'retention-request', who.ip, { request: id, kind: o.kind, sessions: o.sessions, reason, ...(caseRef ? { caseRef } : {}) }, async (tx) => {
      await tx.query(
        "INSERT INTO desk_retention_requests (id, kind, requested_ms, requester, reason, sessions, case_ref, state) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')",
        [id, o.kind, this.now(), who.name, reason, JSON.stringify(o.sessions), caseRef || null],
      );
    });
    return (await this.get(id))!;
  }

  /** A leader's decision (never on their own request); approving checks the sessions again, and marks or releases. */
  async decide(who: Actor, id: string, d: { approve: boolean; note?: string }): Promise<RetentionRequest> {
    const r = await this.get(id);
    if (!r) throw new ApprovalRefused('retention.noRequest');
    const note = decisionNote(who, r.requester, d.approve, d.note);
    const at = this.now();
    const detail = { request: id, kind: r.kind, requester: r.requester, sessions: r.sessions, reason: r.reason, caseRef: r.caseRef, note, ...(d.approve && r.kind === 'delete' ? { termYears: this.years } : {}) };
    await this.audit.record(who.name, d.approve ? 'retention-approve' : 'retention-refuse', who.ip, detail, async (tx) => {
      if (d.approve) for (const s of r.sessions) await this.fits(r.kind, s, tx);
      const changed = await tx.query<{ id: string }>(
        "UPDATE desk_retention_requests SET state = $2, decided_ms = $3, decider = $4, decision_note = $5 WHERE id = $1 AND state = 'pending' RETURNING id",
        [id, d.approve ? 'approved' : 'refused', at, who.name, note],
      );
      if (changed.length === 0) throw new ApprovalRefused('access.decidedAlready');
      if (!d.approve) return;
      for (const s of r.sessions) {
        const [device, session] = split(s);
        if (r.kind === 'evidence') await tx.query('INSERT INTO desk_evidence_marks (device_id, session_id, case_ref, request_id, marked_ms) VALUES ($1, $2, $3, $4, $5)', [device, session, r.caseRef, id, at]);
        if (r.kind === 'release') await tx.query('DELETE FROM desk_evidence_marks WHERE device_id = $1 AND session_id = $2', [device, session]);
      }
    });
    return (await this.get(id))!;
  }

  async get(id: string): Promise<RetentionRequest | undefined> {
    const [r] = await this.db.query<Row>('SELECT * FROM desk_retention_requests WHERE id = $1', [id]);
    return r ? fromRow(r) : undefined;
  }

  /** Newest first. */
  async list(limit = 200): Promise<RetentionRequest[]> {
    return (await this.db.query<Row>('SELECT * FROM desk_retention_requests ORDER BY requested_ms DESC, id LIMIT $1', [limit])).map(fromRow);
  }

  /**
   * The approved deletions not yet carried out, each with the sessions that still may go: its approval attested by
   * its register row, and every session checked once more now (a session marked as evidence since, or a table
   * edited, is refused here with the reason). Refusals are returned, not thrown: one bad request stops no other.
   */
  async toApply(): Promise<{ request: RetentionRequest; refused?: string; attestation?: Attestation }[]> {
    const rows = (await this.db.query<Row>("SELECT * FROM desk_retention_requests WHERE kind = 'delete' AND state = 'approved' AND applied_ms IS NULL ORDER BY decided_ms, id")).map(fromRow);
    const out: { request: RetentionRequest; refused?: string; attestation?: Attestation }[] = [];
    for (const r of rows) {
      const fields = { kind: r.kind, requester: r.requester, sessions: r.sessions, reason: r.reason };
      const row = await attestedRow(this.db, this.caPems, this.audit.signs, 'retention-approve', r.id, r.decider, fields);
      if (!row) {
        out.push({ request: r, refused: 'its approval has no matching, validly signed row in the register (the database may have been changed)' });
        continue;
      }
      const attestation = await this.attestationOf(row);
      if ('refused' in attestation) {
        out.push({ request: r, refused: attestation.refused });
        continue;
      }
      try {
        for (const s of r.sessions) await this.fits('delete', s, this.db);
        out.push({ request: r, attestation });
      } catch (err) {
        if (!(err instanceof ApprovalRefused)) throw err;
        out.push({ request: r, refused: `${deskTranslator('zh-CN')(err.key, err.vars)} (${deskTranslator('en')(err.key, err.vars)})` });
      }
    }
    return out;
  }

  /**
   * The approval's row as the deletion event carries it (evidence-format.md §18.1): only a row the desk signed with a
   * certificate for its own role, so that the receiver side's keys alone can never make a deletion the verifier takes.
   */
  private async attestationOf(row: AuditDbRow): Promise<Attestation | { refused: string }> {
    const fix = 'configure sampleSigning in the desk config with a key from `recgw ca desk-cert` (docs/desk.md §1); approvals made before are not signed and must be asked for again';
    if (row.signature === null || row.cert_sha256 === null) return { refused: `its approval is not signed by the desk: ${fix}` };
    const [c] = await this.db.query<{ pem: string }>('SELECT pem FROM desk_audit_signers WHERE cert_sha256 = $1', [row.cert_sha256]);
    const at = Number(row.at_ms);
    const problems = c ? checkCertificate(c.pem, this.caPems, { at: new Date(at), role: ROLE_DESK }) : [{ detail: 'its certificate is not in the register' }];
    if (problems.length > 0) return { refused: `the desk signed its approval with a certificate that is not the desk's (${problems.map((p) => p.detail).join('; ')}): ${fix}` };
    const record = auditRecord({ seq: Number(row.seq), at, name: row.name, action: row.action, ip: row.ip, detail: JSON.parse(row.detail) as Record<string, unknown>, prev: row.prev_sha256 });
    return { record, cert: c!.pem, sig: row.signature };
  }

  /** A session of an approved deletion was carried out (`files` removed), registered; the request is applied once all are. */
  async deleted(actor: Actor, r: RetentionRequest, ref: string, files: number, event: string): Promise<void> {
    const [device, session] = split(ref);
    await this.audit.record(actor.name, 'retention-delete', actor.ip, { request: r.id, session: ref, files, event, approvedBy: r.decider, termYears: this.years }, async (tx) => {
      await tx.query('INSERT INTO desk_retention_deleted (device_id, session_id, request_id, deleted_ms, files) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (device_id, session_id) DO NOTHING', [device, session, r.id, this.now(), files]);
    });
  }

  async applied(id: string): Promise<void> {
    await this.db.query('UPDATE desk_retention_requests SET applied_ms = $2 WHERE id = $1', [id, this.now()]);
  }

  /** Whether `ref` may be the subject of a request of `kind` now; throws ApprovalRefused naming why not. */
  private async fits(kind: RetentionKind, ref: string, q: Queryable): Promise<void> {
    const [device, session] = /^[^/\s]{1,200}\/[^/\s]{1,200}$/.test(ref) ? split(ref) : ['', ''];
    const [row] = device ? await q.query<{ end_ms: number | string | null }>('SELECT end_ms FROM sessions WHERE device_id = $1 AND session_id = $2', [device, session]) : [];
    if (!row) throw new ApprovalRefused('access.noSuchSession', { session: ref });
    const { cls } = await this.classOf(device, session, q);
    if (kind === 'evidence' && cls === 'evidence') throw new ApprovalRefused('retention.isEvidence', { session: ref });
    if (kind === 'release' && cls !== 'evidence') throw new ApprovalRefused('retention.notEvidence', { session: ref });
    if (kind !== 'delete') return;
    if (cls === 'evidence') throw new ApprovalRefused('retention.isEvidence', { session: ref });
    if (this.years === undefined) throw new ApprovalRefused('retention.off');
    if (row.end_ms === null) throw new ApprovalRefused('retention.notClosed', { session: ref });
    const until = termEnds(Number(row.end_ms), this.years);
    if (this.now() < until) throw new ApprovalRefused('retention.withinTerm', { session: ref, years: this.years, until: localTime(until, this.zone, 'zh') });
    const [gone] = await q.query('SELECT 1 FROM desk_retention_deleted WHERE device_id = $1 AND session_id = $2', [device, session]);
    if (gone) throw new ApprovalRefused('retention.deletedAlready', { session: ref });
  }
}
