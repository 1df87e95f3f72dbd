/**
 * A segment's plaintext in blocks of a fixed size, each with its SHA-256: what lets a second read of a sealed file
 * send only bytes the first read authenticated. The first read (whose tag and plaintext hash were checked) records
 * each block's digest (32 bytes a block); the second holds one block at a time and lets it through only when its
 * digest is the one recorded, so an object changed between the two reads is stopped before its first changed block.
 */
import { createHash } from 'node:crypto';

/** Plaintext held per block: what the second read costs in memory, per segment being sent. */
export const PLAIN_BLOCK = 1 << 20;

type Block = (parts: Buffer[], digest: Buffer) => Promise<void> | void;

/** Chunks of any size cut into blocks of `size` bytes (the last may be shorter), each given whole to `block`. */
class Blocks {
  private parts: Buffer[] = [];
  private held = 0;
  private h = createHash('sha256');

  constructor(
    private readonly size: number,
    private readonly block: Block,
  ) {}

  async add(chunk: Buffer): Promise<void> {
    let rest = chunk;
    while (rest.length > 0) {
      const n = Math.min(rest.length, this.size - this.held);
      const part = rest.subarray(0, n);
      this.parts.push(part);
      this.h.update(part);
      this.held += n;
      rest = rest.subarray(n);
      if (this.held === this.size) await this.flush();
    }
  }

  async end(): Promise<void> {
    if (this.held > 0) await this.flush();
  }

  private async flush(): Promise<void> {
    const parts = this.parts;
    const digest = this.h.digest();
    this.parts = [];
    this.held = 0;
    this.h = createHash('sha256');
    await this.block(parts, digest);
  }
}

/** The first read: each block's digest, in order. */
export function recordBlocks(size = PLAIN_BLOCK): { add(chunk: Buffer): Promise<void>; end(): Promise<Buffer[]> } {
  const digests: Buffer[] = [];
  const b = new Blocks(size, (_parts, digest) => void digests.push(digest));
  return { add: (c) => b.add(c), end: async () => (await b.end(), digests) };
}

/**
 * The second read: each block sent (part by part) once its digest is the recorded one; a block that differs, or one
 * more or fewer than recorded, throws before any of it is sent.
 */
export function gateBlocks(recorded: Buffer[], send: (part: Buffer) => Promise<void>, size = PLAIN_BLOCK): { add(chunk: Buffer): Promise<void>; end(): Promise<void> } {
  let i = 0;
  const changed = (): Error => new Error('the sealed file changed between the check and the send');
  const b = new Blocks(size, async (parts, digest) => {
    const want = recorded[i++];
    if (!want || !want.equals(digest)) throw changed();
    for (const p of parts) await send(p);
  });
  return {
    add: (c) => b.add(c),
    end: async () => {
      await b.end();
      if (i !== recorded.length) throw changed();
    },
  };
}
