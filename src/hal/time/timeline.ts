/**
 * The gateway's own time: what every ledger entry, session, interruption and segment is dated with. It counts on
 * the monotonic clock (CLOCK_MONOTONIC through performance.now, which nothing steps; NTP's slewing moves it with the
 * system clock, so the two keep together while nobody sets the clock) from an anchor, a reading of the system clock.
 *
 * The anchor is taken at start and again only by rebase(), which the clock keeper (src/app/clock-keeper.ts) calls
 * when a synchronised clock source confirms the system clock after a step. A step nothing confirms moves the system
 * clock and not these times: heldMs() then says by how much the two differ.
 */

export interface TimelineOptions {
  /** The system clock, ms since the epoch. Default Date.now. */
  wall?: () => number;
  /** The monotonic clock, ms. Default performance.now. */
  mono?: () => number;
}

export class Timeline {
  private readonly wall: () => number;
  readonly mono: () => number;
  private base: { wall: number; mono: number };

  constructor(opts: TimelineOptions = {}) {
    this.wall = opts.wall ?? Date.now;
    this.mono = opts.mono ?? (() => performance.now());
    this.base = { wall: this.wall(), mono: this.mono() };
  }

  /** The gateway's time now, whole ms since the epoch (a function property, so it can be handed on as `now`). */
  readonly now = (): number => this.at(this.mono());

  /** The gateway's time at monotonic instant `mono` (the clock of performance.now), whole ms. */
  at(mono: number): number {
    return Math.round(this.base.wall + (mono - this.base.mono));
  }

  /** The system clock minus the gateway's time, ms: 0 while they agree, the steps held off since the anchor. */
  heldMs(): number {
    const mono = this.mono();
    return Math.round(this.wall() - (this.base.wall + (mono - this.base.mono)));
  }

  /** Anchor to the system clock as it reads now. Returns the gateway's time just before and just after. */
  rebase(): { old: number; new: number } {
    const old = this.now();
    this.base = { wall: this.wall(), mono: this.mono() };
    return { old, new: this.now() };
  }
}
