/**
 * Signature checks of ledger lines, batched to the check pool: the main thread copies each line's signed bytes
 * and signature into a batch and goes on reading; a batch whose answer names a bad signature reports it with the
 * line's number, seq and type. At most the pool's in-flight limit of batches is held, so memory stays bounded.
 * The bytes go through shared memory reused from batch to batch: a buffer handed to a worker thread would be freed
 * only by that worker's garbage collector, which hardly ever runs there, so each batch's copy would pile up.
 */
import type { KeyObject } from 'node:crypto';
import type { CheckKey, CheckPool } from './check-pool.js';

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
  readonly keys: CheckKey[] = [];
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
    this.bytes.set(line.subarray(0, cut), this.used);
    this.bytes[sigAt - 1] = CLOSE_BRACE;
    this.push(key, sigAt, sigAt + sigLen, what);
    return 'added';
  }

  /** Add an SM2 check if it fits: e and r || s as sm2CheckInput made them, the key as hex. */
  addSm2(e: Uint8Array, rs: Uint8Array, key: string, what: SignedLine): 'added' | 'full' {
    if (this.lines.length === BATCH_ITEMS || this.used + e.length + rs.length > this.bytes.length) return 'full';
    const sigAt = this.used + e.length;
    this.bytes.set(e, this.used);
    this.bytes.set(rs, sigAt);
    this.push(key, sigAt, sigAt + rs.length, what);
    return 'added';
  }

  /** Record the item whose message starts at `used` and whose signature is [sigAt, end). */
  private push(key: CheckKey, sigAt: number, end: number, what: SignedLine): void {
    const n = this.lines.length;
    let k = this.keys.indexOf(key);
    if (k < 0) k = this.keys.push(key) - 1;
    this.keyIx[n] = k;
    this.offs[3 * n] = this.used;
    this.offs[3 * n + 1] = sigAt;
    this.used = end;
    this.offs[3 * n + 2] = end;
    this.lines.push(what);
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
    const wait = this.next(cut + 1 + sigText.length);
    if (this.batch!.add(line, cut, sigText, key, what) === 'bad') this.onBad(what);
    return wait;
  }

  /** Queue one SM2 check (Batch.addSm2's arguments); as add, returns a promise to await when the pool has no room. */
  addSm2(e: Uint8Array, rs: Uint8Array, key: string, what: SignedLine): Promise<void> | undefined {
    if (this.batch?.addSm2(e, rs, key, what) === 'added') return undefined;
    const wait = this.next(e.length + rs.length);
    this.batch!.addSm2(e, rs, key, what);
    return wait;
  }

  /** Send the batch being filled and start another with room for `need` bytes. */
  private next(need: number): Promise<void> | undefined {
    const wait = this.flush();
    this.batch = new Batch(need > ARENA_BYTES ? new SharedArrayBuffer(need) : (this.free.pop() ?? new SharedArrayBuffer(ARENA_BYTES)));
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
