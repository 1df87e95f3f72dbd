/**
 * Folders of a store as local folders, for code that reads only folders (the verifier): a folder store's own, or,
 * for a bucket, a private temporary copy (copy-out.ts) of just those folders, removed when `use` is done. What is
 * copied is what the store holds — sealed segments, ledgers, the log — never anything decrypted.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { copyOut } from './copy-out.js';
import { FolderStore } from './folder-store.js';
import type { EvidenceStore } from './store.js';

/** `use(root)` with `root/<folder>` holding each of `folders`; a bucket's copy is made in a new folder under `under`. */
export async function withLocalFolders<T>(store: EvidenceStore, folders: string[], under: string, use: (root: string) => Promise<T>): Promise<T> {
  if (store instanceof FolderStore) return use(store.location);
  const copy = await mkdtemp(join(under, 'recgw-store-copy-'));
  try {
    for (const f of folders) await copyOut(store, copy, f);
    return await use(copy);
  } finally {
    await rm(copy, { recursive: true, force: true });
  }
}
