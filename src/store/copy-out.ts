/**
 * A store's objects written into a local folder, in the folder layout (append-only files joined): how `recgw verify
 * s3://…` reads a bucket for now, through the store interface, with the folder verifier. It costs the store's size in
 * local disk; a verifier reading the bucket object by object is to come (docs/object-store.md, "Not yet").
 */
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { isAppendOnly, type EvidenceStore } from './store.js';

/**
 * Copy everything under `dir` ('' for all) into `out`, but what `skip` names (an object, or a folder with its
 * trailing `/`); returns the number of objects copied.
 */
export async function copyOut(store: EvidenceStore, out: string, dir = '', skip: (name: string) => boolean = () => false): Promise<number> {
  let n = 0;
  for (const e of await store.list(dir)) {
    const name = dir === '' ? e : `${dir}/${e}`;
    if (skip(name)) continue;
    if (e.endsWith('/')) {
      n += await copyOut(store, out, name.slice(0, -1), skip);
      continue;
    }
    const path = join(out, name);
    await mkdir(dirname(path), { recursive: true });
    if (isAppendOnly(name)) await writeFile(path, (await store.read(name)) ?? Buffer.alloc(0));
    else {
      const body = await store.stream(name);
      // Listed a moment ago and gone now: only a deletion does that; the verifier reports the absence.
      if (!body) continue;
      await pipeline(body, createWriteStream(path));
    }
    n++;
  }
  return n;
}
