/**
 * Playback in the browser (issue 18 part 2, docs/desk.md §6) in Debian's Chromium: a session of two sources (ffmpeg's
 * H.264 test picture and an AAC tone, sealed through the real Sealer) whose camera stopped 3 s for a fault, indexed in
 * SQLite and in a real PostgreSQL, under an officer's request a leader approved. The officer opens the playback: both
 * sources play in step (the elements' currentTime advances), the watermark with the officer's name and the time is
 * drawn over the picture (hidden or removed, playback stops), the timeline marks the interruption, seeking by
 * wall-clock time lands in the segment that covers it, the opening is registered once however many segments are
 * fetched, and a view-only approval offers no download and no attachment. Attacks: another account, another sign-in
 * of the same account, a pending, refused or expired approval, a stream of another session under the grant, an
 * unknown grant. Afterwards no file in the temp folders and nothing in the desk's log holds the plaintext or the
 * agency key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { Browser, Page } from 'playwright-core';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { launchChromium } from '../helpers/console.js';
import { DESK_ACCOUNTS, DESK_PASSWORD, deskConfig, signedIn } from '../helpers/desk.js';
import { cli } from '../helpers/index-store.js';
import { filesHolding } from '../helpers/leaks.js';
import { createDatabase, withPostgres } from '../helpers/postgres.js';
import { buildStore, type BuiltStore } from '../helpers/store-fixture.js';
import type { Client } from '../helpers/console.js';
import { recordSample } from '../../src/demo/sample.js';
import { caPaths } from '../../src/pki/ca.js';
import { DeskServer } from '../../src/desk/server.js';
import { loadDeskConfig } from '../../src/desk/config.js';
import { openIndexDb, type IndexDb } from '../../src/index/database.js';
import { localClock } from '../../src/util/local-time.js';

const OFFICER = DESK_ACCOUNTS['evidence-officer'];
const LEADER = DESK_ACCOUNTS.leader;
const SUPER = DESK_ACCOUNTS.supervisor;
const ZONE = 'Asia/Shanghai';

let built: BuiltStore;
let samplesDir: string;
let desk: DeskServer;
let base: string;
let db: IndexDb;
let browser: Browser;
let page: Page;
let logFile: string;
let shift = 0;
let caDir = '';
let playStarted = 0;
const shots = mkdtempSync(join(tmpdir(), 'recgw-desk-playback-shots-'));
let device = '';
let session = '';
let approved = '';
let grantUrl = '';
type Seg = { name: string; source_id: string; start_ms: number; end_ms: number };
let segs: Seg[] = [];

const pg = withPostgres();

beforeAll(async () => {
  console.info(`[desk-playback] screenshots in ${shots}`);
  caDir = makeCa().dir;
  samplesDir = tmp('recgw-play-samples-');
  // 2 s segments: the camera's four (its last two 3 s late, an interruption for a fault covering the hole), the
  // microphone's six, unbroken.
  const [cam1, mic1] = await Promise.all([
    recordSample({ dir: join(samplesDir, 'cam1'), seconds: 8, segmentSeconds: 2, kind: 'camera', realtime: false }),
    recordSample({ dir: join(samplesDir, 'mic1'), seconds: 12, segmentSeconds: 2, kind: 'microphone', realtime: false }),
  ]);
  built = await buildStore({ caDir, samples: { cam1, mic1 }, camShift: { fromIndex: 2, ms: 3000 }, interruption: { beforeIndex: 2, startMs: 4000, endMs: 7000, reason: 'device-fault', sources: ['cam1'] } });
  device = built.deviceId;
  session = built.session.sessionId;
}, 180_000);

afterAll(cleanupTmp);

/** The store indexed in `kind`, a desk over it logging everything (debug) to a file the test reads, and Chromium. */
async function startAll(kind: 'sqlite' | 'postgres'): Promise<void> {
  const url = kind === 'postgres' ? await createDatabase(pg.server(), 'desk_playback') : `sqlite:${join(tmp('recgw-desk-db-'), 'index.db')}`;
  expect((await cli('index', 'rebuild', '--store', built.storeDir, '--database', url, '--ca', caPaths(caDir).caCert, '--quiet')).code).toBe(0);
  const p = caPaths(caDir);
  const configFile = await deskConfig(caDir, url, built.storeDir, { agencyKey: p.agencyKey, sampleSigning: { key: p.receiptKey, cert: p.receiptCert }, zone: ZONE });
  logFile = join(tmp('recgw-desk-log-'), 'desk.log');
  writeFileSync(logFile, '');
  desk = new DeskServer({ config: loadDeskConfig(configFile), logger: pino({ level: 'debug' }, pino.destination({ dest: logFile, sync: true })), now: () => Date.now() + shift });
  await desk.start();
  base = `https://127.0.0.1:${desk.address().port}`;
  clients = {};
  db = await openIndexDb(url);
  segs = (await db.query<Seg>('SELECT name, source_id, start_ms, end_ms FROM segments WHERE device_id = $1 AND session_id = $2 ORDER BY source_id, start_ms', [device, session])).map((r) => ({
    ...r,
    start_ms: Number(r.start_ms),
    end_ms: Number(r.end_ms),
  }));
  console.info(`[desk-playback] ${kind} segments: ${segs.map((g) => `${g.name} ${g.start_ms - built.t0}–${g.end_ms - built.t0}`).join(', ')}`);
  ({ browser, page } = await launchChromium());
}

async function stopAll(): Promise<void> {
  await browser?.close();
  await desk?.stop();
  await db?.close();
}

// One client per account for each desk: signing in again and again trips the desk's sign-in throttle.
let clients: Record<string, Client> = {};
const client = async (name: string): Promise<Client> => (clients[name] ??= await signedIn(base, name));
const ask = async (scope: 'view' | 'export'): Promise<string> => {
  const r = await (await client(OFFICER)).post('/access', { sessions: `${device}/${session}`, reason: '行政复议审查需要回放现场录像', scope }, { page: '/access' });
  expect(r.status).toBe(303);
  return /\/access\/([0-9a-f-]{36})/.exec(r.headers.location as string)![1]!;
};
const decide = async (id: string, d: Record<string, string>): Promise<void> => {
  const r = await (await client(LEADER)).post(`/access/${id}/decide`, d, { page: `/access/${id}` });
  expect(r.status).toBe(303);
};
const playPath = (id: string): string => `/access/${id}/play/${device}/${session}`;
const playbackRows = async (): Promise<number> =>
  (await db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM desk_audit WHERE action = 'view-act' AND detail LIKE '%"playback":true%'`))[0]!.n;
const seg = (source: string, i: number): Seg => segs.filter((g) => g.source_id === source)[i]!;
/** What the page shows of a source: its state and the segment it is on, and its element's time. */
// Code for the page is given as strings: it runs in Chromium, with the browser's types, not this file's.
const inPage = <T>(expr: string): Promise<T> => page.evaluate(expr) as Promise<T>;
// A selector, not a function: the page's CSP forbids the eval waitForFunction would need.
const attrIs = (sel: string, attr: string, value: string, timeout = 10_000) => page.waitForSelector(`${sel}[${attr}=${JSON.stringify(value)}]`, { state: 'attached', timeout });
const sourceState = (source: string) =>
  inPage<{ state: string | null; segment: string | null; time: number }>(
    `(() => { const el = document.querySelector('[data-source="${source}"]'); return { state: el.getAttribute('data-state'), segment: el.getAttribute('data-segment'), time: el.querySelector('video, audio').currentTime }; })()`,
  );

describe.each(['sqlite', 'postgres'] as const)('playback of an approved session in Chromium, index on %s', (kind) => {
  beforeAll(() => startAll(kind), 180_000);
  afterAll(stopAll);

  it('Chromium decodes the test segments’ codecs through MSE', async () => {
    const probe = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,profile', '-of', 'csv=p=0', join(samplesDir, 'cam1', 'seg-000000.ts')], { encoding: 'utf8' }).trim();
    const version = execFileSync('/usr/bin/chromium', ['--version'], { encoding: 'utf8' }).trim();
    await page.goto(`${base}/login`);
    const supported = await inPage<boolean[]>(`[MediaSource.isTypeSupported('video/mp4; codecs="avc1.640028"'), MediaSource.isTypeSupported('audio/mp4; codecs="mp4a.40.2"')]`);
    console.info(`[desk-playback] ${version}; camera segments: ${probe}; MSE H.264 High, AAC-LC: ${supported.join(', ')}`);
    expect(probe).toMatch(/^h264,/);
    expect(supported).toEqual([true, true]);
  });

  it('the officer plays both sources in step, the watermark over the picture and the interruption on the timeline', async () => {
    approved = await ask('view');
    await decide(approved, { decision: 'approve', scope: 'view', hours: '2', note: '同意回放' });
    await page.goto(`${base}/access/${approved}`);
    await page.fill('#name', OFFICER);
    await page.fill('#password', DESK_PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(/\/access\/[0-9a-f-]{36}$/);
    playStarted = Date.now();
    const rowsBefore = await playbackRows();
    const streams: { url: string; status: number; type: string | undefined; disposition: string | undefined }[] = [];
    page.on('response', (r) => {
      if (new URL(r.url()).pathname.startsWith('/play/')) streams.push({ url: r.url(), status: r.status(), type: r.headers()['content-type'], disposition: r.headers()['content-disposition'] });
    });
    // Nothing from another origin, and no CSP violation (blob: media allowed, no worker asked for).
    const foreign: string[] = [];
    const violations: string[] = [];
    page.on('request', (r) => void (r.url().startsWith(base) || r.url().startsWith('blob:') || foreign.push(r.url())));
    page.on('console', (m) => void (/Content Security Policy|Refused to/i.test(m.text()) && violations.push(m.text())));
    const opened = page.waitForResponse((r) => new URL(r.url()).pathname === playPath(approved));
    await page.click('#playback a.play');
    const pageRes = await opened;
    expect(pageRes.status()).toBe(200);
    // The CSP is widened for MSE's blob: media on this page alone, and allows no worker or other origin.
    const csp = pageRes.headers()['content-security-policy']!;
    expect(csp).toMatch(/^default-src 'none';.*script-src 'self';.*media-src blob:$/);
    expect(csp).not.toMatch(/worker-src|unsafe|https?:/);
    expect(await page.textContent('h1')).toBe(`录像播放 ${session}`);
    expect(await page.$$eval('.timeline', (els) => els.map((e) => e.getAttribute('data-source')))).toEqual(['cam1', 'mic1']);
    expect(await page.$$('.timeline[data-source="cam1"] rect.intr')).toHaveLength(1);
    expect(await page.$$('.timeline[data-source="cam1"] rect.gap.explained')).toHaveLength(1);

    await page.click('#play');
    await attrIs('[data-source="cam1"]', 'data-state', 'playing', 15_000);
    const a = await sourceState('cam1');
    const m1 = await sourceState('mic1');
    await page.waitForTimeout(1200);
    const b = await sourceState('cam1');
    const m2 = await sourceState('mic1');
    expect(b.segment === a.segment ? b.time - a.time : 1).toBeGreaterThan(0.5); // the picture plays (or moved on to the next segment)
    expect(m2.segment === m1.segment ? m2.time - m1.time : 1).toBeGreaterThan(0.5);
    expect(['playing', 'loading']).toContain(m2.state);
    // In step: both sources are on segments covering the clock, their elements within half a second of it.
    const step = await inPage<{ pos: number; at: Record<string, [string | null, number]> }>(
      `({ pos: Number(document.getElementById('player').getAttribute('data-pos')), at: Object.fromEntries(['cam1', 'mic1'].map((s) => { const el = document.querySelector('[data-source="' + s + '"]'); return [s, [el.getAttribute('data-segment'), Number(el.getAttribute('data-media-at'))]]; })) })`,
    );
    for (const src of ['cam1', 'mic1']) {
      const [name, at] = step.at[src]!;
      const on = segs.find((g) => g.name === name)!;
      expect(step.pos).toBeGreaterThanOrEqual(on.start_ms - 200);
      expect(step.pos).toBeLessThan(on.end_ms + 200);
      expect(Math.abs(at - step.pos), `${src} at ${at}, the clock at ${step.pos}`).toBeLessThan(500);
    }

    // The watermark: the viewer's name and the time (the desk's zone), drawn on the canvas over the picture.
    const mark = await inPage<{ text: string | null; drawn: number; covers: boolean }>(`(() => {
      const canvas = document.getElementById('watermark');
      const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let drawn = 0;
      for (let i = 3; i < px.length; i += 4) if (px[i] > 0) drawn++;
      const box = canvas.getBoundingClientRect();
      const video = document.querySelector('[data-source="cam1"] video').getBoundingClientRect();
      return { text: canvas.getAttribute('data-text'), drawn, covers: box.left <= video.left && box.right >= video.right && box.top <= video.top && box.bottom >= video.bottom };
    })()`);
    expect(mark.text).toMatch(new RegExp(`^${OFFICER}  \\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}$`));
    expect(Math.abs(Date.parse(`${mark.text!.slice(-19).replace(' ', 'T')}+08:00`) - Date.now())).toBeLessThan(5000);
    expect(mark.drawn).toBeGreaterThan(1000);
    expect(mark.covers).toBe(true);
    await page.screenshot({ path: join(shots, `${kind}-01-playing.png`), fullPage: true });

    // Registered once for this opening, though several segments were fetched.
    expect(streams.length).toBeGreaterThanOrEqual(2);
    expect(await playbackRows()).toBe(rowsBefore + 1);
    // View only: no download on the page, and no stream answered as an attachment.
    expect(await page.$$('#downloads, a.export, a[download]')).toHaveLength(0);
    for (const s of streams) {
      expect(s.status).toBe(200);
      expect(s.type).toBe('video/mp2t');
      expect(s.disposition ?? '').not.toMatch(/attachment/i);
    }
    grantUrl = new URL(streams[0]!.url).pathname;
    expect(foreign).toEqual([]);
    expect(violations).toEqual([]);
  });

  it('a watermark removed from the page stops the playback', async () => {
    expect(await page.getAttribute('#player', 'data-playing')).toBe('1');
    await inPage(`document.getElementById('watermark').style.opacity = '0'`);
    await attrIs('#player', 'data-playing', '0', 3000);
    await inPage(`document.getElementById('watermark').style.opacity = ''`);
    await page.click('#play');
    await attrIs('#player', 'data-playing', '1', 3000);
    await inPage(`document.getElementById('watermark').remove()`);
    await attrIs('#player', 'data-playing', '0', 3000);
    await page.reload(); // a new opening, registered again, with its watermark
    await page.click('#play');
    await attrIs('[data-source="cam1"]', 'data-state', 'playing', 15_000);
  });

  it('seeking by wall-clock time lands in the segment that covers it, and in the camera’s gap shows the gap', async () => {
    const after = seg('cam1', 2); // the first camera segment after the fault
    const at = Math.ceil((after.start_ms + 1) / 1000) * 1000;
    expect(at).toBeLessThan(after.end_ms - 300);
    await page.fill('#seek-time', localClock(at, ZONE));
    await page.click('#seek button[type=submit]');
    await attrIs('[data-source="cam1"]', 'data-segment', after.name);
    const mic = segs.find((g) => g.source_id === 'mic1' && g.start_ms <= at && at < g.end_ms)!;
    await attrIs('[data-source="mic1"]', 'data-segment', mic.name);
    const pos = Number(await page.getAttribute('#player', 'data-pos'));
    expect(pos).toBeGreaterThanOrEqual(at);
    expect(pos).toBeLessThan(at + 3000);
    expect(await page.textContent('#position')).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);

    // Into the hole the fault left: the camera shows the gap, the microphone plays on.
    const hole = seg('cam1', 1).end_ms + 1000;
    await page.click('#play'); // pause, so the clock stays in the hole
    await page.fill('#seek-time', localClock(hole, ZONE));
    await page.click('#seek button[type=submit]');
    await attrIs('[data-source="cam1"]', 'data-state', 'gap');
    expect(await page.textContent('[data-source="cam1"] .src-state')).toBe('此处无录像（缺口或中断）');
    await attrIs('[data-source="mic1"]', 'data-state', 'paused'); // the microphone has its segment there, ready
    await page.screenshot({ path: join(shots, `${kind}-02-in-the-gap.png`), fullPage: true });

    // A time outside the session is refused with a message, and the clock stays.
    await page.fill('#seek-time', '1999-01-01 00:00:00');
    await page.click('#seek button[type=submit]');
    expect(await page.textContent('#seek-error')).toContain('录制时段内的时间');
  });

  it('another account, another sign-in of the same account, and a stream of another session are refused (403, in Chinese)', async () => {
    const sup = await client(SUPER);
    const other = await sup.get(playPath(approved));
    expect(other.status).toBe(403);
    expect(other.text).toContain('这份调阅申请不是您提出的');
    const stolen = await sup.get(grantUrl);
    expect(stolen.status).toBe(403);
    expect(stolen.text).toContain('此播放流只属于打开它的账户和登录会话');
    expect(stolen.headers['content-type']).toMatch(/^text\/html/);
    const again = await signedIn(base, OFFICER); // the same account, signed in elsewhere
    const elsewhere = await again.get(grantUrl);
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.text).toContain('此播放流只属于打开它的账户和登录会话');
    // The officer's own browser, under the grant, asking for something not of the session played.
    const foreign = await page.request.get(`${base}${grantUrl.replace(/[^/]+$/, 'room-9_cam1_000000')}`);
    expect(foreign.status()).toBe(403);
    expect(await foreign.text()).toContain('这个片段不属于此次播放的录制');
    const unknown = await page.request.get(`${base}/play/${'A'.repeat(24)}/${seg('cam1', 0).name}`);
    expect(unknown.status()).toBe(403);
    expect(await unknown.text()).toContain('播放授权已失效');
    const denied = await db.query<{ name: string; detail: string }>(`SELECT name, detail FROM desk_audit WHERE action = 'view-denied' AND detail LIKE '%"playback":true%'`);
    // Registered: the supervisor's two attempts (the page, the stream), the officer's three by stream.
    expect(denied.map((r) => r.name).sort()).toEqual([OFFICER, OFFICER, OFFICER, SUPER, SUPER].sort());
  });

  it('a pending and a refused request open no playback', async () => {
    const officer = await client(OFFICER);
    const pending = await ask('view');
    const p = await officer.get(playPath(pending));
    expect(p.status).toBe(403);
    expect(p.text).toContain('调阅申请尚待负责人审批');
    await decide(pending, { decision: 'refuse', note: '事由不充分' });
    const r = await officer.get(playPath(pending));
    expect(r.status).toBe(403);
    expect(r.text).toContain(`调阅申请已被 ${LEADER} 驳回（事由不充分）`);
  });

  it('an export approval offers the segments for download as attachments beside the playback', async () => {
    const exp = await ask('export');
    await decide(exp, { decision: 'approve', scope: 'export', hours: '1', note: '' });
    const res = await page.goto(`${base}${playPath(exp)}`);
    expect(res!.status()).toBe(200);
    const links = await page.$$eval('#downloads a.export', (as) => as.map((a) => a.getAttribute('href')));
    expect(links).toHaveLength(segs.length);
    const dl = await page.request.get(`${base}${links[0]!}`);
    expect(dl.status()).toBe(200);
    expect(dl.headers()['content-disposition']).toMatch(/^attachment/);
  });

  it('once the approval has expired, neither the page nor the streams of a playback opened under it play', async () => {
    const short = await ask('view');
    await decide(short, { decision: 'approve', scope: 'view', hours: '1', note: '' });
    expect((await page.goto(`${base}${playPath(short)}`))!.status()).toBe(200);
    const sources = JSON.parse((await page.getAttribute('#player', 'data-sources'))!) as { segs: { url: string }[] }[];
    const stream = sources[0]!.segs[0]!.url;
    expect((await page.request.get(`${base}${stream}`)).status()).toBe(200);
    try {
      // The desk's clock past the hour, the sign-in kept alive meanwhile (it ends after 30 idle minutes).
      for (const m of [20, 40, 61]) {
        shift = m * 60_000;
        expect((await page.request.get(`${base}/access`)).status()).toBe(200);
      }
      const s = await page.request.get(`${base}${stream}`);
      expect(s.status()).toBe(403);
      expect(await s.text()).toMatch(/批准已于 .+ 过期/);
      const p = await page.request.get(`${base}${playPath(short)}`);
      expect(p.status()).toBe(403);
      expect(await p.text()).toMatch(/批准已于 .+ 过期/);
      // The page still open: the next segment it loads is refused, and the source says so.
      const next = seg('cam1', 3);
      await page.fill('#seek-time', localClock(Math.ceil((next.start_ms + 1) / 1000) * 1000, ZONE));
      await page.click('#seek button[type=submit]');
      await attrIs('[data-source="cam1"]', 'data-state', 'error');
      expect(await page.textContent('[data-source="cam1"] .src-state')).toMatch(/^此片段无法播放.*\(HTTP 403\)$/);
    } finally {
      shift = 0;
    }
  });

  it('no temp file and no log line holds the plaintext or the agency key', async () => {
    const plain = readFileSync(join(samplesDir, 'cam1', 'seg-000001.ts'));
    const needle = plain.subarray(Math.floor(plain.length / 2), Math.floor(plain.length / 2) + 64);
    const body = readFileSync(caPaths(caDir).agencyKey, 'utf8').replace(/-----[^-]+-----|\s/g, '');
    expect(body.length).toBeGreaterThan(100);
    const keyLine = Buffer.from(body.slice(40, 80));
    // Everything written since the playback was opened, anywhere in the temp folders (the desk's own included).
    const hits = (n: Buffer) => filesHolding(tmpdir(), n, playStarted);
    expect(hits(needle)).toEqual([]);
    expect(hits(keyLine)).toEqual([]);
    const log = readFileSync(logFile);
    expect(log.length).toBeGreaterThan(1000); // the desk did log its requests
    expect(log.includes(needle)).toBe(false);
    expect(log.includes(keyLine)).toBe(false);
    expect(log.toString('utf8')).not.toContain('PRIVATE KEY');
  });
});
