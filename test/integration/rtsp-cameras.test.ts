/**
 * Issue 15 items 1, 2 and 6: cameras as they ship, served by third-party RTSP servers this test starts, recorded by a
 * real `recgw run` without re-encoding. One gateway records every profile at once:
 * - gst-rtsp-server with digest authentication: H.264 High with B-frames and a 2 s GOP (AAC, copied), H.264
 *   Baseline with a 1 s GOP (G.711 A-law, transcoded), HEVC with B-frames and a 4 s GOP (G.711 mu-law, transcoded);
 * - VLC, RTP over UDP only: H.264 Main without B-frames, a 10 s GOP (longer than the 2 s segments);
 * - a second gst-rtsp-server that is killed for 10 s (a camera losing power);
 * - sim microphones: a quiet room (pink noise at -60 and -70 dBFS, no speech at all) and one that goes dead
 *   (all-zero samples) 20 s into its run.
 * It checks with the verifier and with ffprobe of the decrypted segments: frames cover >= 99.5 % of each
 * camera's span, every segment starts on a key frame and follows the one before, no interruption is detected on
 * the moving scenes or in the quiet room, the killed camera gives exactly one interruption spanning its outage,
 * and the dead microphone one from when it died. RECGW_CAMERA_SECONDS sets the recording time (default 26;
 * `npm run test:cameras` records 60 s).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, freePort, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { startGateway } from '../helpers/gateway-process.js';
import { decryptSource, entries, exportDevice, manifests, mediaSeconds, sleep, verify } from '../helpers/evidence.js';
import { FPS, cameraMedia, startGstServer, startVlc, type CameraProfile, type RtspServer } from '../helpers/rtsp-camera.js';
import type { SessionSummary } from '../../src/recorder/recorder.js';

const SECONDS = Number(process.env.RECGW_CAMERA_SECONDS ?? 26);
/** The files outlast the recording: each client (and a restarted server) plays from the start. */
const MEDIA_SECONDS = SECONDS + 30;
const KILL_AT = 3;
const KILL_FOR = 10;
/** Seconds into its run the dead microphone dies: after the session opened (it may wait up to 16 s for the 10 s
 * GOP camera's first key frame) and before it closes. */
const DEAD_AT = 20;
const AUTH = { user: 'installer', password: 'pa:ss@w0rd' };

const PROFILES = {
  high: { name: 'high', video: 'h264', profile: 'high', bFrames: true, gopSeconds: 2, audio: 'aac' },
  base: { name: 'base', video: 'h264', profile: 'baseline', bFrames: false, gopSeconds: 1, audio: 'pcm_alaw' },
  hevc: { name: 'hevc', video: 'hevc', bFrames: true, gopSeconds: 4, audio: 'pcm_mulaw' },
  main10: { name: 'main10', video: 'h264', profile: 'main', bFrames: false, gopSeconds: 10, audio: 'aac' },
  lost: { name: 'lost', video: 'h264', profile: 'high', bFrames: true, gopSeconds: 2, audio: null },
} satisfies Record<string, CameraProfile>;

/** Pink noise at `dbfs` RMS: anoisesrc's pink at amplitude 0.00512 measures -60.0 dBFS RMS (astats, 60 s). */
const pink = (dbfs: number): string => `anoisesrc=color=pink:amplitude=${(0.00512 * 10 ** ((dbfs + 60) / 20)).toFixed(6)}:sample_rate=48000:seed=7`;

const officers = [
  { name: '张三', badge: '13010001' },
  { name: '李四', badge: '13010002' },
];

describe('IP cameras as they ship, through real RTSP servers', () => {
  const ca = makeCa();
  const servers: RtspServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.stop().catch(() => undefined);
    cleanupTmp();
  });

  it(`records every profile for ${SECONDS} s without a false interruption; a lost camera and a dead microphone each give one`, async () => {
    const media = Object.fromEntries(Object.entries(PROFILES).map(([k, p]) => [k, cameraMedia(p, MEDIA_SECONDS)])) as Record<keyof typeof PROFILES, string>;
    const gst = await startGstServer(await freePort(), { high: media.high, base: media.base, hevc: media.hevc }, AUTH);
    servers.push(gst);
    const lostServer = await startGstServer(await freePort(), { lost: media.lost });
    servers.push(lostServer);
    // VLC plays its file from when it starts, not from when a client connects: a file that outlasts a slow start
    // of everything else.
    const vlc = await startVlc(await freePort(), cameraMedia(PROFILES.main10, MEDIA_SECONDS + 90));
    servers.push(vlc);

    const cams = {
      'cam-high': { url: gst.url('high'), profile: PROFILES.high },
      'cam-base': { url: gst.url('base'), profile: PROFILES.base },
      'cam-hevc': { url: gst.url('hevc'), profile: PROFILES.hevc },
      'cam-udp': { url: vlc.url('x'), profile: PROFILES.main10, transport: 'udp' },
      'cam-lost': { url: lostServer.url('lost'), profile: PROFILES.lost },
    } as const;
    const mics = {
      'mic-quiet': pink(-60),
      'mic-quieter': pink(-70),
      'mic-dead': `${pink(-60)},volume=volume=0:enable='gte(t,${DEAD_AT})'`,
    };
    const sources = [
      ...Object.entries(cams).map(([id, c]) => ({ id, kind: 'camera', driver: 'rtsp', url: c.url, ...('transport' in c ? { transport: c.transport } : {}) })),
      ...Object.entries(mics).map(([id, simFilter]) => ({ id, kind: 'microphone', driver: 'sim', simFilter })),
    ];
    const p = makeGateway(ca.dir, { config: { time: { source: 'host' }, recording: { segmentSeconds: 2, expectedSessionMinutes: 1, sources } } });
    const gw = await startGateway(p.configPath, p.config.control.socket);
    let killedAt: number;
    let backAt: number;
    try {
      const started = await gw.call<{ session: SessionSummary }>('session.start', { matter: 'site-inspection', caseRef: 'CAM-1', officers });
      const t0 = Date.parse(started.session.start);
      await sleep(t0 + KILL_AT * 1000 - Date.now());
      killedAt = Date.now();
      await lostServer.kill();
      await sleep(killedAt + KILL_FOR * 1000 - Date.now());
      await lostServer.start();
      backAt = Date.now();
      await sleep(t0 + SECONDS * 1000 - Date.now());
      await gw.call('session.stop');
      // Nobody spoke after the camera came back (the microphones hear a quiet room and nothing): a statement (issue 16.2).
      await gw.call('session.statement', { text: '网络摄像机断线后恢复，未口述原因，现书面说明。', officers });
    } finally {
      expect(await gw.stop()).toBe(0);
    }
    const log = gw.log();
    // The B-frame stream never made ffmpeg give up ("first pts and dts value must be set").
    expect(log).not.toMatch(/first pts and dts/);

    const out = tmp();
    exportDevice(p.configPath, out);
    const report = await verify(out, ca.paths.caCert, ca.paths.agencyKey);
    expect(report.findings).toEqual([]);
    const dev = join(out, p.config.deviceId);
    const ledger = entries(dev);
    const interruptions = ledger.filter((e) => e.type === 'interruption.started').map((e) => e.body);
    const ended = (id: unknown): string | undefined => ledger.find((e) => e.type === 'interruption.ended' && e.body.interruptionId === id)?.body.end as string | undefined;
    const of = (id: string) => interruptions.filter((b) => (b.sources as string[] | undefined)?.includes(id));

    const decrypted = tmp();
    for (const [id, cam] of Object.entries(cams)) {
      const ms = manifests(dev).filter((m) => m.source.id === id).sort((a, b) => a.seq - b.seq);
      expect(ms.length, `${id}: segments`).toBeGreaterThan(1);
      // Audio MPEG-TS carries is copied; G.711 is transcoded to AAC, and the manifest says so.
      const audio = cam.profile.audio;
      for (const m of ms) expect(m.transcoded, `${id}: transcoded`).toEqual(audio && audio !== 'aac' ? [{ stream: 'audio', from: audio, to: 'aac' }] : undefined);
      const files = await decryptSource(dev, id, ca.paths.agencyKey, join(decrypted, id));
      let gapMs = 0;
      for (const [i, f] of files.entries()) {
        const first = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-read_intervals', '%+#1', '-show_entries', 'frame=key_frame', '-of', 'csv=p=0', f], { encoding: 'utf8' });
        expect(first.trim().split(',')[0], `${id} segment ${i} starts on a key frame`).toBe('1');
        const probed = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'json', f], { encoding: 'utf8' })) as { streams: { codec_name: string }[] };
        const codecs = probed.streams.map((x) => x.codec_name);
        expect(codecs, `${id} segment ${i}: the camera's video, not re-encoded`).toEqual([cam.profile.video, ...(audio ? ['aac'] : [])]);
        if (i > 0) {
          const step = Date.parse(ms[i]!.start) - Date.parse(ms[i - 1]!.end);
          // Contiguous, however long the GOP made the segment; only the lost camera has one gap.
          if (id !== 'cam-lost') expect(Math.abs(step), `${id}: segment ${i} follows the one before`).toBeLessThanOrEqual(40);
          else if (step > 40) gapMs += step;
        }
      }
      // Counted on the segments joined (MPEG-TS joins byte by byte): with an open GOP (x265's default) the few
      // pictures shown before a segment's first key frame are coded after it and decode only after the segment before.
      const joined = join(decrypted, `${id}.ts`);
      writeFileSync(joined, Buffer.concat(files.map((f) => readFileSync(f))));
      const frames = Math.round(mediaSeconds(joined, 'camera') * FPS);
      const spanS = (Date.parse(ms.at(-1)!.end) - Date.parse(ms[0]!.start) - gapMs) / 1000;
      const coverage = frames / FPS / spanS;
      console.log(`${id}: ${ms.length} segments, ${frames} frames over ${spanS.toFixed(2)} s of footage: coverage ${(coverage * 100).toFixed(2)} %`);
      // A camera that dies mid-GOP leaves up to its last B-frames (2 with libx264's defaults) without the picture
      // they refer to, which never came: undecodable, though their time is in the span.
      const tail = id === 'cam-lost' ? 3 : 0;
      expect(frames + tail, `${id}: frames cover the footage's span`).toBeGreaterThanOrEqual(0.995 * spanS * FPS);
      // No more pictures than the span holds. The lost camera's footage is two runs, each placed on the wall clock
      // from its own start (within ~0.1 s on a loaded machine: 101 % of a 12 s span was seen at a load of 10).
      if (id === 'cam-lost') expect(frames / FPS).toBeLessThanOrEqual(spanS + 0.25);
      else expect(coverage).toBeLessThanOrEqual(1.005);
      if (id === 'cam-lost') {
        const mine = of(id);
        expect(mine, 'cam-lost: one interruption').toHaveLength(1);
        const b = mine[0]!;
        expect(b).toMatchObject({ origin: 'detected', reason: 'device-fault' });
        // In words: the camera stopped sending (its server vanished), with ffmpeg's status beside them.
        expect(b.text).toMatch(/^网络摄像机(停止发送视频（RTSP 连接被关闭）|停止响应（在超时时间内没有收到数据）|停止发送视频（连接被对方断开）)$/);
        expect(b.technical).toMatch(/^ffmpeg exited with status \d+/);
        const start = Date.parse(b.start as string);
        const end = Date.parse(ended(b.interruptionId)!);
        // It spans the footage that is missing: from the last picture before the outage to the first after it.
        const before = ms.filter((m) => Date.parse(m.end) <= start + 40).at(-1)!;
        const after = ms.find((m) => Date.parse(m.start) >= end - 40)!;
        expect(Math.abs(Date.parse(before.end) - start)).toBeLessThanOrEqual(40);
        expect(Math.abs(Date.parse(after.start) - end)).toBeLessThanOrEqual(40);
        expect(Math.abs(end - start - gapMs)).toBeLessThanOrEqual(80);
        // ... which began when the server died and ended after it came back (plus the restart backoff).
        expect(Math.abs(start - killedAt), `cam-lost: start ${b.start as string}`).toBeLessThan(1500);
        expect(end).toBeGreaterThanOrEqual(backAt);
        expect(end - backAt).toBeLessThan(8000);
        console.log(`cam-lost: killed for ${KILL_FOR} s, interruption ${((end - start) / 1000).toFixed(2)} s, starting ${start - killedAt} ms after the kill, footage back ${end - backAt} ms after the server`);
      } else {
        expect(of(id), `${id}: no interruption on a moving scene`).toEqual([]);
      }
    }

    // Microphones: a quiet room is no interruption, a dead microphone is, from when it died.
    expect(of('mic-quiet')).toEqual([]);
    expect(of('mic-quieter')).toEqual([]);
    const dead = of('mic-dead');
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ origin: 'detected', reason: 'device-fault', text: '麦克风没有声音信号（可能已断开或损坏）' });
    const micMs = manifests(dev).filter((m) => m.source.id === 'mic-dead').sort((a, b) => a.seq - b.seq);
    const micFiles = await decryptSource(dev, 'mic-dead', ca.paths.agencyKey, join(decrypted, 'mic-dead'));
    const micSeconds = micFiles.reduce((s, f) => s + mediaSeconds(f, 'microphone'), 0);
    expect(micSeconds / ((Date.parse(micMs.at(-1)!.end) - Date.parse(micMs[0]!.start)) / 1000)).toBeGreaterThanOrEqual(0.995);
    // Where the recorded sound itself turns to zeros: the segment's start plus the offset of the silence in it
    // (ffmpeg's filters see a file's time from 0).
    const silenceIn = (f: string): number | undefined => {
      const r = spawnSync('ffmpeg', ['-hide_banner', '-nostdin', '-i', f, '-af', 'silencedetect=n=-90dB:d=0.2', '-f', 'null', '-'], { encoding: 'utf8' });
      const m = /silence_start: (-?[\d.]+)/.exec(r.stderr);
      return m ? Number(m[1]) : undefined;
    };
    const i = micFiles.findIndex((f) => silenceIn(f) !== undefined);
    expect(i, 'the dead microphone recorded zeros').toBeGreaterThanOrEqual(0);
    const truth = Date.parse(micMs[i]!.start) + silenceIn(micFiles[i]!)! * 1000;
    expect(Math.abs(Date.parse(dead[0]!.start as string) - truth), `mic-dead: start ${dead[0]!.start as string}`).toBeLessThan(500);
    expect(interruptions).toHaveLength(2);

    // The verifier: the lost camera's gap is explained by its interruption, nothing else is missing.
    const s = report.devices[0]!.sessions[0]!;
    expect(s.gaps.every((g) => g.explained && g.source === 'cam-lost')).toBe(true);
  }, 240_000 + SECONDS * 4000);
});

/*
 * Issue 15 item 2 on copied video: a covered lens and a frozen picture (the camera still sending) are each one
 * camera-covered interruption, with the span they lasted, on every profile gst-rtsp-server serves to the gateway
 * (H.264 High with B-frames and a 2 s GOP, Baseline with a 1 s GOP, HEVC with B-frames and a 4 s GOP), and the
 * moving picture around them is none. Copied video was once decoded at its key frames only for the detectors, which
 * read a 2 s GOP as a frozen picture every GOP (the test above checks moving scenes; this one the events). In this file so that the two
 * camera tests run one after the other, not side by side with the rest of the suite.
 * The picture each camera sends, by the time of its file (every client plays the file from its start): moving, black
 * from COVER to COVER + LASTS, moving, the same picture from FREEZE to FREEZE + LASTS, moving again.
 */
const COVER = 14;
const FREEZE = 24;
const LASTS = 5;
const SCENE_RECORD = 36;
const SCENE_PROFILES = {
  high: { name: 'high', video: 'h264', profile: 'high', bFrames: true, gopSeconds: 2, audio: 'aac' },
  base: { name: 'base', video: 'h264', profile: 'baseline', bFrames: false, gopSeconds: 1, audio: null },
  hevc: { name: 'hevc', video: 'hevc', bFrames: true, gopSeconds: 4, audio: null },
} satisfies Record<string, CameraProfile>;
const SCENE = {
  name: `cover${COVER}-freeze${FREEZE}-${LASTS}s`,
  filter: `drawbox=color=black:t=fill:enable='between(t,${COVER},${COVER + LASTS})',split[a][b];[a][b]freezeframes=first=${FREEZE * FPS}:last=${(FREEZE + LASTS) * FPS}:replace=${FREEZE * FPS}`,
};

describe('a covered lens and a frozen picture on copied video', () => {
  const servers: RtspServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.stop().catch(() => undefined);
    cleanupTmp();
  });

  it('are one interruption each, with their span, on every profile; the moving picture is none', async () => {
    // Its own CA, made here: the describe above removes the temporary folders made so far when it ends.
    const ca = makeCa();
    const media = Object.fromEntries(Object.entries(SCENE_PROFILES).map(([k, p]) => [k, cameraMedia(p, SCENE_RECORD + 40, SCENE)]));
    const gst = await startGstServer(await freePort(), media);
    servers.push(gst);
    const sources = Object.keys(SCENE_PROFILES).map((k) => ({ id: `cam-${k}`, kind: 'camera', driver: 'rtsp', url: gst.url(k) }));
    const p = makeGateway(ca.dir, { config: { time: { source: 'host' }, recording: { segmentSeconds: 2, expectedSessionMinutes: 1, sources } } });
    const gw = await startGateway(p.configPath, p.config.control.socket);
    try {
      await gw.call('session.start', { matter: 'site-inspection', caseRef: 'CAM-2', officers });
      await sleep(SCENE_RECORD * 1000);
      await gw.call('session.stop');
      // After the lens was uncovered and the picture moved again the gateway had no microphone to listen with.
      await gw.call('session.statement', { text: '镜头遮挡、画面冻结后恢复，现书面说明原因。', officers });
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
