import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HealthTracker, parseDetectorLine, type Observation } from '../../src/hal/ffmpeg/health.js';
import { listedStart, parseSegmentLine, parseSegmentList } from '../../src/hal/ffmpeg/segment-list.js';
import { spanFromPackets } from '../../src/hal/ffmpeg/ts-file.js';
import { runIdFor, runIdTime, RUN_ID_RE } from '../../src/hal/ffmpeg/run-dir.js';

describe('parseDetectorLine', () => {
  it('reads the lines ffmpeg 5.1 prints for each detector', () => {
    expect(parseDetectorLine('[Parsed_metadata_1 @ 0x561c37d4b640] lavfi.black_start=0')).toEqual([{ type: 'black', phase: 'start', t: 0, via: 'live' }]);
    expect(parseDetectorLine('[Parsed_metadata_2 @ 0x561c37d4c1c0] lavfi.black_end=3.04')).toEqual([{ type: 'black', phase: 'end', t: 3.04, via: 'live' }]);
    expect(parseDetectorLine('[blackdetect @ 0x561c37d4ae40] black_start:0 black_end:3 black_duration:3')).toEqual([
      { type: 'black', phase: 'start', t: 0, via: 'summary' },
      { type: 'black', phase: 'end', t: 3, via: 'summary' },
    ]);
    expect(parseDetectorLine('[freezedetect @ 0x561c37d4cf40] lavfi.freezedetect.freeze_start: 1.52')).toEqual([{ type: 'freeze', phase: 'start', t: 1.52, via: 'live' }]);
    expect(parseDetectorLine('[freezedetect @ 0x561c37d4cf40] lavfi.freezedetect.freeze_end: 3')).toEqual([{ type: 'freeze', phase: 'end', t: 3, via: 'live' }]);
    expect(parseDetectorLine('[silencedetect @ 0x5566b39517c0] silence_start: 0')).toEqual([{ type: 'silence', phase: 'start', t: 0, via: 'live' }]);
    expect(parseDetectorLine('[silencedetect @ 0x5566b39517c0] silence_end: 4.00002 | silence_duration: 4.00002')).toEqual([{ type: 'silence', phase: 'end', t: 4.00002, via: 'live' }]);
    expect(parseDetectorLine('[silencedetect @ 0x1] silence_start: -0.0213')).toEqual([{ type: 'silence', phase: 'start', t: -0.0213, via: 'live' }]);
  });

  it('ignores everything else, including look-alikes outside a detector', () => {
    for (const line of [
      '[freezedetect @ 0x1] lavfi.freezedetect.freeze_duration: 3',
      '[Parsed_metadata_1 @ 0x1] frame:75   pts:3000000 pts_time:3',
      'silence_start: 5',
      '[rtsp @ 0x1] method DESCRIBE failed: silence_start: 5',
      '[silencedetect @ 0x1] silence_start: nan',
      '[silencedetect @ 0x1] silence_start: 1e999',
      '[blackdetect @ 0x1] black_start:5 black_end:2 black_duration:-3',
      '[segment @ 0x1] Opening \'seg-000001.ts\' for writing',
      '',
      '\u0000\u0001',
    ]) {
      expect(parseDetectorLine(line)).toEqual([]);
    }
  });

  it('never throws, whatever the line', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        const r = parseDetectorLine(s);
        expect(Array.isArray(r)).toBe(true);
        for (const o of r) expect(Number.isFinite(o.t)).toBe(true);
      }),
    );
  });
});

const live = (type: Observation['type'], phase: Observation['phase'], t: number): Observation => ({ type, phase, t, via: 'live' });

describe('HealthTracker', () => {
  it('reports a black start once it has lasted the minimum duration, then its end, once each', () => {
    const h = new HealthTracker(2);
    expect(h.push(live('black', 'start', 10))).toEqual([]);
    expect(h.tick(11.9)).toEqual([]);
    expect(h.tick(12)).toEqual([{ type: 'black', phase: 'start', t: 10 }]);
    expect(h.tick(13)).toEqual([]);
    // blackdetect's summary comes first, then the metadata line of the same end: one end.
    expect(h.push({ type: 'black', phase: 'start', t: 10, via: 'summary' })).toEqual([]);
    expect(h.push({ type: 'black', phase: 'end', t: 14, via: 'summary' })).toEqual([{ type: 'black', phase: 'end', t: 14 }]);
    expect(h.push(live('black', 'end', 14))).toEqual([]);
  });

  it('drops a black shorter than the minimum', () => {
    const h = new HealthTracker(2);
    h.push(live('black', 'start', 5));
    expect(h.push(live('black', 'end', 6.5))).toEqual([]);
    expect(h.tick(100)).toEqual([]);
  });

  it('reports a long black whose end is read before the wall clock passed its minimum', () => {
    const h = new HealthTracker(2);
    h.push(live('black', 'start', 0));
    expect(h.push(live('black', 'end', 3))).toEqual([
      { type: 'black', phase: 'start', t: 0 },
      { type: 'black', phase: 'end', t: 3 },
    ]);
    // The summary line that follows adds nothing.
    expect(h.push({ type: 'black', phase: 'start', t: 0, via: 'summary' })).toEqual([]);
    expect(h.push({ type: 'black', phase: 'end', t: 3, via: 'summary' })).toEqual([]);
  });

  it('a covered lens (black and still): the freeze start waits for the black, which names it', () => {
    const h = new HealthTracker(2);
    expect(h.push(live('black', 'start', 10))).toEqual([]);
    // freezedetect speaks at 12, before the wall clock lets the black be reported.
    expect(h.push(live('freeze', 'start', 10))).toEqual([]);
    expect(h.tick(11.9)).toEqual([]);
    expect(h.tick(12)).toEqual([
      { type: 'black', phase: 'start', t: 10 },
      { type: 'freeze', phase: 'start', t: 10 },
    ]);
    expect(h.push(live('black', 'end', 15))).toEqual([{ type: 'black', phase: 'end', t: 15 }]);
    // The freeze's end waits to see that the picture really moves again.
    expect(h.push(live('freeze', 'end', 15))).toEqual([]);
    expect(h.tick(18)).toEqual([{ type: 'freeze', phase: 'end', t: 15 }]);
  });

  it('a black whose end is read first still comes before the freeze held for it', () => {
    const h = new HealthTracker(2);
    h.push(live('black', 'start', 0));
    expect(h.push(live('freeze', 'start', 0.5))).toEqual([]);
    expect(h.push(live('black', 'end', 3))).toEqual([
      { type: 'black', phase: 'start', t: 0 },
      { type: 'freeze', phase: 'start', t: 0.5 },
      { type: 'black', phase: 'end', t: 3 },
    ]);
  });

  it('a black too short to count gives the held freeze back; so does the freeze ending first', () => {
    const h = new HealthTracker(4);
    h.push(live('black', 'start', 5));
    expect(h.push(live('freeze', 'start', 5))).toEqual([]);
    expect(h.push(live('black', 'end', 8))).toEqual([{ type: 'freeze', phase: 'start', t: 5 }]);
    expect(h.tick(100)).toEqual([]);
    const g = new HealthTracker(4);
    g.push(live('black', 'start', 5));
    g.push(live('freeze', 'start', 5));
    expect(g.push(live('freeze', 'end', 7.5))).toEqual([{ type: 'freeze', phase: 'start', t: 5 }]);
    // The run ended: what is held back comes out.
    expect(g.flush()).toEqual([{ type: 'freeze', phase: 'end', t: 7.5 }]);
    expect(g.flush()).toEqual([]);
  });

  it('a frozen picture re-encoded at a key frame (one changed picture) is one freeze, not two', () => {
    const h = new HealthTracker(2, 2);
    expect(h.push(live('freeze', 'start', 26))).toEqual([{ type: 'freeze', phase: 'start', t: 26 }]);
    expect(h.push(live('freeze', 'end', 28))).toEqual([]);
    expect(h.tick(30.9)).toEqual([]);
    // freezedetect reports the still picture after the key frame 2 s later, from where it began.
    expect(h.push(live('freeze', 'start', 28.5))).toEqual([]);
    expect(h.push(live('freeze', 'end', 31))).toEqual([]);
    expect(h.tick(33.9)).toEqual([]);
    expect(h.tick(34)).toEqual([{ type: 'freeze', phase: 'end', t: 31 }]);
  });

  it('a freeze that starts again later is a new one, after the end of the one before', () => {
    const h = new HealthTracker(2, 2);
    h.push(live('freeze', 'start', 10));
    expect(h.push(live('freeze', 'end', 12))).toEqual([]);
    expect(h.push(live('freeze', 'start', 13.5))).toEqual([
      { type: 'freeze', phase: 'end', t: 12 },
      { type: 'freeze', phase: 'start', t: 13.5 },
    ]);
  });

  it('a picture that froze well before it went black is a frozen picture first', () => {
    const h = new HealthTracker(2);
    h.push(live('black', 'start', 8));
    expect(h.push(live('freeze', 'start', 5))).toEqual([{ type: 'freeze', phase: 'start', t: 5 }]);
    expect(h.tick(10)).toEqual([{ type: 'black', phase: 'start', t: 8 }]);
  });

  it('passes freeze and silence through, once each', () => {
    const h = new HealthTracker();
    expect(h.push(live('freeze', 'start', 1))).toEqual([{ type: 'freeze', phase: 'start', t: 1 }]);
    expect(h.push(live('freeze', 'start', 1))).toEqual([]);
    expect(h.push(live('silence', 'end', 4))).toEqual([{ type: 'silence', phase: 'end', t: 4 }]);
  });
});

describe('segment list', () => {
  it('parses finished lines and keeps the unfinished tail', () => {
    const r = parseSegmentList('seg-000000.ts,0.000000,2.021333\nseg-000001.ts,2.021333,4.021333\nseg-0000');
    expect(r.entries).toEqual([
      { name: 'seg-000000.ts', index: 0, start: 0, end: 2.021333 },
      { name: 'seg-000001.ts', index: 1, start: 2.021333, end: 4.021333 },
    ]);
    expect(r.rest).toBe('seg-0000');
    expect(r.bad).toBe(0);
  });

  it('takes the base name of a listed path and refuses anything else', () => {
    expect(parseSegmentLine('/spool/x/seg-000007.ts,14.0,16.0')).toEqual({ name: 'seg-000007.ts', index: 7, start: 14, end: 16 });
    for (const l of ['seg-000001.ts,2,1', 'other.ts,0,1', 'seg-000001.ts,a,b', 'seg-000001.ts,1', '"seg-000001.ts",0,1', 'seg-000001.ts,0,1,2', 'seg-000001.ts,1e3,2e3']) {
      expect(parseSegmentLine(l)).toBeUndefined();
    }
    const r = parseSegmentList('junk\n\nseg-000000.ts,0,1\n');
    expect(r.entries).toHaveLength(1);
    expect(r.bad).toBe(1);
  });

  it('never throws on garbage', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 500 }), (s) => {
        expect(() => parseSegmentList(s)).not.toThrow();
      }),
    );
  });
});

describe('spanFromPackets', () => {
  it('spans the first packet to the end of the last, whatever the order', () => {
    expect(spanFromPackets('3.400000,0.040000\n3.480000,0.040000\n3.440000,0.040000\n')).toEqual({ first: 3.4, lastStart: 3.48, end: 3.52, packets: 3 });
  });

  it('takes the typical packet distance when packets carry no duration, and skips junk', () => {
    expect(spanFromPackets('1.400000,N/A\n\n1.440000,N/A\nN/A,N/A\n1.480000,N/A\n')).toMatchObject({ first: 1.4, lastStart: 1.48, packets: 3 });
    expect(spanFromPackets('1.400000,N/A\n1.440000,N/A\n1.480000,N/A\n')!.end).toBeCloseTo(1.52, 9);
    expect(spanFromPackets('')).toBeUndefined();
    expect(spanFromPackets('garbage\n')).toBeUndefined();
  });
});

describe('run ids', () => {
  it('sort by time and give their time back', () => {
    const d = new Date('2026-11-22T10:15:00.123Z');
    expect(runIdFor(d)).toBe('20261122T101500123Z');
    expect(RUN_ID_RE.test(runIdFor(d))).toBe(true);
    expect(runIdTime('20261122T101500123Z-1')).toBe(d.getTime());
    expect(runIdTime('nonsense')).toBeUndefined();
    expect(runIdFor(new Date('2026-11-22T10:15:00.124Z')) > runIdFor(d)).toBe(true);
  });
});

describe('listedStart', () => {
  const seg = (index: number, start: number, end: number) => ({ name: `seg-${String(index).padStart(6, '0')}.ts`, index, start, end });
  it('an open GOP: the few frames shown before the key frame that opened a segment are no hole', () => {
    // x265's open GOP as ffmpeg listed it: 3 frames at 25 fps between the end of one and the start of the next.
    expect(listedStart(seg(1, 4.12, 8.12), { index: 0, end: 4.0 })).toBe(4.0);
  });
  it('keeps the listed start for the first segment after another run or a missing line, and for a real jump', () => {
    expect(listedStart(seg(1, 4.12, 8.12), undefined)).toBe(4.12);
    expect(listedStart(seg(3, 4.12, 8.12), { index: 1, end: 4.0 })).toBe(4.12);
    expect(listedStart(seg(1, 9, 11), { index: 0, end: 4.0 })).toBe(9);
    expect(listedStart(seg(1, 3.9, 6), { index: 0, end: 4.0 })).toBe(3.9);
  });
});
