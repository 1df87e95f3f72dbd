/**
 * A device's sealed segments as a store holds them (a bucket), for the verifier run over a local copy of the rest of
 * the device's folder: each looked at as the check pool looks at a file — absent, another size, or its hash — by
 * streaming it from the store, so that no segment is copied to local disk (store/local-copy.ts).
 */
import { createHash } from 'node:crypto';
import { SEGMENTS_DIR } from '../evidence/head.js';
import type { EvidenceStore } from '../store/store.js';
import { describe } from '../util/errors.js';
import type { FileInspection } from './check-pool.js';
import type { SegmentSource } from './file-checks.js';

export function storeSegments(store: EvidenceStore, folder: string): SegmentSource {
  return {
    async inspect(file: string, size: number, alg: 'sha256' | 'sm3'): Promise<FileInspection> {
      const name = `${folder}/${file}`;
      try {
        const have = await store.size(name);
        if (have === undefined) return { state: 'absent' };
        if (have !== size) return { state: 'file', size: have };
        const body = await store.stream(name);
        // Removed between the two requests: as absent as it is now.
        if (!body) return { state: 'absent' };
        const h = createHash(alg);
        let n = 0;
        for await (const c of body as AsyncIterable<Buffer>) {
          h.update(c);
          n += c.length;
        }
        return n === size ? { state: 'file', size, hash: h.digest('hex') } : { state: 'file', size: n };
      } catch (err) {
        // A name no store takes (a manifest's file naming ../…) or a read that failed: unreadable, as a folder's.
        return { state: 'error', error: describe(err) };
      }
    },
    async names(): Promise<string[]> {
      return (await store.list(`${folder}/${SEGMENTS_DIR}`)).filter((n) => !n.endsWith('/'));
    },
  };
}
