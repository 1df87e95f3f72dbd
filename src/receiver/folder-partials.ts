/**
 * A receiver's unfinished files in its working folder: `<work>/.partial/<device>/<name>.seg`, each chunk written at
 * its offset (chunk-writer.ts), fsynced and written once into the store when whole and checked. The folder is this
 * host's: receivers sharing it must share the host, or a file system.
 */
import { closeSync, createReadStream, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, rmSync, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { join } from 'node:path';
import { sealedFileName } from '../evidence/sealer.js';
import type { EvidenceStore } from '../store/store.js';
import { ChunkWriter } from './chunk-writer.js';
import type { PartialBytes, ReadyFile } from './partial-bytes.js';
import { partialDir } from './store-db.js';

const SUFFIX = sealedFileName('');

export class FolderPartials implements PartialBytes {
  private readonly writer = new ChunkWriter();

  constructor(
    private readonly work: string,
    private readonly evidence: EvidenceStore,
  ) {}

  async write(device: string, name: string, pieces: [number, number][], data: Buffer, dataOffset: number, size: number): Promise<void> {
    mkdirSync(partialDir(this.work, device), { recursive: true });
    await this.writer.write(this.path(device, name), pieces, data, dataOffset, size);
  }

  async written(): Promise<void> {}

  async ready(device: string, name: string, _size: number, stored: string): Promise<ReadyFile> {
    const path = this.path(device, name);
    // Put into the store by a receiver that stopped before recording it (and removing the partial file): checked
    // from there, nothing more to put. Asked only without a partial file: the store may be a bucket.
    if (!existsSync(path) && (await this.evidence.size(stored)) !== undefined) {
      return { read: async () => (await this.evidence.stream(stored))!, trustRunning: false, inStore: true, store: async () => {} };
    }
    return {
      read: async (): Promise<Readable> => createReadStream(path, { highWaterMark: 1 << 20 }),
      trustRunning: true,
      inStore: false,
      store: async (md5) => {
        const fd = openSync(path, 'r+');
        try {
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        // Written once: the same bytes already there (a retry after a crash) are fine, other bytes refuse.
        await this.evidence.putOnce(stored, { file: path, ...(md5 ? { md5 } : {}) });
      },
    };
  }

  async remove(_q: unknown, device: string, name: string): Promise<void> {
    rmSync(this.path(device, name), { force: true });
  }

  done(q: unknown, device: string, name: string): Promise<void> {
    return this.remove(q, device, name);
  }

  async lastWritten(device: string, name: string): Promise<number | undefined> {
    try {
      return statSync(this.path(device, name)).mtimeMs;
    } catch {
      return undefined;
    }
  }

  async held(): Promise<{ device: string; name: string }[]> {
    const root = join(this.work, '.partial');
    return listDir(root).flatMap((device) =>
      listDir(join(root, device))
        .filter((f) => f.endsWith(SUFFIX))
        .map((f) => ({ device, name: f.slice(0, -SUFFIX.length) })),
    );
  }

  async close(): Promise<void> {}

  private path(device: string, name: string): string {
    return join(partialDir(this.work, device), sealedFileName(name));
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
