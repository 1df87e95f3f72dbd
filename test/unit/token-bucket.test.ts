/** The bandwidth cap's token bucket: it paces, and a stop does not wait out a chunk's time at a low cap. */
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/uplink/token-bucket.js';

describe('the token bucket', () => {
  it('waits for tokens at its rate, and returns at once when the signal aborts', async () => {
    const bucket = new TokenBucket(10_000, 1000);
    await bucket.take(1000);
    let t = performance.now();
    await bucket.take(500);
    // 500 bytes at 10 kB/s: about 50 ms.
    expect(performance.now() - t).toBeGreaterThanOrEqual(45);

    // At 1 kB/s the next 1000 bytes would take a second; the stop comes after 30 ms.
    const slow = new TokenBucket(1000, 1000);
    await slow.take(1000);
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 30);
    t = performance.now();
    await slow.take(1000, stop.signal);
    expect(performance.now() - t).toBeLessThan(500);
  });
});
