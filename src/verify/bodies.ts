/**
 * Shape checks for the entry bodies the verifier reasons about. A body that fails is `malformed` (with its line
 * number) and is left out of the session and gap analysis instead of crashing it.
 */
import type { SuiteName } from '../crypto/suite.js';
import { segmentScheme } from '../evidence/segment-scheme.js';
import type { SegmentManifest } from '../evidence/types.js';

type Check = (v: unknown) => boolean;
const str: Check = (v) => typeof v === 'string';
const nonEmpty: Check = (v) => typeof v === 'string' && v.length > 0;
const int: Check = (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const iso: Check = (v) => typeof v === 'string' && !Number.isNaN(Date.parse(v)) && v.endsWith('Z');
const HEX64 = /^[0-9a-f]{64}$/;
const B64 = /^[A-Za-z0-9+/]+={0,2}$/;
const SEG_FILE = /^segments\/[^/]+\.seg$/;
const hex64: Check = (v) => typeof v === 'string' && HEX64.test(v);
const b64: Check = (v) => typeof v === 'string' && B64.test(v);
const obj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const optional = (c: Check): Check => (v) => v === undefined || c(v);
/** Where a sealed file is, relative to the device folder (section 7.1). */
const segFile: Check = (v) => typeof v === 'string' && SEG_FILE.test(v);
const officers: Check = (v) => Array.isArray(v) && v.every((o) => obj(o) && nonEmpty(o.name) && nonEmpty(o.badge));

/** Checks each member in the spec's order; the first that fails is named. */
function checkFields(body: Record<string, unknown>, spec: Record<string, Check>, prefix = ''): string | undefined {
  for (const k in spec) {
    if (!spec[k]!(body[k])) return `${prefix}${k} is missing or has the wrong type`;
  }
  return undefined;
}

/** `{size, sha256}` in an intl manifest, `{size, sm3}` in a gm one: the member names the hash, never the other's. */
const hashedSize =
  (member: 'sha256' | 'sm3'): Check =>
  (v) =>
    obj(v) && int(v.size) && hex64(v[member]) && v[member === 'sm3' ? 'sha256' : 'sm3'] === undefined;

/** The members every manifest has in both suites; plain, stored and enc are the suite's (manifestSpec). */
const MANIFEST_COMMON: Record<string, Check> = {
  segment: nonEmpty,
  file: segFile,
  sessionId: nonEmpty,
  matter: nonEmpty,
  caseRef: str,
  officers,
  seq: int,
  start: iso,
  end: iso,
  source: (v) => obj(v) && nonEmpty(v.id) && (v.kind === 'camera' || v.kind === 'microphone'),
  clock: (v) =>
    obj(v) && str(v.source) && typeof v.synced === 'boolean' && (v.assumed === undefined || v.assumed === true) && (v.heldMs === undefined || Number.isInteger(v.heldMs)),
};

function manifestSpec(suite: SuiteName): Record<string, Check> {
  const s = segmentScheme(suite);
  return {
    ...MANIFEST_COMMON,
    plain: hashedSize(s.hash),
    stored: hashedSize(s.hash),
    enc: (v) => obj(v) && v.alg === s.alg && b64(v.iv) && v.keyWrap === s.keyWrap && b64(v.wrappedKey) && hex64(v.agencyKeyId),
  };
}

// Built once, not per entry: the verifier checks a manifest for nearly every line of a ledger.
const MANIFEST: Record<SuiteName, Record<string, Check>> = { intl: manifestSpec('intl'), gm: manifestSpec('gm') };

/**
 * A segment.sealed body in the suite of its entry (`suite` of the line: absent = intl): a gm entry's manifest hashes
 * with SM3 and seals with SM4-CTR + HMAC-SM3 for an SM2 key, an intl one with SHA-256, AES-256-GCM and RSA-OAEP-256.
 */
export function checkManifest(body: Record<string, unknown>, suite: SuiteName = 'intl'): string | undefined {
  const top = checkFields(body, MANIFEST[suite]);
  // A gm manifest in intl form (or the reverse) says which suite its entry expects.
  if (top) return `manifest: ${top}${suite === 'gm' && /^(plain|stored|enc) /.test(top) ? ' for the gm suite of its entry (SM3, SM4-CTR-HMAC-SM3, SM2-ENC)' : ''}`;
  if (Date.parse(body.end as string) < Date.parse(body.start as string)) return 'manifest: end is before start';
  if (body.file !== `segments/${body.segment as string}.seg`) return `manifest: file is ${String(body.file)}, not segments/${body.segment as string}.seg`;
  // The cipher adds its tag and nothing else: 16 bytes of GCM (section 7.2), 32 of HMAC-SM3 (section 17.7).
  const plain = body.plain as { size: number };
  const stored = body.stored as { size: number };
  const tag = segmentScheme(suite).tagBytes;
  if (stored.size !== plain.size + tag) return `manifest: stored.size ${stored.size} is not plain.size ${plain.size} + ${tag} (the ${tag === 16 ? 'GCM' : 'HMAC-SM3'} tag)`;
  // Optional (manifests before it have none): each re-encoded stream names its kind and both codecs.
  if (!optional((v) => Array.isArray(v) && v.every((t) => obj(t) && (t.stream === 'audio' || t.stream === 'video') && nonEmpty(t.from) && nonEmpty(t.to)))(body.transcoded)) {
    return 'manifest: transcoded is not a list of {stream, from, to}';
  }
  return undefined;
}

export const asManifest = (b: Record<string, unknown>): SegmentManifest => b as unknown as SegmentManifest;

export function checkSessionOpened(b: Record<string, unknown>): string | undefined {
  const e = checkFields(b, { sessionId: nonEmpty, matter: nonEmpty, caseRef: str, officers, start: optional(iso) });
  return e ? `session.opened: ${e}` : undefined;
}

export function checkSessionClosed(b: Record<string, unknown>): string | undefined {
  const e = checkFields(b, { sessionId: nonEmpty, end: optional(iso), reason: (v) => v === 'stopped' || v === 'terminated' });
  return e ? `session.closed: ${e}` : undefined;
}

export function checkStatement(b: Record<string, unknown>): string | undefined {
  const e = checkFields(b, { sessionId: nonEmpty, text: nonEmpty, officers });
  return e ? `session.statement: ${e}` : undefined;
}

/** explanation.heard / explanation.missing (evidence-format.md §6): the window and, when heard, the speech. */
export function checkExplanation(type: 'explanation.heard' | 'explanation.missing', b: Record<string, unknown>): string | undefined {
  const num: Check = (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  const e = checkFields(
    b,
    type === 'explanation.heard'
      ? { sessionId: nonEmpty, interruptionIds: (v) => Array.isArray(v) && v.every(nonEmpty), source: nonEmpty, start: iso, seconds: num }
      : { sessionId: nonEmpty, interruptionIds: (v) => Array.isArray(v) && v.every(nonEmpty), why: nonEmpty },
  );
  return e ? `${type}: ${e}` : undefined;
}

export function checkInterruptionStarted(b: Record<string, unknown>): string | undefined {
  const e = checkFields(b, {
    sessionId: nonEmpty,
    interruptionId: nonEmpty,
    reason: nonEmpty,
    start: iso,
    origin: (v) => v === 'detected' || v === 'declared',
    sources: optional((v) => Array.isArray(v) && v.every(nonEmpty)),
  });
  return e ? `interruption.started: ${e}` : undefined;
}

export function checkInterruptionEnded(b: Record<string, unknown>): string | undefined {
  const e = checkFields(b, { sessionId: nonEmpty, interruptionId: nonEmpty, end: iso });
  return e ? `interruption.ended: ${e}` : undefined;
}

export function checkCertBody(b: Record<string, unknown>): string | undefined {
  const e = checkFields(b, { cert: (v) => typeof v === 'string' && v.includes('BEGIN CERTIFICATE') });
  return e ? `certificate entry: ${e}` : undefined;
}

/** receipt.received: `{"receipt": <receipt>}`; whether the receipt itself is genuine is checked apart (bad-receipt). */
export function checkReceiptReceived(b: Record<string, unknown>): string | undefined {
  const e = checkFields(b, { receipt: obj });
  return e ? `receipt.received: ${e}` : undefined;
}

/** segment.deleted: `{"segment", "file", "receiptSeq"}`, receiptSeq being the seq of its receipt.received entry. */
export function checkSegmentDeleted(b: Record<string, unknown>): string | undefined {
  const e = checkFields(b, { segment: nonEmpty, file: segFile, receiptSeq: int });
  return e ? `segment.deleted: ${e}` : undefined;
}
