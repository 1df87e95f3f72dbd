/**
 * Officers confirming with their PINs (src/officers/auth.ts): the right PIN makes a confirmation, a wrong one is
 * refused, recorded without the PIN, and throttled per officer and per channel; an action takes confirmations once,
 * from distinct officers on the session, named as the roster names them. Attacks performed: guessing a PIN, one
 * officer confirming twice, an officer from outside the session, a forged or reused confirmation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { cleanupTmp, makeCa } from '../helpers/fixtures.js';
import { LI, makeRoster, WANG, ZHANG } from '../helpers/roster.js';
import { checkRosterFile, encodeRosterFile, type InstalledRoster } from '../../src/officers/roster.js';
import { CONFIRM_TTL_MS, ConfirmRefused, OfficerAuth, PIN_THROTTLE, type Confirmation } from '../../src/officers/auth.js';
import { silentLogger } from '../../src/util/log.js';

let installed: InstalledRoster;
let expiring: InstalledRoster;
const T0 = Date.now();

beforeAll(async () => {
  const ca = makeCa();
  const caPem = readFileSync(ca.paths.caCert, 'utf8');
  const take = async (o: Parameters<typeof makeRoster>[1]): Promise<InstalledRoster> => {
    const r = checkRosterFile(encodeRosterFile(await makeRoster(ca.dir, o)), [caPem], new Date(T0));
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    return r.installed;
  };
  installed = await take({});
  // 王五 may confirm only for the first hour of this roster.
  expiring = await take({ officers: [ZHANG, LI, { ...WANG, notAfter: new Date(T0 + 3600_000).toISOString() }] });
}, 60_000);
afterAll(cleanupTmp);

function world(roster: InstalledRoster | null = installed, rosterInLedger = false) {
  const entries: { type: string; body: Record<string, unknown> }[] = [];
  const clock = { t: T0 };
  const auth = new OfficerAuth({ roster: roster ?? undefined, rosterInLedger, ledger: { append: (type, body) => entries.push({ type, body }) }, log: silentLogger, now: () => clock.t });
  return { auth, entries, clock };
}

const refusal = async (p: Promise<unknown>): Promise<ConfirmRefused> => {
  try {
    await p;
  } catch (err) {
    if (err instanceof ConfirmRefused) return err;
    throw err;
  }
  throw new Error('not refused');
};

describe('checking a PIN', () => {
  it('makes a confirmation with the roster\'s name, the channel and the roster\'s hash', async () => {
    const { auth, entries } = world();
    const c = await auth.confirm({ badge: ZHANG.badge, pin: ZHANG.pin, via: 'panel' });
    expect(c).toEqual({ name: '张三', badge: ZHANG.badge, via: 'panel', at: new Date(T0).toISOString(), roster: installed.sha256 });
    expect(entries).toEqual([]);
  });

  it('refuses a wrong PIN and records it in the ledger without the PIN', async () => {
    const { auth, entries } = world();
    const e = await refusal(auth.confirm({ badge: ZHANG.badge, pin: '999000', via: 'cli' }));
    expect(e.message).toBe('wrong PIN for 张三 (13010001)');
    expect(e.zh).toBe('张三（13010001）的 PIN 不正确');
    expect(entries).toEqual([{ type: 'officer.confirm_failed', body: { badge: ZHANG.badge, name: '张三', via: 'cli', channel: 'cli:cli', reason: 'bad-pin' } }]);
    expect(JSON.stringify(entries)).not.toContain('999000');
  });

  it('throttles guesses per officer: the third wrong PIN in a row locks, and then even the right PIN waits', async () => {
    const { auth, entries, clock } = world();
    expect(PIN_THROTTLE.freeFailures).toBe(3);
    for (let i = 0; i < 2; i++) expect((await refusal(auth.confirm({ badge: ZHANG.badge, pin: `99900${i}`, via: 'panel' }))).message).toBe('wrong PIN for 张三 (13010001)');
    const third = await refusal(auth.confirm({ badge: ZHANG.badge, pin: '999009', via: 'panel' }));
    expect(third.message).toBe('wrong PIN for 张三 (13010001); locked for 5 s');
    expect(third.retryAfterMs).toBe(5000);
    const locked = await refusal(auth.confirm({ badge: ZHANG.badge, pin: ZHANG.pin, via: 'panel' }));
    expect(locked.failure).toBe('throttled');
    expect(locked.retryAfterMs).toBe(5000);
    // Another channel is locked out of this officer too: the lock is per officer as well as per channel.
    expect((await refusal(auth.confirm({ badge: ZHANG.badge, pin: ZHANG.pin, via: 'console', channel: '192.168.1.9' }))).failure).toBe('throttled');
    // Refusals within one lock after the first are not recorded again: one throttled entry per lock.
    await refusal(auth.confirm({ badge: ZHANG.badge, pin: ZHANG.pin, via: 'panel' }));
    expect(entries.map((e) => e.body.reason)).toEqual(['bad-pin', 'bad-pin', 'bad-pin', 'throttled']);
    expect(entries[2]!.body.lockedSeconds).toBe(5);
    // The next wrong PIN after the lock doubles it.
    clock.t += 5001;
    expect((await refusal(auth.confirm({ badge: ZHANG.badge, pin: '999010', via: 'panel' }))).message).toBe('wrong PIN for 张三 (13010001); locked for 10 s');
    clock.t += 10_001;
    expect((await auth.confirm({ badge: ZHANG.badge, pin: ZHANG.pin, via: 'panel' })).badge).toBe(ZHANG.badge);
    // A success clears the officer's failures: two more wrong PINs are free again.
    await refusal(auth.confirm({ badge: ZHANG.badge, pin: '999011', via: 'panel' }));
    expect((await refusal(auth.confirm({ badge: ZHANG.badge, pin: '999012', via: 'panel' }))).message).toBe('wrong PIN for 张三 (13010001)');
  });

  it('throttles guesses per channel: guessing one officer after another on the panel locks the panel', async () => {
    const { auth } = world();
    const guesses = [ZHANG, LI, WANG];
    for (const o of guesses) await refusal(auth.confirm({ badge: o.badge, pin: '000999', via: 'panel' }));
    expect((await refusal(auth.confirm({ badge: LI.badge, pin: LI.pin, via: 'panel' }))).failure).toBe('throttled');
    // The CLI channel and the officer's own key are not locked by the panel's guesses at others.
    expect((await auth.confirm({ badge: WANG.badge, pin: WANG.pin, via: 'cli' })).badge).toBe(WANG.badge);
  });

  it('counts a 执法证号 not on the roster against the channel, and says so', async () => {
    const { auth, entries } = world();
    const e = await refusal(auth.confirm({ badge: '99999999', pin: '480913', via: 'panel' }));
    expect(e.message).toMatch(/^执法证号 99999999 is not on the officer roster/);
    expect(entries[0]!.body).toMatchObject({ badge: '99999999', reason: 'unknown-officer' });
  });

  it('refuses an officer outside their validity, and everyone once the roster expired', async () => {
    const { auth, clock } = world(expiring);
    clock.t = T0 + 2 * 3600_000;
    expect((await refusal(auth.confirm({ badge: WANG.badge, pin: WANG.pin, via: 'panel' }))).failure).toBe('officer-not-valid');
    expect((await auth.confirm({ badge: ZHANG.badge, pin: ZHANG.pin, via: 'panel' })).badge).toBe(ZHANG.badge);
    clock.t = Date.parse(expiring.roster.notAfter) + 1;
    expect((await refusal(auth.confirm({ badge: ZHANG.badge, pin: ZHANG.pin, via: 'panel' }))).message).toMatch(/^the roster expired on/);
  });

  it('refuses every PIN with the fix when the ledger had a roster but none is configured', async () => {
    const { auth } = world(null, true);
    expect(auth.required()).toBe(true);
    expect((await refusal(auth.confirm({ badge: ZHANG.badge, pin: ZHANG.pin, via: 'cli' }))).message).toMatch(/set agency.roster in the config/);
  });
});

describe('an action taking confirmations', () => {
  const session = [
    { name: '张三', badge: ZHANG.badge },
    { name: '李四', badge: LI.badge },
  ];
  const two = async (auth: OfficerAuth): Promise<Confirmation[]> => [
    await auth.confirm({ badge: ZHANG.badge, pin: ZHANG.pin, via: 'cli' }),
    await auth.confirm({ badge: LI.badge, pin: LI.pin, via: 'cli' }),
  ];

  it('takes two distinct officers of the session once: a second action must confirm again', async () => {
    const { auth } = world();
    const cs = await two(auth);
    expect(auth.take(cs, { named: session, atLeast: 2, within: session }, 'the statement')).toEqual(cs);
    expect(() => auth.take(cs, { named: session, atLeast: 2, within: session }, 'the statement')).toThrow(/confirmed for another action already/);
  });

  it('refuses the same officer twice, named twice or confirmed twice', async () => {
    const { auth } = world();
    const a = await auth.confirm({ badge: ZHANG.badge, pin: ZHANG.pin, via: 'cli' });
    const b = await auth.confirm({ badge: ZHANG.badge, pin: ZHANG.pin, via: 'panel' });
    expect(() => auth.take([a, b], { named: [session[0]!, session[0]!], atLeast: 2, within: session }, 'the statement')).toThrow(/执法证号 13010001 is named twice/);
    expect(() => auth.take([a, b], { named: [session[0]!], atLeast: 1, within: session }, 'the statement')).toThrow(/张三 \(13010001\) confirmed twice/);
    expect(() => auth.take([a], { named: [session[0]!], atLeast: 2, within: session }, 'the statement')).toThrow(/needs 2 different officers/);
  });

  it('refuses an officer who is not on the session, though on the roster with the right PIN', async () => {
    const { auth } = world();
    const cs = [await auth.confirm({ badge: ZHANG.badge, pin: ZHANG.pin, via: 'cli' }), await auth.confirm({ badge: WANG.badge, pin: WANG.pin, via: 'cli' })];
    const named = [session[0]!, { name: '王五', badge: WANG.badge }];
    expect(() => auth.take(cs, { named, atLeast: 2, within: session }, 'the statement')).toThrow(/王五 \(13010003\) is not an officer of this session/);
  });

  it('refuses a named officer who did not confirm, and a name the roster does not give that 执法证号', async () => {
    const { auth } = world();
    const [a] = await two(auth);
    expect(() => auth.take([a!], { named: session, atLeast: 2 }, 'starting the session')).toThrow(/李四 \(13010002\) must confirm with their own PIN/);
    expect(() => auth.take([a!], { named: [{ name: '赵六', badge: ZHANG.badge }], atLeast: 1 }, 'starting the session')).toThrow(/the roster gives 执法证号 13010001 to 张三, not 赵六/);
  });

  it('refuses a forged confirmation (an object this gateway did not make) and a stale one', async () => {
    const { auth, clock } = world();
    const [a, b] = await two(auth);
    const forged = { ...b! };
    expect(() => auth.take([a!, forged], { named: session, atLeast: 2 }, 'the statement')).toThrow(/was not made by this gateway's PIN check/);
    clock.t += CONFIRM_TTL_MS + 1;
    expect(() => auth.take([a!, b!], { named: session, atLeast: 2 }, 'the statement')).toThrow(/confirmed more than 120 s ago/);
  });

  it('checks without taking when asked (mark: false), so a start refused by its pre-flight keeps its confirmations', async () => {
    const { auth } = world();
    const cs = await two(auth);
    auth.take(cs, { named: session, atLeast: 1 }, 'starting the session', { mark: false });
    expect(auth.take(cs, { named: session, atLeast: 1 }, 'starting the session')).toHaveLength(2);
  });

  it('needs nothing, and takes no PIN, without a roster', () => {
    const { auth } = world(null, false);
    expect(auth.required()).toBe(false);
    expect(auth.take([], { named: session, atLeast: 2 }, 'the statement')).toEqual([]);
  });
});
