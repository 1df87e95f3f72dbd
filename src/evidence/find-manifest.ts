/** A segment's manifest, found by its name in a device folder's ledger (read line by line: ledgers grow large). */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { parseLine } from './entry.js';
import { LEDGER_FILE } from './head.js';
import { ENTRY, type SegmentManifest } from './types.js';

export async function findManifest(deviceDir: string, segment: string): Promise<SegmentManifest | undefined> {
  const rl = createInterface({ input: createReadStream(join(deviceDir, LEDGER_FILE), 'utf8'), crlfDelay: Infinity });
  for await (const line of rl) {
    const p = parseLine(line);
    if (p.ok && p.entry.type === ENTRY.segmentSealed && p.entry.body.segment === segment) {
      rl.close();
      return p.entry.body as unknown as SegmentManifest;
    }
  }
  return undefined;
}
