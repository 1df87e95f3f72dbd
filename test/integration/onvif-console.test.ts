/**
 * Finding cameras from the console (issue 15 item 4), with plain HTTPS requests like the other console page
 * tests. The camera is test/helpers/onvif-device.js — our own minimal ONVIF device, as no packaged one exists —
 * running on a second host the test makes (a network namespace joined by a veth pair), so the search is the real
 * WS-Discovery multicast of the `onvif` package going out on an interface and answered from across it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { cleanupTmp, makeCa } from '../helpers/fixtures.js';
import { Client, consoleOnCore, setupAdmin, type CoreConsole } from '../helpers/console.js';
import { testHost, type TestHost } from '../helpers/netns.js';

/** The hidden and selected fields of the first form posting to `action` on a page. */
function formFields(html: string, action: string): Record<string, string> {
  const form = new RegExp(`<form method="post" action="${action}"[\\s\\S]*?</form>`).exec(html)?.[0];
  if (!form) throw new Error(`no form for ${action}`);
  const out: Record<string, string> = {};
  for (const m of form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) out[m[1]!] = m[2]!.replace(/&amp;/g, '&').replace(/&quot;/g, '"');
  const opt = /<select name="source"><option value="([^"]+)"/.exec(form);
  if (opt) out.source = opt[1]!;
  return out;
}

describe('finding cameras from the console', () => {
  const ca = makeCa();
  let host: TestHost;
  let cc: CoreConsole;
  let c: Client;
  let dev: { xaddr: string; rtsp: string };

  beforeAll(async () => {
    host = testHost('onv');
    const started = await host.start(process.execPath, ['test/helpers/onvif-device.js', '--address', host.peerAddr, '--port', '8080']);
    dev = JSON.parse(started.line) as { xaddr: string; rtsp: string };
    cc = await consoleOnCore(ca.dir, { sources: [{ id: 'cam1', kind: 'camera', driver: 'rtsp', label: '询问桌', url: 'rtsp://192.0.2.10/old' }], cameraInterfaces: [host.hostIf] });
    c = new Client(cc.base);
    await setupAdmin(c, cc.gw.config.stateDir);
  });

  afterAll(async () => {
    await cc?.stop();
    host?.stop();
    cleanupTmp();
  });

  it('lists the camera found on the chosen interface: address, maker and model, profile, resolution, GOP, RTSP URI', async () => {
    const page = await c.get('/cameras');
    expect(page.status).toBe(200);
    expect(page.text).toContain('<h1>查找摄像机</h1>');
    expect(page.text).toContain(`<option value="${host.hostIf}">${host.hostIf} (${host.hostAddr})</option>`);
    const found = await c.post('/cameras', { interface: host.hostIf, user: 'admin', password: 'cam-pass-1' }, { page: '/cameras' });
    expect(found.status).toBe(200);
    expect(found.text).toContain('找到 1 台摄像机');
    const row = /<tr data-camera="[^"]+" data-profile="prof0">([\s\S]*?)<\/tr>/.exec(found.text)?.[1] ?? '';
    expect(row).toContain(`${host.peerAddr}:8080`);
    expect(row).toContain('RecgwTest TC-1080');
    expect(row).toContain('MainStream');
    expect(row).toContain('1920×1080');
    expect(row).toContain('50 帧（2.0 秒）');
    expect(row).toContain(dev.rtsp);
  });

  it('one click puts the stream and the ONVIF login into the rtsp source, through the config preview', async () => {
    const found = await c.post('/cameras', { interface: host.hostIf, user: 'admin', password: 'cam-pass-1' }, { page: '/cameras' });
    const use = formFields(found.text, '/cameras/use');
    expect(use.source).toBe('cam1');
    const preview = await c.req('POST', '/cameras/use', { form: use });
    expect(preview.status).toBe(200);
    expect(preview.text).toContain('配置有效');
    expect(preview.text).toContain('data-key="recording.sources[0].url"');
    const apply = formFields(preview.text, '/config/apply');
    const applied = await c.req('POST', '/config/apply', { form: apply });
    expect(applied.status).toBe(200);
    const src = (JSON.parse(readFileSync(cc.gw.configPath, 'utf8')) as { recording: { sources: Record<string, unknown>[] } }).recording.sources[0]!;
    expect(src.url).toBe(dev.rtsp.replace('rtsp://', 'rtsp://admin:cam-pass-1@'));
    expect(src.onvif).toEqual({ url: dev.xaddr, user: 'admin', password: 'cam-pass-1' });
  });

  it('lists a camera that refuses the login with the reason, and refuses an interface that is not there', async () => {
    const refused = await c.post('/cameras', { interface: host.hostIf, user: 'admin', password: 'wrong' }, { page: '/cameras' });
    expect(refused.text).toMatch(/<td colspan="5" class="problem">ONVIF [^<]*Sender not Authorized \(check onvif\.user and onvif\.password\)/);
    const bad = await c.post('/cameras', { interface: 'no-such-if0' }, { page: '/cameras' });
    expect(bad.status).toBe(400);
  });
});
