/**
 * The evidence store as a folder (a local disk or a shared mount), the layout of docs/evidence-format.md §1. A
 * write-once object is written to a temporary file, fsynced, and linked into place: link(2) fails when the name
 * exists, so two writers never both succeed and a crash leaves either nothing or the whole object. Temporary files
 * are in `<store>/.tmp/`, never beside the evidence: one a crash leaves there is not taken for an object (a stray
 * file in segments/ would be). Append-only files grow in place, fsynced.
 */
import { createReadStream } from 'node:fs';
import { constants, copyFile, link, mkdir, open, readFile, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { RecgwError, isENOENT, isErrno } from '../util/errors.js';
import { fsyncDir } from '../util/fsx.js';
import { checkDir, checkName, type EvidenceStore, type PutResult } from './store.js';
import { sameBytes } from './same-bytes.js';

export class FolderStore implements EvidenceStore {
  readonly location: string;

  constructor(root: string) {
    this.location = resolve(root);
  }

  async putOnce(name: string, data: Buffer | { file: string; md5?: string }): Promise<PutResult> {
    const path = this.path(name);
    await mkdir(dirname(path), { recursive: true });
    const tmp = await this.tmp();
    try {
      if (Buffer.isBuffer(data)) await writeSynced(tmp, data);
      else await linkOrCopy(data.file, tmp);
      try {
        await link(tmp, path);
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw err;
        return await existing(path, tmp);
      }
      await fsyncDir(dirname(path));
      return 'written';
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async replace(name: string, data: Buffer, opts: { view?: boolean } = {}): Promise<void> {
    const path = this.path(name);
    await mkdir(dirname(path), { recursive: true });
    const tmp = await this.tmp();
    await writeSynced(tmp, data, !opts.view);
    await rename(tmp, path);
    if (!opts.view) await fsyncDir(dirname(path));
  }

  async append(name: string, offset: number, data: Buffer): Promise<void> {
    const path = this.path(name);
    await mkdir(dirname(path), { recursive: true });
    const fh = await open(path, 'a+');
    try {
      const { size } = await fh.stat();
      if (size < offset) throw new RecgwError('storage', `${path} holds ${size} bytes, fewer than the ${offset} committed: the store lost data`);
      // Past the committed length: a writer that died before its commit. Cut, so the file is what was committed.
      if (size > offset) await fh.truncate(offset);
      await fh.write(data, 0, data.length, offset);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (offset === 0) await fsyncDir(dirname(path));
  }

  async read(name: string): Promise<Buffer | undefined> {
    return readFile(this.path(name)).catch((err: unknown) => (isENOENT(err) ? undefined : Promise.reject(err)));
  }

  async tail(name: string, bytes: number): Promise<{ size: number; data: Buffer }> {
    const fh = await open(this.path(name), 'r').catch((err: unknown) => (isENOENT(err) ? undefined : Promise.reject(err)));
    if (!fh) return { size: 0, data: Buffer.alloc(0) };
    try {
      const { size } = await fh.stat();
      const n = Math.min(size, bytes);
      const data = Buffer.alloc(n);
      await fh.read(data, 0, n, size - n);
      return { size, data };
    } finally {
      await fh.close();
    }
  }

  async stream(name: string): Promise<Readable | undefined> {
    // Opened here so a missing file is undefined, not a stream that fails later; the stream closes the handle.
    const fh = await open(this.path(name), 'r').catch((err: unknown) => (isENOENT(err) ? undefined : Promise.reject(err)));
    return fh && createReadStream('', { fd: fh, autoClose: true });
  }

  async size(name: string): Promise<number | undefined> {
    return stat(this.path(name)).then(
      (s) => s.size,
      (err: unknown) => (isENOENT(err) ? undefined : Promise.reject(err)),
    );
  }

  async list(dir: string): Promise<string[]> {
    const d = checkDir(dir);
    const entries = await readdir(d === '' ? this.location : this.path(d), { withFileTypes: true }).catch((err: unknown) => (isENOENT(err) ? [] : Promise.reject(err)));
    // Dot names are this store's temporaries and the receiver's own (.partial), never objects.
    return entries
      .filter((e) => !e.name.startsWith('.'))
      .map((e) => (e.isDirectory() ? `${e.name}/` : e.name))
      .sort();
  }

  async remove(name: string): Promise<void> {
    await unlink(this.path(name)).catch((err: unknown) => (isENOENT(err) ? undefined : Promise.reject(err)));
  }

  async removeAll(dir: string): Promise<void> {
    await rm(this.path(checkDir(dir)), { recursive: true, force: true });
  }

  /** A folder's write-once is link(2), which fails when the name exists: it always holds. */
  async checkWriteOnce(): Promise<string | undefined> {
    return undefined;
  }

  async close(): Promise<void> {}

  /** A new temporary name in `<store>/.tmp/` (same file system as the objects, for link and rename). */
  private async tmp(): Promise<string> {
    const dir = join(this.location, '.tmp');
    await mkdir(dir, { recursive: true });
    return join(dir, randomBytes(9).toString('hex'));
  }

  private path(name: string): string {
    return join(this.location, checkName(name));
  }
}

/** The name was there already: the same bytes are a retry of a write that succeeded; others are refused. */
async function existing(path: string, tmp: string): Promise<PutResult> {
  if (await sameBytes(createReadStream(path), createReadStream(tmp))) return 'exists';
  throw new RecgwError('storage', `${path} already holds other bytes; the store writes an object once and never replaces it`);
}

async function writeSynced(path: string, data: Buffer, sync = true): Promise<void> {
  const fh = await open(path, 'wx', 0o644);
  try {
    await fh.writeFile(data);
    if (sync) await fh.sync();
  } finally {
    await fh.close();
  }
}

/** A local file to the temporary name: a hard link when on the same file system (the receiver's partials are). */
async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (err) {
    if (!isErrno(err, 'EXDEV')) throw err;
    await copyFile(from, to, constants.COPYFILE_EXCL);
  }
  const fh = await open(to, 'r');
  await fh.sync().finally(() => fh.close());
}
