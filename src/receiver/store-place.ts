/**
 * Where a receiver keeps things: the evidence store (a folder or a bucket, src/store) and a local working folder for
 * its own files (`.partial/` chunks, receiver.db, locks). A plain path is a folder store that is also the working
 * folder, as receivers have always run (and the tests build them).
 */
import { FolderStore } from '../store/folder-store.js';
import type { EvidenceStore } from '../store/store.js';

export interface StorePlace {
  evidence: EvidenceStore;
  work: string;
  /** The store's folder when it is a folder (what superseding a branch still works on directly). */
  folder?: string;
}

export function storePlace(p: string | StorePlace): StorePlace {
  return typeof p === 'string' ? { evidence: new FolderStore(p), work: p, folder: p } : p;
}
