/**
 * The recorder: the one interface through which officers and tools (CLI, panel, triggers, console) act on
 * recording. It owns sessions, routes every finished segment of every source to its session (or the pre-event
 * buffer, or deletion), turns source failures into detected interruptions with their true time span, and
 * recovers an interrupted session after a crash. It knows nothing of MQTT or HTTP.
 */
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import { readFile, unlink } from 'node:fs/promises';
import type { Db } from '../state/db.js';
import type { Ledger } from '../evidence/ledger.js';
import type { Sealer } from '../evidence/sealer.js';
import { ENTRY, type ClockState, type GpsFix, type Officer, type SessionContext } from '../evidence/types.js';
import { MATTERS, REASONS, lookupTerm } from '../evidence/vocabulary.js';
import type { RecordingConfig } from '../config/types.js';
import type { SegmentFile, HealthEvent } from '../hal/capture.js';
import type { ClockMonitor } from '../hal/clock.js';
import type { Announcer, PlayResult } from '../hal/announcer.js';
import type { Logger } from '../util/log.js';
import { RecgwError } from '../util/errors.js';
import { newId, SessionStore, type ActiveSession } from './session-store.js';
import type { DownEvent, SourceHealth, SourceSupervisor, UpEvent } from './supervisor.js';
import { preflight, type CheckResult } from './preflight.js';
import { StorageGuard, type StorageState } from './storage-guard.js';
import type { Confirmation, ConfirmRule, OfficerAuth, OfficerAuthStatus } from '../officers/auth.js';
import { ExplanationListener, type ExplanationEvent, type ResumeKind } from './explanation.js';

export interface StartRequest {
  matter: string;
  caseRef: string;
  officers: Officer[];
  party?: string;
  place?: string;
  force?: boolean;
  /** Each officer's PIN confirmation (OfficerAuth.confirm), required for every officer when a roster is installed. */
  confirmations?: Confirmation[];
}

export interface BatteryMonitor {
  state(): { percent: number; onMains: boolean } | undefined;
}

/** The power is about to go (the UPS monitor says why): what the low-battery interruption records. */
export interface PowerLow {
  /** In Chinese words, for officers and courts: the interruption's text. */
  text: string;
  /** A stable code (ups-low-battery, battery-charge-low, battery-runtime-low, ups-forced-shutdown). */
  cause: string;
  /** What the UPS reported. */
  technical: string;
  /** FSD: the UPS will cut the power whatever happens next, so the session is closed too. */
  forcedShutdown: boolean;
}

export interface GpsProvider {
  fix(): GpsFix | null;
}

export interface RecorderDeps {
  deviceId: string;
  place?: string;
  recording: RecordingConfig;
  db: Db;
  ledger: Ledger;
  sealer: Sealer;
  store: SessionStore;
  supervisors: SourceSupervisor[];
  /** Segments of runs a previous process left behind (their ffmpeg stopped first). */
  recoverAll: () => Promise<SegmentFile[]>;
  storage: StorageGuard;
  clock: ClockMonitor;
  /** The system clock minus the gateway's time while a clock step is held (src/app/clock-keeper.ts), else undefined. */
  heldMs?: () => number | undefined;
  battery?: BatteryMonitor;
  /** Checks of devices around the gateway (the UPS answering, PTZ cameras powered), run with the built-in ones. */
  extraChecks?: (() => Promise<CheckResult> | CheckResult)[];
  gps?: GpsProvider;
  announcer?: Announcer;
  /** Officers' PIN confirmations; absent: none needed (no roster), as before rosters. */
  auth?: OfficerAuth;
  /** The previous run of the service ended without a clean stop (kill -9, power cut). */
  uncleanStart: boolean;
  log: Logger;
  now?: () => number;
}

export interface SessionSummary {
  sessionId: string;
  matter: string;
  matterLabel: string;
  caseRef: string;
  officers: Officer[];
  state: ActiveSession['state'];
  closedBy: ActiveSession['closedBy'];
  start: string;
  end: string | null;
  interruptions: { reason: string; origin: string; start: string; end: string | null; text: string | null }[];
  /** A written statement is due: the session ended with an unresumed interruption, or a resume was not explained aloud. */
  lacksStatement: boolean;
}

export interface RecorderStatus {
  deviceId: string;
  session: SessionSummary | null;
  lackingStatement: { sessionId: string; caseRef: string; end: string | null }[];
  sources: SourceHealth[];
  storage: StorageState;
  clock: ReturnType<ClockMonitor['state']>;
  battery: { percent: number; onMains: boolean } | null;
  gps: GpsFix | null;
  sealing: { pending: number };
  /** Whether officers confirm with PINs, and the roster they confirm against (always given; optional for old callers). */
  officers?: OfficerAuthStatus;
  /** After a resume: the gateway listens for the officers stating the reason aloud until `until` (explanation.ts); always given (optional for old callers). */
  listening?: { sessionId: string; since: string; until: string; kinds: ResumeKind[] } | null;
}

export type PromptCode = 'state-reason' | 'reason-heard' | 'statement-needed' | 'show-credentials';

export interface RecorderEvents {
  /** Something a panel, lamp or console shows changed. */
  changed: [RecorderStatus];
  /** A prompt for officers, e.g. to state the reason for the interruption aloud after a resume. */
  prompt: [{ code: PromptCode; zh: string; en: string }];
}

const PROMPTS: Record<PromptCode, { zh: string; en: string }> = {
  'state-reason': { zh: '请口述中断原因', en: 'State the reason for the interruption aloud' },
  'reason-heard': { zh: '已录到中断原因的口头说明', en: 'The spoken reason for the interruption was heard' },
  'statement-needed': {
    zh: '中断原因未予口头说明或中断未恢复，需两名执法人员书面说明',
    en: 'No spoken reason was heard, or the interruption never resumed: two officers must confirm a written statement',
  },
  'show-credentials': { zh: '请向当事人亮证（出示执法证件）后按“亮证”确认', en: 'Show your credentials to the party, then confirm with the credentials key' },
};

const iso = (t: number): string => new Date(t).toISOString();
/** How long after a session closes its late segments (the last ones of each source) are still accepted. */
const CLOSE_GRACE_MS = 10 * 60_000;
const PRODUCE_TIMEOUT_MS = 6000;

export class Recorder extends EventEmitter<RecorderEvents> {
  private d: RecorderDeps;
  private readonly now: () => number;
  private readonly keepRunning: boolean;
  private readonly buffer: SegmentFile[] = [];
  /** Unlinks of footage that is not evidence, still running: stop() waits for them before tidying the spool. */
  private readonly deleting = new Set<Promise<void>>();
  /** Set by stop(): the buffer is (about to be) discarded, so footage outside any session is deleted at once. */
  private stopping = false;
  /** Open detected interruptions by `${source}:${cause}` (cause: process, picture or sound). */
  private readonly detected = new Map<string, string>();
  /** The detectors that currently report a problem, by `${source}:picture` (black, freeze) or `${source}:sound`. */
  private readonly conditions = new Map<string, Set<HealthEvent['type']>>();
  /** Serialises session commands: two buttons pressed at once must not interleave. */
  private queue: Promise<unknown> = Promise.resolve();
  private storageInterruption: string | undefined;
  /** Set while the power is about to go (batteryLow until batteryOk): the sources stay stopped. */
  private powerLow: PowerLow | undefined;
  private powerInterruption: string | undefined;
  private started = false;
  private readonly listener: ExplanationListener;
  /** The announcement playing, if any: stopped and awaited before its session closes, so its entry comes first. */
  private announcing: { abort: AbortController; done: Promise<void> } | undefined;

  constructor(deps: RecorderDeps) {
    super();
    this.d = deps;
    this.now = deps.now ?? Date.now;
    // With a pre-event buffer the sources record all the time; otherwise only while a session records.
    this.keepRunning = deps.recording.preEventSeconds > 0;
    this.listener = new ExplanationListener({
      db: deps.db,
      ledger: deps.ledger,
      ...(deps.recording.explanation ? { config: deps.recording.explanation } : {}),
      microphones: deps.supervisors.filter((x) => x.health().kind === 'microphone').map((x) => ({ id: x.id, heardUntil: () => heardUntil(x.health()) })),
      // A microphone's sound arrives with its segments, up to a segment late (twice, after a restart of its run).
      lateMs: (2 * deps.recording.segmentSeconds + 10) * 1000,
      log: deps.log.child('explanation'),
      now: this.now,
      notify: (e) => this.explanationEvent(e),
    });
  }

  /**
   * A changed config's live settings: the place (for sessions opened from now on) and the pre-flight's expected
   * session length and battery minimum. Sources, segment length and the pre-event buffer need a restart.
   */
  reconfigure(next: { place?: string | undefined; recording: Pick<RecordingConfig, 'expectedSessionMinutes' | 'minBatteryPercent'> }): void {
    const { place: _old, ...rest } = this.d;
    const { expectedSessionMinutes, minBatteryPercent } = next.recording;
    this.d = { ...rest, ...(next.place ? { place: next.place } : {}), recording: { ...this.d.recording, expectedSessionMinutes, minBatteryPercent } };
  }

  // ---- lifecycle -------------------------------------------------------------------------------------------

  async start(): Promise<void> {
    const { supervisors, log } = this.d;
    this.stopping = false;
    for (const s of supervisors) {
      s.on('segment', (seg) => this.route(seg));
      s.on('down', (e) => this.sourceDown(e));
      s.on('up', (e) => this.sourceUp(e));
      s.on('health', (h) => this.healthEvent(h));
      s.on('voice', (v) => this.listener.voice(v.sourceId, v.frames.map((f) => ({ at: f.at.getTime(), db: f.db }))));
      s.start();
    }
    this.d.storage.on('full', (st) => void this.serial(() => this.storageFull(st)));
    this.d.storage.on('ok', () => void this.serial(() => this.storageOk()));

    // Footage of the previous process: its ffmpeg runs were stopped and their segments come back here.
    const recovered = await this.d.recoverAll();
    const lastEnd = new Map<string, number>();
    for (const seg of recovered) {
      this.route(seg);
      lastEnd.set(seg.sourceId, Math.max(lastEnd.get(seg.sourceId) ?? 0, seg.end.getTime()));
    }
    // Old detected interruptions cannot be tracked across a restart: they end now and are re-detected if still true.
    const active = this.d.store.active();
    const ended: string[] = [];
    if (active) {
      for (const i of this.d.store.openInterruptions(active.ctx.sessionId).filter((x) => x.origin === 'detected')) {
        this.d.store.endInterruption(active.ctx.sessionId, i.id, this.now(), { endedBy: 'service-restart' });
        ended.push(i.id);
      }
    }
    this.listener.start(active?.ctx.sessionId);
    this.started = true;
    await this.d.storage.start();

    if (active && active.state === 'recording') {
      log.warn('resuming the session that was recording when the service stopped', { session: active.ctx.sessionId });
      await Promise.all(supervisors.map((s) => s.want(true)));
      await Promise.all(supervisors.map((s) => s.waitProducing(PRODUCE_TIMEOUT_MS)));
      if (this.d.uncleanStart) {
        const since = Math.min(...supervisors.map((s) => lastEnd.get(s.id) ?? active.spans.at(-1)?.[0] ?? active.openedAt));
        const id = this.d.store.startInterruption(active.ctx.sessionId, {
          reason: 'power-loss',
          origin: 'detected',
          start: since,
          text: 'the gateway stopped without a clean shutdown (power loss or crash) and resumed recording on restart',
        });
        this.d.store.endInterruption(active.ctx.sessionId, id, this.now(), { resumedAfterRestart: true });
        ended.push(id);
      }
      if (ended.length > 0) this.listener.resumed(active.ctx.sessionId, 'restart', ended, this.now());
    } else if (this.keepRunning) {
      await Promise.all(supervisors.map((s) => s.want(true)));
    }
    this.changed();
  }

  /**
   * Service stop (SIGTERM): a session being recorded is closed cleanly (its open segments finished and sealed),
   * so the ledger shows a clean stop rather than a power loss.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.serial(async () => {
      const s = this.d.store.active();
      if (s) await this.closeSession(s, { closedBy: 'service-stop' });
    });
    await Promise.all(this.d.supervisors.map((s) => s.stop()));
    this.listener.stop();
    this.d.storage.stop();
    this.discardBuffer();
    await this.d.sealer.drain();
    await this.tidySpool();
    this.started = false;
  }

  /**
   * After a clean stop nothing is left in the spool: footage the stopped runs still hold (the open segment of a run
   * that had to be killed) is routed like any recovered footage, and recoverAll removes the run folders of dead
   * runs that no longer hold a segment file (never one holding footage not yet sealed).
   */
  private async tidySpool(): Promise<void> {
    await Promise.all([...this.deleting]);
    const left = await this.d.recoverAll();
    if (left.length === 0) return;
    for (const seg of left) this.route(seg);
    await Promise.all([...this.deleting]);
    await this.d.sealer.drain();
    // Their folders are empty only now: one more pass removes them.
    await this.d.recoverAll();
  }

  // ---- the recorder interface ----------------------------------------------------------------------------

  startSession(req: StartRequest): Promise<{ session: SessionSummary; checks: CheckResult[]; forced: CheckResult[] }> {
    return this.serial(async () => {
      const current = this.d.store.active();
      if (current) throw new RecgwError('recorder', `session ${current.ctx.sessionId} is already ${current.state}: stop it before starting another`);
      // No officer can force past a power cut that the UPS has already ordered.
      if (this.powerLow?.forcedShutdown) throw new RecgwError('recorder', `cannot start a session: the UPS is in forced shutdown and will cut the power (${this.powerLow.technical}); wait until mains power is back and the UPS has restarted`);
      const matter = lookupTerm(MATTERS, req.matter);
      if (!matter) throw new RecgwError('usage', `unknown matter type ${JSON.stringify(req.matter)}: use one of ${MATTERS.map((m) => `${m.zh} (${m.code})`).join(', ')}`);
      if (req.officers.length === 0) throw new RecgwError('usage', 'at least one officer (name and 执法证号) is required');
      for (const o of req.officers) {
        if (!o.name.trim() || !o.badge.trim()) throw new RecgwError('usage', `officer ${JSON.stringify(o)} needs both a name and a 执法证号 (name:number)`);
      }
      // Every officer named confirms with their own PIN; checked before the cameras start, taken once the start succeeds.
      const rule: ConfirmRule = { named: req.officers, atLeast: 1 };
      this.confirmed(req.confirmations, rule, 'starting the session', false);
      await Promise.all(this.d.supervisors.map((s) => s.want(true)));
      await Promise.all(this.d.supervisors.map((s) => s.waitProducing(PRODUCE_TIMEOUT_MS)));
      const checks = await this.preflight();
      const failed = checks.filter((c) => !c.ok);
      if (failed.length > 0 && !req.force) {
        if (!this.keepRunning || this.powerLow) await Promise.all(this.d.supervisors.map((s) => s.want(false)));
        throw new RecgwError(
          'recorder',
          `cannot start the session: ${failed.map((c) => `${c.check}: ${c.detail}`).join('; ')}. An officer may force the start; the failed checks are then recorded in the ledger.`,
        );
      }
      const confirmations = this.confirmed(req.confirmations, rule, 'starting the session', true);
      const at = this.now();
      const ctx: SessionContext = {
        sessionId: newId(at),
        matter: matter.code,
        caseRef: req.caseRef,
        officers: req.officers.map((o) => ({ name: o.name.trim(), badge: o.badge.trim() })),
        ...(req.party ? { party: req.party } : {}),
        ...(req.place ?? this.d.place ? { place: req.place ?? this.d.place } : {}),
      };
      const s = this.d.store.open(ctx, at, {
        matterLabel: matter.zh,
        sources: this.d.supervisors.map((x) => x.id),
        preflight: checks,
        ...(failed.length > 0 ? { forced: failed } : {}),
        ...(this.d.recording.preEventSeconds > 0 ? { preEventSeconds: this.d.recording.preEventSeconds } : {}),
        ...(confirmations.length > 0 ? { confirmations } : {}),
      });
      this.claimBuffer(s);
      // Forced past a full store: the guard will not report a change, so the interruption starts right away.
      const st = this.d.storage.state();
      if (st.full) await this.storageFull(st);
      // Forced past a battery about to run out: likewise, and the sources stop again.
      if (this.powerLow) {
        this.openPowerInterruption(s, this.powerLow);
        await Promise.all(this.d.supervisors.map((x) => x.want(false)));
      }
      this.changed();
      this.announce(s);
      this.prompt('show-credentials');
      return { session: this.summary(s), checks, forced: failed };
    });
  }

  pauseSession(reasonInput: string, text?: string): Promise<SessionSummary> {
    return this.serial(async () => {
      const s = this.requireActive();
      if (s.state !== 'recording') throw new RecgwError('recorder', `session ${s.ctx.sessionId} is already paused: resume it or stop it`);
      const reason = lookupTerm(REASONS, reasonInput);
      if (!reason) throw new RecgwError('usage', `unknown interruption reason ${JSON.stringify(reasonInput)}: use one of ${REASONS.map((r) => `${r.code} (${r.zh})`).join(', ')}`);
      if (reason.code === 'other' && !text?.trim()) throw new RecgwError('usage', 'reason "other" needs a text saying what happened (--text)');
      this.d.store.startInterruption(s.ctx.sessionId, { reason: reason.code, origin: 'declared', start: this.now(), ...(text ? { text } : {}) });
      await Promise.all(this.d.supervisors.map((x) => (this.keepRunning ? x.cut() : x.want(false))));
      this.changed();
      return this.summary(this.d.store.get(s.ctx.sessionId)!);
    });
  }

  resumeSession(): Promise<SessionSummary> {
    return this.serial(async () => {
      const s = this.requireActive();
      if (s.state !== 'paused') throw new RecgwError('recorder', `session ${s.ctx.sessionId} is not paused`);
      if (this.powerLow) {
        throw new RecgwError('recorder', `cannot resume: the battery is about to run out (${this.powerLow.technical}); connect mains power first, or stop the session`);
      }
      await Promise.all(this.d.supervisors.map((x) => (this.keepRunning ? x.cut() : x.want(true))));
      await Promise.all(this.d.supervisors.map((x) => x.waitProducing(PRODUCE_TIMEOUT_MS)));
      const at = this.now();
      const ended = this.d.store.resume(s.ctx.sessionId, at, this.d.supervisors.map((x) => x.id));
      this.listener.resumed(s.ctx.sessionId, 'declared', ended, at);
      this.changed();
      return this.summary(this.d.store.get(s.ctx.sessionId)!);
    });
  }

  /**
   * An officer's stop. Ending early (an interruption still open, so the session closes as terminated) needs the PIN
   * confirmations of two of the session's officers (of its one officer, if it has one) when a roster is installed;
   * confirmations given for a normal stop are recorded too.
   */
  stopSession(o: { confirmations?: Confirmation[] } = {}): Promise<SessionSummary> {
    return this.serial(async () => {
      const s = this.requireActive();
      const early = this.d.store.openInterruptions(s.ctx.sessionId).length > 0;
      const named = (o.confirmations ?? []).map((c) => ({ name: c.name, badge: c.badge }));
      const rule: ConfirmRule = { named, atLeast: early ? Math.min(2, s.ctx.officers.length) : 0, within: s.ctx.officers };
      const confirmations = this.confirmed(o.confirmations, rule, early ? 'ending the session early (an interruption is still open)' : 'stopping the session', true);
      return this.closeSession(s, { closedBy: 'officer', ...(confirmations.length > 0 ? { confirmations } : {}) });
    });
  }

  /**
   * The system clock was stepped and the gateway's time did not follow (`held`: nothing confirmed the new time, or
   * the step undid an earlier one): src/app/clock-keeper.ts decides. The ledger records the system clock's old and
   * new time; during a recording session the step's span, from now, is a detected clock-jump interruption, which
   * explains the jump a viewer sees in the picture's own clock (the overlay shows the system clock).
   */
  clockStepped(step: { old: string; new: string; deltaMs: number; held: true }): Promise<void> {
    return this.serial(async () => {
      const at = this.now();
      const session = this.recordStep(step);
      this.clockJump(session, step, at, at + step.deltaMs);
      await Promise.resolve();
    });
  }

  /**
   * The gateway's time follows the system clock (a synchronised source confirmed it after a step): the sources stop
   * and their segments are sealed in the old time, `rebase` moves the gateway's time and the jump is recorded, and
   * the sources start again in the new time, so no segment spans the two. During a recording session a clock-jump
   * interruption runs from the stop (old time) to the sources producing again (new time): it explains the gap, or
   * the overlap, the jump and the restart leave between the segments.
   */
  followClock(rebase: () => { old: number; new: number }): Promise<void> {
    return this.serial(async () => {
      const running = this.d.supervisors.filter((x) => x.isWanted());
      const from = this.now();
      await Promise.all(running.map((x) => x.want(false)));
      await this.d.sealer.drain();
      const t = rebase();
      // Entered at once: entries dated in the new time must not come before the entry that explains it.
      const step = { old: iso(t.old), new: iso(t.new), deltaMs: t.new - t.old, held: false };
      const session = this.recordStep(step);
      await Promise.all(running.map((x) => x.want(true)));
      await Promise.all(running.map((x) => x.waitProducing(PRODUCE_TIMEOUT_MS)));
      this.clockJump(session, step, from, this.now());
    });
  }

  /** The clock.stepped entry; returns the session it concerns, if one is open. */
  private recordStep(step: { old: string; new: string; deltaMs: number; held: boolean }): ActiveSession | undefined {
    const s = this.d.store.active();
    this.d.ledger.append(ENTRY.clockStepped, { ...step, sessionId: s?.ctx.sessionId ?? null });
    return s;
  }

  /** During a recording session, a detected clock-jump interruption over [from, to] (either order). */
  private clockJump(s: ActiveSession | undefined, step: { deltaMs: number; held: boolean }, from: number, to: number): void {
    const now = s && this.d.store.get(s.ctx.sessionId);
    if (!now || now.state !== 'recording') return;
    const [a, b] = [from, to].sort((x, y) => x - y) as [number, number];
    const id = this.d.store.startInterruption(now.ctx.sessionId, { reason: 'clock-jump', origin: 'detected', start: a, detail: { deltaMs: step.deltaMs, held: step.held } });
    this.d.store.endInterruption(now.ctx.sessionId, id, b);
    this.changed();
  }

  /**
   * The power is about to go (the UPS monitor: LB, a charge or runtime at its limit, or a forced shutdown). While
   * there is still power: the low-battery interruption goes into the ledger with its reason in words, every source
   * finishes its open segment and the segments are sealed, so nothing is in flight when the power goes. The session
   * stays open and resumes when mains power returns (batteryOk); a restart after the power cut resumes it as after
   * any power loss. A forced shutdown (FSD) will cut the power whatever happens, so the session is closed: its
   * unresumed interruption then needs the officers' written statement.
   */
  batteryLow(p: PowerLow): Promise<void> {
    return this.serial(async () => {
      const already = this.powerLow !== undefined;
      this.powerLow = p;
      const s = this.recordingSession();
      if (s) this.openPowerInterruption(s, p);
      if (!already) {
        const at = this.now();
        await Promise.all(this.d.supervisors.map((x) => x.want(false)));
        await this.settleSegments(at);
        await this.d.sealer.drain();
      }
      const open = this.d.store.active();
      if (p.forcedShutdown && open) await this.closeSession(open, { closedBy: 'ups-forced-shutdown' });
      this.changed();
    });
  }

  /** Mains power is back after batteryLow: the sources start again and the low-battery interruption ends. */
  batteryOk(): Promise<void> {
    return this.serial(async () => {
      if (!this.powerLow) return;
      this.powerLow = undefined;
      const s = this.d.store.active();
      const recording = s?.state === 'recording';
      // A full store keeps them stopped (storageOk starts them); a paused session's resume does.
      if ((recording || this.keepRunning) && !this.d.storage.state().full) {
        await Promise.all(this.d.supervisors.map((x) => x.want(true)));
        if (recording) await Promise.all(this.d.supervisors.map((x) => x.waitProducing(PRODUCE_TIMEOUT_MS)));
      }
      if (s && this.powerInterruption) this.endDetected(s, this.powerInterruption, this.now(), { endedBy: 'mains-power' });
      this.powerInterruption = undefined;
      this.changed();
    });
  }

  /**
   * An event from outside marked in the ledger (a door opened, the lightbar switched on): `event.marked` with the
   * open session, if any, so a reviewer can find the moment in the footage.
   */
  markEvent(mark: { input: string; pin?: number; state: string; time: string }): Promise<void> {
    return this.serial(async () => {
      const s = this.d.store.active();
      this.d.ledger.append(ENTRY.eventMarked, { sessionId: s?.ctx.sessionId ?? null, ...mark });
      await Promise.resolve();
    });
  }

  /**
   * The officers showed their credentials to the party (亮证, 004 规定 §7): `credentials.shown` in the open session's
   * ledger. `officers` (default: all of the session's) must be officers of the session.
   */
  credentialsShown(via: 'control' | 'panel' | 'console', officers?: Officer[]): Promise<SessionSummary> {
    return this.serial(async () => {
      const s = this.requireActive();
      const named = officers && officers.length > 0 ? officers : s.ctx.officers;
      const outsider = named.find((o) => !s.ctx.officers.some((x) => x.badge === o.badge.trim()));
      if (outsider) {
        throw new RecgwError('usage', `${outsider.name} (${outsider.badge}) is not an officer of session ${s.ctx.sessionId}: name its officers (recgw status lists them)`);
      }
      const shown = named.map((o) => s.ctx.officers.find((x) => x.badge === o.badge.trim())!);
      this.d.ledger.append(ENTRY.credentialsShown, { sessionId: s.ctx.sessionId, officers: shown, via, time: iso(this.now()) });
      this.changed();
      await Promise.resolve();
      return this.summary(s);
    });
  }

  /**
   * A written statement for a session that ended with an unresumed interruption, confirmed by two different officers
   * of that session, each with their own PIN when a roster is installed. Without `sessionId` it goes to the one
   * session lacking its statement, never to a session that ended normally (name that one explicitly).
   */
  statement(text: string, officers: Officer[], sessionId?: string, confirmations?: Confirmation[]): Promise<SessionSummary> {
    return this.serial(async () => {
      if (!text.trim()) throw new RecgwError('usage', 'the statement text is empty');
      const badges = new Set(officers.map((o) => o.badge.trim()).filter(Boolean));
      if (badges.size < 2 || officers.some((o) => !o.name.trim())) {
        throw new RecgwError('usage', 'a statement must be confirmed by two different officers, each with name and 执法证号');
      }
      const target = sessionId ? this.d.store.get(sessionId) : this.statementTarget();
      if (!target) throw new RecgwError('usage', `no session ${sessionId}`);
      const rule: ConfirmRule = { named: officers, atLeast: 2, within: target.ctx.officers };
      const outsider = officers.find((o) => !target.ctx.officers.some((x) => x.badge === o.badge.trim()));
      if (outsider) throw new RecgwError('usage', `${outsider.name} (${outsider.badge}) is not an officer of session ${target.ctx.sessionId}: only its officers may sign its statement`);
      const taken = this.confirmed(confirmations, rule, 'the statement', true);
      this.d.store.statement(target.ctx.sessionId, text.trim(), officers, this.now(), taken);
      this.changed();
      return this.summary(this.d.store.get(target.ctx.sessionId)!);
    });
  }

  /** The session a statement without a session ID is for: the one lacking its statement, if exactly one does. */
  private statementTarget(): ActiveSession {
    const lacking = this.d.store.lackingStatement();
    if (lacking.length === 1) return lacking[0]!;
    if (lacking.length === 0) {
      throw new RecgwError('usage', 'no session lacks its written statement: to add one to another session, name it (--session ID; recgw status lists them)');
    }
    throw new RecgwError('usage', `${lacking.length} sessions lack their written statement (${lacking.map((x) => x.ctx.sessionId).join(', ')}): name the one it is for (--session ID)`);
  }

  /** The confirmations an action needs, checked against `rule` by the roster's OfficerAuth (none without one). */
  private confirmed(given: Confirmation[] | undefined, rule: ConfirmRule, what: string, mark: boolean): Confirmation[] {
    if (!this.d.auth) {
      if (given && given.length > 0) throw new RecgwError('usage', `${what}: PINs were given, but no officer roster is installed to check them`);
      return [];
    }
    return this.d.auth.take(given ?? [], rule, what, { mark });
  }

  async status(): Promise<RecorderStatus> {
    const s = this.d.store.active() ?? this.d.store.recent(1)[0];
    return {
      deviceId: this.d.deviceId,
      session: s ? this.summary(s) : null,
      lackingStatement: this.d.store.lackingStatement().map((x) => ({ sessionId: x.ctx.sessionId, caseRef: x.ctx.caseRef, end: x.closedAt === null ? null : iso(x.closedAt) })),
      sources: this.d.supervisors.map((x) => x.health()),
      storage: this.d.storage.state(),
      clock: this.clockState(),
      battery: this.d.battery?.state() ?? null,
      gps: this.d.gps?.fix() ?? null,
      sealing: { pending: this.d.sealer.pendingCount() },
      officers: this.d.auth?.status() ?? { required: false, roster: null },
      listening: s && s.state !== 'closed' ? this.listeningOf(s.ctx.sessionId) : null,
    };
  }

  private listeningOf(sessionId: string): RecorderStatus['listening'] {
    const l = this.listener.listening(sessionId);
    return l ? { sessionId, ...l } : null;
  }

  /** Run pre-flight without starting (the console's self-test). */
  async preflight(): Promise<CheckResult[]> {
    const st = await this.d.storage.refresh();
    const extra = await Promise.all((this.d.extraChecks ?? []).map((f) => Promise.resolve(f())));
    return [...this.builtinChecks(st), ...extra];
  }

  private builtinChecks(st: Awaited<ReturnType<StorageGuard['refresh']>>): CheckResult[] {
    return preflight({
      freeBytes: st.freeBytes,
      quotaLeftBytes: st.quotaBytes === null ? undefined : Math.max(0, st.quotaBytes - st.usedBytes),
      bytesPerSecond: this.bytesPerSecond(),
      expectedSeconds: this.d.recording.expectedSessionMinutes * 60,
      battery: this.d.battery?.state(),
      minBatteryPercent: this.d.recording.minBatteryPercent,
      clock: this.clockState(),
      sources: this.d.supervisors.map((x) => {
        const h = x.health();
        return { id: x.id, producing: h.producing, ...(h.down ? { problem: `${h.down.words} (${h.down.detail})` } : {}) };
      }),
    });
  }

  // ---- internals -----------------------------------------------------------------------------------------

  /** The clock monitor's state, with how far the system clock is held off the gateway's time (manifests, status). */
  private clockState(): ClockState {
    const st = this.d.clock.state();
    const held = this.d.heldMs?.();
    return held === undefined ? st : { ...st, heldMs: held };
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private requireActive(): ActiveSession {
    const s = this.d.store.active();
    if (!s) throw new RecgwError('recorder', 'no session is being recorded');
    return s;
  }

  private async closeSession(s: ActiveSession, detail: { closedBy: string; confirmations?: Confirmation[] }): Promise<SessionSummary> {
    const at = this.now();
    // Finish every open segment now, so the session's footage ends where the session ends.
    await Promise.all(this.d.supervisors.map((x) => (this.keepRunning ? x.cut() : x.want(false))));
    await this.settleSegments(at);
    await this.d.sealer.drain();
    // The session's own entries come before its close: the announcement's (stopped if still playing), the explanation's.
    await this.stopAnnouncement();
    this.listener.closing(s.ctx.sessionId, at);
    const closedBy = this.d.store.close(s.ctx.sessionId, at, { by: detail.closedBy, ...(detail.confirmations ? { confirmations: detail.confirmations } : {}) });
    this.detected.clear();
    this.conditions.clear();
    this.storageInterruption = undefined;
    this.powerInterruption = undefined;
    if (closedBy === 'terminated') this.prompt('statement-needed');
    this.changed();
    return this.summary(this.d.store.get(s.ctx.sessionId)!);
  }

  /** Wait (briefly) until each source that was recording has delivered footage up to `at`. */
  private async settleSegments(at: number): Promise<void> {
    const deadline = this.now() + 3000;
    while (this.now() < deadline) {
      const behind = this.d.supervisors.filter((x) => {
        const h = x.health();
        return h.lastSegmentEnd !== null && Date.parse(h.lastSegmentEnd) < at - 1000 && h.down === null;
      });
      if (behind.length === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private route(seg: SegmentFile): void {
    const end = seg.end.getTime();
    const s = this.d.store.covering(seg.start.getTime(), end, this.now(), CLOSE_GRACE_MS) ?? this.preEventSession(end);
    if (s) return this.seal(s, seg, end <= s.openedAt);
    // Outside every session: pre-event footage while the buffer lives, otherwise not evidence.
    if (this.keepRunning && !this.stopping) {
      this.buffer.push(seg);
      this.pruneBuffer();
      return;
    }
    this.discard(seg.path);
  }

  /** Where a session's pre-event footage begins: preEventSeconds before it opened. */
  private preEventFrom(s: ActiveSession): number {
    return s.openedAt - this.d.recording.preEventSeconds * 1000;
  }

  /**
   * The open session whose pre-event window holds a segment that ends before it opened. The buffer is claimed once,
   * at the start, but a source reports a segment a moment after it ends: one that ended before the start and was
   * reported after it belongs to the session just the same, not to a buffer nobody claims any more.
   */
  private preEventSession(end: number): ActiveSession | undefined {
    const s = this.d.store.active();
    if (!s || this.d.recording.preEventSeconds <= 0) return undefined;
    return end > this.preEventFrom(s) && end <= s.openedAt ? s : undefined;
  }

  /** Delete footage that is not evidence; tracked so stop() can wait for it. */
  private discard(path: string): void {
    const p: Promise<void> = unlink(path)
      .catch(() => undefined)
      .finally(() => this.deleting.delete(p));
    this.deleting.add(p);
  }

  private seal(s: ActiveSession, seg: SegmentFile, preEvent: boolean): void {
    const { seq, explanation } = this.d.store.nextSeq(s.ctx.sessionId, seg.sourceId, seg.start.getTime());
    const sup = this.d.supervisors.find((x) => x.id === seg.sourceId);
    this.d.sealer.enqueue({
      name: `${s.ctx.sessionId}_${seg.sourceId}_${String(seq).padStart(6, '0')}`,
      plainPath: seg.path,
      session: s.ctx,
      source: { id: seg.sourceId, kind: sup?.health().kind ?? 'camera' },
      seq,
      start: seg.start.toISOString(),
      end: seg.end.toISOString(),
      clock: this.clockState(),
      gps: this.d.gps?.fix() ?? null,
      ...(explanation ? { explanation: true } : {}),
      ...(preEvent ? { preEvent: true } : {}),
      ...(seg.transcoded?.length ? { transcoded: seg.transcoded } : {}),
    });
  }

  private pruneBuffer(): void {
    const keepFrom = this.now() - (this.d.recording.preEventSeconds + this.d.recording.segmentSeconds) * 1000;
    while (this.buffer.length > 0 && this.buffer[0]!.end.getTime() < keepFrom) this.discard(this.buffer.shift()!.path);
  }

  /** At a session's start, the last preEventSeconds of buffered footage become part of it; older is discarded. */
  private claimBuffer(s: ActiveSession): void {
    const from = this.preEventFrom(s);
    const claimed = this.buffer.splice(0).sort((a, b) => a.start.getTime() - b.start.getTime());
    for (const seg of claimed) {
      if (seg.end.getTime() > from) this.seal(s, seg, seg.end.getTime() <= s.openedAt);
      else this.discard(seg.path);
    }
  }

  private discardBuffer(): void {
    for (const seg of this.buffer.splice(0)) this.discard(seg.path);
  }

  private recordingSession(): ActiveSession | undefined {
    const s = this.d.store.active();
    return s && s.state === 'recording' ? s : undefined;
  }

  private sourceDown(e: DownEvent): void {
    const s = this.recordingSession();
    if (!s || !this.started) return this.changed();
    const key = `${e.sourceId}:process`;
    if (this.detected.has(key)) return;
    const id = this.d.store.startInterruption(s.ctx.sessionId, {
      reason: e.reason,
      origin: 'detected',
      start: e.since.getTime(),
      sources: [e.sourceId],
      text: e.outage.words,
      detail: { cause: e.outage.cause, technical: e.outage.technical },
    });
    this.detected.set(key, id);
    this.changed();
  }

  private sourceUp(e: UpEvent): void {
    const key = `${e.sourceId}:process`;
    const id = this.detected.get(key);
    const s = this.d.store.active();
    if (id && s) this.endDetected(s, id, e.at.getTime());
    this.detected.delete(key);
    this.changed();
  }

  /** A detected interruption ends: the recording resumed by itself, and the officers are asked to say why it stopped. */
  private endDetected(s: ActiveSession, id: string, at: number, detail?: Parameters<SessionStore['endInterruption']>[3]): void {
    this.d.store.endInterruption(s.ctx.sessionId, id, at, detail);
    this.listener.resumed(s.ctx.sessionId, 'detected', [id], at);
  }

  private healthEvent(h: HealthEvent): void {
    // A covered camera is black and, being black, frozen too: that is one problem of the picture, so one
    // interruption, open from the first detector that reports it until the last one says it has ended.
    const key = `${h.sourceId}:${h.type === 'silence' ? 'sound' : 'picture'}`;
    const active = this.conditions.get(key) ?? new Set<HealthEvent['type']>();
    const s = this.d.store.active();
    if (h.phase === 'start') {
      active.add(h.type);
      this.conditions.set(key, active);
      if (!s || s.state !== 'recording' || this.detected.has(key)) return;
      const silent = h.type === 'silence';
      const id = this.d.store.startInterruption(s.ctx.sessionId, {
        reason: silent ? 'device-fault' : 'camera-covered',
        origin: 'detected',
        start: h.at.getTime(),
        sources: [h.sourceId],
        ...detectedWords(h.type, this.d.recording.sources.find((c) => c.id === h.sourceId)?.kind ?? 'microphone'),
      });
      this.detected.set(key, id);
    } else {
      active.delete(h.type);
      if (active.size > 0) return;
      this.conditions.delete(key);
      const id = this.detected.get(key);
      if (id && s) this.endDetected(s, id, h.at.getTime());
      this.detected.delete(key);
    }
    this.changed();
  }

  private async storageFull(st: StorageState): Promise<void> {
    const s = this.recordingSession();
    this.d.log.error('storage is full: recording stops until space is freed', { free: st.freeBytes, used: st.usedBytes, quota: st.quotaBytes });
    if (s && !this.storageInterruption) {
      const since = Math.max(0, ...this.d.supervisors.map((x) => Date.parse(x.health().lastSegmentEnd ?? '') || 0));
      this.storageInterruption = this.d.store.startInterruption(s.ctx.sessionId, {
        reason: 'storage-full',
        origin: 'detected',
        start: since || this.now(),
        text: `free ${st.freeBytes} bytes, used ${st.usedBytes} of quota ${st.quotaBytes ?? 'none'}`,
      });
    }
    await Promise.all(this.d.supervisors.map((x) => x.want(false)));
    this.changed();
  }

  private async storageOk(): Promise<void> {
    const s = this.d.store.active();
    // A battery about to run out keeps the sources stopped: batteryOk starts them.
    const run = !this.powerLow;
    if (!s || s.state !== 'recording') {
      if (this.keepRunning && run) await Promise.all(this.d.supervisors.map((x) => x.want(true)));
      return;
    }
    if (run) {
      await Promise.all(this.d.supervisors.map((x) => x.want(true)));
      await Promise.all(this.d.supervisors.map((x) => x.waitProducing(PRODUCE_TIMEOUT_MS)));
    }
    if (this.storageInterruption) this.endDetected(s, this.storageInterruption, this.now());
    this.storageInterruption = undefined;
    this.changed();
  }

  private openPowerInterruption(s: ActiveSession, p: PowerLow): void {
    if (this.powerInterruption) return;
    this.powerInterruption = this.d.store.startInterruption(s.ctx.sessionId, {
      reason: 'low-battery',
      origin: 'detected',
      start: this.now(),
      text: p.text,
      detail: { cause: p.cause, technical: p.technical },
    });
  }

  /**
   * Plays the announcement for a session that just started (when the room has a speaker): the file is read once and
   * those bytes are hashed and played, so `announcement.played` names exactly what the room heard. Runs beside the
   * session; never rejects (a failure to play or to record the entry is logged), and closeSession stops and awaits it.
   */
  private announce(s: ActiveSession): void {
    const file = this.d.recording.announcement;
    const announcer = this.d.announcer;
    if (!file || !announcer) return;
    const abort = new AbortController();
    const done = (async () => {
      const asked = this.now();
      let audio: Buffer | undefined;
      let readError: string | undefined;
      try {
        audio = await readFile(file);
      } catch (err) {
        readError = `cannot read ${file}: ${(err as Error).message}`;
      }
      const played = this.listener.playing();
      const r: PlayResult = audio ? await announcer.play(audio, abort.signal) : { ok: false, error: readError! };
      played();
      this.d.ledger.append(ENTRY.announcementPlayed, {
        sessionId: s.ctx.sessionId,
        file,
        ...(audio ? { sha256: createHash('sha256').update(audio).digest('hex'), bytes: audio.length } : {}),
        device: this.d.recording.speakerDevice ?? 'default',
        ok: r.ok,
        ...(r.ok ? {} : { error: r.error, ...(r.stopped ? { stopped: true } : {}) }),
        // When the sound began (the device open), or when it was asked for if the player never got that far.
        start: iso(r.startedAt ?? asked),
        time: iso(this.now()),
      });
      if (!r.ok && !r.stopped) this.d.log.error('the announcement could not be played', { error: r.error });
    })().catch((err: unknown) => this.d.log.error('recording that the announcement was played failed', { err: String(err) }));
    this.announcing = { abort, done };
  }

  /** Stops the announcement if it still plays, and waits for its entry. */
  private async stopAnnouncement(): Promise<void> {
    const a = this.announcing;
    this.announcing = undefined;
    if (!a) return;
    a.abort.abort();
    await a.done;
  }

  /** The listener's news, told to the officers: prompts (panel, console), the status (lamp), a tone to ask. */
  private explanationEvent(e: ExplanationEvent): void {
    if (e.type === 'listening') {
      this.prompt('state-reason');
      const announcer = this.d.announcer;
      if (announcer) {
        const played = this.listener.playing();
        void announcer.tone().then((r) => {
          played();
          if (!r.ok) this.d.log.warn('the tone asking for the explanation could not be played', { error: r.error });
        });
      }
    } else {
      this.prompt(e.type === 'heard' ? 'reason-heard' : 'statement-needed');
    }
    this.changed();
  }

  private prompt(code: PromptCode): void {
    this.emit('prompt', { code, ...PROMPTS[code] });
  }

  private bytesPerSecond(): number {
    return this.d.supervisors.reduce((sum, x) => {
      const h = x.health();
      const cfg = this.d.recording.sources.find((c) => c.id === x.id);
      const estimate = ((cfg?.bitrateKbps ?? (h.kind === 'camera' ? 2500 : 64)) * 1000) / 8;
      return sum + (h.bitrate ?? estimate);
    }, 0);
  }

  private summary(s: ActiveSession): SessionSummary {
    const m = MATTERS.find((x) => x.code === s.ctx.matter);
    return {
      sessionId: s.ctx.sessionId,
      matter: s.ctx.matter,
      matterLabel: m?.zh ?? s.ctx.matter,
      caseRef: s.ctx.caseRef,
      officers: s.ctx.officers,
      state: s.state,
      closedBy: s.closedBy,
      start: iso(s.openedAt),
      end: s.closedAt === null ? null : iso(s.closedAt),
      interruptions: this.d.store.allInterruptions(s.ctx.sessionId),
      lacksStatement: (s.closedBy === 'terminated' || s.unexplained) && !s.statement,
    };
  }

  private changed(): void {
    if (this.listenerCount('changed') === 0) return;
    void this.status().then((st) => this.emit('changed', st));
  }
}

/** Until when a microphone's sound has arrived (its last segment's end), or null when none is coming: it is not
 * recording, or is down. A microphone recording but without a segment yet has delivered nothing new (0). */
function heardUntil(h: SourceHealth): number | null {
  if (!h.wanted || !h.running || h.down !== null) return null;
  return h.lastSegmentEnd === null ? 0 : Date.parse(h.lastSegmentEnd);
}

/** What a detector saw, in words for the ledger and the officer, with the detector beside them. Silence on a
 * camera is its own microphone's (the camera's audio track). */
function detectedWords(type: HealthEvent['type'], kind: 'camera' | 'microphone'): { text: string; detail: { cause: string; technical: string } } {
  switch (type) {
    case 'black':
      return { text: '画面全黑（镜头可能被遮挡）', detail: { cause: 'picture-black', technical: 'blackdetect: the picture is black' } };
    case 'freeze':
      return { text: '画面冻结（摄像机仍在发送，但画面不动）', detail: { cause: 'picture-frozen', technical: 'freezedetect: the picture does not change' } };
    case 'silence':
      return {
        text: `${kind === 'camera' ? '摄像机的' : ''}麦克风没有声音信号（可能已断开或损坏）`,
        detail: { cause: 'sound-silent', technical: 'silencedetect: no signal above the threshold' },
      };
  }
}
