/**
 * Runs a job after events, at most once per interval: at once when its last run is that long ago, else once when the
 * interval is up, for every event meanwhile. The receiver publishes its log's files and asks its witnesses this way:
 * a publication creates a few files and renames one, a witness round costs each witness a signature and a durable
 * write and the receiver a file per answer; after every stored segment that cost more than 10% of the receiver's
 * ingest on the bench VM (bench/README.md, receiver-log-cost).
 */
export class Pacer {
  private last = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  /** The job running (or the last one), so that runs never overlap and flush can wait. */
  private running: Promise<void> | undefined;

  constructor(
    private readonly job: () => void | Promise<void>,
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

  /** Run the job now if an event is waiting for it, and wait for the job to finish (at stop). */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.run();
    }
    await this.running;
  }

  private run(): void {
    this.last = this.now();
    const run = (this.running ?? Promise.resolve()).then(this.job).catch(this.onError);
    this.running = run;
    void run.finally(() => {
      if (this.running === run) this.running = undefined;
    });
  }
}
