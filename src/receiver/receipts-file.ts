/** `<store>/<d>/receipts.jsonl`: every receipt the receiver issued for the device, one canonical JSON per line. */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { encodeReceipt, type Receipt } from '../evidence/receipt.js';

export const RECEIPTS_FILE = 'receipts.jsonl';

export function appendReceipt(deviceDir: string, r: Receipt): void {
  const fd = openSync(join(deviceDir, RECEIPTS_FILE), 'a', 0o644);
  try {
    writeSync(fd, encodeReceipt(r) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
