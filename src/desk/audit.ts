/**
 * The desk's audit trail (table desk_audit): every sign-in, failed sign-in, sign-out, search, session viewed, verifier
 * run, export, download, acknowledgement, sample-check step and account change, with who, what, when and from which
 * address. Appended only, and tamper-evident: each row is a canonical JSON record naming the SHA-256 of the one before
 * (a hash chain, numbered by seq) and, when the desk has the agency's signing key (sampleSigning), signed with it, so
 * a row changed, removed or slipped in shows (audit-check.ts), and a chain made again needs the key. Appends take one
 * lock across desks sharing the database, so the chain stays one line. A name typed at the sign-in form is kept short
 * and printable; passwords never come here.
 */
import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import type { IndexDb, Queryable } from '../index/database.js';
import type { Signer } from '../evidence/signer.js';
import { canonicalJson } from '../util/canonical.js';
import { typed } from '../util/typed.js';

export type AuditAction =
  | 'sign-in'
  | 'sign-in-failed'
  | 'sign-out'
  | 'search'
  | 'view-session'
  | 'view-stats'
  | 'verify'
  | 'export-csv'
  | 'ack-alert'
  | 'sample-draw'
  | 'sample-check'
  | 'sample-sign'
  | 'sample-download'
  | 'account-add'
  // The register of viewing under approval (approvals.ts): requests, decisions, acts done and acts refused.
  | 'view-request'
  | 'view-approve'
  | 'view-refuse'
  | 'view-act'
  | 'view-denied'
  // Retention (retention.ts): requests to mark as evidence, release or delete, their decisions, and each deletion done.
  | 'retention-request'
  | 'retention-approve'
  | 'retention-refuse'
  | 'retention-delete';

export interface AuditRow {
  seq: number | null;
  at: number;
  name: string;
  action: AuditAction;
  ip: string;
  detail: Record<string, unknown>;
  sha256: string | null;
  signed: boolean;
}

/** pg_advisory_xact_lock key of the audit chain ("recgwAUD"): one append at a time across desks. */
export const AUDIT_LOCK = 0x72656367_4144;

/** The record a row's hash and signature are over: canonical JSON (src/util/canonical.ts), UTF-8. */
export function auditRecord(r: { seq: number; at: number; name: string; action: string; ip: string; detail: Record<string, unknown>; prev: string | null }): string {
  return canonicalJson({ v: 1, seq: r.seq, at: r.at, name: r.name, action: r.action, ip: r.ip, detail: r.detail, prev: r.prev });
}

export const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** A certificate's name in desk_audit_signers: the SHA-256 of its DER. */
export const derSha256 = (pem: string): string => createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');

export class DeskAudit {
  private signerKnown = false;

  constructor(
    private readonly db: IndexDb,
    private readonly now: () => number = Date.now,
    private readonly signer?: Signer,
  ) {}

  /**
   * Appends a row. `within`: a change the row records, made in the same transaction, so that the change and its row
   * are kept together or not at all (a crash between them loses neither); what it throws rolls both back.
   */
  /** Whether the rows are signed (the desk has its agency signing key). */
  get signs(): boolean {
    return this.signer !== undefined;
  }

  async record(name: string, action: AuditAction, ip: string, detail: Record<string, unknown> = {}, within?: (tx: Queryable) => Promise<void>): Promise<void> {
    const certSha = this.signer ? derSha256(this.signer.certificatePem) : null;
    if (this.signer && !this.signerKnown) {
      // The certificate once, so that whoever checks the chain has it beside the rows it signed.
      await this.db.query('INSERT INTO desk_audit_signers (cert_sha256, pem) VALUES ($1, $2) ON CONFLICT (cert_sha256) DO NOTHING', [certSha, this.signer.certificatePem]);
      this.signerKnown = true;
    }
    await this.db.transaction(async (tx) => {
      if (within) await within(tx);
      const [last] = await tx.query<{ seq: number | string; sha256: string }>('SELECT seq, sha256 FROM desk_audit WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1');
      const seq = last ? Number(last.seq) + 1 : 1;
      const row = { seq, at: this.now(), name: typed(name), action, ip, detail, prev: last?.sha256 ?? null };
      const text = auditRecord(row);
      const signature = this.signer ? this.signer.sign(Buffer.from(text, 'utf8')).toString('base64') : null;
      await tx.query(
        'INSERT INTO desk_audit (id, at_ms, name, action, ip, detail, seq, prev_sha256, sha256, signature, cert_sha256) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)',
        [randomUUID(), row.at, row.name, action, ip, JSON.stringify(detail), seq, row.prev, sha256(text), signature, certSha],
      );
    }, AUDIT_LOCK);
  }

  /** The newest rows first. */
  async latest(limit = 200): Promise<AuditRow[]> {
    return latestAudit(this.db, limit);
  }
}

/** The newest rows first; `actions`: only those (the register). */
export async function latestAudit(db: Queryable, limit: number, actions?: readonly AuditAction[]): Promise<AuditRow[]> {
  const only = actions ? `WHERE action IN (${actions.map((_, i) => `$${i + 2}`).join(', ')})` : '';
  const rows = await db.query<{ seq: number | null; at_ms: number; name: string; action: AuditAction; ip: string; detail: string; sha256: string | null; signature: string | null }>(
    // Rows from before the chain (no seq) last, on both databases.
    `SELECT seq, at_ms, name, action, ip, detail, sha256, signature FROM desk_audit ${only} ORDER BY CASE WHEN seq IS NULL THEN 1 ELSE 0 END, seq DESC, at_ms DESC, id LIMIT $1`,
    [limit, ...(actions ?? [])],
  );
  return rows.map((r) => ({
    seq: r.seq === null ? null : Number(r.seq),
    at: Number(r.at_ms),
    name: r.name,
    action: r.action,
    ip: r.ip,
    detail: JSON.parse(r.detail) as Record<string, unknown>,
    sha256: r.sha256,
    signed: r.signature !== null,
  }));
}
