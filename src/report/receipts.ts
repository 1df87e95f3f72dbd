/**
 * A device folder's receipts.jsonl (docs/uplink-protocol.md §4) turned into upload items: one per segment file
 * or entries receipt, each on time or late. A bad line is counted and named by its line number, never fatal.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { receiptProblem, receiptShapeProblem, type Receipt } from '../evidence/receipt.js';
import { isENOENT } from '../util/errors.js';
import type { ReceiptsSummary } from './types.js';

import { RECEIPTS_FILE } from '../evidence/receipt.js';

export interface UploadItem {
  deviceId: string;
  kind: 'segment' | 'entries';
  /** The segment name, or "entries through seq N". */
  item: string;
  /** For segment items: the segment, to find its session. */
  segment?: string;
  /** For entries items: the last entry it covers. */
  throughSeq?: number;
  /** The receiver that stored it. */
  receiver: string;
  /** When it was due: as the receipt states it (the gateway's own deadline), or the rule's once judgeByRule ran. */
  deadline: string;
  /** The gateway's own deadline, kept beside the rule's (deadline-rule.ts). */
  statedDeadline?: string;
  /** The rule's deadline could not be found (no manifest names the segment): `deadline` is the stated one. */
  ruleUnknown?: boolean;
  storedAt: string;
  /** storedAt minus deadline; late when above 0. */
  lateMs: number;
}

export interface DeviceReceipts {
  summary: ReceiptsSummary;
  items: UploadItem[];
}

/** Read and classify the receipts of one device. `caPems` undefined = signatures are not checked. */
export function readReceipts(dir: string, deviceId: string, caPems: string[] | undefined): DeviceReceipts {
  let text: string;
  try {
    text = readFileSync(join(dir, RECEIPTS_FILE), 'utf8');
  } catch (err) {
    if (isENOENT(err)) return ReceiptTally.none();
    throw err;
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop(); // the newline that ends the last line
  const tally = new ReceiptTally(deviceId, caPems);
  for (const raw of lines) tally.line(raw);
  return tally.result();
}

/** A receipts file's lines classified one at a time, as they are read (a file whole, or a store's object streamed). */
export class ReceiptTally {
  private readonly summary: ReceiptsSummary = { present: true, lines: 0, accepted: 0, duplicates: 0, malformed: [], invalid: [] };
  private readonly items = new Map<string, UploadItem>();

  constructor(
    private readonly deviceId: string,
    private readonly caPems: string[] | undefined,
  ) {}

  /** A device without a receipts file. */
  static none(): DeviceReceipts {
    return { summary: { present: false, lines: 0, accepted: 0, duplicates: 0, malformed: [], invalid: [] }, items: [] };
  }

  /** The next line, without its newline. */
  line(raw: string): void {
    const { summary } = this;
    const line = ++summary.lines;
    let r: unknown;
    try {
      r = JSON.parse(raw);
    } catch {
      summary.malformed.push({ line, problem: raw.trim() === '' ? 'empty line' : 'not valid JSON' });
      return;
    }
    const shape = receiptShapeProblem(r);
    if (shape) return void summary.malformed.push({ line, problem: shape });
    const rec = r as Receipt;
    const bad = rec.device !== this.deviceId ? `names device ${JSON.stringify(rec.device)}, not ${JSON.stringify(this.deviceId)}` : this.caPems && receiptProblem(rec, this.caPems);
    if (bad) return void summary.invalid.push({ line, problem: bad });
    summary.accepted++;
    const it = toItem(rec);
    const key = `${it.kind}:${it.item}`;
    const seen = this.items.get(key);
    if (seen) summary.duplicates++;
    // Receipts may repeat (a state message repeats them); the item was stored when it was first stored.
    if (!seen || Date.parse(it.storedAt) < Date.parse(seen.storedAt)) this.items.set(key, it);
  }

  result(): DeviceReceipts {
    return { summary: this.summary, items: [...this.items.values()] };
  }
}

function toItem(r: Receipt): UploadItem {
  const base = { deviceId: r.device, deadline: r.deadline, storedAt: r.storedAt, lateMs: Date.parse(r.storedAt) - Date.parse(r.deadline), receiver: r.receiver };
  return r.kind === 'segment'
    ? { ...base, kind: 'segment', item: r.name, segment: r.name }
    : { ...base, kind: 'entries', item: `entries through seq ${r.through.seq}`, throughSeq: r.through.seq };
}
