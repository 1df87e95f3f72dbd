/**
 * Keys over time (evidence-format.md §5.5): entry times may not run backwards by more than a tolerance except at a
 * clock.stepped entry; a certificate is judged at the latest time the ledger has reached (its "high-water" time,
 * which no later entry can lower), not only at the time its own entry claims; and what a revoked key signed at or
 * after its revocation is reported. The same rules are what the receiver refuses (src/receiver/key-rules.ts).
 */
import type { LedgerEntry } from '../evidence/entry.js';
import { ENTRY } from '../evidence/types.js';
import { checkCertificate, parseCertificate } from '../pki/certs.js';
import { ROLE_DEVICE } from '../pki/roles.js';
import type { Revocations } from '../pki/crl.js';
import type { FindingKind } from './findings.js';

/** How far an entry's time may fall behind the latest time before it without a clock.stepped entry. */
export const TIME_TOLERANCE_MS = 60_000;

/** The time bookkeeping of one ledger: `ref` drops at a clock step, `max` never does. */
export interface Clock {
  ref: number;
  max: number;
}

export const startClock = (): Clock => ({ ref: -Infinity, max: -Infinity });

/**
 * The rule for one entry, shared with the receiver: returns the problem, or undefined, and moves the clock on.
 * A clock.stepped entry may go back (that is what it records); after it, times count from it.
 */
export function timeStep(clock: Clock, e: Pick<LedgerEntry, 'type' | 'time' | 'body'>): string | undefined {
  const t = Date.parse(e.time);
  let problem: string | undefined;
  if (e.type === ENTRY.clockStepped) {
    clock.ref = t;
  } else {
    if (t < clock.ref - TIME_TOLERANCE_MS) {
      problem = `its time ${e.time} is ${Math.round((clock.ref - t) / 1000)} s before an earlier entry's, more than the ${TIME_TOLERANCE_MS / 1000} s allowed without a clock.stepped entry`;
    }
    clock.ref = Math.max(clock.ref, t);
  }
  clock.max = Math.max(clock.max, t);
  return problem;
}

/** Why a key's revocation forbids this entry, or undefined. `at` is the latest of the entry's and earlier times. */
export function revokedProblem(revs: Revocations, certPem: string | undefined, at: number): string | undefined {
  if (!certPem) return undefined;
  const r = revs.of(certPem);
  if (!r || at < r.date.getTime()) return undefined;
  return `its key's certificate (serial ${r.serial}) was revoked from ${r.date.toISOString()} (${r.reason}), and the ledger had reached ${new Date(at).toISOString()}`;
}

/**
 * A certificate entry may not bring back a certificate older than the one in force (issued before it): whoever kept a
 * replaced key could otherwise take the device over again with it while that certificate is still valid.
 */
export function olderThanInForce(certPem: string, inForce: string | undefined): string | undefined {
  if (!inForce || inForce === certPem) return undefined;
  const a = parseCertificate(certPem);
  const b = parseCertificate(inForce);
  if (!a || !b) return undefined;
  const issued = (c: typeof a): number => Date.parse(c.validFrom);
  if (issued(a) >= issued(b)) return undefined;
  return `the certificate it installs (issued ${new Date(issued(a)).toISOString()}) is older than the certificate in force (issued ${new Date(issued(b)).toISOString()}): a replaced key cannot come back`;
}

type Report = (kind: FindingKind, detail: string) => void;

export class KeyLifecycle {
  private readonly clock = startClock();
  private cert: string | undefined;
  /** The validity of the certificate in force, parsed once. */
  private validity: { cert: string; from: number; to: number } | undefined;
  /** Consecutive entries dated outside the validity of the certificate in force, reported as one finding. */
  private outside: { from: number; to: number; fromLine: number; detail: string } | undefined;

  constructor(
    private readonly revocations: Revocations,
    private readonly caPems: string[],
    private readonly report: Report,
  ) {}

  entry(lineNo: number, e: LedgerEntry): void {
    const before = this.clock.max;
    const reversed = timeStep(this.clock, e);
    if (reversed) this.report('time-reversed', `line ${lineNo}: entry ${e.seq} (${e.type}): ${reversed}`);
    const at = Math.max(Date.parse(e.time), before);
    if (e.type === ENTRY.ledgerOpened || e.type === ENTRY.certificateInstalled) {
      if (typeof e.body.cert !== 'string') return;
      const older = olderThanInForce(e.body.cert, this.cert);
      if (older) this.report('untrusted-certificate', `line ${lineNo}: ${older}`);
      this.cert = e.body.cert;
      // Valid at the entry's own time is checked with the chain; here: still valid at the high-water time.
      if (before > Date.parse(e.time)) {
        for (const p of checkCertificate(this.cert, this.caPems, { at: new Date(at), role: ROLE_DEVICE, commonName: e.device })) {
          if (p.kind === 'expired') this.report('untrusted-certificate', `line ${lineNo}: the ${e.type} entry is dated ${e.time}, but the ledger had already reached ${new Date(before).toISOString()}: ${p.detail}`);
        }
      }
    }
    const revoked = revokedProblem(this.revocations, this.cert, at);
    if (revoked) this.report('revoked-key', `line ${lineNo}: entry ${e.seq} (${e.type}) is signed by a revoked key: ${revoked}`);
    this.inValidity(lineNo, e);
  }

  /** Every entry must be dated within the validity of the certificate whose key signs it (§5.2, at the entry's time). */
  private inValidity(lineNo: number, e: LedgerEntry): void {
    const x = this.cert ? parseCertificate(this.cert) : undefined;
    if (x && this.validity?.cert !== this.cert) this.validity = { cert: this.cert!, from: Date.parse(x.validFrom), to: Date.parse(x.validTo) };
    const t = Date.parse(e.time);
    const v = this.validity;
    const bad = x && v && (t < v.from || t > v.to);
    if (bad && this.outside && this.outside.to === e.seq - 1) {
      this.outside.to = e.seq;
      return;
    }
    this.finish();
    if (bad) this.outside = { from: e.seq, to: e.seq, fromLine: lineNo, detail: `valid from ${new Date(x.validFrom).toISOString()} to ${new Date(x.validTo).toISOString()}` };
  }

  /** Report what is pending (call after the last entry). */
  finish(): void {
    const o = this.outside;
    this.outside = undefined;
    if (!o) return;
    const which = o.from === o.to ? `entry ${o.from}` : `entries ${o.from} to ${o.to} (${o.to - o.from + 1})`;
    this.report('untrusted-certificate', `line ${o.fromLine}: ${which} are dated outside the validity of the certificate whose key signs them (${o.detail}): renew certificates before they expire`);
  }
}
