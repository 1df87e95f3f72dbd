/**
 * Checks the desk's audit chain (audit.ts) from the first row to the last: every row's record hashes to its sha256,
 * names the row before's (seq 1 none), seq runs 1, 2, 3 … without a gap, and a signed row's signature verifies with
 * its certificate, which the agency CA issued. What it cannot see alone is the newest rows cut off: compare the head
 * (seq and sha256) with one written down or exported earlier. The /audit page and `recgw desk audit-check` run it.
 */
import { X509Certificate } from 'node:crypto';
import { verifySignature } from '../evidence/signer.js';
import { issuedBy } from '../pki/certs.js';
import type { Queryable } from '../index/database.js';
import { auditRecord, sha256 } from './audit.js';

export interface AuditCheck {
  ok: boolean;
  /** Rows in the chain, and of them signed. */
  entries: number;
  signed: number;
  /** Rows written before the chain existed (no seq), which nothing protects. */
  unchained: number;
  head: { seq: number; sha256: string } | null;
  /** The certificates that signed rows (SHA-256 of DER). */
  signers: string[];
  /** At most 50, in seq order. */
  problems: { seq: number; problem: string }[];
}

const PAGE = 2000;
const MAX_PROBLEMS = 50;

export type AuditDbRow = { seq: number | string; at_ms: number | string; name: string; action: string; ip: string; detail: string; prev_sha256: string | null; sha256: string; signature: string | null; cert_sha256: string | null };
export const AUDIT_COLUMNS = 'seq, at_ms, name, action, ip, detail, prev_sha256, sha256, signature, cert_sha256';

/** The certificates that signed rows, each checked against the agency CA: the certificate, or why it does not count. */
export async function auditSigners(db: Queryable, caPems: string[]): Promise<Map<string, X509Certificate | string>> {
  const cas = caPems.map((p) => new X509Certificate(p));
  const certs = new Map<string, X509Certificate | string>();
  for (const r of await db.query<{ cert_sha256: string; pem: string }>('SELECT cert_sha256, pem FROM desk_audit_signers')) {
    try {
      const c = new X509Certificate(r.pem);
      // issuedBy checks an SM2 certificate's signature with the signer ID (a gm agency's desk-cert), which verify() cannot.
      const issuer = cas.find((ca) => issuedBy(c, ca));
      certs.set(r.cert_sha256, issuer ? c : 'its certificate was not issued by the agency CA');
    } catch {
      certs.set(r.cert_sha256, 'its certificate is not a certificate');
    }
  }
  return certs;
}

/**
 * One row on its own: its detail, and what is wrong with it (its record does not hash to its sha256, or its signature
 * does not verify with a certificate the agency CA issued); `signed` when a good signature covers it.
 */
export function checkAuditRow(r: AuditDbRow, certs: Map<string, X509Certificate | string>): { detail: Record<string, unknown>; problems: string[]; signed: boolean } {
  const problems: string[] = [];
  let detail: Record<string, unknown> = {};
  try {
    detail = JSON.parse(r.detail) as Record<string, unknown>;
  } catch {
    problems.push('its detail is not JSON');
  }
  const text = auditRecord({ seq: Number(r.seq), at: Number(r.at_ms), name: r.name, action: r.action, ip: r.ip, detail, prev: r.prev_sha256 });
  if (sha256(text) !== r.sha256) problems.push('its content does not hash to its sha256: the row was changed');
  let signed = false;
  if (r.signature !== null) {
    const cert = r.cert_sha256 === null ? undefined : certs.get(r.cert_sha256);
    if (cert === undefined) problems.push('its signing certificate is not in desk_audit_signers');
    else if (typeof cert === 'string') problems.push(cert);
    else if (!verifySignature(Buffer.from(text, 'utf8'), Buffer.from(r.signature, 'base64'), cert.publicKey)) problems.push('its signature does not verify');
    else signed = true;
  }
  return { detail, problems, signed };
}

export async function checkAudit(db: Queryable, caPems: string[]): Promise<AuditCheck> {
  const certs = await auditSigners(db, caPems);
  const out: AuditCheck = { ok: true, entries: 0, signed: 0, unchained: 0, head: null, signers: [], problems: [] };
  const [u] = await db.query<{ n: number | string }>('SELECT COUNT(*) AS n FROM desk_audit WHERE seq IS NULL');
  out.unchained = Number(u?.n ?? 0);
  const used = new Set<string>();
  const problem = (seq: number, text: string): void => {
    out.ok = false;
    if (out.problems.length < MAX_PROBLEMS) out.problems.push({ seq, problem: text });
  };
  let expect = 1;
  let prev: string | null = null;
  for (;;) {
    const rows = await db.query<AuditDbRow>(`SELECT ${AUDIT_COLUMNS} FROM desk_audit WHERE seq >= $1 ORDER BY seq LIMIT $2`, [expect, PAGE]);
    for (const r of rows) {
      const seq = Number(r.seq);
      if (seq !== expect) problem(seq, `rows ${expect} to ${seq - 1} are missing`);
      const c = checkAuditRow(r, certs);
      for (const p of c.problems) problem(seq, p);
      if (r.prev_sha256 !== prev) problem(seq, 'it does not name the row before it: a row before it was changed, removed or added');
      if (c.signed) {
        out.signed++;
        used.add(r.cert_sha256!);
      }
      out.entries++;
      prev = r.sha256;
      out.head = { seq, sha256: r.sha256 };
      expect = seq + 1;
    }
    if (rows.length < PAGE) break;
  }
  out.signers = [...used].sort();
  return out;
}
