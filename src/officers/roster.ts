/**
 * The officer roster (evidence-format.md §16): the agency's signed list of the officers who may confirm actions on a
 * gateway — name, 执法证号 (badge), validity — each with a commitment to the slow hash of the officer's PIN. The file
 * the agency gives a gateway holds the signed roster and, beside it, the PIN hashes (`pins`); only the signed roster
 * goes into the ledger (roster.installed), so evidence never carries anything a PIN could be guessed from offline.
 *
 * Signed like a receipt: RSASSA-PKCS1-v1_5/SHA-256 (or ECDSA) over the canonical JSON of the roster without `sig`,
 * by a certificate the agency CA issued for the role recgw-roster, checked at the roster's `issued` time. A roster's
 * identity is the SHA-256 of its canonical JSON with `sig` (what the ledger and every confirmation name).
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../util/canonical.js';
import { checkCertificate, parseCertificate } from '../pki/certs.js';
import { notOneCertificate } from '../pki/encryption-cert.js';
import { ROLE_ROSTER } from '../pki/roles.js';
import { decodeBase64Strict } from '../evidence/entry.js';
import { verifySignature, type Signer } from '../evidence/signer.js';
import { SCRYPT_HASH } from '../util/scrypt-hash.js';
import { badgeProblem, nameProblem, normalName } from './names.js';

export interface RosterOfficer {
  name: string;
  badge: string;
  /** The officer may confirm from notBefore to notAfter (within the roster's own validity). */
  notBefore: string;
  notAfter: string;
  /** SHA-256 (hex) of the canonical JSON of the officer's PinRecord: binds the PIN hash kept beside the roster. */
  pin: string;
}

export interface SignedRoster {
  v: 1;
  type: 'roster';
  /** Who issued it, for people (the CA and the certificate say it for machines). */
  agency: string;
  issued: string;
  notBefore: string;
  notAfter: string;
  officers: RosterOfficer[];
  /** The roster-signing certificate (OU=recgw-roster), PEM. */
  cert: string;
  sig: string;
}

/** An officer's PIN as the gateway keeps it: the slow hash (src/util/scrypt-hash.ts), never the PIN. */
export interface PinRecord {
  badge: string;
  hash: string;
}

/** The file `recgw ca roster` writes and a gateway's `agency.roster` names: canonical JSON on one line. */
export interface RosterFile {
  pins: PinRecord[];
  roster: SignedRoster;
}

export type RosterIssueKind = 'malformed' | 'bad-signature' | 'untrusted-certificate' | 'expired' | 'not-yet-valid' | 'pins';
/** One thing wrong with a roster, in both languages, each sentence naming the fix. */
export interface RosterIssue {
  kind: RosterIssueKind;
  en: string;
  zh: string;
}

export const MAX_OFFICERS = 2000;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const HEX64 = /^[0-9a-f]{64}$/;
const isIso = (v: unknown): v is string => typeof v === 'string' && ISO.test(v) && !Number.isNaN(Date.parse(v));
const obj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const ASK = { en: 'ask the agency for a roster made with `recgw ca roster`', zh: '请向执法机构索取用 `recgw ca roster` 制作的人员名单' };
const malformed = (en: string, zh: string): RosterIssue => ({ kind: 'malformed', en: `${en}: ${ASK.en}`, zh: `${zh}：${ASK.zh}` });

export const rosterSignedBytes = (r: Omit<SignedRoster, 'sig'>): Buffer => Buffer.from(canonicalJson(r), 'utf8');
/** The roster's identity: SHA-256 (hex) of its canonical JSON, `sig` included. */
export const rosterSha256 = (r: SignedRoster): string => createHash('sha256').update(canonicalJson(r), 'utf8').digest('hex');
export const pinCommitment = (p: PinRecord): string => createHash('sha256').update(canonicalJson({ badge: p.badge, hash: p.hash }), 'utf8').digest('hex');

function officerProblem(o: unknown, i: number): string | undefined {
  if (!obj(o)) return `officers[${i}] is not an object`;
  if (typeof o.name !== 'string' || nameProblem(o.name) || normalName(o.name) !== o.name) return `officers[${i}].name is missing or not a name of 1-32 characters (NFC, no outer spaces)`;
  if (typeof o.badge !== 'string' || badgeProblem(o.badge)) return `officers[${i}].badge is not a 执法证号 of 1-32 letters, digits or "-"`;
  if (!isIso(o.notBefore) || !isIso(o.notAfter) || o.notAfter <= o.notBefore) return `officers[${i}] has no validity (notBefore before notAfter, UTC times)`;
  if (typeof o.pin !== 'string' || !HEX64.test(o.pin)) return `officers[${i}].pin is not a SHA-256 in hex`;
  return undefined;
}

/** Why `r` does not have the form of a signed roster, or undefined. */
export function rosterShapeProblem(r: unknown): string | undefined {
  if (!obj(r)) return 'the roster is not a JSON object';
  if (r.v !== 1 || r.type !== 'roster') return 'the roster does not say {"v":1,"type":"roster"}';
  if (typeof r.agency !== 'string') return "the roster's agency is missing";
  for (const k of ['issued', 'notBefore', 'notAfter'] as const) if (!isIso(r[k])) return `the roster's ${k} is not a UTC time like 2026-12-06T08:00:00.000Z`;
  if ((r.notAfter as string) <= (r.notBefore as string)) return "the roster's notAfter is not after its notBefore";
  if (typeof r.cert !== 'string' || typeof r.sig !== 'string') return 'the roster has no cert or sig';
  if (!Array.isArray(r.officers) || r.officers.length === 0 || r.officers.length > MAX_OFFICERS) return `the roster's officers are not a list of 1-${MAX_OFFICERS}`;
  const badges = new Set<string>();
  for (const [i, o] of r.officers.entries()) {
    const p = officerProblem(o, i);
    if (p) return p;
    const b = (o as RosterOfficer).badge;
    if (badges.has(b)) return `the 执法证号 ${b} is on the roster twice`;
    badges.add(b);
  }
  return undefined;
}

export type RosterCheck = { ok: true; roster: SignedRoster; sha256: string } | { ok: false; issues: RosterIssue[] };

/**
 * Check a signed roster (a file's `roster`, or a roster.installed entry's): its form, that its certificate is the
 * agency's roster certificate (chains to one of `caPems`, OU=recgw-roster, valid at `issued`) and that the signature
 * verifies with it. Not whether it is valid now (rosterTimeIssue). Never throws.
 */
export function checkSignedRoster(r: unknown, caPems: string[]): RosterCheck {
  const shape = rosterShapeProblem(r);
  if (shape) return { ok: false, issues: [malformed(shape, `人员名单格式错误（${shape}）`)] };
  const roster = r as SignedRoster;
  const form = notOneCertificate(roster.cert);
  const certProblems = form ? [form.problem.en] : checkCertificate(roster.cert, caPems, { at: new Date(roster.issued), role: ROLE_ROSTER }).map((p) => p.detail);
  if (certProblems.length > 0) {
    const d = certProblems.join('; ');
    return {
      ok: false,
      issues: [
        {
          kind: 'untrusted-certificate',
          en: `the roster is not signed with the agency's roster certificate (${d}): only a roster the agency signed with its recgw-roster certificate is taken; ${ASK.en}`,
          zh: `人员名单不是用执法机构的名单签名证书签署的（${d}）：只接受执法机构用 recgw-roster 证书签署的名单；${ASK.zh}`,
        },
      ],
    };
  }
  const { sig: _sig, ...unsigned } = roster;
  const sig = decodeBase64Strict(roster.sig);
  const x = parseCertificate(roster.cert);
  if (!sig || !x || !verifySignature(rosterSignedBytes(unsigned), sig, x.publicKey)) {
    return {
      ok: false,
      issues: [{ kind: 'bad-signature', en: `the roster's signature does not verify: it was altered after the agency signed it; ${ASK.en}`, zh: `人员名单的签名无法验证：签署后被改动过；${ASK.zh}` }],
    };
  }
  return { ok: true, roster, sha256: rosterSha256(roster) };
}

/** Why the roster cannot be used at `at` (expired, not yet valid), or undefined. */
export function rosterTimeIssue(r: SignedRoster, at: Date): RosterIssue | undefined {
  const t = at.toISOString();
  if (t > r.notAfter) {
    return {
      kind: 'expired',
      en: `the roster expired on ${r.notAfter}: ask the agency for its current roster (recgw ca roster) and install it`,
      zh: `人员名单已于 ${r.notAfter} 过期：请向执法机构索取当前有效的人员名单并安装`,
    };
  }
  if (t < r.notBefore) {
    return {
      kind: 'not-yet-valid',
      en: `the roster is not valid before ${r.notBefore}: check this machine's clock, or install the roster in force now`,
      zh: `人员名单在 ${r.notBefore} 之前无效：请检查本机时钟，或安装当前有效的人员名单`,
    };
  }
  return undefined;
}

/** A roster as a gateway uses it: checked, with each officer's PIN hash by badge. */
export interface InstalledRoster {
  roster: SignedRoster;
  sha256: string;
  pins: Map<string, string>;
}

export type RosterFileCheck = { ok: true; installed: InstalledRoster } | { ok: false; issues: RosterIssue[] };

/**
 * Check a roster file's text as a gateway takes it at `at`: JSON `{pins, roster}`, the roster signed by the agency
 * (checkSignedRoster) and valid at `at`, and exactly one PIN hash per officer, matching its commitment. Never throws.
 */
export function checkRosterFile(text: string, caPems: string[], at: Date): RosterFileCheck {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, issues: [malformed('it is not JSON', '它不是 JSON 文件')] };
  }
  if (!obj(v) || !Array.isArray(v.pins) || !obj(v.roster)) return { ok: false, issues: [malformed('it is not a roster file {"pins": [...], "roster": {...}}', '它不是人员名单文件')] };
  const c = checkSignedRoster(v.roster, caPems);
  if (!c.ok) return c;
  const when = rosterTimeIssue(c.roster, at);
  if (when) return { ok: false, issues: [when] };
  const pins = new Map<string, string>();
  const want = new Map(c.roster.officers.map((o) => [o.badge, o.pin]));
  for (const p of v.pins as unknown[]) {
    const rec = p as PinRecord;
    const ok = obj(p) && typeof rec.badge === 'string' && typeof rec.hash === 'string' && SCRYPT_HASH.test(rec.hash);
    if (!ok || want.get(rec.badge) !== pinCommitment(rec) || pins.has(rec.badge)) {
      const who = obj(p) && typeof rec.badge === 'string' ? rec.badge.slice(0, 40) : '?';
      return {
        ok: false,
        issues: [
          {
            kind: 'pins',
            en: `the PIN hash for 执法证号 ${who} is not the one the roster was signed with (or is malformed, or given twice): the file was altered; ${ASK.en}`,
            zh: `执法证号 ${who} 的 PIN 摘要与签署的名单不符（或格式错误、重复）：文件被改动过；${ASK.zh}`,
          },
        ],
      };
    }
    pins.set(rec.badge, rec.hash);
  }
  const missing = c.roster.officers.find((o) => !pins.has(o.badge));
  if (missing) {
    return {
      ok: false,
      issues: [{ kind: 'pins', en: `the file has no PIN hash for ${missing.name} (${missing.badge}): ${ASK.en}`, zh: `文件中没有 ${missing.name}（${missing.badge}）的 PIN 摘要：${ASK.zh}` }],
    };
  }
  return { ok: true, installed: { roster: c.roster, sha256: c.sha256, pins } };
}

/** The file's text: canonical JSON on one line (the form docs/recipes/check-roster.sh reads). */
export const encodeRosterFile = (f: RosterFile): string => canonicalJson(f) + '\n';

/** Sign a roster whose PIN records are made: the agency side (`recgw ca roster`, and tests' attackers). */
export function signRoster(fields: Omit<SignedRoster, 'v' | 'type' | 'cert' | 'sig'>, signer: Signer): SignedRoster {
  const unsigned = { v: 1 as const, type: 'roster' as const, ...fields, cert: signer.certificatePem };
  return { ...unsigned, sig: signer.sign(rosterSignedBytes(unsigned)).toString('base64') };
}

export const rosterIssuesText = (issues: RosterIssue[]): string => issues.map((i) => i.en).join('; ');
export const rosterIssuesTextZh = (issues: RosterIssue[]): string => issues.map((i) => i.zh).join('；');
