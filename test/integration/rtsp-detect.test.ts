/**
 * Issue 15 item 2 on copied video: a covered lens and a frozen picture (the camera still sending) are each one
 * camera-covered interruption, with the span they lasted, on every profile gst-rtsp-server serves to the gateway
 * (H.264 High with B-frames and a 2 s GOP, Baseline with a 1 s GOP, HEVC with B-frames and a 4 s GOP), and the
 * moving picture around them is none. Copied video was once decoded at its key frames only for the detectors, which
 * read a 2 s GOP as a frozen picture every GOP (rtsp-cameras.test.ts checks moving scenes; this one the events).
 * The picture each camera sends, by the time of its file (every client plays the file from its start): moving, black
 * from COVER to COVER + LASTS, moving, the same picture from FREEZE to FREEZE + LASTS, moving again.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { cleanupTmp, freePort, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { startGateway } from '../helpers/gateway-process.js';
import { entries, exportDevice, sleep, verify } from '../helpers/evidence.js';
import { FPS, cameraMedia, startGstServer, type CameraProfile, type RtspServer } from '../helpers/rtsp-camera.js';

const COVER = 14;
const FREEZE = 24;
const LASTS = 5;
const RECORD = 36;
const PROFILES = {
  high: { name: 'high', video: 'h264', profile: 'high', bFrames: true, gopSeconds: 2, audio: 'aac' },
  base: { name: 'base', video: 'h264', profile: 'baseline', bFrames: false, gopSeconds: 1, audio: null },
  hevc: { name: 'hevc', video: 'hevc', bFrames: true, gopSeconds: 4, audio: null },
} satisfies Record<string, CameraProfile>;
const SCENE = {
  name: `cover${COVER}-freeze${FREEZE}-${LASTS}s`,
  filter: `drawbox=color=black:t=fill:enable='between(t,${COVER},${COVER + LASTS})',split[a][b];[a][b]freezeframes=first=${FREEZE * FPS}:last=${(FREEZE + LASTS) * FPS}:replace=${FREEZE * FPS}`,
};
const officers = [{ name: '张三', badge: '13010001' }];

describe('a covered lens and a frozen picture on copied video', () => {
  const ca = makeCa();
  const servers: RtspServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.stop().catch(() => undefined);
    cleanupTmp();
  });

  it('are one interruption each, with their span, on every profile; the moving picture is none', async () => {
    const media = Object.fromEntries(Object.entries(PROFILES).map(([k, p]) => [k, cameraMedia(p, RECORD + 40, SCENE)]));
    const gst = await startGstServer(await freePort(), media);
    servers.push(gst);
    const sources = Object.keys(PROFILES).map((k) => ({ id: `cam-${k}`, kind: 'camera', driver: 'rtsp', url: gst.url(k) }));
    const p = makeGateway(ca.dir, { config: { time: { source: 'host' }, recording: { segmentSeconds: 2, expectedSessionMinutes: 1, sources } } });
    const gw = await startGateway(p.configPath, p.config.control.socket);
    try {
      await gw.call('session.start', { matter: 'site-inspection', caseRef: 'CAM-2', officers });
      await sleep(RECORD * 1000);
      await gw.call('session.stop');
    } finally {
      expect(await gw.stop()).toBe(0);
    }
    const out = tmp();
    exportDevice(p.configPath, out);
    expect((await verify(out, ca.paths.caCert)).findings).toEqual([]);
    const all = entries(join(out, p.config.deviceId));
    const started = all.filter((e) => e.type === 'interruption.started');
    const endOf = (id: unknown): number => Date.parse(all.find((e) => e.type === 'interruption.ended' && e.body.interruptionId === id)!.body.end as string);
    for (const id of sources.map((s) => s.id)) {
      const mine = started.filter((e) => (e.body.sources as string[] | undefined)?.includes(id));
      const spans = mine.map((e) => ({ reason: e.body.reason, start: Date.parse(e.body.start as string), end: endOf(e.body.interruptionId) }));
      const shown = spans.map((x) => `${x.reason} ${((x.end - x.start) / 1000).toFixed(2)} s`).join(', ');
      // Two, both a covered camera: the black picture, then the frozen one.
      expect(spans.map((x) => x.reason), `${id}: ${shown}`).toEqual(['camera-covered', 'camera-covered']);
      const [black, frozen] = spans as [(typeof spans)[0], (typeof spans)[0]];
      // Each as long as it lasted (the detectors compare two pictures a second), FREEZE - COVER apart.
      for (const x of [black, frozen]) expect(Math.abs(x.end - x.start - LASTS * 1000), `${id}: ${shown}`).toBeLessThan(1200);
      expect(Math.abs(frozen.start - black.start - (FREEZE - COVER) * 1000), `${id}: starts ${black.start} ${frozen.start}`).toBeLessThan(1200);
      // In words for the record. A black picture is frozen too: whichever detector speaks first names it.
      expect(mine[0]!.body.text).toMatch(/^(画面全黑（镜头可能被遮挡）|画面冻结（摄像机仍在发送，但画面不动）)$/);
      expect(mine[1]!.body.text).toBe('画面冻结（摄像机仍在发送，但画面不动）');
    }
  }, 120_000);
});
