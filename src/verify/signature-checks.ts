/**
 * Signature checks of ledger lines, batched to the check pool: the main thread copies each line's signed bytes
 * and signature into a batch and goes on reading; a batch whose answer names a bad signature reports it with the
 * line's number, seq and type. At most the pool's in-flight limit of batches is held, so memory stays bounded.
 * The bytes go through shared memory reused from batch to batch: a buffer handed to a worker thread would be freed
 * only by that worker's garbage collector, which hardly ever runs there, so each batch's copy would pile up.
 */
import type { KeyObject } from 'node:crypto';
import type { CheckPool } from './check-pool.js';

export interface SignedLine {
  lineNo: number;
  seq: number;
  type: string;
}

const BATCH_ITEMS = 256;
const ARENA_BYTES = 1 << 20;
const CLOSE_BRACE = 0x7d;

class Batch {
  readonly lines: SignedLine[] = [];
  readonly keys: KeyObject[] = [];
  readonly keyIx = new Uint16Array(BATCH_ITEMS);
  readonly offs = new Uint32Array(BATCH_ITEMS * 3);
  used = 0;

  readonly bytes: Buffer;

  /** `memory`: shared memory to copy into, reused from batch to batch. */
  constructor(readonly memory: SharedArrayBuffer) {
    this.bytes = Buffer.from(memory);
  }

  /**
   * Add one item if it fits: the signed bytes are `line[0, cut)` and a closing brace, the signature the base64
   * `sigText`, decoded here straight into the batch. 'full' when it does not fit, 'bad' when `sigText` is not
   * base64 spelled exactly as encoded (see decodeBase64Strict; nothing is added then).
   */
  add(line: Uint8Array, cut: number, sigText: string, key: KeyObject, what: SignedLine): 'added' | 'full' | 'bad' {
    const n = this.lines.length;
    if (n === BATCH_ITEMS || this.used + cut + 1 + sigText.length > this.bytes.length) return 'full';
    const sigAt = this.used + cut + 1;
    const sigLen = this.bytes.write(sigText, sigAt, 'base64');
    if (sigLen === 0 || this.bytes.toString('base64', sigAt, sigAt + sigLen) !== sigText) return 'bad';
    let k = this.keys.indexOf(key);
    if (k < 0) k = this.keys.push(key) - 1;
    this.keyIx[n] = k;
    this.offs[3 * n] = this.used;
    this.bytes.set(line.subarray(0, cut), this.used);
    this.bytes[sigAt - 1] = CLOSE_BRACE;
    this.offs[3 * n + 1] = sigAt;
    this.used = sigAt + sigLen;
    this.offs[3 * n + 2] = this.used;
    this.lines.push(what);
    return 'added';
  }
}

export class SignatureChecks {
  private batch: Batch | null = null;
  /** Shared memory of batches answered, to fill again. */
  private readonly free: SharedArrayBuffer[] = [];
  private readonly out = new Set<Promise<void>>();
  private error: Error | null = null;

  constructor(
    private readonly pool: CheckPool,
    private readonly onBad: (line: SignedLine) => void,
  ) {}

  /**
   * Queue one check (the arguments as Batch.add takes them). A signature that is not strict base64 is reported
   * bad at once. Returns a promise to await before adding more when the pool has no room.
   */
  add(line: Uint8Array, cut: number, sigText: string, key: KeyObject, what: SignedLine): Promise<void> | undefined {
    const r = this.batch?.add(line, cut, sigText, key, what) ?? 'full';
    if (r === 'added') return undefined;
    if (r === 'bad') return void this.onBad(what);
    const wait = this.flush();
    const need = cut + 1 + sigText.length;
    this.batch = new Batch(need > ARENA_BYTES ? new SharedArrayBuffer(need) : (this.free.pop() ?? new SharedArrayBuffer(ARENA_BYTES)));
    if (this.batch.add(line, cut, sigText, key, what) === 'bad') this.onBad(what);
    return wait;
  }

  /** Send the batch being filled (`last`: nothing follows); returns a promise when the pool is full. */
  flush(last = false): Promise<void> | undefined {
    const b = this.batch;
    this.batch = null;
    if (!b || b.lines.length === 0) return this.pool.room();
    const n = b.lines.length;
    const p = this.pool
      .verifySignatures(b.keys, b.keyIx.slice(0, n), b.offs.slice(0, 3 * n), new Uint8Array(b.memory, 0, b.used), last)
      .then((ok) => {
        if (b.memory.byteLength === ARENA_BYTES) this.free.push(b.memory);
        for (let i = 0; i < n; i++) if (ok[i] !== 1) this.onBad(b.lines[i]!);
      })
      .catch((err: Error) => void (this.error ??= err))
      .finally(() => this.out.delete(p));
    this.out.add(p);
    return this.pool.room();
  }

  /** Wait for every answer; throws when the pool failed (the verifier cannot vouch for what it did not check). */
  async drain(): Promise<void> {
    await this.flush(true);
    while (this.out.size > 0) await Promise.all([...this.out]);
    if (this.error) throw this.error;
  }
}
