/**
 * Where a receiver keeps things: the evidence store (a folder or a bucket, src/store), where the bytes of files still
 * arriving are (partial-bytes.ts: the working folder's `.partial/` unless given, the bucket for an S3 store) and a
 * local working folder for its own files (receiver.db, locks). A plain path is a folder store that is also the
 * working folder, as receivers have always run (and the tests build them).
 */
import { FolderStore } from '../store/folder-store.js';
import type { EvidenceStore } from '../store/store.js';
import { FolderPartials } from './folder-partials.js';
import type { PartialBytes } from './partial-bytes.js';

export interface StorePlace {
  evidence: EvidenceStore;
  work: string;
  /** The unfinished files' bytes; the working folder's `.partial/` when not given. */
  partials?: PartialBytes;
  /** The store's folder when it is a folder (what superseding a branch still works on directly). */
  folder?: string;
}

export function storePlace(p: string | StorePlace): StorePlace {
  return typeof p === 'string' ? { evidence: new FolderStore(p), work: p, folder: p } : p;
}

/** Where the place keeps unfinished files. */
export function partialsOf(p: StorePlace): PartialBytes {
  return p.partials ?? new FolderPartials(p.work, p.evidence);
}
