/**
 * What counts as speech (SpeechTracker, on frames made here) and the listening after a resume (ExplanationListener,
 * against a real evidence core: its ledger entries and the session's row): heard, not heard, late sound, a second
 * resume, a restart in the middle of a window, the session closing, no microphone.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cleanupTmp, makeCa, makeGateway } from '../helpers/fixtures.js';
import { startEvidenceCore, type EvidenceCore } from '../../src/app/evidence-core.js';
import { SessionStore } from '../../src/recorder/session-store.js';
import { ExplanationListener, type ExplanationEvent, type Microphone } from '../../src/recorder/explanation.js';
import { SPEECH_DEFAULTS, SpeechTracker, type TimedFrame } from '../../src/recorder/speech.js';
import { silentLogger } from '../../src/util/log.js';
import { SessionTracker } from '../../src/verify/session-tracker.js';
import { DEFAULT_GAP_OPTIONS } from '../../src/verify/sessions.js';
import type { LedgerEntry } from '../../src/evidence/entry.js';

const T0 = Date.parse('2026-12-07T02:00:00.000Z');
/** A quiet room: -60 dB with a little wobble. */
const quiet = (from: number, seconds: number): TimedFrame[] => Array.from({ length: seconds * 10 }, (_, i) => ({ at: from + i * 100, db: -60 + (i % 2) * 0.5 }));
/** Speech: syllables rise and fall by 8 dB, well above the room. */
const talk = (from: number, seconds: number): TimedFrame[] => Array.from({ length: seconds * 10 }, (_, i) => ({ at: from + i * 100, db: i % 2 ? -30 : -38 }));
/** A fan switched on: loud and level. */
const steady = (from: number, seconds: number): TimedFrame[] => Array.from({ length: seconds * 10 }, (_, i) => ({ at: from + i * 100, db: -35 + (i % 2) * 0.4 }));

describe('SpeechTracker', () => {
  const run = (frames: TimedFrame[]): ReturnType<SpeechTracker['push']> => {
    const t = new SpeechTracker(SPEECH_DEFAULTS);
    return [...t.push(frames), ...t.flush(Infinity)];
  };

  it('hears speech above the room: its start, voiced time, level and floor', () => {
    const u = run([...quiet(T0, 5), ...talk(T0 + 5000, 3), ...quiet(T0 + 8000, 2)]);
    expect(u).toEqual([{ start: T0 + 5000, end: T0 + 8000, voicedSeconds: 3, levelDb: -34, modulationDb: 8, floorDb: -60, speech: true }]);
  });

  it('takes a level sound (a fan) and a short one (a knock) for no speech, and splits at pauses of half a second', () => {
    expect(run([...quiet(T0, 5), ...steady(T0 + 5000, 10)]).map((x) => [x.voicedSeconds, x.speech])).toEqual([[10, false]]);
    expect(run([...quiet(T0, 5), ...talk(T0 + 5000, 1), ...quiet(T0 + 6000, 3)]).map((x) => x.speech)).toEqual([false]);
    const split = run([...quiet(T0, 5), ...talk(T0 + 5000, 2), ...quiet(T0 + 7000, 0.6), ...talk(T0 + 7600, 2)]);
    expect(split.map((x) => [x.start - T0, x.voicedSeconds])).toEqual([
      [5000, 2],
      [7600, 2],
    ]);
    // A shorter pause does not split.
    expect(run([...quiet(T0, 5), ...talk(T0 + 5000, 2), ...quiet(T0 + 7000, 0.4), ...talk(T0 + 7400, 2)])).toHaveLength(1);
  });

  it('counts nothing as voiced until it has heard the room for 2 s, and measures against the room, not an absolute level', () => {
    expect(run(talk(T0, 1.5))).toEqual([]);
    // A loud room (-40 dB): speech whose quiet syllables are 8 dB above it is heard; speech that peaks 3 dB above it
    // (marginDb is 6) is not voiced at all, though it is far above levelDb (-50).
    const loud = (from: number, seconds: number): TimedFrame[] => quiet(from, seconds).map((f) => ({ ...f, db: f.db + 20 }));
    // (Speech adds to the room's sound: no frame of it is quieter than the room.)
    const shifted = (by: number): TimedFrame[] => talk(T0 + 5000, 3).map((f) => ({ ...f, db: Math.max(-40, f.db + by) }));
    expect(run([...loud(T0, 5), ...shifted(6)]).map((x) => x.speech)).toEqual([true]);
    expect(run([...loud(T0, 5), ...shifted(-7)])).toEqual([]);
  });
});

describe('ExplanationListener', () => {
  let core: EvidenceCore;
  let store: SessionStore;
  let now = T0;
  let heardUntil: number | null = null;
  const events: ExplanationEvent[] = [];
  const mic: Microphone = { id: 'mic1', heardUntil: () => heardUntil };
  let n = 0;
  let sid = '';

  const listener = (mics: Microphone[] = [mic]): ExplanationListener =>
    new ExplanationListener({ db: core.db, ledger: core.ledger, microphones: mics, lateMs: 10_000, log: silentLogger, now: () => now, notify: (e) => events.push(e) });
  const entries = (type: string): Record<string, unknown>[] =>
    (core.db.prepare('SELECT line FROM ledger WHERE type = ? ORDER BY seq').all(type) as { line: string }[])
      .map((l) => (JSON.parse(l.line) as { body: Record<string, unknown> }).body)
      .filter((b) => b.sessionId === sid);
  const voice = (l: ExplanationListener, frames: TimedFrame[]): void => {
    l.voice('mic1', frames);
    heardUntil = frames.at(-1)!.at + 100;
  };

  beforeAll(async () => {
    core = await startEvidenceCore(makeGateway(makeCa().dir, { deviceId: 'room-listen' }).config, silentLogger);
    store = new SessionStore(core.db, core.ledger);
  }, 60_000);
  afterAll(async () => {
    await core.stop();
    cleanupTmp();
  });
  beforeEach(() => {
    sid = `s${++n}`;
    now = T0 + n * 3_600_000;
    heardUntil = null;
    events.length = 0;
    store.open({ sessionId: sid, matter: 'sampling', caseRef: `F-${n}`, officers: [{ name: '张三', badge: '1' }] }, now, {});
  });

  it('records the speech heard after a resume, with its time and length, and stops listening', () => {
    const l = listener();
    voice(l, quiet(now - 5000, 5));
    l.resumed(sid, 'declared', ['i1'], now);
    expect(l.listening(sid)).toEqual({ since: new Date(now).toISOString(), until: new Date(now + 60_000).toISOString(), kinds: ['declared'] });
    voice(l, [...quiet(now, 3), ...talk(now + 3000, 4), ...quiet(now + 7000, 1)]);
    expect(entries('explanation.heard')).toEqual([
      expect.objectContaining({
        interruptionIds: ['i1'],
        resumed: ['declared'],
        window: { start: new Date(now).toISOString(), end: new Date(now + 60_000).toISOString(), seconds: 60 },
        microphones: ['mic1'],
        source: 'mic1',
        start: new Date(now + 3000).toISOString(),
        seconds: 4,
        voicedSeconds: 4,
        criteria: SPEECH_DEFAULTS,
      }),
    ]);
    expect(l.listening(sid)).toBeNull();
    expect(events.map((e) => e.type)).toEqual(['listening', 'heard']);
    expect(store.get(sid)!.unexplained).toBe(false);
  });

  it('decides "not heard" once the window has passed and the microphone delivered its end, not before', () => {
    const l = listener();
    voice(l, quiet(now - 5000, 5));
    const at = now;
    l.resumed(sid, 'detected', ['i1'], at);
    voice(l, quiet(at, 30));
    now = at + 61_000;
    l.tick();
    // The microphone's sound has reached only 30 s of the 60: more may come.
    expect(entries('explanation.missing')).toEqual([]);
    voice(l, quiet(at + 30_000, 31));
    l.tick();
    expect(entries('explanation.missing')).toEqual([expect.objectContaining({ why: 'nothing-heard', interruptionIds: ['i1'], resumed: ['detected'] })]);
    expect(store.get(sid)!.unexplained).toBe(true);
    expect(store.lackingStatement().map((s) => s.ctx.sessionId)).toContain(sid);
    store.statement(sid, '中断原因：设备故障。', [{ name: '张三', badge: '1' }, { name: '李四', badge: '2' }], now);
    expect(store.lackingStatement().map((s) => s.ctx.sessionId)).not.toContain(sid);
  });

  it('takes speech that arrives late (a segment after the window) if it was said inside it; gives up after lateMs', () => {
    const l = listener();
    voice(l, quiet(now - 5000, 5));
    const at = now;
    l.resumed(sid, 'declared', ['i1'], at);
    heardUntil = at + 40_000;
    now = at + 62_000;
    l.tick();
    expect(entries('explanation.missing')).toEqual([]);
    voice(l, [...quiet(at, 55), ...talk(at + 55_000, 3), ...quiet(at + 58_000, 4)]);
    expect(entries('explanation.heard').map((b) => b.start)).toEqual([new Date(at + 55_000).toISOString()]);

    // Another window whose microphone never delivers the end: decided when lateMs has passed.
    l.resumed(sid, 'declared', ['i2'], now);
    heardUntil = now + 1000;
    const until = now + 60_000;
    now = until + 9000;
    l.tick();
    expect(entries('explanation.missing')).toEqual([]);
    now = until + 10_000;
    l.tick();
    expect(entries('explanation.missing')).toEqual([expect.objectContaining({ interruptionIds: ['i2'], why: 'nothing-heard' })]);
  });

  it('joins a second resume to the open window, and a restart too (the window survives it); speech before counts for neither', () => {
    const l = listener();
    const at = now;
    // Talk that began 3 s before the resume explains nothing that came after.
    voice(l, [...quiet(at - 8000, 5), ...talk(at - 3000, 3), ...quiet(at, 1)]);
    l.resumed(sid, 'detected', ['i1'], at);
    l.resumed(sid, 'declared', ['i2'], at + 20_000);
    expect(l.listening(sid)).toMatchObject({ until: new Date(at + 80_000).toISOString(), kinds: ['detected', 'declared'] });
    l.stop();
    // The gateway restarts with the session still open: the window is still there, and the restart's joins it.
    const again = listener();
    again.start(sid);
    again.resumed(sid, 'restart', ['i3'], at + 30_000);
    expect(again.listening(sid)).toMatchObject({ since: new Date(at).toISOString(), until: new Date(at + 90_000).toISOString(), kinds: ['detected', 'declared', 'restart'] });
    voice(again, [...quiet(at + 30_000, 5), ...talk(at + 35_000, 3), ...quiet(at + 38_000, 1)]);
    again.stop();
    expect(entries('explanation.heard')).toEqual([expect.objectContaining({ interruptionIds: ['i1', 'i2', 'i3'], resumed: ['detected', 'declared', 'restart'] })]);
    expect(entries('explanation.missing')).toEqual([]);
  });

  it('decides at the session close: speech still going on counts, silence is "not heard"; a window left from a closed session too', () => {
    const l = listener();
    voice(l, quiet(now - 5000, 5));
    l.resumed(sid, 'declared', ['i1'], now);
    voice(l, [...quiet(now, 2), ...talk(now + 2000, 2)]);
    l.closing(sid, now + 4000);
    expect(entries('explanation.heard').map((b) => [b.start, b.seconds])).toEqual([[new Date(now + 2000).toISOString(), 2]]);

    l.resumed(sid, 'declared', ['i2'], now + 10_000);
    voice(l, quiet(now + 10_000, 5));
    l.closing(sid, now + 15_000);
    expect(entries('explanation.missing')).toEqual([expect.objectContaining({ interruptionIds: ['i2'], why: 'session-closed' })]);

    // A window from before a crash whose session is no longer open when the gateway starts.
    l.resumed(sid, 'detected', ['i3'], now + 20_000);
    l.stop();
    const next = listener();
    next.start(undefined);
    next.stop();
    expect(entries('explanation.missing').map((b) => b.interruptionIds)).toEqual([['i2'], ['i3']]);
  });

  it("does not take what the gateway's own speaker plays (the announcement, the tone) for the explanation", () => {
    const l = listener();
    voice(l, quiet(now - 5000, 5));
    l.resumed(sid, 'detected', ['i1'], now);
    const done = l.playing();
    voice(l, [...quiet(now, 1), ...talk(now + 1000, 5)]);
    now += 6000;
    done();
    // Its echo: speech that begins within a second of the end of the play is the speaker's too.
    voice(l, [...talk(now, 2), ...quiet(now + 2000, 2)]);
    expect(entries('explanation.heard')).toEqual([]);
    voice(l, [...talk(now + 4000, 2), ...quiet(now + 6000, 1)]);
    expect(entries('explanation.heard').map((b) => b.start)).toEqual([new Date(now + 4000).toISOString()]);
  });

  it('with no microphone, decides at once that nothing was heard', () => {
    listener([]).resumed(sid, 'declared', ['i1'], now);
    expect(entries('explanation.missing')).toEqual([expect.objectContaining({ why: 'no-microphone', microphones: [] })]);
    expect(events.map((e) => e.type)).toEqual(['listening', 'missing']);
  });
});

describe('the verifier on explanation entries', () => {
  const t = (s: number): string => new Date(T0 + s * 1000).toISOString();
  const officers = [
    { name: '张三', badge: '1' },
    { name: '李四', badge: '2' },
  ];
  const window = { start: t(20), end: t(80), seconds: 60 };
  /** A session with one declared pause and resume (no footage: only its entries matter here), then `more`. */
  const check = (more: [string, Record<string, unknown>][]): { findings: string[]; explanations: unknown } => {
    const findings: string[] = [];
    const tracker = new SessionTracker((kind, detail) => findings.push(`${kind}: ${detail}`), DEFAULT_GAP_OPTIONS);
    const lines: [string, Record<string, unknown>][] = [
      ['session.opened', { sessionId: 'S', matter: 'sampling', caseRef: 'C', officers, start: t(0) }],
      ['interruption.started', { sessionId: 'S', interruptionId: 'i1', reason: 'site-change', origin: 'declared', start: t(10) }],
      ['interruption.ended', { sessionId: 'S', interruptionId: 'i1', end: t(20) }],
      ...more,
      ['session.closed', { sessionId: 'S', reason: 'stopped', end: t(100) }],
    ];
    lines.forEach(([type, body], i) => tracker.entry(i + 1, { type, body, time: t(i) } as unknown as LedgerEntry));
    const r = tracker.finish();
    // Only the findings about explanations and statements (this session has no footage, so its gaps are found too).
    return { findings: findings.filter((f) => !f.includes('has no footage')), explanations: r[0]!.explanations };
  };
  const listened = { sessionId: 'S', interruptionIds: ['i1'], resumed: ['declared'], window, microphones: ['mic1'] };

  it('wants the statement of two officers after a resume nobody was heard explaining, and is content with it', () => {
    expect(check([['explanation.missing', { ...listened, why: 'nothing-heard' }]])).toEqual({
      findings: ['unexplained-gap: session S: 1 resume(s) after an interruption with no spoken explanation heard, and no written statement confirmed by two officers'],
      explanations: { heard: 0, missing: 1 },
    });
    const one = ['session.statement', { sessionId: 'S', text: '口述缺失，书面说明。', officers: [officers[0]] }] as [string, Record<string, unknown>];
    expect(check([['explanation.missing', { ...listened, why: 'nothing-heard' }], one]).findings).toHaveLength(1);
    const two = ['session.statement', { sessionId: 'S', text: '口述缺失，书面说明。', officers }] as [string, Record<string, unknown>];
    expect(check([['explanation.missing', { ...listened, why: 'nothing-heard' }], two]).findings).toEqual([]);
    expect(check([['explanation.heard', { ...listened, source: 'mic1', start: t(22), seconds: 4.2 }]])).toEqual({ findings: [], explanations: { heard: 1, missing: 0 } });
  });

  it('calls a damaged explanation entry malformed and one for a session never opened a broken chain', () => {
    expect(check([['explanation.heard', { ...listened, source: 'mic1', seconds: 4.2 }]]).findings).toEqual(['malformed: line 4: explanation.heard: start is missing or has the wrong type']);
    expect(check([['explanation.missing', { ...listened, interruptionIds: 'i1', why: 'nothing-heard' }]]).findings).toEqual([
      'malformed: line 4: explanation.missing: interruptionIds is missing or has the wrong type',
    ]);
    expect(check([['explanation.missing', { ...listened, sessionId: 'X', why: 'nothing-heard' }]]).findings).toEqual([
      'broken-chain: line 4: explanation.missing refers to session X, which was never opened in this ledger',
    ]);
  });
});
