/**
 * Throttling of guessed secrets (console logins per client address and account name; officers' PINs per officer and
 * per channel): from the `freeFailures`-th failure in a row a key is locked for baseMs, doubling with each further
 * failure up to maxMs. While any key of an attempt is locked the attempt is refused without checking the secret, so
 * guessing costs the attacker time, not us CPU. A success clears the keys it used. Invariant: the table holds at
 * most MAX_KEYS entries (oldest forgotten first).
 */
export interface ThrottleOptions {
  freeFailures: number;
  baseMs: number;
  maxMs: number;
  now: () => number;
}

interface Entry {
  failures: number;
  lockedUntil: number;
  lastMs: number;
  /** Whether a refusal during the current lock has been reported (one audit entry per lock, not per attempt). */
  reported: boolean;
}

const MAX_KEYS = 10_000;
/** A key with no failure for this long starts again from zero. */
const FORGET_MS = 24 * 3600_000;

export class LoginThrottle {
  private readonly keys = new Map<string, Entry>();

  constructor(private readonly o: ThrottleOptions) {}

  /** Milliseconds until an attempt with these keys may be made (0: now), and whether this refusal is the first of its lock. */
  wait(keys: string[]): { ms: number; firstRefusal: boolean } {
    const t = this.o.now();
    let ms = 0;
    let firstRefusal = false;
    for (const k of keys) {
      const e = this.keys.get(k);
      if (!e || e.lockedUntil <= t) continue;
      ms = Math.max(ms, e.lockedUntil - t);
      if (!e.reported) {
        e.reported = true;
        firstRefusal = true;
      }
    }
    return { ms, firstRefusal };
  }

  /** Count a failure; returns how long the keys are now locked (0 while failures are still free). */
  fail(keys: string[]): number {
    const t = this.o.now();
    let lock = 0;
    for (const k of keys) {
      let e = this.keys.get(k);
      if (e && t - e.lastMs > FORGET_MS) e = undefined;
      if (!e) {
        if (this.keys.size >= MAX_KEYS) this.prune(t);
        e = { failures: 0, lockedUntil: 0, lastMs: t, reported: false };
      }
      this.keys.delete(k);
      e.failures++;
      e.lastMs = t;
      e.reported = false;
      const over = e.failures - this.o.freeFailures;
      if (over >= 0) e.lockedUntil = t + Math.min(this.o.maxMs, this.o.baseMs * 2 ** Math.min(over, 30));
      lock = Math.max(lock, e.lockedUntil - t);
      this.keys.set(k, e);
    }
    return lock;
  }

  succeed(keys: string[]): void {
    for (const k of keys) this.keys.delete(k);
  }

  private prune(t: number): void {
    for (const [k, e] of this.keys) if (e.lockedUntil <= t && t - e.lastMs > 3600_000) this.keys.delete(k);
    // Still full: forget the least recently failed (Map keeps insertion order; fail() re-inserts).
    while (this.keys.size >= MAX_KEYS) this.keys.delete(this.keys.keys().next().value!);
  }
}
