/** `<store>/<d>/receipts.jsonl`: every receipt the receiver issued for the device, one canonical JSON per line. */
import { join } from 'node:path';
import { encodeReceipt, type Receipt } from '../evidence/receipt.js';
import { appendLineSync } from '../util/fsx.js';

export const RECEIPTS_FILE = 'receipts.jsonl';

export function appendReceipt(deviceDir: string, r: Receipt): void {
  appendLineSync(join(deviceDir, RECEIPTS_FILE), encodeReceipt(r));
}
