/** The GPS clock: synchronised while recent GPS time samples agree with the local clock within maxOffsetMs. */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { GpsClock } from '../../src/hal/clock.js';
import type { GpsTimeSample } from '../../src/hal/gps/gpsd-client.js';

/** A stand-in for the gpsd client's 'time' events, on a monotonic clock the test moves. */
function setup(maxOffsetMs = 500): { clock: GpsClock; gps: EventEmitter; send: (offsetMs: number) => void; advance: (ms: number) => void } {
  let mono = 1_000;
  const gps = new EventEmitter();
  const clock = new GpsClock(gps, { maxOffsetMs, monotonic: () => mono });
  const send = (offsetMs: number): void => {
    const s: GpsTimeSample = { offsetMs, gpsTime: new Date().toISOString(), receivedAt: mono, mode: 3 };
    gps.emit('time', s);
  };
  return { clock, gps, send, advance: (ms) => (mono += ms) };
}

describe('GpsClock', () => {
  it('is unsynchronised (rtc) until GPS time arrives, then synchronised with the offset', async () => {
    const { clock, send, advance } = setup();
    await clock.start();
    expect(clock.state()).toEqual({ source: 'rtc', synced: false });
    for (const o of [-120, -95, -140]) {
      send(o);
      advance(1_000);
    }
    expect(clock.state()).toEqual({ source: 'gps', synced: true, offsetMs: -120 });
    clock.stop();
  });

  it('reports a local clock that disagrees with GPS as gps, unsynchronised, with the offset', async () => {
    const { clock, send, advance } = setup(500);
    await clock.start();
    for (let i = 0; i < 5; i++) {
      send(3_600_000 + i); // an RTC an hour behind
      advance(1_000);
    }
    expect(clock.state()).toEqual({ source: 'gps', synced: false, offsetMs: 3_600_002 });
  });

  it('takes the median: one late NMEA sentence does not flip the state', async () => {
    const { clock, send, advance } = setup(500);
    await clock.start();
    for (const o of [-100, -110, -900, -105, -95]) {
      send(o);
      advance(200);
    }
    expect(clock.state()).toMatchObject({ synced: true, offsetMs: -105 });
  });

  it('forgets samples older than 10 s (no fix, gpsd gone): back to rtc', async () => {
    const { clock, send, advance } = setup();
    await clock.start();
    send(-50);
    advance(9_000);
    expect(clock.state().synced).toBe(true);
    advance(1_500);
    expect(clock.state()).toEqual({ source: 'rtc', synced: false });
  });

  it('follows a corrected clock once new samples outnumber the old', async () => {
    const { clock, send, advance } = setup();
    await clock.start();
    for (let i = 0; i < 5; i++) {
      send(-80);
      advance(1_000);
    }
    // The local clock was stepped 2 s ahead: new samples read -2080. The window (5) turns over in 3 of them.
    for (let i = 0; i < 3; i++) {
      send(-2_080);
      advance(1_000);
    }
    expect(clock.state()).toMatchObject({ synced: false, offsetMs: -2_080 });
  });

  it('stop() unsubscribes and forgets', async () => {
    const { clock, gps, send } = setup();
    await clock.start();
    expect(gps.listenerCount('time')).toBe(1);
    send(0);
    clock.stop();
    expect(gps.listenerCount('time')).toBe(0);
    expect(clock.state().synced).toBe(false);
    await clock.start();
    await clock.start(); // idempotent
    expect(gps.listenerCount('time')).toBe(1);
  });
});
