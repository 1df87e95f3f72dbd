/**
 * Runs a job after events, at most once per interval: at once when its last run is that long ago, else once when the
 * interval is up, for every event meanwhile. The receiver publishes its log's files this way: each publication
 * creates a few files and renames one, which on a busy disk costs milliseconds that every stored segment would
 * otherwise pay (bench/README.md, receiver-log-cost).
 */
export class Pacer {
  private last = -Infinity;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly job: () => void,
    private readonly intervalMs: number,
    private readonly onError: (err: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Something happened that the job must cover. */
  kick(): void {
    if (this.timer) return;
    const wait = this.last + this.intervalMs - this.now();
    if (wait <= 0) return this.run();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.run();
    }, wait);
  }

  /** Run the job now if an event is waiting for it (at stop). */
  flush(): void {
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.run();
  }

  private run(): void {
    this.last = this.now();
    try {
      this.job();
    } catch (err) {
      this.onError(err);
    }
  }
}
