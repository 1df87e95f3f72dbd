/** A token bucket for the metered-link bandwidth cap: take(n) waits until n bytes may be sent. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Resolves once n bytes may go, or at once when `signal` aborts (a stop must not wait a chunk's time at a low cap). */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const t = this.now();
      this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.ratePerSecond);
      this.last = t;
      // A request larger than the burst may go when the bucket is full, so it cannot wait forever.
      if (this.tokens >= Math.min(n, this.burst)) {
        this.tokens -= n;
        return;
      }
      if (signal?.aborted) return;
      const waitMs = ((Math.min(n, this.burst) - this.tokens) / this.ratePerSecond) * 1000;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(1, waitMs));
        signal?.addEventListener('abort', done);
      });
    }
  }
}
