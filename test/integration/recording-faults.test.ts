/**
 * Issue 3 acceptance, each against a real `recgw run` with sim sources and real ffmpeg:
 * a declared pause and resume; a source killed mid-session; kill -9 of the gateway and restart; storage filling up.
 * The simulated microphone plays a tone, so nobody is heard stating the reason after a resume (explanation.missing,
 * issue 16.2): the two officers confirm a written statement, as they must, and the session verifies.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { cleanupTmp, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { startGateway } from '../helpers/gateway-process.js';
import { decryptSource, entries, exportDevice, manifests, mediaSeconds, pidsMatching, sleep, verify } from '../helpers/evidence.js';
import type { RecorderStatus, SessionSummary } from '../../src/recorder/recorder.js';

const officers = [
  { name: '张三', badge: '13010001' },
  { name: '李四', badge: '13010002' },
];
const SOURCES = [
  { id: 'cam1', kind: 'camera', driver: 'sim', width: 320, height: 180, fps: 25 },
  { id: 'mic1', kind: 'microphone', driver: 'sim' },
];
/** After the session: nobody spoke after the resume, so the officers confirm a statement (the session lacking one). */
const statement = (gw: { call: (m: 'session.statement', p: Record<string, unknown>) => Promise<unknown> }): Promise<unknown> =>
  gw.call('session.statement', { text: '恢复录制后未口述中断原因，现书面说明。', officers });
const gatewayConfig = (extra: Record<string, unknown> = {}) => ({
  time: { source: 'host', assumeSynchronised: true },
  recording: { segmentSeconds: 2, expectedSessionMinutes: 1, sources: SOURCES, ...extra },
});

describe('interruptions', () => {
  const ca = makeCa();
  afterAll(cleanupTmp);

  it('a declared pause and resume: the gap is explained and the explanation segment is marked', async () => {
    const p = makeGateway(ca.dir, { config: gatewayConfig() });
    const gw = await startGateway(p.configPath, p.config.control.socket);
    try {
      await gw.call('session.start', { matter: 'sampling', caseRef: 'F-1', officers });
      await sleep(5000);
      await gw.call('session.pause', { reason: 'obstruction' });
      await sleep(4000);
      const resumed = await gw.call<SessionSummary>('session.resume');
      expect(resumed.state).toBe('recording');
      await sleep(5000);
      const stopped = await gw.call<SessionSummary>('session.stop');
      expect(stopped.lacksStatement).toBe(true);
      await statement(gw);
    } finally {
      expect(await gw.stop()).toBe(0);
    }
    const out = tmp();
    exportDevice(p.configPath, out);
    const report = await verify(out, ca.paths.caCert, ca.paths.agencyKey);
    expect(report.findings).toEqual([]);
    const s = report.devices[0]!.sessions[0]!;
    expect(s.explanations).toEqual({ heard: 0, missing: 1 });
    expect(s.gaps.length).toBeGreaterThanOrEqual(2);
    for (const g of s.gaps) expect(g).toMatchObject({ explained: true, reason: 'obstruction' });
    const dev = join(out, p.config.deviceId);
    const resumeAt = Date.parse(entries(dev).find((e) => e.type === 'interruption.ended')!.body.end as string);
    for (const src of ['cam1', 'mic1']) {
      const ms = manifests(dev).filter((m) => m.source.id === src);
      const marked = ms.filter((m) => m.explanation);
      expect(marked, src).toHaveLength(1);
      const firstAfter = ms.filter((m) => Date.parse(m.start) >= resumeAt - 1500).sort((a, b) => a.seq - b.seq)[0]!;
      expect(marked[0]!.segment).toBe(firstAfter.segment);
    }
  }, 60_000);

  it('a source killed mid-session: a detected interruption with reason and span, and recording resumes', async () => {
    const p = makeGateway(ca.dir, { config: gatewayConfig() });
    const gw = await startGateway(p.configPath, p.config.control.socket);
    let killedAt: number | undefined;
    let keptLog: string | undefined;
    try {
      await gw.call('session.start', { matter: 'sampling', caseRef: 'F-2', officers });
      await sleep(5000);
      const pids = pidsMatching(join(p.config.stateDir, 'spool', 'cam1'));
      expect(pids.length).toBeGreaterThan(0);
      killedAt = Date.now();
      for (const pid of pids) process.kill(pid, 'SIGKILL');
      await sleep(6000);
      const st = await gw.call<RecorderStatus>('status');
      const cam1 = st.sources.find((s) => s.id === 'cam1')!;
      expect(cam1).toMatchObject({ producing: true, restarts: 1, down: null });
      // Up again, the status still says what happened last, and where ffmpeg's log of the failed run is kept.
      expect(cam1.lastOutage).toMatchObject({ cause: 'killed', words: '录制摄像机的进程被系统终止（SIGKILL）', technical: 'ffmpeg was ended by SIGKILL' });
      keptLog = cam1.lastOutage!.log!;
      expect(keptLog.startsWith(join(p.config.stateDir, 'spool', 'cam1', 'failed-runs') + '/')).toBe(true);
      expect(readFileSync(keptLog, 'utf8')).toContain('testsrc2');
      // The journal says it too, with the same words and the log's place.
      expect(gw.log()).toContain(keptLog);
      await gw.call('session.stop');
      await statement(gw);
    } finally {
      expect(await gw.stop()).toBe(0);
    }
    const out = tmp();
    exportDevice(p.configPath, out);
    const report = await verify(out, ca.paths.caCert);
    expect(report.findings).toEqual([]);
    const dev = join(out, p.config.deviceId);
    const started = entries(dev).filter((e) => e.type === 'interruption.started');
    expect(started).toHaveLength(1);
    // The signed entry says what happened in words, with ffmpeg's status beside them; not the log's place.
    expect(started[0]!.body).toMatchObject({ reason: 'device-fault', origin: 'detected', sources: ['cam1'], text: '录制摄像机的进程被系统终止（SIGKILL）', cause: 'killed', technical: 'ffmpeg was ended by SIGKILL' });
    expect(JSON.stringify(started[0]!.body)).not.toContain(keptLog!);
    const span = { start: Date.parse(started[0]!.body.start as string), end: Date.parse(entries(dev).find((e) => e.type === 'interruption.ended')!.body.end as string) };
    expect(Math.abs(span.start - killedAt!)).toBeLessThan(1500);
    expect(span.end - span.start).toBeGreaterThan(0);
    expect(span.end - span.start).toBeLessThan(4000);
    const cam = manifests(dev).filter((m) => m.source.id === 'cam1');
    expect(cam.some((m) => Date.parse(m.start) > span.end - 100)).toBe(true);
    expect(report.devices[0]!.sessions[0]!.gaps.every((g) => g.explained && g.source === 'cam1')).toBe(true);
  }, 60_000);

  it('kill -9 of the gateway mid-session: restart resumes within 3 s, at most 1 s lost per source, explained as power loss', async () => {
    const p = makeGateway(ca.dir, { config: gatewayConfig() });
    let gw = await startGateway(p.configPath, p.config.control.socket);
    await gw.call('session.start', { matter: 'seizure', caseRef: 'F-3', officers });
    await sleep(5000);
    await gw.kill9();
    await sleep(1500);
    const restartAt = Date.now();
    gw = await startGateway(p.configPath, p.config.control.socket);
    let resumedWithin = Infinity;
    for (;;) {
      const st = await gw.call<RecorderStatus>('status');
      if (st.sources.every((s) => s.producing)) {
        resumedWithin = Date.now() - restartAt;
        break;
      }
      if (Date.now() - restartAt > 10_000) break;
      await sleep(100);
    }
    await sleep(5000);
    const session = await gw.call<SessionSummary>('session.stop');
    await statement(gw);
    expect(await gw.stop()).toBe(0);
    expect(resumedWithin).toBeLessThan(3000 + 1000 /* node start-up of the test's own spawn */);

    const out = tmp();
    exportDevice(p.configPath, out);
    const report = await verify(out, ca.paths.caCert, ca.paths.agencyKey);
    expect(report.findings).toEqual([]);
    const dev = join(out, p.config.deviceId);
    expect(entries(dev).find((e) => e.type === 'interruption.started')!.body).toMatchObject({ reason: 'power-loss', origin: 'detected' });
    expect(entries(dev).filter((e) => e.type === 'service.started').map((e) => e.body.previousStop)).toEqual(['clean', 'unclean']);
    const wall = (Date.parse(session.end!) - Date.parse(session.start)) / 1000;
    for (const src of SOURCES) {
      const ms = manifests(dev).filter((m) => m.source.id === src.id).sort((a, b) => a.seq - b.seq);
      const worst = Math.max(...ms.slice(1).map((m, i) => (Date.parse(m.start) - Date.parse(ms[i]!.end)) / 1000));
      expect(worst, `${src.id}: largest gap between segments`).toBeLessThanOrEqual(1.0);
      const files = await decryptSource(dev, src.id, ca.paths.agencyKey, join(out, 'plain', src.id));
      const covered = files.reduce((sum, f) => sum + mediaSeconds(f, src.kind as 'camera' | 'microphone'), 0);
      expect(wall - covered, `${src.id}: ${covered.toFixed(2)} s of ${wall.toFixed(2)} s`).toBeLessThanOrEqual(1.0);
    }
  }, 60_000);

  it('storage filling up stops recording with a storage-full interruption, and nothing sealed is damaged', async () => {
    const p = makeGateway(ca.dir, {
      config: gatewayConfig({ storageQuotaMB: 3, sources: [{ id: 'cam1', kind: 'camera', driver: 'sim', width: 640, height: 360, fps: 25, bitrateKbps: 4000 }] }),
    });
    const gw = await startGateway(p.configPath, p.config.control.socket);
    try {
      const r = await gw.call<{ forced: { check: string }[] }>('session.start', { matter: 'sampling', caseRef: 'F-4', officers, force: true });
      expect(r.forced.map((c) => c.check)).toContain('storage');
      const t0 = Date.now();
      let st: RecorderStatus;
      do {
        await sleep(500);
        st = await gw.call<RecorderStatus>('status');
      } while (!st.storage.full && Date.now() - t0 < 40_000);
      expect(st.storage.full).toBe(true);
      await sleep(1000);
      st = await gw.call<RecorderStatus>('status');
      expect(st.sources[0]).toMatchObject({ running: false });
      expect(st.session!.interruptions).toEqual([expect.objectContaining({ reason: 'storage-full', origin: 'detected', end: null })]);
      const closed = await gw.call<SessionSummary>('session.stop');
      expect(closed).toMatchObject({ closedBy: 'terminated', lacksStatement: true });
      await gw.call('session.statement', { text: '存储空间已满，录像中断，无法继续。', officers });
    } finally {
      expect(await gw.stop()).toBe(0);
    }
    const out = tmp();
    exportDevice(p.configPath, out);
    const report = await verify(out, ca.paths.caCert, ca.paths.agencyKey);
    expect(report.findings).toEqual([]);
    expect(report.devices[0]!.segments).toBeGreaterThan(0);
  }, 90_000);
});
