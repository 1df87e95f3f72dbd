/**
 * Receipts: the agency receiver's signed statement that it durably stored a segment file or the ledger up to an
 * entry (docs/uplink-protocol.md §4). The gateway deletes nothing without one; the verifier and `recgw report`
 * read them. Signed with the agency receipt key over the canonical JSON of the receipt without `sig`.
 */
import { canonicalJson } from '../util/canonical.js';
import { checkCertificate, parseCertificate } from '../pki/certs.js';
import { ROLE_RECEIPT } from '../pki/roles.js';
import { verifySignature, type Signer } from './signer.js';
import { decodeBase64Strict } from './entry.js';
import { isSm2Key } from '../crypto/gm/sm2-keys.js';

interface ReceiptBase {
  v: 1;
  type: 'receipt';
  device: string;
  /** The upload deadline the gateway stated for the item. */
  deadline: string;
  storedAt: string;
  receiver: string;
  /**
   * The item's place in the agency's transparency log: a c2sp.org/tlog-proof@v1 text (its leaf's index, the
   * inclusion proof and the signed checkpoint). Absent only in receipts from before the log (format 1.0).
   */
  log?: string;
  /**
   * "gm" when the receipt is signed SM2 over SM3 (evidence-format.md §17); absent for intl, and in gm receipts
   * issued before 2026-12-07. A gm segment receipt's `sha256` holds the file's SM3 (the manifest's `stored.sm3`).
   */
  suite?: 'gm';
  cert: string;
  sig: string;
}

export interface SegmentReceipt extends ReceiptBase {
  kind: 'segment';
  name: string;
  size: number;
  sha256: string;
  manifestSeq: number;
}

export interface EntriesReceipt extends ReceiptBase {
  kind: 'entries';
  through: { seq: number; hash: string };
}

export type Receipt = SegmentReceipt | EntriesReceipt;
type Unsigned<R> = R extends Receipt ? Omit<R, 'sig' | 'cert' | 'v' | 'type' | 'suite'> : never;

/** A store's device folder keeps every receipt the receivers issued for it here, one canonical JSON per line. */
export const RECEIPTS_FILE = 'receipts.jsonl';

export const receiptSignedBytes = (r: Omit<Receipt, 'sig'>): Buffer => Buffer.from(canonicalJson(r), 'utf8');

export function makeReceipt(fields: Unsigned<Receipt>, signer: Signer): Receipt {
  const unsigned = { v: 1 as const, type: 'receipt' as const, ...fields, ...(signer.suite === 'gm' ? { suite: 'gm' as const } : {}), cert: signer.certificatePem } as Omit<Receipt, 'sig'>;
  return { ...unsigned, sig: signer.sign(receiptSignedBytes(unsigned)).toString('base64') } as Receipt;
}

const obj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIso = (v: unknown): v is string => typeof v === 'string' && /Z$/.test(v) && !Number.isNaN(Date.parse(v));
const isHex64 = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The shape problem of a would-be receipt, or undefined when it has every member with the right type. */
export function receiptShapeProblem(r: unknown): string | undefined {
  if (!obj(r)) return 'the receipt is not a JSON object';
  if (r.v !== 1 || r.type !== 'receipt') return 'the receipt does not say {"v":1,"type":"receipt"}';
  for (const k of ['device', 'receiver', 'cert', 'sig'] as const) if (typeof r[k] !== 'string' || r[k] === '') return `the receipt's ${k} is missing`;
  for (const k of ['deadline', 'storedAt'] as const) if (!isIso(r[k])) return `the receipt's ${k} is not an ISO UTC time`;
  if (r.log !== undefined && typeof r.log !== 'string') return "the receipt's log is not a tlog-proof text";
  if (r.suite !== undefined && r.suite !== 'gm') return `the receipt's suite ${JSON.stringify(r.suite)} is not "gm" (an intl receipt names none)`;
  if (r.kind === 'segment') {
    if (typeof r.name !== 'string' || r.name === '') return "the segment receipt's name is missing";
    if (!isCount(r.size) || !isHex64(r.sha256) || !isCount(r.manifestSeq)) return 'the segment receipt lacks size, sha256 or manifestSeq';
    return undefined;
  }
  if (r.kind === 'entries') {
    if (!obj(r.through) || !isCount(r.through.seq) || !isHex64(r.through.hash)) return "the entries receipt's through is not {seq, hash}";
    return undefined;
  }
  return 'the receipt kind is neither "segment" nor "entries"';
}

/**
 * Check a receipt: its shape, that its certificate is the agency's receipt certificate (chains to a CA in
 * `caPems`, OU=recgw-receipt, valid at storedAt) and that the signature verifies with it. Returns the problem, or
 * undefined when the receipt is genuine. What it states still has to be compared with what the caller expects.
 */
export function receiptProblem(r: unknown, caPems: string[]): string | undefined {
  const shape = receiptShapeProblem(r);
  if (shape) return shape;
  const rec = r as Receipt;
  const problems = checkCertificate(rec.cert, caPems, { at: new Date(rec.storedAt), role: ROLE_RECEIPT });
  if (problems.length > 0) return `the receipt certificate is not acceptable: ${problems.map((p) => p.detail).join('; ')}`;
  const sig = decodeBase64Strict(rec.sig);
  const x = parseCertificate(rec.cert);
  const { sig: _sig, ...unsigned } = rec;
  if (x && rec.suite === 'gm' && !isSm2Key(x.publicKey)) return 'the receipt says suite gm but its certificate\'s key is not SM2';
  if (!sig || !x || !verifySignature(receiptSignedBytes(unsigned), sig, x.publicKey)) return 'the receipt signature does not verify with its certificate';
  return undefined;
}

export const encodeReceipt = (r: Receipt): string => canonicalJson(r);
