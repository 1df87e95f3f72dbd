/**
 * The blocks a second read of a sealed file may send (src/evidence/plain-blocks.ts): the same bytes in other chunk
 * sizes pass whole; a changed byte stops the stream before any byte of its block (the blocks before it went, as
 * authenticated); a block more or fewer than recorded is refused.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { gateBlocks, recordBlocks } from '../../src/evidence/plain-blocks.js';

const SIZE = 1000;
const data = randomBytes(4500);

const feed = async (sink: { add(c: Buffer): Promise<void> }, bytes: Buffer, step: number): Promise<void> => {
  for (let at = 0; at < bytes.length; at += step) await sink.add(bytes.subarray(at, at + step));
};

const recorded = async (): Promise<Buffer[]> => {
  const r = recordBlocks(SIZE);
  await feed(r, data, 333);
  return r.end();
};

/** Send `bytes` through a gate of the recorded blocks; what got out, and the error if it stopped. */
const through = async (bytes: Buffer, step: number): Promise<{ sent: Buffer; err?: string }> => {
  const out: Buffer[] = [];
  const gate = gateBlocks(await recorded(), async (p) => void out.push(Buffer.from(p)), SIZE);
  try {
    await feed(gate, bytes, step);
    await gate.end();
    return { sent: Buffer.concat(out) };
  } catch (err) {
    return { sent: Buffer.concat(out), err: (err as Error).message };
  }
};

describe('plaintext blocks', () => {
  it('records one digest a block, the last one shorter', async () => {
    expect(await recorded()).toHaveLength(5);
  });

  it('lets the same bytes through whole, in chunks of any size', async () => {
    for (const step of [1, 7, 999, 1000, 1001, 4500]) expect((await through(data, step)).sent.equals(data), `chunks of ${step}`).toBe(true);
  });

  it('stops a changed byte before its block: only the blocks before it go out', async () => {
    const changed = Buffer.from(data);
    changed[2500]! ^= 1;
    const r = await through(changed, 64);
    expect(r.err).toBe('the sealed file changed between the check and the send');
    expect(r.sent.equals(data.subarray(0, 2000))).toBe(true);
  });

  it('refuses a block more or fewer than recorded', async () => {
    const longer = await through(Buffer.concat([data, randomBytes(10)]), 500);
    expect(longer.err).toBe('the sealed file changed between the check and the send');
    expect(longer.sent.equals(data.subarray(0, 4000))).toBe(true);
    const shorter = await through(data.subarray(0, 4000), 500);
    expect(shorter.err).toBe('the sealed file changed between the check and the send');
    expect(shorter.sent.equals(data.subarray(0, 4000))).toBe(true);
  });
});
