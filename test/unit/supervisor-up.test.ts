/**
 * When a stalled source is back (src/recorder/supervisor.ts): the stalled run's own last segment, listed when it is
 * stopped, is footage but not the source coming back, and "up" is never dated before "down". A copied camera once
 * gave an interruption that ended 8 s before it started. The source here is a stand-in (the supervisor only sees
 * the CaptureSource interface); its events are the ones FfmpegSource emits.
 */
import { describe, expect, it, vi } from 'vitest';
import { EventEmitter } from 'node:events';
import type { CaptureSource, CaptureSourceEvents, Outage, SegmentFile } from '../../src/hal/capture.js';
import { SourceSupervisor, type DownEvent, type UpEvent } from '../../src/recorder/supervisor.js';
import { silentLogger } from '../../src/util/log.js';

class Source extends EventEmitter<CaptureSourceEvents> implements CaptureSource {
  readonly id = 'cam1';
  readonly kind = 'camera' as const;
  readonly bitrate = undefined;
  running = false;
  starts = 0;
  async start(): Promise<void> {
    this.running = true;
    this.starts++;
  }
  async stop(): Promise<void> {
    this.running = false;
  }
  explain(p: { stalledSeconds: number } | { damaged: string }): Outage {
    return { cause: 'stalled', words: '摄像机停止发送视频', technical: JSON.stringify(p) };
  }
}

const T = Date.parse('2026-12-06T10:00:00Z');
const seg = (runId: string, index: number, start: number, end: number): SegmentFile => ({
  sourceId: 'cam1', path: `/spool/${runId}/seg-${index}.ts`, runId, index, start: new Date(T + start), end: new Date(T + end), partial: false,
});

describe('a stalled source that comes back', () => {
  it('is up only with a segment of a new run, and never before it went down', async () => {
    const source = new Source();
    let now = T;
    const sup = new SourceSupervisor({ source, segmentSeconds: 1, recover: async () => [], log: silentLogger, now: () => now, backoffMs: { first: 10, max: 10 } });
    const downs: DownEvent[] = [];
    const ups: UpEvent[] = [];
    sup.on('down', (d) => downs.push(d));
    sup.on('up', (u) => ups.push(u));
    sup.start();
    await sup.want(true);
    source.emit('segment', seg('runA', 0, 0, 1000));
    source.emit('segment', seg('runA', 1, 1000, 2000));
    // Nothing for well over twice the segment time: a stall, dated at the end of the last footage.
    now = T + 10_000;
    await new Promise((r) => setTimeout(r, 700));
    expect(downs.map((d) => d.since.getTime() - T)).toEqual([2000]);
    // The stopped run lists its open segment: footage, not the source back.
    source.emit('segment', seg('runA', 2, 2000, 2500));
    expect(ups).toEqual([]);
    // The new run's first segment, placed (say) a little before the outage began: up, at the outage's start at the
    // earliest.
    await new Promise((r) => setTimeout(r, 100));
    source.emit('segment', seg('runB', 0, 1800, 3000));
    expect(ups.map((u) => u.at.getTime() - T)).toEqual([2000]);
    await sup.stop();
  });
});

describe('a source whose segments are listed but still being checked', () => {
  it('is not stalled: a segment ffmpeg listed is progress, however long the gateway takes to look at it', async () => {
    const source = new Source();
    let now = T;
    const sup = new SourceSupervisor({ source, segmentSeconds: 2, recover: async () => [], log: silentLogger, now: () => now, backoffMs: { first: 10, max: 10 } });
    const downs: DownEvent[] = [];
    sup.on('down', (d) => downs.push(d));
    sup.start();
    await sup.want(true);
    // ffmpeg lists a segment every 2 s; the first one's ffprobe takes 6 s on a loaded machine before `segment`.
    for (const at of [2000, 4000, 6000]) {
      now = T + at;
      source.emit('listed', { sourceId: 'cam1', runId: 'runA', at: new Date(now) });
      await new Promise((r) => setTimeout(r, 600));
    }
    expect(downs).toEqual([]);
    expect(source.starts).toBe(1);
    source.emit('segment', seg('runA', 0, 0, 2000));
    // Nothing listed any more: a stall (2 x 2 s and the 1 s slack after the last listing).
    now = T + 11_100;
    await new Promise((r) => setTimeout(r, 600));
    expect(downs).toHaveLength(1);
    await sup.stop();
  });
});

describe('a camera that is slow to start', () => {
  it('is given its stall time from when the run started, not from before its probe', async () => {
    const source = new Source();
    let now = T;
    // The probe before the spawn took 30 s (8 s were seen at a load of 17).
    source.start = async () => {
      now += 30_000;
      source.running = true;
      source.starts++;
    };
    const sup = new SourceSupervisor({ source, segmentSeconds: 2, longestGopSeconds: 10, recover: async () => [], log: silentLogger, now: () => now });
    const downs: DownEvent[] = [];
    sup.on('down', (d) => downs.push(d));
    sup.start();
    await sup.want(true);
    await new Promise((r) => setTimeout(r, 600));
    expect(downs).toEqual([]);
    await sup.stop();
  });
});


describe('a source that keeps failing (a camera switched off for an hour)', () => {
  it('is tried again at least every 5 s, and the journal says so once per outage', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    try {
      const source = new Source();
      const startedAt: number[] = [];
      const start = source.start.bind(source);
      source.start = async () => {
        startedAt.push(Date.now());
        await start();
      };
      const lines: [string, string][] = [];
      const log = { ...silentLogger, debug: (m: string) => void lines.push(['debug', m]), warn: (m: string) => void lines.push(['warn', m]) };
      const sup = new SourceSupervisor({ source, segmentSeconds: 4, recover: async () => [], log, now: () => Date.now() });
      sup.start();
      await sup.want(true);
      const refused: Outage = { cause: 'rtsp-refused', words: '网络摄像机拒绝连接', technical: 'Connection refused' };
      for (let i = 0; i < 15; i++) {
        source.running = false;
        source.emit('exit', { sourceId: 'cam1', runId: `run${i}`, code: 1, signal: null, logTail: '', requested: false, outage: refused });
        const n = startedAt.length;
        for (let waited = 0; startedAt.length === n && waited < 60_000; waited += 100) await vi.advanceTimersByTimeAsync(100);
      }
      const gaps = startedAt.slice(1).map((t, i) => t - startedAt[i]!);
      expect(gaps).toHaveLength(15);
      // Backing off doubles from 200 ms, and stops at 5 s: a camera back on is recording again within 5 s.
      expect(Math.max(...gaps)).toBeLessThanOrEqual(5_100);
      expect(gaps.slice(-5).every((g) => g >= 4_900)).toBe(true);
      expect(lines.filter(([, m]) => m === 'source died; restarting')).toEqual([['warn', 'source died; restarting']]);
      expect(lines.filter(([, m]) => m === 'source still down; retrying')).toHaveLength(14);
      await sup.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});
