/**
 * Sessions as the ledger is read: their segments and interruptions are gathered while a session is open, and a
 * closed session is analysed (sessions.ts) and its facts dropped once LINGER lines have passed since its close
 * (the Sealer may seal a session's last segments just after session.closed). What stays per session is its small
 * report, whether it was closed, its interruption IDs, and its statements' badges, so the memory does not grow
 * with the segments of years of sessions. Its explanation entries (heard or missing after a resume) are counted
 * apart, like its statements, and decide with them whether a statement is due.
 *
 * A segment or interruption that arrives for a session already analysed (a late seal, or a hand-made ledger) marks
 * it `reopened`; the caller then reads the ledger again for those sessions alone (replay) and replaces their
 * reports, so the result is exactly that of analysing every session at the end. Findings about references (a
 * session never opened, opened or closed twice, an interruption that never started) are reported as the lines
 * are read; findings from the analysis (unclosed, unexplained gaps, missing statement) at the end, from the reports.
 */
import type { LedgerEntry } from '../evidence/entry.js';
import { ENTRY, type SegmentManifest } from '../evidence/types.js';
import * as B from './bodies.js';
import type { FindingKind, SessionReport } from './findings.js';
import { analyseSession, segmentClock, type GapOptions, type SessionFacts } from './sessions.js';
import type { OfficerConfirmations } from './officer-confirmations.js';

type Report = (kind: FindingKind, detail: string) => void;

/** Lines after a session's close during which its facts are kept for late segments. */
export const LINGER = 4096;

interface Tracked {
  facts: SessionFacts | null;
  report: SessionReport | null;
  closed: boolean;
  interruptionIds: Set<string>;
  /** The session's officers by badge, kept after its facts are dropped: statements and confirmations need them. */
  officers: Set<string>;
}

const ms = (iso: string): number => Date.parse(iso);

export class SessionTracker {
  private readonly sessions = new Map<string, Tracked>();
  private readonly statements = new Map<string, Set<string>>();
  private readonly explanations = new Map<string, { heard: number; missing: number }>();
  private readonly closing: { id: string; lineNo: number }[] = [];
  /** Sessions analysed before a fact of theirs arrived: read them again (replay) before finish(). */
  readonly reopened = new Set<string>();

  /**
   * `only`: in a replay, the sessions to gather (every entry of the others is ignored). `confirmations`: the rosters
   * the ledger installed, to check officers' PIN confirmations with (absent in a replay: checked in the first pass).
   */
  constructor(
    private readonly report: Report,
    private readonly gaps: GapOptions,
    private readonly only?: Set<string>,
    private readonly confirmations?: OfficerConfirmations,
  ) {}

  /** A session.*, interruption.* entry (any other type is ignored). */
  entry(lineNo: number, e: LedgerEntry): void {
    const b = e.body;
    const malformed = (err: string | undefined): boolean => {
      if (err) this.report('malformed', `line ${lineNo}: ${err}`);
      return err !== undefined;
    };
    if (this.only && !this.only.has(b.sessionId as string)) return;
    switch (e.type) {
      case ENTRY.sessionOpened: {
        if (malformed(B.checkSessionOpened(b))) return;
        const id = b.sessionId as string;
        if (this.sessions.has(id)) return this.report('broken-chain', `line ${lineNo}: session ${id} is opened a second time`);
        this.sessions.set(id, {
          facts: {
            sessionId: id,
            matter: b.matter as string,
            caseRef: b.caseRef as string,
            officers: b.officers as { name: string; badge: string }[],
            start: ms((b.start as string | undefined) ?? e.time),
            end: null,
            closedBy: null,
            statementBadges: new Set(),
            statement: false,
            segments: [],
            interruptions: [],
            declaredSources: Array.isArray(b.sources) ? (b.sources as unknown[]).filter((x): x is string => typeof x === 'string') : [],
          },
          report: null,
          closed: false,
          interruptionIds: new Set(),
          officers: new Set((b.officers as { badge: string }[]).map((o) => o.badge)),
        });
        this.confirmed(lineNo, e, id, 'the opening of session', (b.officers as unknown[]).length);
        return;
      }
      case ENTRY.sessionClosed: {
        if (malformed(B.checkSessionClosed(b))) return;
        const s = this.need(b.sessionId as string, lineNo, 'session.closed');
        if (!s) return;
        if (s.closed) return this.report('broken-chain', `line ${lineNo}: session ${b.sessionId as string} is closed a second time`);
        s.closed = true;
        // An officer's early end (an interruption still open) is confirmed by two of its officers (its one, if one).
        if (b.reason === 'terminated' && b.by === 'officer') this.confirmed(lineNo, e, b.sessionId as string, 'the early end of session', Math.min(2, s.officers.size));
        s.facts!.end = ms((b.end as string | undefined) ?? e.time);
        s.facts!.closedBy = b.reason as 'stopped' | 'terminated';
        if (!this.only) this.closing.push({ id: b.sessionId as string, lineNo });
        return;
      }
      case ENTRY.sessionStatement: {
        if (malformed(B.checkStatement(b))) return;
        const id = b.sessionId as string;
        // With a roster in force only the officers who confirmed with their PINs sign; before any, the names given.
        const signed = this.confirmations?.inForce() ? this.confirmed(lineNo, e, id, 'the statement for session', 2) : new Set((b.officers as { badge: string }[]).map((o) => o.badge));
        const set = this.statements.get(id) ?? new Set<string>();
        if (signed.size >= 2) for (const badge of signed) set.add(badge);
        this.statements.set(id, set);
        return;
      }
      case ENTRY.explanationHeard:
      case ENTRY.explanationMissing: {
        if (malformed(B.checkExplanation(e.type, b))) return;
        if (!this.need(b.sessionId as string, lineNo, e.type)) return;
        const n = this.explanations.get(b.sessionId as string) ?? { heard: 0, missing: 0 };
        if (e.type === ENTRY.explanationHeard) n.heard++;
        else n.missing++;
        this.explanations.set(b.sessionId as string, n);
        return;
      }
      case ENTRY.interruptionStarted: {
        if (malformed(B.checkInterruptionStarted(b))) return;
        const s = this.need(b.sessionId as string, lineNo, 'interruption.started');
        if (!s) return;
        s.interruptionIds.add(b.interruptionId as string);
        this.facts(s, b.sessionId as string)?.interruptions.push({
          id: b.interruptionId as string,
          reason: b.reason as string,
          origin: b.origin as string,
          start: ms(b.start as string),
          end: null,
          ...(Array.isArray(b.sources) ? { sources: b.sources as string[] } : {}),
        });
        return;
      }
      case ENTRY.interruptionEnded: {
        if (malformed(B.checkInterruptionEnded(b))) return;
        const s = this.need(b.sessionId as string, lineNo, 'interruption.ended');
        if (!s) return;
        if (!s.interruptionIds.has(b.interruptionId as string)) {
          return this.report('broken-chain', `line ${lineNo}: interruption ${String(b.interruptionId)} ends but never started`);
        }
        const i = this.facts(s, b.sessionId as string)?.interruptions.find((x) => x.id === b.interruptionId);
        if (i) i.end = ms(b.end as string);
        return;
      }
      default:
        return;
    }
  }

  /** A well-formed manifest. */
  segment(lineNo: number, m: SegmentManifest): void {
    if (this.only && !this.only.has(m.sessionId)) return;
    const s = this.need(m.sessionId, lineNo, `segment ${m.segment}`);
    if (s) {
      this.facts(s, m.sessionId)?.segments.push({ sourceId: m.source.id, seq: m.seq, start: ms(m.start), end: ms(m.end), preEvent: m.preEvent === true, clock: segmentClock(m.clock) });
    }
  }

  /** Analyse and drop the sessions closed more than LINGER lines before this one. */
  settle(lineNo: number): void {
    while (this.closing.length > 0 && this.closing[0]!.lineNo + LINGER < lineNo) {
      const s = this.sessions.get(this.closing.shift()!.id)!;
      if (!s.facts) continue;
      s.report = analyseSession(s.facts, this.gaps);
      s.facts = null;
    }
  }

  /** The reports of a replay, for the sessions it gathered. */
  reports(): Map<string, SessionReport> {
    return new Map([...this.sessions].map(([id, s]) => [id, s.report ?? analyseSession(s.facts!, this.gaps)]));
  }

  /** Every session's report, in the order they were opened, with the findings of its analysis reported. */
  finish(replayed: Map<string, SessionReport> = new Map()): SessionReport[] {
    const out: SessionReport[] = [];
    for (const [id, s] of this.sessions) {
      const r = replayed.get(id) ?? s.report ?? analyseSession(s.facts!, this.gaps);
      r.statement = (this.statements.get(id)?.size ?? 0) >= 2;
      const ex = this.explanations.get(id);
      if (ex) r.explanations = ex;
      if (r.end === null) this.report('unclosed-session', `session ${id} (${r.matter}, case ${r.caseRef}) was opened and never closed`);
      if (r.closedBy === 'terminated' && !r.statement) {
        this.report(
          'unexplained-gap',
          `session ${id} ended with an interruption that never resumed, and lacks a written statement confirmed by two officers`,
        );
      }
      if (ex && ex.missing > 0 && !r.statement) {
        this.report(
          'unexplained-gap',
          `session ${id}: ${ex.missing} resume(s) after an interruption with no spoken explanation heard, and no written statement confirmed by two officers`,
        );
      }
      for (const g of r.gaps) {
        if (!g.explained) this.report('unexplained-gap', `session ${id}: ${g.source} has no footage from ${g.start} to ${g.end} and no interruption explains it`);
      }
      out.push(r);
    }
    return out;
  }

  /**
   * The badges of the valid PIN confirmations of a session.* entry, once a roster is in force (before: none needed,
   * none checked); fewer than `needed` distinct ones is unconfirmed-statement (a statement) or unconfirmed-session.
   */
  private confirmed(lineNo: number, e: LedgerEntry, sessionId: string, what: string, needed: number): Set<string> {
    const c = this.confirmations;
    if (!c?.inForce()) return new Set();
    const badges = this.sessions.get(sessionId)?.officers;
    const r = c.check(e.time, e.body.confirmations, badges);
    // At the opening every officer named confirms: their number is what is needed.
    const short = e.type === ENTRY.sessionOpened ? [...(badges ?? [])].filter((b) => !r.valid.has(b)).length > 0 : r.valid.size < needed;
    if (short) {
      const kind = e.type === ENTRY.sessionStatement ? 'unconfirmed-statement' : 'unconfirmed-session';
      const why = r.problems.length > 0 ? `: ${r.problems.join('; ')}` : '';
      const need = e.type === ENTRY.sessionOpened ? `${needed} (every officer named)` : String(needed);
      this.report(kind, `line ${lineNo}: ${what} ${sessionId} carries ${r.valid.size} valid PIN confirmation(s) of distinct officers, where ${need} are needed${why}`);
    }
    return r.valid;
  }

  private need(id: string, lineNo: number, what: string): Tracked | undefined {
    const s = this.sessions.get(id);
    if (!s) this.report('broken-chain', `line ${lineNo}: ${what} refers to session ${id}, which was never opened in this ledger`);
    return s;
  }

  /** The facts to add to, or undefined when the session was analysed already (it is then to be replayed). */
  private facts(s: Tracked, id: string): SessionFacts | undefined {
    if (!s.facts) this.reopened.add(id);
    return s.facts ?? undefined;
  }
}
