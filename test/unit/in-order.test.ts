/** The receiver's in-order handling: one message at a time per key, in arrival order, at most `depth` in hand. */
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

  it('handles keys side by side, each key in order, with at most depth messages in hand', async () => {
    const started: string[] = [];
    const gates = new Map<string, () => void>();
    const q = new InOrder<string>(
      (m) => {
        started.push(m);
        return new Promise<void>((resolve) => gates.set(m, resolve));
      },
      3,
      (m) => m[0]!,
    );
    const acked: string[] = [];
    const feed = ['a1', 'b1', 'a2', 'c1'];
    const next = (): void => {
      const m = feed.shift();
      if (m) q.push(m, () => (acked.push(m), next()));
    };
    next();
    await turn();
    // a and b at once; a2 waits behind a1, in hand but not acknowledged (three are in hand), so c1 is not read.
    expect(started).toEqual(['a1', 'b1']);
    expect(acked).toEqual(['a1', 'b1']);
    gates.get('b1')!();
    await turn();
    // b1 done: a2 is acknowledged, c1 is read and starts although a1 is still in hand; a2 still waits for a1.
    expect(acked).toEqual(['a1', 'b1', 'a2']);
    expect(started).toEqual(['a1', 'b1', 'c1']);
    gates.get('a1')!();
    await turn();
    expect(started).toEqual(['a1', 'b1', 'c1', 'a2']);
    let drained = false;
    const d = q.drain().then(() => (drained = true));
    gates.get('c1')!();
    await turn();
    expect(drained).toBe(false);
    gates.get('a2')!();
    await d;
    expect(drained).toBe(true);
  });
});
