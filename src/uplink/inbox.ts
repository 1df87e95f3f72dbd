/**
 * What the receiver sends the gateway: state answers to hellos, and receipts. Receipts are checked (signature,
 * certificate, and that they state what we hold) before anything is recorded; a bad one is logged and dropped.
 */
import { receiptProblem, type EntriesReceipt, type Receipt, type SegmentReceipt } from '../evidence/receipt.js';
import type { Logger } from '../util/log.js';
import type { UploadQueue } from './queue.js';
import type { LogWatch } from './log-watch.js';
import { decodeState, parseTopic, type StateMessage } from './wire.js';

export interface InboxOptions {
  deviceId: string;
  caPems: string[];
  queue: UploadQueue;
  now: () => number;
  log: Logger;
  /** Told after a receipt moved the queue forward. */
  onProgress: () => void;
  /** The watch on the agency log: receipts must prove their item in it, states move it forward. */
  logWatch: LogWatch;
}

export class Inbox {
  private readonly waiters = new Map<string, (s: StateMessage) => void>();

  constructor(private readonly o: InboxOptions) {}

  /** Wait for the state answering hello `id`; undefined after `timeoutMs` or when `signal` aborts. */
  waitState(id: string, timeoutMs: number, signal: AbortSignal): Promise<StateMessage | undefined> {
    return new Promise((resolve) => {
      const done = (s: StateMessage | undefined): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.waiters.delete(id);
        resolve(s);
      };
      const onAbort = (): void => done(undefined);
      const timer = setTimeout(() => done(undefined), timeoutMs);
      signal.addEventListener('abort', onAbort);
      this.waiters.set(id, done);
    });
  }

  handle(topic: string, payload: Buffer): void {
    const t = parseTopic(topic);
    if (!t || t.device !== this.o.deviceId) return;
    if (t.kind === 'down/state') {
      const d = decodeState(payload, this.o.deviceId);
      if (!d.ok) {
        this.o.log.warn('ignored a bad state message from the receiver', { problem: d.problem });
        return;
      }
      if (d.value.log) this.o.logWatch.state(d.value.log);
      for (const r of d.value.receipts) this.receipt(r);
      this.waiters.get(d.value.re)?.(d.value);
    } else if (t.kind === 'down/receipt') {
      let r: unknown;
      try {
        r = JSON.parse(payload.toString('utf8'));
      } catch {
        this.o.log.warn('ignored a receipt that is not JSON');
        return;
      }
      this.receipt(r);
    }
  }

  /** Check and record one receipt; true when it moved the queue forward. */
  receipt(r: unknown): boolean {
    const problem = receiptProblem(r, this.o.caPems);
    if (problem) {
      this.o.log.warn('refused a receipt', { problem });
      return false;
    }
    const rec = r as Receipt;
    if (rec.device !== this.o.deviceId) {
      this.o.log.warn('refused a receipt for another device', { device: rec.device });
      return false;
    }
    const logProblem = this.o.logWatch.receipt(rec);
    if (logProblem) {
      this.o.log.error('refused a receipt whose agency log proof fails', { problem: logProblem });
      return false;
    }
    const moved = rec.kind === 'segment' ? this.segment(rec) : this.entries(rec);
    if (moved) this.o.onProgress();
    return moved;
  }

  private segment(r: SegmentReceipt): boolean {
    const mismatch = this.o.queue.segmentReceiptMismatch(r);
    if (mismatch) {
      this.o.log.error('refused a segment receipt that does not match what this gateway sealed', { problem: mismatch });
      return false;
    }
    return this.o.queue.acceptSegmentReceipt(r, this.o.now());
  }

  private entries(r: EntriesReceipt): boolean {
    const mismatch = this.o.queue.entriesReceiptMismatch(r);
    if (mismatch) {
      this.o.log.error('refused an entries receipt that does not match this ledger', { problem: mismatch });
      return false;
    }
    return this.o.queue.acceptEntriesReceipt(r);
  }
}
