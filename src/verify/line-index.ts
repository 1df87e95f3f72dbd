/**
 * Where earlier ledger lines are, found by a name, in typed arrays (21 bytes a slot, at most 80% of slots used),
 * so the verifier can look back at a manifest or a receipt without holding them: the caller reads the line again.
 * Names are kept as 64-bit digests (SipHash-2-4 under a key drawn per run, so nobody can choose names that collide);
 * a caller that must be exact confirms a candidate on the line it reads again, so a collision costs a read, never
 * a wrong answer. Open addressing with linear probing; a name may be added more than once.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { sipHash24, sipKey } from '../util/siphash.js';

export interface LineRef {
  offset: number;
  length: number;
}

export class LineIndex {
  private readonly key = sipKey(randomBytes(16));
  private lastName: string | undefined;
  private readonly lastDigest: [number, number] = [0, 0];
  private cap = 1024;
  private count = 0;
  private hi = new Uint32Array(this.cap);
  private lo = new Uint32Array(this.cap);
  private off: Float64Array | Uint32Array;
  private len: Uint32Array;
  /** 0 = free; bit 1 = used; the other bits are the caller's marks. */
  private flags = new Uint8Array(this.cap);

  /**
   * `refs`: where each line is (21 bytes a slot); 'line-numbers': only an offset below 2^32, such as a line number,
   * and no length (13 bytes); 'names': a set of names only (9 bytes), add() then takes no line.
   */
  constructor(private readonly kind: 'refs' | 'line-numbers' | 'names' = 'refs') {
    this.off = this.offsets(this.cap);
    this.len = new Uint32Array(kind === 'refs' ? this.cap : 0);
  }

  private offsets(n: number): Float64Array | Uint32Array {
    return this.kind === 'refs' ? new Float64Array(n) : new Uint32Array(this.kind === 'line-numbers' ? n : 0);
  }

  get size(): number {
    return this.count;
  }

  /** `marks`: the caller's bits (above bit 1) for the new slot. */
  add(name: string, ref: LineRef = { offset: 0, length: 0 }, marks = 0): void {
    if ((this.count + 1) * 5 > this.cap * 4) this.grow();
    const [h, l] = this.digest(name);
    this.put(h, l, ref.offset, ref.length, 1 | marks);
  }

  /** Whether some line was added under this name (by digest only: a collision answers true, with odds 2^-64). */
  has(name: string): boolean {
    for (const _ of this.slots(name)) return true;
    return false;
  }

  /** The lines added under this name (and any whose digest collides), in slot order, with their slot numbers. */
  *candidates(name: string): Generator<LineRef & { slot: number; marks: number }> {
    for (const slot of this.slots(name)) yield { slot, offset: this.off[slot] ?? 0, length: this.len[slot] ?? 0, marks: this.flags[slot]! & ~1 };
  }

  mark(slot: number, bit: number): void {
    this.flags[slot]! |= bit;
  }

  private *slots(name: string): Generator<number> {
    const [h, l] = this.digest(name);
    const mask = this.cap - 1;
    for (let i = l & mask; this.flags[i] !== 0; i = (i + 1) & mask) {
      if (this.hi[i] === h && this.lo[i] === l) yield i;
    }
  }

  private digest(name: string): [number, number] {
    // A look-up is often followed by an add of the same name: hash it once.
    if (name === this.lastName) return this.lastDigest;
    this.lastName = name;
    return sipHash24(this.key, name, this.lastDigest);
  }

  private put(h: number, l: number, offset: number, length: number, flags: number): void {
    const mask = this.cap - 1;
    let i = l & mask;
    while (this.flags[i] !== 0) i = (i + 1) & mask;
    this.hi[i] = h;
    this.lo[i] = l;
    if (this.kind !== 'names') this.off[i] = offset;
    if (this.kind === 'refs') this.len[i] = length;
    this.flags[i] = flags;
    this.count++;
  }

  private grow(): void {
    const { hi, lo, off, len, flags } = this;
    this.cap *= 2;
    this.hi = new Uint32Array(this.cap);
    this.lo = new Uint32Array(this.cap);
    this.off = this.offsets(this.cap);
    this.len = new Uint32Array(this.kind === 'refs' ? this.cap : 0);
    this.flags = new Uint8Array(this.cap);
    this.count = 0;
    for (let i = 0; i < flags.length; i++) if (flags[i] !== 0) this.put(hi[i]!, lo[i]!, off[i] ?? 0, len[i] ?? 0, flags[i]!);
  }
}

/** Reads lines of one file again by offset and length (synchronously: it is rare and the page cache has them). */
export class LineReader {
  private fd = -1;

  constructor(private readonly path: string) {}

  read(ref: LineRef): string {
    if (this.fd < 0) this.fd = openSync(this.path, 'r');
    const buf = Buffer.allocUnsafe(ref.length);
    let got = 0;
    while (got < ref.length) {
      const n = readSync(this.fd, buf, got, ref.length - got, ref.offset + got);
      if (n === 0) break;
      got += n;
    }
    return buf.toString('utf8', 0, got);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
