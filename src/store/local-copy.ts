/**
 * A store's device folders where the verifier (which reads folders) can check them: a folder store's own, or, for a
 * bucket, a private temporary copy of the devices' folders without their segments, and of the log, removed when
 * `verify` is done; the segments are looked at in the bucket as they stream (verify/store-segments.ts). What is
 * copied is what the store holds (ledgers, receipts, heads, the log: small, and sealed or signed), never anything
 * decrypted, and never a segment.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { LOG_DIR } from '../evidence/log-leaf.js';
import { SEGMENTS_DIR } from '../evidence/head.js';
import type { SegmentSource } from '../verify/file-checks.js';
import { storeSegments } from '../verify/store-segments.js';
import { copyOut } from './copy-out.js';
import { FolderStore } from './folder-store.js';
import type { EvidenceStore } from './store.js';

/**
 * `verify(root, segmentsOf)` with `root/<device>` holding each of `devices` and `root/log` the log; `segmentsOf`
 * (for a bucket) says where a device folder's segments are. A bucket's copy is made in a new folder under `under`.
 */
export async function withVerifiableCopy<T>(
  store: EvidenceStore,
  devices: string[],
  under: string,
  verify: (root: string, segmentsOf?: (deviceDir: string) => SegmentSource) => Promise<T>,
): Promise<T> {
  if (store instanceof FolderStore) return verify(store.location);
  const copy = await mkdtemp(join(under, 'recgw-store-copy-'));
  try {
    for (const d of devices) await copyOut(store, copy, d, (name) => name === `${d}/${SEGMENTS_DIR}/`);
    await copyOut(store, copy, LOG_DIR);
    return await verify(copy, (dir) => storeSegments(store, basename(dir)));
  } finally {
    await rm(copy, { recursive: true, force: true });
  }
}
