/**
 * Segment manifests, found by name in a device folder's ledger through the store (a folder or a bucket). The ledger
 * is read whole: a bucket holds it as pieces (store/s3-store.ts), read with read().
 */
import type { EvidenceStore } from '../store/store.js';
import { FolderStore } from '../store/folder-store.js';
import { parseLine } from './entry.js';
import { ledgerLines } from './ledger-lines.js';
import { ENTRY, type SegmentManifest } from './types.js';

/** The manifests of `folder`'s ledger ('' : the store's own) that `want` takes, by segment name; empty without a ledger. */
export async function manifestsIn(store: EvidenceStore, folder: string, want: (m: SegmentManifest) => boolean): Promise<Map<string, SegmentManifest>> {
  const out = new Map<string, SegmentManifest>();
  for (const line of await ledgerLines(store, folder)) {
    const p = parseLine(line);
    if (!p.ok || p.entry.type !== ENTRY.segmentSealed) continue;
    const m = p.entry.body as unknown as SegmentManifest;
    // The first sealing of a name stands, as the verifier reads it.
    if (want(m) && !out.has(m.segment)) out.set(m.segment, m);
  }
  return out;
}

/** One segment's manifest in the device folder `deviceDir` (a path); undefined when its ledger has none. */
export async function findManifest(deviceDir: string, segment: string): Promise<SegmentManifest | undefined> {
  return (await manifestsIn(new FolderStore(deviceDir), '', (m) => m.segment === segment)).get(segment);
}
