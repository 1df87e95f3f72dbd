/** A device folder's ledger.jsonl read through the store (a folder, or a bucket's pieces put together), as lines. */
import type { EvidenceStore } from '../store/store.js';
import { LEDGER_FILE } from './head.js';

/**
 * Its lines as readline gives them (no `\n`, a `\r` before it dropped); none when there is no ledger. `folder` ''
 * for a store that is the device folder itself.
 */
export async function ledgerLines(store: EvidenceStore, folder: string): Promise<string[]> {
  const ledger = await store.read(folder === '' ? LEDGER_FILE : `${folder}/${LEDGER_FILE}`);
  if (!ledger) return [];
  const lines = ledger.toString('utf8').split('\n');
  // The empty string after the last newline is not a line.
  if (lines.at(-1) === '') lines.pop();
  return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}
