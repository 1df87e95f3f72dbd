/**
 * Messages handled one at a time, in the order they came, while mqtt.js reads the next one. mqtt.js reads the
 * next packet only after the previous one's callback, and that callback sends the PUBACK: had the receiver called
 * it after handling, its thread would sit idle through every disk write and fsync instead of decrypting and parsing
 * the next message meanwhile (bench/README.md, uplink-goodput). So a message's callback is called as soon as fewer
 * than `depth` messages are waiting, and otherwise when one is done: a message is acknowledged at most `depth - 1`
 * messages before it is handled. Nothing depends on the broker keeping what it delivered: one acknowledged but not
 * yet handled when the receiver crashes is sent again after the gateway's next hello (uplink-protocol.md §6), and
 * a clean stop handles it first (`drain`).
 */
export class InOrder<T> {
  private tail: Promise<void> = Promise.resolve();
  private waiting = 0;
  private blocked: (() => void) | undefined;

  /** `handle` must not reject: it reports its own failures. */
  constructor(
    private readonly handle: (item: T) => Promise<void>,
    private readonly depth = 2,
  ) {}

  /** As mqtt.js does: the next item only once the previous one's `done` was called. */
  push(item: T, done: () => void): void {
    if (this.blocked) throw new Error('InOrder: an item was pushed before the previous one was acknowledged');
    this.waiting++;
    this.tail = this.tail
      .then(() => this.handle(item))
      .finally(() => {
        this.waiting--;
        this.release();
      });
    if (this.waiting < this.depth) done();
    else this.blocked = done;
  }

  /** Resolves when everything pushed so far is handled. */
  drain(): Promise<void> {
    return this.tail;
  }

  private release(): void {
    if (!this.blocked || this.waiting >= this.depth) return;
    const done = this.blocked;
    this.blocked = undefined;
    done();
  }
}
