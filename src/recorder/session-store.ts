/**
 * Sessions as the recorder persists them. Every change is one SQLite transaction holding both the ledger entry
 * that records it and the state row, so after a crash the state and the signed record always agree.
 */
import { randomBytes } from 'node:crypto';
import type { Db } from '../state/db.js';
import type { Ledger } from '../evidence/ledger.js';
import { ENTRY, type Officer, type SessionContext } from '../evidence/types.js';
import type { Confirmation } from '../officers/auth.js';

export type Span = [number, number | null];

export interface ActiveSession {
  ctx: SessionContext;
  state: 'recording' | 'paused' | 'closed';
  openedAt: number;
  closedAt: number | null;
  closedBy: 'stopped' | 'terminated' | null;
  spans: Span[];
  statement: boolean;
  /** A resume in it was not followed by a spoken explanation the gateway heard (src/recorder/explanation.ts). */
  unexplained: boolean;
}

export interface OpenInterruption {
  id: string;
  sessionId: string;
  reason: string;
  origin: 'detected' | 'declared';
  sources: string[] | null;
  text: string | null;
  start: number;
}

interface SessionRow {
  session_id: string;
  context: string;
  state: 'recording' | 'paused' | 'closed';
  opened_at: string;
  closed_at: string | null;
  closed_by: 'stopped' | 'terminated' | null;
  spans: string;
  statement: number;
  unexplained: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function newId(at: number): string {
  return `${iso(at).replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

function fromRow(r: SessionRow): ActiveSession {
  return {
    ctx: JSON.parse(r.context) as SessionContext,
    state: r.state,
    openedAt: Date.parse(r.opened_at),
    closedAt: r.closed_at === null ? null : Date.parse(r.closed_at),
    closedBy: r.closed_by,
    spans: JSON.parse(r.spans) as Span[],
    statement: r.statement === 1,
    unexplained: r.unexplained === 1,
  };
}

export class SessionStore {
  constructor(
    private readonly db: Db,
    private readonly ledger: Ledger,
  ) {}

  /** The session being recorded or paused, if any (at most one per gateway). */
  active(): ActiveSession | undefined {
    const r = this.db.prepare(`SELECT * FROM sessions WHERE state != 'closed' ORDER BY opened_at DESC LIMIT 1`).get() as SessionRow | undefined;
    return r ? fromRow(r) : undefined;
  }

  get(sessionId: string): ActiveSession | undefined {
    const r = this.db.prepare('SELECT * FROM sessions WHERE session_id = ?').get(sessionId) as SessionRow | undefined;
    return r ? fromRow(r) : undefined;
  }

  /** The session (open, or closed within `graceMs`) whose recording spans overlap [start, end]. */
  covering(start: number, end: number, now: number, graceMs: number): ActiveSession | undefined {
    const rows = this.db
      .prepare(`SELECT * FROM sessions WHERE state != 'closed' OR closed_at >= ? ORDER BY opened_at DESC LIMIT 5`)
      .all(iso(now - graceMs)) as SessionRow[];
    return rows.map(fromRow).find((s) => s.spans.some(([a, b]) => start < (b ?? Infinity) && end > a));
  }

  /** Sessions still lacking the written statement of two officers: terminated ones, and those with an unexplained resume. */
  lackingStatement(): ActiveSession[] {
    return (
      this.db.prepare(`SELECT * FROM sessions WHERE (closed_by = 'terminated' OR unexplained = 1) AND statement = 0 ORDER BY opened_at`).all() as SessionRow[]
    ).map(fromRow);
  }

  recent(limit = 20): ActiveSession[] {
    return (this.db.prepare('SELECT * FROM sessions ORDER BY opened_at DESC LIMIT ?').all(limit) as SessionRow[]).map(fromRow);
  }

  open(ctx: SessionContext, at: number, extra: Record<string, unknown>): ActiveSession {
    this.ledger.append(ENTRY.sessionOpened, { ...ctx, start: iso(at), ...extra }, () => {
      this.db
        .prepare(`INSERT INTO sessions(session_id, context, state, opened_at, spans) VALUES (?, ?, 'recording', ?, ?)`)
        .run(ctx.sessionId, JSON.stringify(ctx), iso(at), JSON.stringify([[at, null]]));
    });
    return this.get(ctx.sessionId)!;
  }

  private setSpans(sessionId: string, spans: Span[], state: ActiveSession['state']): void {
    this.db.prepare('UPDATE sessions SET spans = ?, state = ? WHERE session_id = ?').run(JSON.stringify(spans), state, sessionId);
  }

  openInterruptions(sessionId: string): OpenInterruption[] {
    const rows = this.db
      .prepare('SELECT * FROM interruptions WHERE session_id = ? AND end_at IS NULL ORDER BY start_at')
      .all(sessionId) as { interruption_id: string; session_id: string; reason: string; origin: 'detected' | 'declared'; sources: string | null; text: string | null; start_at: string }[];
    return rows.map((r) => ({
      id: r.interruption_id,
      sessionId: r.session_id,
      reason: r.reason,
      origin: r.origin,
      sources: r.sources === null ? null : (JSON.parse(r.sources) as string[]),
      text: r.text,
      start: Date.parse(r.start_at),
    }));
  }

  allInterruptions(sessionId: string): { reason: string; origin: string; start: string; end: string | null; text: string | null }[] {
    return this.db
      .prepare('SELECT reason, origin, start_at AS start, end_at AS end, text FROM interruptions WHERE session_id = ? ORDER BY start_at')
      .all(sessionId) as { reason: string; origin: string; start: string; end: string | null; text: string | null }[];
  }

  /** Record the start of an interruption. A declared one (pause) also ends the current recording span. */
  startInterruption(
    sessionId: string,
    i: { reason: string; origin: 'detected' | 'declared'; start: number; sources?: string[]; text?: string; detail?: Record<string, unknown> },
  ): string {
    // Footage that stopped before the session (pre-event buffer, an earlier pause) did not interrupt it: a detected
    // interruption begins no earlier than the recording span it interrupts.
    const span = this.get(sessionId)?.spans.at(-1);
    if (i.origin === 'detected' && span && i.start < span[0]) i = { ...i, start: span[0] };
    const id = newId(i.start);
    this.ledger.append(
      ENTRY.interruptionStarted,
      {
        sessionId,
        interruptionId: id,
        reason: i.reason,
        origin: i.origin,
        start: iso(i.start),
        ...(i.sources ? { sources: i.sources } : {}),
        ...(i.text ? { text: i.text } : {}),
        ...(i.detail ?? {}),
      },
      () => {
        this.db
          .prepare('INSERT INTO interruptions(interruption_id, session_id, reason, origin, sources, text, start_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
          .run(id, sessionId, i.reason, i.origin, i.sources ? JSON.stringify(i.sources) : null, i.text ?? null, iso(i.start));
        if (i.origin === 'declared') {
          const s = this.get(sessionId)!;
          const spans = s.spans.map(([a, b]): Span => [a, b ?? i.start]);
          this.setSpans(sessionId, spans, 'paused');
        }
      },
    );
    return id;
  }

  endInterruption(sessionId: string, interruptionId: string, end: number, detail: Record<string, unknown> = {}): void {
    this.ledger.append(ENTRY.interruptionEnded, { sessionId, interruptionId, end: iso(end), ...detail }, () => {
      this.db.prepare('UPDATE interruptions SET end_at = ? WHERE interruption_id = ?').run(iso(end), interruptionId);
    });
  }

  /**
   * Resume after a declared pause: end it, open a new span, and mark each source's next segment as the one the
   * explanation is expected in. Returns the interruptions it ended (the gateway then listens for the explanation).
   */
  resume(sessionId: string, at: number, sourceIds: string[]): string[] {
    // One transaction: a crash leaves the session either paused or resumed, never half of each.
    return this.db.transaction(() => {
      const s = this.get(sessionId)!;
      const ended = this.openInterruptions(sessionId).filter((x) => x.origin === 'declared');
      for (const i of ended) this.endInterruption(sessionId, i.id, at);
      this.setSpans(sessionId, [...s.spans, [at, null]], 'recording');
      for (const src of sourceIds) {
        this.db
          .prepare(
            `INSERT INTO source_seq(session_id, source_id, next_seq, explain_from) VALUES (?, ?, 0, ?)
             ON CONFLICT(session_id, source_id) DO UPDATE SET explain_from = excluded.explain_from`,
          )
          .run(sessionId, src, at);
      }
      return ended.map((i) => i.id);
    })();
  }

  /** Number the next segment of a source in a session; says whether it is the spoken explanation after a resume. */
  nextSeq(sessionId: string, sourceId: string, segmentStart: number): { seq: number; explanation: boolean } {
    return this.db.transaction(() => {
      const row = this.db.prepare('SELECT next_seq, explain_from FROM source_seq WHERE session_id = ? AND source_id = ?').get(sessionId, sourceId) as
        | { next_seq: number; explain_from: number | null }
        | undefined;
      const seq = row?.next_seq ?? 0;
      // A segment that began before the resume is still footage of the pause; the explanation is the first after it.
      const explanation = row?.explain_from != null && segmentStart >= row.explain_from - 1500;
      this.db
        .prepare(
          `INSERT INTO source_seq(session_id, source_id, next_seq, explain_from) VALUES (?, ?, ?, NULL)
           ON CONFLICT(session_id, source_id) DO UPDATE SET next_seq = excluded.next_seq,
             explain_from = CASE WHEN ? THEN NULL ELSE source_seq.explain_from END`,
        )
        .run(sessionId, sourceId, seq + 1, explanation ? 1 : 0);
      return { seq, explanation };
    })();
  }

  /** Close the session; open interruptions end with it, and any left open makes the closing a termination. */
  close(sessionId: string, at: number, detail: Record<string, unknown> = {}): 'stopped' | 'terminated' {
    return this.db.transaction(() => this.closeInTransaction(sessionId, at, detail))();
  }

  private closeInTransaction(sessionId: string, at: number, detail: Record<string, unknown>): 'stopped' | 'terminated' {
    const open = this.openInterruptions(sessionId);
    for (const i of open) this.endInterruption(sessionId, i.id, at, { endedBy: 'session-closed' });
    const closedBy = open.length > 0 ? 'terminated' : 'stopped';
    const s = this.get(sessionId)!;
    this.ledger.append(
      ENTRY.sessionClosed,
      { sessionId, end: iso(at), reason: closedBy, ...(open.length > 0 ? { unresumed: open.map((i) => i.reason) } : {}), ...detail },
      () => {
        this.db
          .prepare(`UPDATE sessions SET state = 'closed', closed_at = ?, closed_by = ?, spans = ? WHERE session_id = ?`)
          .run(iso(at), closedBy, JSON.stringify(s.spans.map(([a, b]): Span => [a, b ?? at])), sessionId);
      },
    );
    return closedBy;
  }

  /** A statement, with the officers' PIN confirmations when a roster is installed (evidence-format.md §16). */
  statement(sessionId: string, text: string, officers: Officer[], at: number, confirmations: Confirmation[] = []): void {
    const confirmed = confirmations.length > 0 ? { confirmations } : {};
    this.ledger.append(ENTRY.sessionStatement, { sessionId, text, officers, time: iso(at), ...confirmed }, () => {
      this.db.prepare('UPDATE sessions SET statement = 1 WHERE session_id = ?').run(sessionId);
    });
  }
}
