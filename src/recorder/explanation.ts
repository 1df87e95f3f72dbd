/**
 * Listening for the spoken explanation after a resume (000 §23, 003 §16, 004 制度 §11: on resuming, the officers
 * state the reason for the interruption aloud). After every resume - declared, detected (an interruption that ended),
 * or after a restart - a window of `windowSeconds` opens; the first utterance the session's microphones hear in it
 * that counts as speech (speech.ts) closes it as `explanation.heard`, with its time and length. A window that passes,
 * or a session that closes first, without one closes as `explanation.missing`, and the session then lacks a written
 * statement (session-store.ts `unexplained`), which the verifier and the report require.
 *
 * What the gateway's own speaker plays (the announcement, the tone that asks) is heard by the microphones too, and is
 * never the explanation: an utterance that overlaps a play, or begins within ECHO_MS of its end, is not counted.
 *
 * At most one window per session: a resume while one is open joins it (its interruptions are explained by the same
 * speech) and extends it. The window lives in the state database with the ledger entry that decides it, so after a
 * crash its interruptions join the window of the restart.
 *
 * Invariants: a window is decided once (its row goes in the transaction of its entry); "missing" is never decided
 * while a microphone may still deliver sound from inside the window (it waits until each microphone's footage has
 * passed the window's end, or the microphone stopped, up to a limit).
 */
import type { Db } from '../state/db.js';
import type { Ledger } from '../evidence/ledger.js';
import { ENTRY } from '../evidence/types.js';
import type { ExplanationConfig } from '../config/types.js';
import type { Logger } from '../util/log.js';
import { SPEECH_DEFAULTS, SpeechTracker, type TimedFrame, type Utterance } from './speech.js';

export type ResumeKind = 'declared' | 'detected' | 'restart';

export const EXPLANATION_DEFAULTS: ExplanationConfig = { windowSeconds: 60, ...SPEECH_DEFAULTS };
/** An utterance may begin this long before the resume (officers speaking as the camera comes back). */
const EARLY_MS = 1000;
/** After the speaker stops, the room still rings and ALSA still plays what it buffered. */
const ECHO_MS = 1000;
/** Plays ended longer ago than this can no longer overlap speech still to be matched. */
const KEEP_PLAYS_MS = 10 * 60_000;

/** A microphone as the listener sees it: until when its sound has arrived, or null when none is coming (stopped, down). */
export interface Microphone {
  id: string;
  heardUntil(): number | null;
}

export type ExplanationEvent =
  | { type: 'listening'; sessionId: string; since: number; until: number }
  | { type: 'heard'; sessionId: string; source: string; start: number; seconds: number }
  | { type: 'missing'; sessionId: string; why: MissingWhy };

type MissingWhy = 'nothing-heard' | 'no-microphone' | 'session-closed';

export interface ExplanationDeps {
  db: Db;
  ledger: Ledger;
  config?: ExplanationConfig;
  microphones: Microphone[];
  /** How long after a window's end to wait at most for late sound (a microphone's footage arrives a segment late). */
  lateMs: number;
  log: Logger;
  now: () => number;
  notify: (e: ExplanationEvent) => void;
}

interface Window {
  sessionId: string;
  interruptionIds: string[];
  kinds: ResumeKind[];
  openedAt: number;
  until: number;
}

interface WindowRow {
  session_id: string;
  interruption_ids: string;
  kinds: string;
  opened_at: number;
  until_ms: number;
}

const iso = (t: number): string => new Date(t).toISOString();

export class ExplanationListener {
  private readonly c: ExplanationConfig;
  private readonly trackers = new Map<string, SpeechTracker>();
  /** Speech each microphone heard since the oldest open window opened, not yet matched to a window. */
  private readonly heard: { source: string; u: Utterance }[] = [];
  /** When the gateway's speaker played (end null: still playing). */
  private readonly plays: { from: number; to: number | null }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly d: ExplanationDeps) {
    this.c = d.config ?? EXPLANATION_DEFAULTS;
    for (const m of d.microphones) this.trackers.set(m.id, new SpeechTracker(this.c));
  }

  /** Windows open when the service stopped whose session is not `active` any more are decided: nothing was heard. */
  start(active: string | undefined): void {
    for (const w of this.windows()) {
      if (w.sessionId !== active) this.decideMissing(w, 'session-closed', this.d.now());
    }
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** A resume: open the session's window, or join and extend the one open. */
  resumed(sessionId: string, kind: ResumeKind, interruptionIds: string[], at: number): void {
    const until = at + this.c.windowSeconds * 1000;
    const w = this.window(sessionId);
    const next: Window = w
      ? { ...w, interruptionIds: [...new Set([...w.interruptionIds, ...interruptionIds])], kinds: [...new Set([...w.kinds, kind])], until: Math.max(w.until, until) }
      : { sessionId, interruptionIds, kinds: [kind], openedAt: at, until };
    this.d.db
      .prepare(
        `INSERT INTO explanation_windows(session_id, interruption_ids, kinds, opened_at, until_ms) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(session_id) DO UPDATE SET interruption_ids = excluded.interruption_ids, kinds = excluded.kinds, until_ms = excluded.until_ms`,
      )
      .run(sessionId, JSON.stringify(next.interruptionIds), JSON.stringify(next.kinds), next.openedAt, next.until);
    this.d.log.info('listening for the spoken explanation of the interruption', { session: sessionId, kind, until: iso(next.until) });
    this.d.notify({ type: 'listening', sessionId, since: next.openedAt, until: next.until });
    if (this.d.microphones.length === 0) this.decideMissing(next, 'no-microphone', at);
  }

  /** The gateway's speaker starts playing; call the function returned when it stops. */
  playing(): () => void {
    const now = this.d.now();
    for (let i = this.plays.length - 1; i >= 0; i--) {
      const to = this.plays[i]!.to;
      if (to !== null && now - to > KEEP_PLAYS_MS) this.plays.splice(i, 1);
    }
    const p: { from: number; to: number | null } = { from: now, to: null };
    this.plays.push(p);
    return () => {
      p.to = this.d.now();
    };
  }

  /** A microphone's voice-meter frames. */
  voice(sourceId: string, frames: TimedFrame[]): void {
    const t = this.trackers.get(sourceId);
    if (!t) return;
    this.take(sourceId, t.push(frames));
    this.match();
  }

  /** The session closes (after its footage is in): its window is decided on what was heard until `at`. */
  closing(sessionId: string, at: number): void {
    const w = this.window(sessionId);
    if (!w) return;
    for (const [id, t] of this.trackers) {
      this.take(id, t.flush(at));
      const u = t.current();
      if (u) this.take(id, [u]);
    }
    this.match();
    if (this.window(sessionId)) this.decideMissing(w, 'session-closed', at);
  }

  /** What the officers and the status are told: the window open for a session, if any. */
  listening(sessionId: string): { since: string; until: string; kinds: ResumeKind[] } | null {
    const w = this.window(sessionId);
    return w ? { since: iso(w.openedAt), until: iso(w.until), kinds: w.kinds } : null;
  }

  /** Once a second: ends utterances no frame can join any more, and decides the windows that are due. */
  tick(): void {
    const now = this.d.now();
    for (const m of this.d.microphones) {
      const until = m.heardUntil();
      this.take(m.id, this.trackers.get(m.id)!.flush(until ?? now));
    }
    this.match();
    for (const w of this.windows()) {
      if (now < w.until) continue;
      const waiting = this.d.microphones.filter((m) => {
        const h = m.heardUntil();
        return h !== null && h < w.until;
      });
      if (waiting.length > 0 && now < w.until + this.d.lateMs) continue;
      // Speech still going on at the window's end counts as it stands.
      for (const [id, t] of this.trackers) {
        const u = t.current();
        if (u) this.take(id, [u]);
      }
      this.match();
      if (this.window(w.sessionId)) this.decideMissing(w, 'nothing-heard', now);
    }
  }

  private take(source: string, us: Utterance[]): void {
    for (const u of us) if (u.speech && !this.ours(u)) this.heard.push({ source, u });
  }

  /** Did the gateway's speaker play while this was heard? */
  private ours(u: Utterance): boolean {
    return this.plays.some((p) => u.start < (p.to ?? Infinity) + ECHO_MS && u.end > p.from);
  }

  /** Each open window takes the first speech heard in it. */
  private match(): void {
    if (this.heard.length === 0) return;
    const windows = this.windows();
    for (const w of windows) {
      const hit = this.heard
        .filter((h) => h.u.start >= w.openedAt - EARLY_MS && h.u.start <= w.until)
        .sort((a, b) => a.u.start - b.u.start)[0];
      if (hit) this.decideHeard(w, hit.source, hit.u);
    }
    const oldest = Math.min(...this.windows().map((w) => w.openedAt - EARLY_MS));
    // Speech before every open window (or with none open) explains nothing that is still to come.
    for (let i = this.heard.length - 1; i >= 0; i--) if (!(this.heard[i]!.u.start >= oldest)) this.heard.splice(i, 1);
  }

  private decideHeard(w: Window, source: string, u: Utterance): void {
    const seconds = Math.round(u.end - u.start) / 1000;
    this.d.ledger.append(
      ENTRY.explanationHeard,
      {
        ...this.common(w),
        source,
        start: iso(u.start),
        seconds,
        voicedSeconds: u.voicedSeconds,
        levelDb: u.levelDb,
        floorDb: u.floorDb,
        modulationDb: u.modulationDb,
        time: iso(this.d.now()),
      },
      () => this.d.db.prepare('DELETE FROM explanation_windows WHERE session_id = ?').run(w.sessionId),
    );
    this.d.log.info('the spoken explanation was heard', { session: w.sessionId, source, start: iso(u.start), seconds });
    this.d.notify({ type: 'heard', sessionId: w.sessionId, source, start: u.start, seconds });
  }

  private decideMissing(w: Window, why: MissingWhy, at: number): void {
    this.d.ledger.append(ENTRY.explanationMissing, { ...this.common(w), why, time: iso(at) }, () => {
      this.d.db.prepare('DELETE FROM explanation_windows WHERE session_id = ?').run(w.sessionId);
      this.d.db.prepare('UPDATE sessions SET unexplained = 1 WHERE session_id = ?').run(w.sessionId);
    });
    this.d.log.warn('no spoken explanation was heard after the resume: the session needs a written statement', { session: w.sessionId, why });
    this.d.notify({ type: 'missing', sessionId: w.sessionId, why });
  }

  /** What both entries say of the window and how it listened. */
  private common(w: Window): Record<string, unknown> {
    const { windowSeconds, ...criteria } = this.c;
    return {
      sessionId: w.sessionId,
      interruptionIds: w.interruptionIds,
      resumed: w.kinds,
      window: { start: iso(w.openedAt), end: iso(w.until), seconds: windowSeconds },
      microphones: this.d.microphones.map((m) => m.id),
      criteria,
    };
  }

  private windows(): Window[] {
    return (this.d.db.prepare('SELECT * FROM explanation_windows ORDER BY opened_at').all() as WindowRow[]).map(fromRow);
  }

  private window(sessionId: string): Window | undefined {
    const r = this.d.db.prepare('SELECT * FROM explanation_windows WHERE session_id = ?').get(sessionId) as WindowRow | undefined;
    return r ? fromRow(r) : undefined;
  }
}

function fromRow(r: WindowRow): Window {
  return {
    sessionId: r.session_id,
    interruptionIds: JSON.parse(r.interruption_ids) as string[],
    kinds: JSON.parse(r.kinds) as ResumeKind[],
    openedAt: r.opened_at,
    until: r.until_ms,
  };
}
