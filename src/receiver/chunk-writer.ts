/**
 * Writing received chunks into partial files, bypassing the page cache (O_DIRECT) where the file system allows.
 * A receiver writes every byte once and rarely reads it back soon, so caching it only costs: putting fresh pages
 * into the page cache cost 1.2-2.5 ms of kernel CPU per MB on the test VM (bench/README.md, uplink-goodput), the
 * largest part of the receiver's work, and the final fsync then waited for all of it. A direct write costs
 * ~0.2 ms/MB and leaves the fsync little to do.
 *
 * O_DIRECT needs the memory, the file offset and the length aligned to the device's block size: the data is
 * copied into a page-aligned slot (src/util/direct-io.ts), pieces start at aligned offsets
 * (chunks are whole KiB multiples of 16 KiB), and the file's last piece is padded with zeros and the file cut back
 * to its size. Anything unaligned, and file systems that refuse O_DIRECT (tmpfs), are written the ordinary way.
 */
import { closeSync, constants, ftruncateSync, fstatSync, openSync, write, writeSync } from 'node:fs';
import { DIRECT_ALIGN, alignedBuffer, isAligned as aligned, openDirectSync } from '../util/direct-io.js';

const SLOT_BYTES = 4 * 1024 * 1024;

/** fs.write on the thread pool, resolving to the bytes written (FileHandle would cost an object per chunk). */
const writeAt = (fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<number> =>
  new Promise((resolve, reject) => write(fd, buf, off, len, pos, (err, n) => (err ? reject(err) : resolve(n))));

const roundUp = (n: number): number => Math.ceil(n / DIRECT_ALIGN) * DIRECT_ALIGN;

export class ChunkWriter {
  private slot: Buffer | undefined;
  /** The last write queued: writes share the slot, so one runs at a time even when messages are handled side by side. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Cleared for good when the store's file system refuses O_DIRECT. */
  private direct = true;

  /** Whether writes still bypass the page cache (false once the file system refused O_DIRECT). */
  get directIo(): boolean {
    return this.direct;
  }

  /**
   * Write `data` (which starts at file offset `dataOffset`) into `path` for each [from, to) of `pieces`, in a file
   * of `fileSize` bytes. The direct writes go to the thread pool, so the receiver's thread reads the next message
   * meanwhile; one write at a time (there is one slot): a write waits for those queued before it.
   */
  write(path: string, pieces: [number, number][], data: Buffer, dataOffset: number, fileSize: number): Promise<void> {
    const run = this.queue.then(() => this.writeNow(path, pieces, data, dataOffset, fileSize));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async writeNow(path: string, pieces: [number, number][], data: Buffer, dataOffset: number, fileSize: number): Promise<void> {
    const directFd = this.direct ? this.openDirect(path) : undefined;
    // The ordinary descriptor only when a piece needs it (rarely): an open and a close per chunk saved.
    let fd: number | undefined;
    let padded = false;
    try {
      for (const [from, to] of pieces) {
        // Whole blocks, or the file's last piece (padded): directly; the rest (an odd start) the ordinary way.
        if (directFd !== undefined && aligned(from) && (aligned(to) || to === fileSize)) {
          await this.writeDirect(directFd, data, from - dataOffset, to - from, from);
          padded ||= !aligned(to);
        } else {
          fd ??= openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
          let off = from;
          while (off < to) off += writeSync(fd, data, off - dataOffset, to - off, off);
        }
      }
      // The padding of the last block lies past the file's end: cut it off (a later piece never reaches there).
      if (padded && directFd !== undefined && fstatSync(directFd).size > fileSize) ftruncateSync(directFd, fileSize);
    } finally {
      if (fd !== undefined) closeSync(fd);
      if (directFd !== undefined) closeSync(directFd);
    }
  }

  private openDirect(path: string): number | undefined {
    const fd = openDirectSync(path, true);
    if (fd === undefined) this.direct = false;
    return fd;
  }

  private async writeDirect(fd: number, data: Buffer, start: number, len: number, fileOffset: number): Promise<void> {
    const slot = this.slotBuffer();
    let done = 0;
    while (done < len) {
      const n = Math.min(slot.length, len - done);
      data.copy(slot, 0, start + done, start + done + n);
      const out = roundUp(n);
      if (out > n) slot.fill(0, n, out);
      let w = 0;
      while (w < out) w += await writeAt(fd, slot, w, out - w, fileOffset + done + w);
      done += n;
    }
  }

  private slotBuffer(): Buffer {
    this.slot ??= alignedBuffer(SLOT_BYTES);
    return this.slot;
  }
}
