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
  const summary: ReceiptsSummary = { present: false, lines: 0, accepted: 0, duplicates: 0, malformed: [], invalid: [] };
  let text: string;
  try {
    text = readFileSync(join(dir, RECEIPTS_FILE), 'utf8');
  } catch (err) {
    if (isENOENT(err)) return { summary, items: [] };
    throw err;
  }
  summary.present = true;
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop(); // the newline that ends the last line
  const items = new Map<string, UploadItem>();
  lines.forEach((raw, i) => {
    const line = i + 1;
    summary.lines++;
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
    const bad = rec.device !== deviceId ? `names device ${JSON.stringify(rec.device)}, not ${JSON.stringify(deviceId)}` : caPems && receiptProblem(rec, caPems);
    if (bad) return void summary.invalid.push({ line, problem: bad });
    summary.accepted++;
    const it = toItem(rec);
    const key = `${it.kind}:${it.item}`;
    const seen = items.get(key);
    if (seen) summary.duplicates++;
    // Receipts may repeat (a state message repeats them); the item was stored when it was first stored.
    if (!seen || Date.parse(it.storedAt) < Date.parse(seen.storedAt)) items.set(key, it);
  });
  return { summary, items: [...items.values()] };
}

function toItem(r: Receipt): UploadItem {
  const base = { deviceId: r.device, deadline: r.deadline, storedAt: r.storedAt, lateMs: Date.parse(r.storedAt) - Date.parse(r.deadline), receiver: r.receiver };
  return r.kind === 'segment'
    ? { ...base, kind: 'segment', item: r.name, segment: r.name }
    : { ...base, kind: 'entries', item: `entries through seq ${r.through.seq}`, throughSeq: r.through.seq };
}
