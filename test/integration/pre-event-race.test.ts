/**
 * The pre-event buffer against the timing of the capture sources, made deterministic: a fake capture source under
 * the real SourceSupervisor, Recorder, SessionStore, ledger and sealer reports segments exactly when the test says.
 *
 * A capture source reports a segment a moment after it ends. One that ended just before a session opened but was
 * reported after the buffer was claimed belongs to the session's pre-event footage; it used to go to the buffer and
 * never be claimed. Footage reported after the buffer was discarded (at a service stop) is sealed when a session
 * covers it and deleted otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { startEvidenceCore, type EvidenceCore } from '../../src/app/evidence-core.js';
import { exportDevice } from '../../src/evidence/export.js';
import type { SegmentManifest } from '../../src/evidence/types.js';
import type { CaptureSource, CaptureSourceEvents, Outage, SegmentFile } from '../../src/hal/capture.js';
import { HostClock } from '../../src/hal/clock.js';
import { Recorder } from '../../src/recorder/recorder.js';
import { SessionStore } from '../../src/recorder/session-store.js';
import { StorageGuard } from '../../src/recorder/storage-guard.js';
import { SourceSupervisor } from '../../src/recorder/supervisor.js';
import { silentLogger } from '../../src/util/log.js';
import { verifyStore } from '../../src/verify/verifier.js';

/** A capture source that records nothing by itself: the test hands it the segments it "finishes". */
class FakeSource extends EventEmitter<CaptureSourceEvents> implements CaptureSource {
  readonly id = 'cam1';
  readonly kind = 'camera' as const;
  readonly bitrate = 100_000;
  running = false;
  /** Listed when the run is stopped, as ffmpeg lists its open segment on SIGINT. */
  onStop: SegmentFile | undefined;

  async start(): Promise<void> {
    this.running = true;
    setImmediate(() => this.emit('producing', { sourceId: this.id, runId: 'run', at: new Date() }));
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    if (this.onStop) this.emit('segment', this.onStop);
    this.onStop = undefined;
    this.running = false;
    this.emit('exit', { sourceId: this.id, runId: 'run', code: 0, signal: null, logTail: '', requested: true });
  }

  finish(seg: SegmentFile): void {
    this.emit('segment', seg);
  }

  explain(): Outage {
    return { cause: 'stalled', words: '摄像机停止发送视频', technical: 'fake' };
  }
}

let ca: ReturnType<typeof makeCa>;
beforeAll(() => {
  ca = makeCa();
});
afterAll(cleanupTmp);

interface Rig {
  core: EvidenceCore;
  recorder: Recorder;
  source: FakeSource;
  /** What recoverAll returns on each call from now on (the start's call is made by then). */
  leftovers: SegmentFile[][];
  segment(index: number, start: number, end: number): SegmentFile;
  manifests(): SegmentManifest[];
}

async function rig(deviceId: string): Promise<Rig> {
  const gw = makeGateway(ca.dir, { deviceId });
  const core = await startEvidenceCore(gw.config, silentLogger);
  const source = new FakeSource();
  const leftovers: SegmentFile[][] = [];
  const recording = { segmentSeconds: 2, preEventSeconds: 4, expectedSessionMinutes: 1, minBatteryPercent: 0, sources: [], overlay: { enabled: false, font: '' } };
  const recorder = new Recorder({
    deviceId,
    recording,
    db: core.db,
    ledger: core.ledger,
    sealer: core.sealer,
    store: new SessionStore(core.db, core.ledger),
    supervisors: [new SourceSupervisor({ source, segmentSeconds: 2, recover: async () => [], log: silentLogger })],
    recoverAll: async () => leftovers.shift() ?? [],
    storage: new StorageGuard({ db: core.db, stateDir: gw.config.stateDir, spoolDir: core.dirs.spool, quotaBytes: null, reserveBytes: 0, log: silentLogger }),
    clock: new HostClock(silentLogger, { assumeSynchronised: true }),
    uncleanStart: false,
    log: silentLogger,
  });
  const runDir = join(core.dirs.spool, 'cam1', '20260101T000000000Z');
  mkdirSync(runDir, { recursive: true });
  return {
    core,
    recorder,
    source,
    leftovers,
    segment(index, start, end) {
      const path = join(runDir, `seg-${String(index).padStart(6, '0')}.ts`);
      writeFileSync(path, `footage ${index}`.repeat(100));
      return { sourceId: 'cam1', path, runId: 'run', index, start: new Date(start), end: new Date(end), partial: false };
    },
    manifests() {
      return [...core.ledger.lines()]
        .map((l) => JSON.parse(l.line) as { type: string; body: SegmentManifest })
        .filter((e) => e.type === 'segment.sealed')
        .map((e) => e.body);
    },
  };
}

const officers = [{ name: '赵六', badge: '13010006' }];
const span = (m: SegmentManifest): [number, number] => [Date.parse(m.start), Date.parse(m.end)];

describe('pre-event footage and late reports', () => {
  it('a segment that ended before the session opened but is reported after it is the session\'s pre-event footage', async () => {
    const r = await rig('race-1');
    try {
      await r.recorder.start();
      const t = Date.now();
      const older = r.segment(0, t - 8000, t - 6000); // before the window: discarded at the start
      const buffered = r.segment(1, t - 4000, t - 2000);
      r.source.finish(older);
      r.source.finish(buffered);
      const { session } = await r.recorder.startSession({ matter: 'hearing', caseRef: 'R-1', officers, force: true });
      const opened = Date.parse(session.start);
      expect(opened).toBeGreaterThanOrEqual(t);
      // Ended at t, before the session opened, but reported only now that the buffer has been claimed.
      const late = r.segment(2, t - 2000, t);
      r.source.finish(late);
      const straddling = r.segment(3, t, opened + 300);
      r.source.finish(straddling);
      await r.recorder.stopSession();

      const ms = r.manifests();
      expect(ms.map((m) => [m.seq, span(m), m.preEvent === true])).toEqual([
        [0, [t - 4000, t - 2000], true],
        [1, [t - 2000, t], true],
        [2, [t, opened + 300], false],
      ]);
      // Sealed ones are removed by the sealer, the discarded one by the recorder.
      for (const s of [older, buffered, late, straddling]) expect(existsSync(s.path)).toBe(false);
    } finally {
      await r.recorder.stop();
      await r.core.stop();
    }
  });

  it('footage reported after the buffer was discarded is sealed when a session covers it and deleted otherwise; the ledger verifies', async () => {
    const r = await rig('race-2');
    let stopped = false;
    try {
      await r.recorder.start();
      const t = Date.now();
      const buffered = r.segment(0, t - 2000, t);
      r.source.finish(buffered);
      const { session } = await r.recorder.startSession({ matter: 'hearing', caseRef: 'R-2', officers, force: true });
      const opened = Date.parse(session.start);
      r.source.finish(r.segment(1, t, opened + 100));
      const closed = Date.parse((await r.recorder.stopSession()).end!);
      // Idle again: buffered, then discarded by the stop.
      const idle = r.segment(2, closed + 100, closed + 200);
      r.source.finish(idle);
      // Listed as the source stops, after the session: the buffer is being discarded, so it goes at once.
      const atStop = r.segment(3, closed + 200, closed + 300);
      r.source.onStop = atStop;
      // Left in the spool and found by the stop's tidying: one inside the closed session, one outside it.
      const inside = r.segment(4, closed - 50, closed);
      const outside = r.segment(5, closed + 300, closed + 400);
      r.leftovers.push([inside, outside]);
      await r.recorder.stop();
      stopped = true;

      const ms = r.manifests();
      expect(ms.map((m) => [m.seq, m.preEvent === true])).toEqual([
        [0, true],
        [1, false],
        [2, false],
      ]);
      expect(span(ms[2]!)).toEqual([closed - 50, closed]);
      for (const s of [buffered, idle, atStop, inside, outside]) expect(existsSync(s.path)).toBe(false);

      const out = join(tmp('recgw-race-export-'), 'race-2');
      await exportDevice({ db: r.core.db, ledger: r.core.ledger, signer: r.core.identity.signer, deviceId: 'race-2', outDir: out });
      const report = await verifyStore(out, { caPems: [readFileSync(ca.paths.caCert, 'utf8')] });
      expect(report.findings).toEqual([]);
    } finally {
      if (!stopped) await r.recorder.stop();
      await r.core.stop();
    }
  });
});
