/**
 * Issue 15, RTP over UDP: a gateway that is not scheduled for a while (a loaded CPU, a Pi's SD card stalling a write)
 * loses nothing a camera sends meanwhile. The kernel holds the packets in the socket's receive buffer and drops the
 * rest, and a key frame that lost a packet costs its whole GOP. Two recordings of one 2 Mbit/s camera served over UDP
 * by gst-rtsp-server run side by side and are frozen (SIGSTOP) for STALL s: the gateway's command line keeps every
 * packet; the same without its receive buffer (ffmpeg's 384 KiB) loses packets, which shows the freeze is long enough
 * to matter.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, freePort, tmp } from '../helpers/fixtures.js';
import { decodedFrames, packetTimes, sleep } from '../helpers/evidence.js';
import { cameraMedia, startGstServer, type CameraProfile, type RtspServer } from '../helpers/rtsp-camera.js';
import { buildFfmpegCommand, DEFAULTS } from '../../src/hal/ffmpeg/args.js';

const CAMERA: CameraProfile = { name: 'udp2m', video: 'h264', profile: 'main', bFrames: false, gopSeconds: 1, audio: null, kbps: 2000 };
const STALL = 6;

describe('RTP over UDP while the gateway is not scheduled', () => {
  const servers: RtspServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.stop().catch(() => undefined);
    cleanupTmp();
  });

  it(`keeps every packet a camera sent during a ${STALL} s freeze; ffmpeg's own buffer does not`, async () => {
    // The kernel caps the buffer at net.core.rmem_max (and doubles it): without room for 8 MiB this proves nothing.
    const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
    expect(rmemMax, 'net.core.rmem_max: raise it to 4194304 or more (docs/operations.md §15)').toBeGreaterThanOrEqual(DEFAULTS.udpBufferBytes / 2);
    const gst = await startGstServer(await freePort(), { cam: cameraMedia(CAMERA, 40) });
    servers.push(gst);
    const src = { id: 'cam', kind: 'camera', driver: 'rtsp', url: gst.url('cam'), transport: 'udp' } as const;
    const runs = ['gateway', 'default'].map((name) => {
      const runDir = join(tmp(), name);
      mkdirSync(runDir);
      let args = buildFfmpegCommand(src, { runDir, segmentSeconds: 2, camera: { video: 'h264', audio: null } }).args;
      if (name === 'default') {
        const i = args.indexOf('-buffer_size');
        args = [...args.slice(0, i), ...args.slice(i + 2)];
      }
      const proc = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let log = '';
      proc.stderr.on('data', (d: Buffer) => (log += d.toString()));
      const exited = new Promise((r) => proc.once('exit', r));
      return { name, runDir, proc, exited, log: () => log };
    });
    try {
      await sleep(3000);
      for (const r of runs) r.proc.kill('SIGSTOP');
      await sleep(STALL * 1000);
      for (const r of runs) r.proc.kill('SIGCONT');
      await sleep(4000);
    } finally {
      for (const r of runs) r.proc.kill('SIGINT');
      await Promise.all(runs.map((r) => r.exited));
    }
    const [gateway, plain] = runs as [(typeof runs)[0], (typeof runs)[0]];
    // ffmpeg's RTP demuxer says when sequence numbers are missing.
    expect(plain.log(), 'ffmpeg with its own buffer lost packets').toMatch(/RTP: missed \d+ packets/);
    expect(gateway.log()).not.toMatch(/RTP: missed/);
    expect(gateway.log()).not.toMatch(/attempted to set receive buffer/);
    // And the pictures are all there: one decoded picture for every 40 ms of the recorded span.
    const pictures = (runDir: string): { frames: number; slots: number } => {
      const joined = join(runDir, 'joined.ts');
      const segs = readdirSync(runDir).filter((f) => /^seg-\d+\.ts$/.test(f)).sort();
      writeFileSync(joined, Buffer.concat(segs.map((f) => readFileSync(join(runDir, f)))));
      const pts = packetTimes(joined, 'v:0');
      return { frames: decodedFrames(joined), slots: Math.round((Math.max(...pts) - Math.min(...pts)) * 25) + 1 };
    };
    const kept = pictures(gateway.runDir);
    expect(kept.slots).toBeGreaterThan((STALL + 4) * 25);
    expect(Math.abs(kept.frames - kept.slots), `${kept.frames} pictures in ${kept.slots} frame times`).toBeLessThanOrEqual(1);
    const lost = pictures(plain.runDir);
    console.log(`${STALL} s frozen: ${kept.frames} pictures in ${kept.slots} frame times with the gateway's buffer, ${lost.frames} in ${lost.slots} with ffmpeg's`);
    expect(lost.frames, `${lost.frames} pictures in ${lost.slots} frame times`).toBeLessThan(lost.slots - 5);
  }, 90_000);
});
