/**
 * Retention deletions (issue 18 part 4; evidence-format.md §18): a session not used as evidence is kept at least one
 * year after it ended (004 规定 §10, 制度 §16), then its sealed files may be removed once a leader approved the expiry
 * list. The deletion is an event the agency signs with its receipt key, naming the session, every file removed with
 * its hash, the approval and the term that expired; it is one line of `<device>/deletions.jsonl`, and its SHA-256
 * is a `deletion` leaf of the agency log, written before any file is removed. The verifier accepts a missing file
 * only when such an event covers it and the term had expired at the event's time.
 */
import { canonicalJson } from '../util/canonical.js';
import { checkCertificate, parseCertificate } from '../pki/certs.js';
import { ROLE_DESK, ROLE_RECEIPT } from '../pki/roles.js';
import { verifySignature, type Signer } from './signer.js';
import { decodeBase64Strict, sha256Hex } from './entry.js';

export const DELETIONS_FILE = 'deletions.jsonl';
/** The shortest term the rules allow for a recording not used as evidence. */
export const MIN_TERM_YEARS = 1;

export interface DeletedFile {
  /** The manifest's `file` (segments/<segment>.seg) and `segment`. */
  file: string;
  segment: string;
  size: number;
  /** The manifest's stored hash, hex (SHA-256, or SM3 under gm: `alg`). */
  hash: string;
  alg: 'sha256' | 'sm3';
}

export interface DeletionEvent {
  v: 1;
  type: 'deletion';
  /** The approved deletion request's id (the desk's), which this event carries out for this session. */
  id: string;
  device: string;
  session: string;
  /** Only `non-evidence` may ever be deleted; anything else here is a finding. */
  class: 'non-evidence';
  /** The session's end as its ledger says (session.closed `end`), the term, and when the term ran out. */
  sessionEnd: string;
  termYears: number;
  expired: string;
  approval: { id: string; proposer: string; approver: string; approvedAt: string };
  /**
   * The leader's approval as the evidence desk signed it: its audit row (docs/desk.md §5) and the desk's certificate
   * (role recgw-desk). The receiver side holds the receipt and log keys but not the desk's, so the keys of one host
   * cannot delete a recording alone. Events from before 2026-12-08 have none and are findings.
   */
  attestation?: Attestation;
  files: DeletedFile[];
  /** The agency's clock when it recorded the event: the term must have run out by then. */
  time: string;
  receiver: string;
  cert: string;
  sig: string;
}

export interface Attestation {
  /** The desk audit row's record, exactly the text its signature covers (canonical JSON {v, seq, at, name, action, ip, detail, prev}). */
  record: string;
  cert: string;
  sig: string;
}

export type UnsignedDeletion = Omit<DeletionEvent, 'v' | 'type' | 'cert' | 'sig'>;

/** When a term of `years` starting at `endMs` runs out: the same calendar day and time `years` later, UTC. */
export function termEnds(endMs: number, years: number): number {
  const d = new Date(endMs);
  d.setUTCFullYear(d.getUTCFullYear() + years);
  return d.getTime();
}

const signedBytes = (e: Omit<DeletionEvent, 'sig'>): Buffer => Buffer.from(canonicalJson(e), 'utf8');

export function signDeletion(fields: UnsignedDeletion, signer: Signer): DeletionEvent {
  const unsigned = { v: 1 as const, type: 'deletion' as const, ...fields, cert: signer.certificatePem };
  return { ...unsigned, sig: signer.sign(signedBytes(unsigned)).toString('base64') };
}

/** The line as it is written to deletions.jsonl (without its newline), and the hash the agency log holds. */
export const encodeDeletion = (e: DeletionEvent): string => canonicalJson(e);
export const deletionHash = (line: string): string => sha256Hex(line);

const obj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const iso = (v: unknown): v is string => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(v);
const text = (v: unknown): v is string => typeof v === 'string' && v !== '' && v.length <= 300;
const count = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function shapeProblem(o: unknown): string | undefined {
  if (!obj(o) || o.v !== 1 || o.type !== 'deletion') return 'it is not a {"v":1,"type":"deletion"} object';
  for (const k of ['id', 'device', 'session', 'class', 'receiver', 'cert', 'sig'] as const) if (!(typeof o[k] === 'string' && o[k] !== '')) return `its ${k} is missing`;
  for (const k of ['sessionEnd', 'expired', 'time'] as const) if (!iso(o[k])) return `its ${k} is not an ISO UTC time`;
  if (!count(o.termYears)) return 'its termYears is not a whole number';
  const a = o.approval;
  if (!obj(a) || !text(a.id) || !text(a.proposer) || !text(a.approver) || !iso(a.approvedAt)) return 'its approval lacks id, proposer, approver or approvedAt';
  const t = o.attestation;
  if (t !== undefined && (!obj(t) || typeof t.record !== 'string' || t.record.length > 65_536 || typeof t.cert !== 'string' || typeof t.sig !== 'string')) return 'its attestation is not {record, cert, sig}';
  if (!Array.isArray(o.files) || o.files.length === 0) return 'it names no files';
  for (const f of o.files as unknown[]) {
    if (!obj(f) || !text(f.file) || !text(f.segment) || !count(f.size) || typeof f.hash !== 'string' || !/^[0-9a-f]{64}$/.test(f.hash) || (f.alg !== 'sha256' && f.alg !== 'sm3')) {
      return 'a file in it lacks file, segment, size, hash or alg';
    }
  }
  return undefined;
}

/**
 * Read one line of deletions.jsonl: the event when it is exactly the canonical JSON of a well-formed event, signed by
 * a certificate from the agency CA for the receipt role (valid at its time) — or why not. Only the agency holds that
 * key: an event a device key signed is not one.
 */
export function openDeletion(line: string, caPems: string[]): DeletionEvent | { why: string } {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return { why: 'it is not JSON' };
  }
  const shape = shapeProblem(o);
  if (shape) return { why: shape };
  const e = o as DeletionEvent;
  if (canonicalJson(e) !== line) return { why: 'it is not in canonical form' };
  const problems = checkCertificate(e.cert, caPems, { at: new Date(e.time), role: ROLE_RECEIPT });
  if (problems.length > 0) return { why: `it is not signed by the agency: ${problems.map((p) => p.detail).join('; ')}` };
  const sig = decodeBase64Strict(e.sig);
  const x = parseCertificate(e.cert);
  const { sig: _sig, ...unsigned } = e;
  if (!sig || !x || !verifySignature(signedBytes(unsigned), sig, x.publicKey)) return { why: 'its signature does not verify with its certificate' };
  return e;
}

/** What is wrong with the term the event states: shorter than the rules allow, or not run out at the event's time. */
export function termProblem(e: Pick<DeletionEvent, 'termYears' | 'time'>, sessionEndMs: number): string | undefined {
  if (e.termYears < MIN_TERM_YEARS) return `its term of ${e.termYears} year(s) is shorter than the ${MIN_TERM_YEARS} year(s) the rules require`;
  const ends = termEnds(sessionEndMs, e.termYears);
  if (Date.parse(e.time) < ends) return `it was made at ${e.time}, inside the session's term (${e.termYears} year(s) from ${new Date(sessionEndMs).toISOString()}, until ${new Date(ends).toISOString()})`;
  return undefined;
}

/**
 * Why the event's attestation does not show that the desk approved this deletion, or undefined: the row must be the
 * desk's signed `retention-approve` of the event's request, by its approver, at its approval time, naming its
 * proposer and this session, signed by a key the agency CA certified for the desk's role (not the receipt key the
 * event itself is signed with).
 */
export function attestationProblem(e: DeletionEvent, caPems: string[]): string | undefined {
  const t = e.attestation;
  if (!t) return 'it carries no approval the evidence desk signed (attestation): nothing but the receiver\'s own keys made it';
  let r: { v?: unknown; at?: unknown; name?: unknown; action?: unknown; detail?: Record<string, unknown> };
  try {
    r = JSON.parse(t.record) as typeof r;
  } catch {
    return 'its attestation\'s record is not JSON';
  }
  if (!obj(r) || canonicalJson(r) !== t.record || r.v !== 1 || typeof r.at !== 'number' || !obj(r.detail)) return 'its attestation\'s record is not a desk audit row in canonical form';
  const problems = checkCertificate(t.cert, caPems, { at: new Date(r.at), role: ROLE_DESK });
  if (problems.length > 0) return `its attestation is not signed by the evidence desk: ${problems.map((p) => p.detail).join('; ')}`;
  const sig = decodeBase64Strict(t.sig);
  const x = parseCertificate(t.cert);
  if (!sig || !x || !verifySignature(Buffer.from(t.record, 'utf8'), sig, x.publicKey)) return 'its attestation\'s signature does not verify with the desk\'s certificate';
  const d = r.detail;
  const sessions = Array.isArray(d.sessions) ? d.sessions : [];
  if (r.action !== 'retention-approve' || d.kind !== 'delete' || d.request !== e.approval.id) return `its attestation is not the desk's approval of deletion request ${e.approval.id}`;
  if (r.name !== e.approval.approver || d.requester !== e.approval.proposer || new Date(r.at).toISOString() !== e.approval.approvedAt) return 'its approval (proposer, approver or time) is not the one the desk signed';
  if (!sessions.includes(`${e.device}/${e.session}`)) return `the approval the desk signed does not name session ${e.device}/${e.session}`;
  return undefined;
}
