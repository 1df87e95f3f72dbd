/**
 * Store-and-forward to the agency receiver (docs/uplink-protocol.md §6). Works in cycles: ask the receiver what
 * it holds (hello/state), send the entries it lacks, then files earliest deadline first from the receiver's `have`,
 * then wait for receipts while they keep coming. Any break (connection, silence) ends the cycle and the next one
 * asks again, so only chunks that were in flight are ever sent twice.
 */
import { open } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import type { UplinkConfig } from '../config/types.js';
import type { Ledger } from '../evidence/ledger.js';
import { kvDelete, kvGet, kvSet, type Db } from '../state/db.js';
import type { Logger } from '../util/log.js';
import { describe, isENOENT } from '../util/errors.js';
import type { UploadQueue, QueuedFile } from './queue.js';
import type { DeadlineAlarms } from './alarms.js';
import type { Retention } from './retention.js';
import type { Inbox } from './inbox.js';
import type { LogWatch } from './log-watch.js';
import type { MqttLink } from './link.js';
import { TokenBucket } from './token-bucket.js';
import { MAX_ENTRIES_BYTES, MAX_HEADER, MAX_HELLO_FILES, chunkFrame, chunkLength, maxChunkLength, topics, type StateMessage } from './wire.js';

export interface UploaderOptions {
  deviceId: string;
  /**
   * Vehicles: segments recorded away are due a deadline after the return, not after their end. "Away" is out of
   * coverage, or, with a home-base geofence, outside the base (then `left` and `returnedToBase` say when).
   */
  vehicle?: boolean;
  awaySignal?: 'coverage' | 'geofence';
  config: UplinkConfig;
  db: Db;
  ledger: Ledger;
  queue: UploadQueue;
  alarms: DeadlineAlarms;
  retention: Retention;
  inbox: Inbox;
  link: MqttLink;
  logWatch: LogWatch;
  now: () => number;
  log: Logger;
}

const IDLE_MS = 30_000;
/**
 * Sealed bytes sent but not yet receipted, at most: ~0.1 s of a receiver's verified ingest on the bench VM, and
 * more than a 1 Gbit/s link carries in a 0.25 s receipt round trip. 64 MiB was 4% slower in uplink-goodput (9
 * alternated pairs): the first burst queued at the broker took CPU the receiver needed (bench/README.md).
 */
const MAX_UNCONFIRMED_BYTES = 32 * 1024 * 1024;
const AWAY_SINCE = 'uplink.awaySince';
const TICK_MS = 60_000;
const HOUR = 3600_000;
/** Chunk frames kept for reuse: the window's worth in flight and a couple being filled. */
const FRAMES_KEPT = 20;

const bucketFor = (c: UplinkConfig): TokenBucket | undefined =>
  c.maxBytesPerSecond ? new TokenBucket(c.maxBytesPerSecond, Math.max(c.maxBytesPerSecond, maxChunkLength(c.chunkKiB * 1024))) : undefined;

export class Uploader {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private progressed: (() => void) | undefined;
  private unsubscribe: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private bucket: TokenBucket | undefined;
  private readonly frames: Buffer[] = [];
  private lastStatus = 0;
  private statusTimer: NodeJS.Timeout | undefined;
  /** The minute's housekeeping, while it runs: stop() waits for it (it uses the database). */
  private housekeeping: Promise<void> | undefined;

  constructor(private readonly o: UploaderOptions) {
    this.bucket = bucketFor(o.config);
  }

  /**
   * A changed config's live settings (deadline, alarms, retention, chunk size, bandwidth cap, timeouts), from the
   * next chunk or check on. The broker, protocol version and window stay as the link was built (restart keys).
   */
  reconfigure(next: UplinkConfig): void {
    const { broker, protocolVersion, window } = this.o.config;
    this.o.config = { ...next, broker, protocolVersion, window };
    this.bucket = bucketFor(this.o.config);
    this.o.queue.setDeadlineHours(next.deadlineHours);
    this.o.alarms.setHoursBefore(next.alarmHoursBefore);
    this.o.retention.setRetentionHours(next.retentionHours);
    this.poke();
  }

  start(): void {
    this.o.queue.sync();
    // Until the first connection, a vehicle counts as away (it may have been started out of coverage).
    if (this.o.vehicle && this.o.awaySignal !== 'geofence') this.markAway(this.o.now());
    this.unsubscribe = this.o.ledger.onAppend(() => this.poke());
    this.timer = setInterval(() => {
      this.housekeeping = this.tick().catch((err: unknown) => this.o.log.error('upload housekeeping failed', { err: describe(err) }));
    }, TICK_MS);
    this.timer.unref();
    this.loop = this.run();
  }

  /** The link is up: a vehicle away long enough has returned. Then go on sending. */
  connected(): void {
    const since = this.o.vehicle && this.o.awaySignal !== 'geofence' ? kvGet(this.o.db, AWAY_SINCE) : undefined;
    if (since !== undefined) {
      kvDelete(this.o.db, AWAY_SINCE);
      const now = this.o.now();
      if (now - Number(since) >= this.o.config.outOfCoverageMinutes * 60_000) {
        const n = this.o.queue.returned(Number(since), now, 'returned-to-coverage');
        if (n > 0) this.o.log.info('back in coverage: upload deadlines of what was recorded away count from now', { segments: n });
      }
    }
    this.poke();
  }

  disconnected(): void {
    if (this.o.vehicle && this.o.awaySignal !== 'geofence') this.markAway(this.o.now());
  }

  /** The vehicle left its base (geofence). */
  left(atMs: number): void {
    if (this.o.vehicle) this.markAway(atMs);
  }

  /** The vehicle is back at its base (geofence): what it recorded away is due deadlineHours from now. */
  returnedToBase(atMs: number): void {
    const since = kvGet(this.o.db, AWAY_SINCE);
    if (!this.o.vehicle || since === undefined) return;
    kvDelete(this.o.db, AWAY_SINCE);
    const n = this.o.queue.returned(Number(since), atMs, 'returned-to-base');
    if (n > 0) this.o.log.info('back at base: upload deadlines of what was recorded away count from now', { segments: n });
    this.poke();
  }

  private markAway(atMs: number): void {
    if (kvGet(this.o.db, AWAY_SINCE) === undefined) kvSet(this.o.db, AWAY_SINCE, String(atMs));
  }

  /** Something new to send: end an idle wait early. */
  poke(): void {
    this.wake?.();
  }

  /** A receipt moved the queue forward. */
  progress(): void {
    this.progressed?.();
    this.publishStatus(false);
  }

  /** Alarms, retention, status: due every minute and at the start of each cycle. */
  async tick(): Promise<void> {
    const now = this.o.now();
    this.o.queue.sync();
    const raised = this.o.alarms.check(now);
    for (const a of raised) this.o.log.warn('upload deadline alarm', { ...a });
    await this.o.retention.sweep(now);
    this.publishStatus(true);
  }

  status(): object {
    const s = this.o.queue.summary();
    return {
      v: 1,
      device: this.o.deviceId,
      state: 'online',
      at: new Date(this.o.now()).toISOString(),
      queue: { entries: s.entries, files: s.files, bytes: s.bytes },
      nextDeadline: s.nextDeadlineMs === null ? null : new Date(s.nextDeadlineMs).toISOString(),
      alarms: this.o.alarms.standing(),
      ...(this.o.logWatch.standing().length > 0 ? { logAlarms: this.o.logWatch.standing() } : {}),
    };
  }

  /** The status for `recgw status` and the console: the broadcast one, plus whether the broker is reachable. */
  localStatus(): object {
    return { ...this.status(), broker: this.o.config.broker, connected: this.o.link.connected };
  }

  /**
   * At most one status a second; a change inside that second is published at its end, never dropped. None once
   * stopping: receipts still arriving then must not leave a timer that reads the database after it is closed.
   */
  private publishStatus(force: boolean): void {
    if (this.signal.aborted) return;
    const t = Date.now();
    if (!force && t - this.lastStatus < 1000) {
      this.statusTimer ??= setTimeout(() => {
        this.statusTimer = undefined;
        this.publishStatus(true);
      }, 1000 - (t - this.lastStatus));
      return;
    }
    this.lastStatus = t;
    this.o.link.publishStatus(this.o.deviceId, this.status());
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.poke();
    this.progressed?.();
    clearInterval(this.timer);
    clearTimeout(this.statusTimer);
    this.unsubscribe?.();
    await this.loop;
    await this.housekeeping;
    // A clean stop: say so, since the broker sends the last will only when the connection dies.
    this.o.link.publishStatus(this.o.deviceId, { v: 1, device: this.o.deviceId, state: 'offline', at: new Date(this.o.now()).toISOString() });
  }

  private get signal(): AbortSignal {
    return this.abort.signal;
  }

  private async run(): Promise<void> {
    while (!this.signal.aborted) {
      await this.o.link.waitConnected(this.signal);
      if (this.signal.aborted) break;
      const sent = await this.cycle().catch((err: unknown) => {
        this.o.log.error('upload cycle failed; retrying', { err: describe(err) });
        return 'failed' as const;
      });
      if (sent === 'failed') await this.idle(2000);
      else if (!sent) {
        this.frames.length = 0;
        await this.idle(IDLE_MS);
      }
    }
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wake = done;
      if (this.signal.aborted) done();
    });
  }

  /** One hello-send-wait round; true when it sent anything (so another round follows at once). */
  private async cycle(): Promise<boolean> {
    const { queue, link, deviceId, config } = this.o;
    const conn = link.connection;
    await this.tick();
    const files = queue.nextFiles(MAX_HELLO_FILES);
    const state = await this.hello(files);
    if (!state) {
      this.o.log.warn('the receiver did not answer; asking again', { timeoutSeconds: config.answerTimeoutSeconds });
      return link.connected;
    }
    const broken = (): boolean => this.signal.aborted || link.connection !== conn || !link.connected;
    const from = this.resumeSeq(state);
    let sentThrough = await this.sendEntries(from, broken);
    let sentAnything = sentThrough >= from;
    const sentFiles: string[] = [];
    /** Files sent this round and not receipted when last looked at (receipted ones leave: no need to ask again). */
    const sentSizes = new Map<string, number>();
    const unconfirmed = (): number => {
      let n = 0;
      for (const [name, size] of sentSizes) {
        if (queue.file(name)?.receiptSeq === null) n += size;
        else sentSizes.delete(name);
      }
      return n;
    };
    for (const f of files) {
      if (broken()) return true;
      const st = state.files[f.name];
      if (st && 'stored' in st) continue;
      if (queue.file(f.name)?.receiptSeq !== null) continue;
      // End-to-end flow control: the broker acknowledges what it queued, not what the receiver stored. Keep what
      // awaits receipts bounded, so a slow receiver never has more queued at the broker than it can take.
      while (unconfirmed() > MAX_UNCONFIRMED_BYTES && !broken()) {
        if (!(await this.nextProgress())) {
          this.o.log.warn('no receipts while files await them; asking the receiver what it has', { bytes: unconfirmed() });
          return true;
        }
      }
      await this.sendFile(f, st && 'have' in st ? Math.min(st.have, f.size) : 0, broken);
      sentFiles.push(f.name);
      sentSizes.set(f.name, f.size);
      sentAnything = true;
      // New manifests go before the next file (the receiver stores a file only once it has its manifest). Without
      // one, what was written meanwhile (mostly our own receipt.received entries) waits for the end of the round:
      // one entries message per file would cost the receiver an fsync and a signed receipt each.
      if (queue.manifestFrom(sentThrough + 1)) sentThrough = Math.max(sentThrough, await this.sendEntries(sentThrough + 1, broken));
    }
    const last = await this.sendEntries(sentThrough + 1, broken);
    if (last > sentThrough) [sentThrough, sentAnything] = [last, true];
    await link.drain();
    if (!sentAnything) return false;
    this.o.log.debug('sent; waiting for receipts', { deviceId, entriesThrough: sentThrough, files: sentFiles.length });
    await this.waitReceipts(sentThrough, sentFiles, broken);
    return true;
  }

  private async hello(files: QueuedFile[]): Promise<StateMessage | undefined> {
    const id = randomUUID();
    const answer = this.o.inbox.waitState(id, this.o.config.answerTimeoutSeconds * 1000, this.signal);
    const msg = {
      v: 1,
      type: 'hello',
      device: this.o.deviceId,
      id,
      files: files.map((f) => ({ name: f.name, size: f.size, sha256: f.sha256 })),
      log: { size: this.o.logWatch.size() },
    };
    await this.o.link.send(topics.hello(this.o.deviceId), JSON.stringify(msg));
    return answer;
  }

  /** Where entries resume: after what the receiver holds, if that is our own chain; else after our last receipt. */
  private resumeSeq(state: StateMessage): number {
    const ours = this.o.queue.entriesThrough();
    const theirs = state.ledger;
    if (!theirs) return ours + 1;
    const own = this.o.ledger.entry(theirs.seq);
    if (!own || own.hash !== theirs.hash) {
      this.o.log.error('the receiver holds a ledger that differs from ours; resending from our last receipt', { seq: theirs.seq });
      return ours + 1;
    }
    return Math.max(ours, theirs.seq) + 1;
  }

  /** Send entries from `from` to the head; returns the last seq sent (from - 1 when none). */
  private async sendEntries(from: number, broken: () => boolean): Promise<number> {
    const { queue, ledger, link, deviceId, config } = this.o;
    let next = from;
    for (;;) {
      const head = ledger.head();
      if (!head || next > head.seq || broken()) return next - 1;
      const lines = queue.entryLines(next, MAX_ENTRIES_BYTES);
      const firstTime = Date.parse((JSON.parse(lines[0]!.line) as { time: string }).time);
      const msg = { v: 1, type: 'entries', device: deviceId, deadline: new Date(firstTime + config.deadlineHours * HOUR).toISOString(), lines: lines.map((l) => l.line) };
      await link.send(topics.entries(deviceId), JSON.stringify(msg));
      next = lines[lines.length - 1]!.seq + 1;
    }
  }

  private async sendFile(f: QueuedFile, have: number, broken: () => boolean): Promise<void> {
    const { link, deviceId, config } = this.o;
    const chunk = config.chunkKiB * 1024;
    let fh;
    try {
      fh = await open(f.file, 'r');
    } catch (err) {
      // Never expected: files without a receipt are never removed. Say so loudly and go on with the others.
      this.o.log.error('a sealed segment awaiting upload is missing or unreadable', { name: f.name, file: f.file, err: describe(err), missing: isENOENT(err) });
      return;
    }
    try {
      const deadline = new Date(f.deadlineMs).toISOString();
      for (let offset = have, len = 0; offset < f.size && !broken(); offset += len) {
        len = chunkLength(offset, f.size, chunk);
        const buf = this.frameBuffer(4 + MAX_HEADER + len);
        const { frame, body } = chunkFrame({ v: 1, device: deviceId, name: f.name, offset, size: f.size, sha256: f.sha256, deadline }, len, buf);
        const { bytesRead } = await fh.read(body, 0, len, offset);
        if (bytesRead !== len) throw new Error(`sealed segment ${f.name} is shorter than its manifest says (${offset + bytesRead} < ${f.size})`);
        await this.bucket?.take(len, this.signal);
        const { acked } = await link.send(topics.chunk(deviceId), frame);
        // Reused once the broker has it; one a failed publish may still hold is left to the collector.
        void acked.then((ok) => {
          if (ok && this.frames.length < FRAMES_KEPT) this.frames.push(buf);
        });
      }
    } finally {
      await fh.close();
    }
  }

  /**
   * A buffer for one chunk's frame. Frames are reused once acknowledged: a fresh MiB per chunk kept the garbage
   * collector busy (~0.7 ms per MB sent on the bench VM). Dropped when the uploader goes idle.
   */
  private frameBuffer(size: number): Buffer {
    const b = this.frames.pop();
    return b && b.length >= size ? b : Buffer.allocUnsafe(Math.max(size, 4 + MAX_HEADER + maxChunkLength(this.o.config.chunkKiB * 1024)));
  }

  /** Resolves true at the next receipt that moved the queue, false after the answer timeout without one. */
  private nextProgress(): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const t = setTimeout(() => {
        this.progressed = undefined;
        resolve(false);
      }, this.o.config.answerTimeoutSeconds * 1000);
      this.progressed = () => {
        clearTimeout(t);
        this.progressed = undefined;
        resolve(true);
      };
    });
  }

  /** Wait until everything sent is receipted, or receipts stop coming for the answer timeout. */
  private async waitReceipts(entriesThrough: number, files: string[], broken: () => boolean): Promise<void> {
    const { queue } = this.o;
    const pending = (): boolean =>
      queue.entriesThrough() < entriesThrough || files.some((n) => queue.file(n)?.receiptSeq === null);
    while (pending() && !broken()) {
      const moved = await this.nextProgress();
      if (!moved) {
        this.o.log.warn('receipts stopped coming; asking the receiver what it has', { waitingFor: files.filter((n) => queue.file(n)?.receiptSeq === null).length });
        return;
      }
    }
  }
}
