/**
 * Messages handled in the order they came per key (a device: one device's messages one after another, devices side
 * by side), while mqtt.js reads the next one. mqtt.js reads the next packet only after the previous one's callback,
 * and that callback sends the PUBACK: had the receiver called it after handling, its thread would sit idle through
 * every disk write, fsync and object-store request instead of reading the next message meanwhile (bench/README.md,
 * uplink-goodput and s3-ingest). So a message's callback is called as soon as fewer than `depth` messages are in
 * hand, and otherwise when one is done: at most `depth` messages are in hand at once. Nothing depends on the broker
 * keeping what it delivered: one acknowledged but not yet handled when the receiver crashes is sent again after the
 * gateway's next hello (uplink-protocol.md §6), and a clean stop handles it first (`drain`).
 *
 * Invariants: items of one key are handled one at a time, in push order; `handle` must not reject.
 */
export class InOrder<T> {
  /** Per key, the last item's handling. */
  private readonly tails = new Map<string, Promise<void>>();
  private waiting = 0;
  private blocked: (() => void) | undefined;

  /** `handle` must not reject: it reports its own failures. */
  constructor(
    private readonly handle: (item: T) => Promise<void>,
    private readonly depth = 2,
    private readonly keyOf: (item: T) => string = () => '',
  ) {}

  /** As mqtt.js does: the next item only once the previous one's `done` was called. */
  push(item: T, done: () => void): void {
    if (this.blocked) throw new Error('InOrder: an item was pushed before the previous one was acknowledged');
    this.waiting++;
    const key = this.keyOf(item);
    const tail = (this.tails.get(key) ?? Promise.resolve())
      .then(() => this.handle(item))
      .finally(() => {
        this.waiting--;
        if (this.tails.get(key) === tail) this.tails.delete(key);
        this.release();
      });
    this.tails.set(key, tail);
    if (this.waiting < this.depth) done();
    else this.blocked = done;
  }

  /** Resolves when everything pushed so far is handled. */
  async drain(): Promise<void> {
    while (this.tails.size > 0) await Promise.all(this.tails.values());
  }

  private release(): void {
    if (!this.blocked || this.waiting >= this.depth) return;
    const done = this.blocked;
    this.blocked = undefined;
    done();
  }
}
