/**
 * The ledger entry's wire form: one line of JSON with a fixed key order and `sig` last, so that the signed
 * bytes are the line itself with the `,"sig":"..."` member cut out (see docs/evidence-format.md). The hash
 * chain links each line to the hash of the previous line's exact bytes: SHA-256, or SM3 for a line of the gm suite
 * (one with `"suite":"gm"` after `v`, evidence-format.md §17.6); a line names no suite under intl.
 */
import { hash, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../util/canonical.js';
import { gmSuite } from '../crypto/gm/gm-suite.js';
import { isSm2Key } from '../crypto/gm/sm2-keys.js';
import { sm3 } from '../crypto/gm/sm3.js';
import { writtenCanonically } from './entry-scan.js';
import { verifySignature } from './signer.js';

export const FORMAT_VERSION = 1;
export const GENESIS_PREV = '0'.repeat(64);

export interface UnsignedEntry {
  v: number;
  /** Present only for the gm suite; absent is intl (evidence-format.md §17.6). */
  suite?: 'gm';
  device: string;
  seq: number;
  prev: string;
  time: string;
  type: string;
  body: Record<string, unknown>;
}

export interface LedgerEntry extends UnsignedEntry {
  sig: string;
}

const KEYS = ['v', 'device', 'seq', 'prev', 'time', 'type', 'body', 'sig'] as const;
const GM_KEYS = ['v', 'suite', 'device', 'seq', 'prev', 'time', 'type', 'body', 'sig'] as const;
/** How every gm line begins (the version is the only member before `suite`). */
const GM_PREFIX = `{"v":1,"suite":"gm",`;
const GM_PREFIX_BYTES = Buffer.from(GM_PREFIX);

/** The suite of a ledger line, from its first bytes: gm when it begins `{"v":1,"suite":"gm",`, else intl. */
export function lineSuite(line: string | Uint8Array): 'intl' | 'gm' {
  if (typeof line === 'string') return line.startsWith(GM_PREFIX) ? 'gm' : 'intl';
  return line.length >= GM_PREFIX_BYTES.length && GM_PREFIX_BYTES.equals(line.subarray(0, GM_PREFIX_BYTES.length)) ? 'gm' : 'intl';
}
const HEX64 = /^[0-9a-f]{64}$/;
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const TYPE_RE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;

/** The bytes the device signs: the entry without `sig`, keys in the fixed order, body canonical. */
export function encodeUnsigned(e: UnsignedEntry): string {
  return (
    `{"v":${e.v},${e.suite === 'gm' ? '"suite":"gm",' : ''}"device":${JSON.stringify(e.device)},"seq":${e.seq},"prev":${JSON.stringify(e.prev)},` +
    `"time":${JSON.stringify(e.time)},"type":${JSON.stringify(e.type)},"body":${canonicalJson(e.body)}}`
  );
}

export function attachSignature(unsigned: string, sigB64: string): string {
  return unsigned.slice(0, -1) + `,"sig":"${sigB64}"}`;
}

/**
 * Decode base64 that must be spelled exactly as it is encoded. Node's decoder ignores unused low bits of the last
 * character and anything after the padding, so without this check several spellings carry the same signature.
 */
export function decodeBase64Strict(text: string): Buffer | undefined {
  const b = Buffer.from(text, 'base64');
  return b.toString('base64') === text ? b : undefined;
}

const SIG_MEMBER = ',"sig":"';

/**
 * Where the line's closing `,"sig":"..."}` member begins (a string index) and its text, not yet decoded: the
 * caller decodes it strictly (decodeBase64Strict), which only base64 spelled as encoded passes.
 */
export function signatureMember(line: string): { at: number; text: string } | undefined {
  // Only the last `,"sig":"` can begin the member: base64 has no `,` or `"`.
  const at = line.lastIndexOf(SIG_MEMBER);
  if (at < 0 || !line.endsWith('"}')) return undefined;
  const text = line.slice(at + SIG_MEMBER.length, -2);
  return text === '' ? undefined : { at, text };
}

/** The signed bytes and signature of a line, or undefined when the line does not end in a signature member. */
export function splitSignature(line: string): { signed: string; sig: Buffer } | undefined {
  const m = signatureMember(line);
  // Strict decoding alone admits exactly base64 as encoded (A-Z a-z 0-9 + / and its padding): no pattern needed.
  const sig = m && decodeBase64Strict(m.text);
  if (!m || !sig) return undefined;
  return { signed: line.slice(0, m.at) + '}', sig };
}

/**
 * Whether the line's signature (section 4.2 of evidence-format.md) verifies with `key`, under the line's suite: a
 * gm line SM2 over SM3 with an SM2 key, an intl line never with an SM2 key (node:crypto would check plain ECDSA on
 * the SM2 curve). Never throws.
 */
export function lineSignedBy(line: string, key: KeyObject): boolean {
  const parts = splitSignature(line);
  if (parts === undefined) return false;
  const data = Buffer.from(parts.signed, 'utf8');
  if (lineSuite(line) === 'gm') return isSm2Key(key) && gmSuite.verify(data, parts.sig, key);
  return !isSm2Key(key) && verifySignature(data, parts.sig, key);
}

export function sha256Hex(data: string | Uint8Array): string {
  // One-shot: about twice as fast as a Hash object for a ledger line, and the verifier hashes every line.
  return hash('sha256', data, 'hex');
}

/** The chain hash of an entry: SHA-256 of its line's UTF-8 bytes, without the newline; SM3 for a gm line. */
export const lineHash = (line: string | Uint8Array): string => (lineSuite(line) === 'gm' ? sm3(line).toString('hex') : sha256Hex(line));

export type ParseResult = { ok: true; entry: LedgerEntry } | { ok: false; error: string };

/** Whether every object in the value has its keys in sorted (UTF-16 code unit) order, as canonicalJson writes. */
function keysSorted(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return true;
  if (Array.isArray(v)) return v.every(keysSorted);
  const keys = Object.keys(v);
  for (let i = 1; i < keys.length; i++) if (!(keys[i - 1]! < keys[i]!)) return false;
  return keys.every((k) => keysSorted((v as Record<string, unknown>)[k]));
}

/** Parse and strictly check one ledger line. Never throws: bad input is a result, not a crash. */
export function parseLine(line: string): ParseResult {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch (err) {
    return { ok: false, error: `not valid JSON (${(err as Error).message})` };
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return { ok: false, error: 'not a JSON object' };
  const keys = Object.keys(obj);
  const want = keys[1] === 'suite' ? GM_KEYS : KEYS;
  if (keys.length !== want.length || keys.some((k, i) => k !== want[i])) {
    return { ok: false, error: `members must be exactly ${KEYS.join(', ')} in that order, or with suite after v (found ${keys.join(', ')})` };
  }
  const e = obj as Record<string, unknown>;
  if (e.v !== FORMAT_VERSION) return { ok: false, error: `unsupported format version ${JSON.stringify(e.v)}` };
  // One spelling per suite: intl is the absence of the member.
  if (want === GM_KEYS && e.suite !== 'gm') return { ok: false, error: `suite must be "gm" when present (an intl entry names no suite), not ${JSON.stringify(e.suite)}` };
  if (typeof e.device !== 'string' || e.device === '') return { ok: false, error: 'device must be a non-empty string' };
  if (typeof e.seq !== 'number' || !Number.isSafeInteger(e.seq) || e.seq < 0) return { ok: false, error: 'seq must be a non-negative integer' };
  if (typeof e.prev !== 'string' || !HEX64.test(e.prev)) return { ok: false, error: 'prev must be 64 lowercase hex digits' };
  if (typeof e.time !== 'string' || !ISO_MS.test(e.time) || Number.isNaN(Date.parse(e.time))) {
    return { ok: false, error: 'time must be a UTC timestamp like 2026-01-02T03:04:05.678Z' };
  }
  if (typeof e.type !== 'string' || !TYPE_RE.test(e.type)) return { ok: false, error: 'type must be a dotted lowercase name' };
  if (typeof e.body !== 'object' || e.body === null || Array.isArray(e.body)) return { ok: false, error: 'body must be a JSON object' };
  if (typeof e.sig !== 'string') return { ok: false, error: 'sig must be a base64 string' };
  const entry = e as unknown as LedgerEntry;
  // Canonical form is required so that what a reader parses is exactly what was signed. JSON.parse keeps the
  // members in the order written (integer-like keys aside, which then fail the first test), so a line that
  // JSON.stringify writes back unchanged, with every body object's keys in sorted order, is exactly what
  // encodeUnsigned writes: the same test as below at a fraction of its cost (the verifier parses every line).
  // writtenCanonically tells the same from the text alone, in about a fifth of the time, for the usual line.
  if (writtenCanonically(line, want) || (JSON.stringify(entry) === line && keysSorted(entry.body))) return { ok: true, entry };
  let again: string;
  try {
    again = attachSignature(encodeUnsigned(entry), entry.sig);
  } catch (err) {
    return { ok: false, error: `body cannot be encoded canonically (${(err as Error).message})` };
  }
  if (again !== line) return { ok: false, error: 'the line is not in canonical form (key order, spacing or escaping differs from what was signed)' };
  return { ok: true, entry };
}
