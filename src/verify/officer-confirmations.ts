/**
 * Officers' PIN confirmations, as a verifier can check them (evidence-format.md §16.4): the rosters the ledger
 * installed (roster.installed: signed by the agency's roster certificate), and for each confirmation in a session.*
 * entry that it names such a roster installed before it, an officer of it by badge and name, valid when it was
 * made, made shortly before its entry, and by an officer of the session. The PIN itself cannot be checked afterwards:
 * what the gateway checked is what its key signs (§12); what is checked here is that it could have been so.
 */
import type { LedgerEntry } from '../evidence/entry.js';
import { CONFIRM_TTL_MS, VIAS } from '../officers/auth.js';
import { checkSignedRoster, type RosterIssueKind, type SignedRoster } from '../officers/roster.js';
import type { FindingKind } from './findings.js';

type Report = (kind: FindingKind, detail: string) => void;

/** How far a confirmation may be from its entry's time: it was checked at most CONFIRM_TTL_MS before, and clocks jitter. */
const SLACK_MS = 60_000;

const FINDING: Record<RosterIssueKind, FindingKind> = {
  malformed: 'malformed',
  'bad-signature': 'bad-signature',
  'untrusted-certificate': 'untrusted-certificate',
  expired: 'untrusted-certificate',
  'not-yet-valid': 'untrusted-certificate',
  pins: 'malformed',
};

export interface ConfirmationResult {
  /** The badges of the valid confirmations (distinct officers: one badge counts once). */
  valid: Set<string>;
  /** Why each invalid one is not valid. */
  problems: string[];
}

export class OfficerConfirmations {
  private readonly rosters = new Map<string, SignedRoster>();
  private first: number | undefined;

  constructor(
    private readonly caPems: string[],
    private readonly report: Report,
  ) {}

  /** A roster.installed entry: from its line on, every statement, start and early end needs confirmations. */
  installed(lineNo: number, e: LedgerEntry): void {
    this.first ??= lineNo;
    const c = checkSignedRoster(e.body.roster, this.caPems);
    if (!c.ok) {
      for (const i of c.issues) this.report(FINDING[i.kind], `line ${lineNo}: roster.installed: ${i.en}`);
      return;
    }
    this.rosters.set(c.sha256, c.roster);
  }

  /** Whether a roster was installed before this point of the ledger (its entry read already). */
  inForce(): boolean {
    return this.first !== undefined;
  }

  /** Check an entry's `confirmations` (anything: it may be missing or malformed) at the entry's `time`. */
  check(entryTime: string, confirmations: unknown, sessionBadges: Set<string> | undefined): ConfirmationResult {
    const valid = new Set<string>();
    const problems: string[] = [];
    if (confirmations === undefined) return { valid, problems: ['it carries no confirmations'] };
    if (!Array.isArray(confirmations)) return { valid, problems: ['its confirmations are not a list'] };
    const t = Date.parse(entryTime);
    for (const [i, c] of confirmations.entries()) {
      const p = this.problem(c, t, sessionBadges);
      const badge = (c as { badge?: unknown } | null)?.badge;
      if (p) problems.push(`confirmation ${i + 1}${typeof badge === 'string' ? ` (${badge})` : ''} ${p}`);
      else if (valid.has(badge as string)) problems.push(`confirmation ${i + 1} (${badge as string}) is the same officer again`);
      else valid.add(badge as string);
    }
    return { valid, problems };
  }

  /**
   * Who signed a session.statement: with a roster in force, the officers who confirmed it validly with their PINs;
   * before any roster, the officers it names (nothing could be checked then). Two are needed.
   */
  signers(e: LedgerEntry, sessionBadges: Set<string> | undefined): Set<string> {
    if (!this.inForce()) return new Set((e.body.officers as { badge: string }[]).map((o) => o.badge));
    return this.check(e.time, e.body.confirmations, sessionBadges).valid;
  }

  private problem(c: unknown, entryMs: number, sessionBadges: Set<string> | undefined): string | undefined {
    if (typeof c !== 'object' || c === null) return 'is not an object';
    const x = c as Record<string, unknown>;
    if (typeof x.badge !== 'string' || typeof x.name !== 'string' || typeof x.roster !== 'string' || typeof x.at !== 'string') return 'lacks name, badge, at or roster';
    if (!(VIAS as readonly string[]).includes(x.via as string)) return `names no channel (via: ${VIAS.join(', ')})`;
    const at = Date.parse(x.at);
    if (Number.isNaN(at) || !x.at.endsWith('Z')) return 'has no UTC time';
    const roster = this.rosters.get(x.roster);
    if (!roster) return `names roster ${x.roster.slice(0, 16)}..., which no genuine roster.installed entry before it holds`;
    const o = roster.officers.find((r) => r.badge === x.badge);
    if (!o) return 'is not on its roster';
    if (o.name !== x.name) return `is named ${x.name}, but the roster gives that 执法证号 to ${o.name}`;
    const iso = new Date(at).toISOString();
    if (iso < roster.notBefore || iso > roster.notAfter) return `was made at ${x.at}, outside the roster's validity (${roster.notBefore} - ${roster.notAfter})`;
    if (iso < o.notBefore || iso > o.notAfter) return `was made at ${x.at}, outside the officer's validity (${o.notBefore} - ${o.notAfter})`;
    if (at > entryMs + SLACK_MS || at < entryMs - CONFIRM_TTL_MS - SLACK_MS) return `was made at ${x.at}, not within ${(CONFIRM_TTL_MS + SLACK_MS) / 1000} s before its entry`;
    if (sessionBadges && !sessionBadges.has(x.badge)) return 'is not an officer of the session';
    return undefined;
  }
}
