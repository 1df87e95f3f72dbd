/**
 * Issue 15 item 5, where the gateway encodes: Beijing time, the device ID and the case reference are burnt into the
 * picture. Read back as a court would see it: a real `recgw run` records a sim camera, the segments are exported,
 * decrypted and decoded by ffmpeg, and tesseract (an independent OCR) reads the overlay off a frame: the time it
 * shows is the segment's own time in Beijing time, and the label carries the device and the session's case.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { startGateway } from '../helpers/gateway-process.js';
import { decryptSource, exportDevice, manifests, sleep } from '../helpers/evidence.js';

const CASE = 'F-2026-0042';
const officers = [
  { name: '张三', badge: '13010001' },
  { name: '李四', badge: '13010002' },
];

/** What tesseract reads in one band of frame `n` of `file` (the text kept white, the rest blanked). */
function ocr(file: string, n: number, crop: string): string {
  const png = join(tmp(), 'band.png');
  const vf = `select=eq(n\\,${n}),crop=${crop},format=gray,lut=y='if(gt(val\\,200)\\,0\\,255)'`;
  const ff = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', file, '-vf', vf, '-frames:v', '1', png]);
  expect(ff.status, ff.stderr.toString()).toBe(0);
  const t = spawnSync('tesseract', [png, '-', '--psm', '7'], { encoding: 'utf8' });
  expect(t.status, t.stderr).toBe(0);
  return t.stdout.trim();
}

describe('time and identity on the picture', () => {
  const ca = makeCa();
  afterAll(cleanupTmp);

  it('shows Beijing time, the device and the case on the recorded picture, and the label follows the session', async () => {
    const p = makeGateway(ca.dir, {
      deviceId: 'room-7',
      config: {
        time: { source: 'host', assumeSynchronised: true },
        recording: {
          segmentSeconds: 2,
          expectedSessionMinutes: 1,
          // A plain moving picture: OCR reads the overlay without a test pattern behind it; the noise keeps it from
          // reading as frozen.
          sources: [{ id: 'cam1', kind: 'camera', driver: 'sim', simFilter: 'color=c=0x305070:size=1280x720:rate=25,noise=alls=8:allf=t+u' }],
        },
      },
    });
    const label = join(p.config.stateDir, 'spool', 'overlay-label.txt');
    const gw = await startGateway(p.configPath, p.config.control.socket);
    try {
      expect(readFileSync(label, 'utf8')).toBe('设备 room-7');
      await gw.call('session.start', { matter: 'sampling', caseRef: CASE, officers });
      await sleep(500);
      expect(readFileSync(label, 'utf8')).toBe(`设备 room-7  案件 ${CASE}`);
      await sleep(5000);
      await gw.call('session.stop');
      await sleep(500);
      expect(readFileSync(label, 'utf8')).toBe('设备 room-7');
    } finally {
      expect(await gw.stop()).toBe(0);
    }
    const out = tmp();
    exportDevice(p.configPath, out);
    const dev = join(out, 'room-7');
    const files = await decryptSource(dev, 'cam1', ca.paths.agencyKey, tmp());
    const ms = manifests(dev).filter((m) => m.source.id === 'cam1').sort((a, b) => a.seq - b.seq);
    // A whole segment from the middle of the session: its frame 25, 1 s into it at 25 fps.
    const i = Math.floor(ms.length / 2);
    const m = ms[i]!;
    const shown = ocr(files[i]!, 25, 'iw/2:ih/8:0:0');
    const stamp = /(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})/.exec(shown);
    expect(stamp, `the clock on the picture reads "${shown}"`).not.toBeNull();
    // Beijing time is UTC+8: the time on the picture, back in UTC, is the frame's time by the manifest.
    const utc = Date.parse(`${stamp![1]}T${stamp![2]}+08:00`);
    const frameAt = Date.parse(m.start) + 1000;
    expect(Math.abs(utc - frameAt), `picture ${shown}, frame at ${new Date(frameAt).toISOString()}`).toBeLessThan(2500);
    const bottom = ocr(files[i]!, 25, 'iw:ih/8:0:ih*7/8');
    expect(bottom).toContain('room-7');
    expect(bottom).toContain(CASE);
  }, 60_000);
});
