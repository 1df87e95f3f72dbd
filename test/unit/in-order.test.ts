/** The receiver's in-order handling: one message at a time, in arrival order, acknowledged at most one ahead. */
import { describe, expect, it } from 'vitest';
import { InOrder } from '../../src/receiver/in-order.js';

/** A handler whose calls finish only when the test says so. */
function gatedHandler(): { handle: (n: number) => Promise<void>; started: number[]; finish: () => void } {
  const started: number[] = [];
  const gates: (() => void)[] = [];
  return {
    started,
    handle: (n) => {
      started.push(n);
      return new Promise<void>((resolve) => gates.push(resolve));
    },
    finish: () => gates.shift()!(),
  };
}
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('InOrder', () => {
  it('handles one at a time in order, and acknowledges a message at most one ahead of its handling', async () => {
    const h = gatedHandler();
    const q = new InOrder(h.handle, 2);
    const acked: number[] = [];
    // As mqtt.js does: the next message is read only once the previous one's callback was called.
    const feed = (n: number): void =>
      q.push(n, () => {
        acked.push(n);
        if (n < 3) feed(n + 1);
      });
    feed(1);
    await turn();
    // 1 is being handled and was acknowledged on arrival; 2 waits, unacknowledged (mqtt.js reads no further).
    expect(h.started).toEqual([1]);
    expect(acked).toEqual([1]);
    expect(() => q.push(9, () => {})).toThrow(/before the previous one was acknowledged/);
    h.finish();
    await turn();
    expect(h.started).toEqual([1, 2]);
    expect(acked).toEqual([1, 2]);
    h.finish();
    await turn();
    h.finish();
    await q.drain();
    expect(h.started).toEqual([1, 2, 3]);
    expect(acked).toEqual([1, 2, 3]);
  });

  it('with depth 1 acknowledges each message only after it was handled', async () => {
    const h = gatedHandler();
    const q = new InOrder(h.handle, 1);
    const acked: number[] = [];
    q.push(1, () => acked.push(1));
    await turn();
    expect(acked).toEqual([]);
    h.finish();
    await q.drain();
    expect(acked).toEqual([1]);
  });
});
