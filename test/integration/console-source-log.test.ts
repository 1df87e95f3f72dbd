/**
 * A technician on a ladder reads why a camera stopped in the console: the overview shows the words of the last
 * outage with ffmpeg's detail, and links to ffmpeg's kept log of the failed run. The log is text a camera can
 * influence (an RTSP server's error strings end up in it), so it is shown escaped; and the page reads only the file
 * the gateway's own status names, whatever the request asks for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { Client, consoleOnCore, setupAdmin, type CoreConsole } from '../helpers/console.js';

let cc: CoreConsole;
let c: Client;
const logPath = join(tmp(), '20261206T101500000Z.log');

beforeAll(async () => {
  cc = await consoleOnCore(makeCa().dir);
  const real = cc.deps.status.status.bind(cc.deps.status);
  cc.deps.status.status = async () => {
    const st = await real();
    const outage = { cause: 'stream-ended', words: '网络摄像机停止发送视频（RTSP 连接被关闭）', technical: 'ffmpeg exited with status 0: its input ended', log: logPath, at: '2026-12-06T10:15:03.000Z' };
    return { ...st, sources: st.sources.map((s) => (s.id === 'cam1' ? { ...s, lastOutage: outage } : s)) };
  };
  writeFileSync(logPath, 'Input #0, rtsp, from \'rtsp://cam/x\':\n[rtsp @ 0x1] <script>alert(1)</script> sent by the camera\n');
  c = new Client(cc.base);
  await setupAdmin(c, cc.gw.config.stateDir);
}, 60_000);

afterAll(async () => {
  await cc?.stop();
  cleanupTmp();
});

describe('the console shows why a source stopped', () => {
  it('the overview gives the words, the detail and a link to the kept log', async () => {
    const a = await c.get('/');
    expect(a.status).toBe(200);
    // In Beijing time: the table's heading names the zone, the cell gives the clock.
    expect(a.text).toContain('上次中断 2026-12-06 18:15:03：网络摄像机停止发送视频（RTSP 连接被关闭）');
    expect(a.text).toContain('ffmpeg exited with status 0: its input ended');
    expect(a.text).toContain('href="/source-log?source=cam1"');
  });

  it('the log page shows the kept log, escaped', async () => {
    const a = await c.get('/source-log?source=cam1');
    expect(a.status).toBe(200);
    expect(a.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt; sent by the camera');
    expect(a.text).not.toContain('<script>alert(1)');
  });

  it('reads only what the status names: another source, or a path in the request, gets no file', async () => {
    for (const q of ['mic1', '../../../etc/passwd', logPath]) {
      const a = await c.get(`/source-log?source=${encodeURIComponent(q)}`);
      expect(a.status).toBe(200);
      expect(a.text).toContain('没有保存的录制日志');
      expect(a.text).not.toContain('root:');
    }
  });

  it('is not for anyone logged out', async () => {
    const a = await new Client(cc.base).get('/source-log?source=cam1');
    expect(a.status).toBe(303);
    expect(a.text).not.toContain('sent by the camera');
  });
});
