/**
 * Console test helpers: a console on a real evidence core (ledger, state database, identity, upload queue, sim
 * cameras for the aiming aid) for the request-level tests, and a small HTTPS client with a cookie jar.
 */
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeGateway } from './fixtures.js';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Gateway } from '../../src/app/gateway.js';
import { startEvidenceCore, type EvidenceCore } from '../../src/app/evidence-core.js';
import { ConsoleServer } from '../../src/console/server.js';
import { cameraFinder, consoleDeps } from '../../src/console/gateway-deps.js';
import type { ConsoleDeps } from '../../src/console/deps.js';
import type { Provisioned } from '../../src/demo/provision.js';
import { preflight } from '../../src/recorder/preflight.js';
import type { RecorderStatus } from '../../src/recorder/recorder.js';
import { UploadQueue } from '../../src/uplink/queue.js';
import { silentLogger, type Logger } from '../../src/util/log.js';
import type { ConsoleStatus } from '../../src/console/deps.js';
import type { Recorder } from '../../src/recorder/recorder.js';

export const CONSOLE = { listen: '127.0.0.1:0' };

/** A status as an idle gateway with one camera reports it. */
export function idleStatus(deviceId: string): RecorderStatus {
  return {
    deviceId,
    session: null,
    lackingStatement: [],
    sources: [
      { id: 'cam1', kind: 'camera', wanted: false, running: false, producing: false, lastSegmentEnd: null, restarts: 0, down: null, lastOutage: null, picture: 'ok', bitrate: undefined },
    ],
    storage: { freeBytes: 5e9, usedBytes: 1e6, quotaBytes: null, full: false },
    clock: { source: 'system', synced: true },
    battery: null,
    gps: null,
    sealing: { pending: 0 },
  };
}

export interface CoreConsole {
  gw: Provisioned;
  core: EvidenceCore;
  server: ConsoleServer;
  base: string;
  deps: ConsoleDeps;
  /** Flip to pretend a session is open (the aiming aid must refuse). */
  session: { open: boolean };
  stop(): Promise<void>;
}

/**
 * A console on a real evidence core: the recorder is the only part left out (status and pre-flight are the pure
 * functions the recorder uses, fed fixed inputs); everything the console writes goes to the real ledger.
 */
export async function consoleOnCore(
  caDir: string,
  o: { log?: Logger; throttle?: ConsoleDeps['throttle']; now?: () => number; sources?: Record<string, unknown>[]; cameraInterfaces?: string[] } = {},
): Promise<CoreConsole> {
  const gw = makeGateway(caDir, {
    config: {
      time: { source: 'host', assumeSynchronised: true },
      console: CONSOLE,
      uplink: { broker: 'mqtts://127.0.0.1:1' },
      recording: { segmentSeconds: 2, sources: o.sources ?? [{ id: 'cam1', kind: 'camera', driver: 'sim', width: 320, height: 180, fps: 10 }, { id: 'mic1', kind: 'microphone', driver: 'sim' }] },
    },
  });
  const config = gw.config;
  const log = o.log ?? silentLogger;
  const core = await startEvidenceCore(config, log);
  const session = { open: false };
  const status = idleStatus(config.deviceId);
  const recorder = {
    status: async () => ({ ...status, session: session.open ? ({ state: 'recording' } as RecorderStatus['session']) : null }),
    preflight: async () =>
      preflight({
        freeBytes: 5e9,
        quotaLeftBytes: undefined,
        bytesPerSecond: 300_000,
        expectedSeconds: 600,
        battery: undefined,
        minBatteryPercent: 20,
        clock: { source: 'system', synced: true },
        sources: [{ id: 'cam1', producing: false, problem: 'not started' }],
      }),
  } as unknown as Recorder;
  const queue = new UploadQueue(core.db, core.ledger, config.uplink!.deadlineHours);
  const deps: ConsoleDeps = {
    ...consoleDeps({ config, settings: config.console!, core, recorder, status: () => recorder.status(), queue, log, ...(o.now ? { now: o.now } : {}) }),
    ...(o.throttle ? { throttle: o.throttle } : {}),
    // The camera search probes only the interfaces a test names (none by default): never the machine's real LAN.
    cameras: cameraFinder(o.cameraInterfaces ?? []),
  };
  const server = new ConsoleServer(deps);
  await server.start();
  return {
    gw,
    core,
    server,
    deps,
    session,
    base: `https://127.0.0.1:${server.address().port}`,
    async stop() {
      await server.stop();
      await core.stop();
    },
  };
}

export const setupCodeOf = (stateDir: string): string => readFileSync(join(stateDir, 'console', 'setup-code'), 'utf8').trim();

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
}

/** An HTTPS client that keeps cookies like a browser would (the console's are all __Host-, Secure, SameSite). */
export class Client {
  readonly cookies = new Map<string, string>();

  constructor(readonly base: string) {}

  /** `fresh`: a connection of its own, never one kept alive from an earlier request (which the server may have closed). */
  async req(method: string, path: string, o: { form?: Record<string, string>; json?: unknown; raw?: string; type?: string; headers?: Record<string, string>; fresh?: boolean } = {}): Promise<Answer> {
    let body: string | undefined;
    const headers: Record<string, string> = { ...o.headers };
    if (o.form) {
      body = new URLSearchParams(o.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    } else if (o.json !== undefined) {
      body = JSON.stringify(o.json);
      headers['content-type'] = 'application/json';
    } else if (o.raw !== undefined) {
      body = o.raw;
      headers['content-type'] = o.type ?? 'application/x-www-form-urlencoded';
    }
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const url = new URL(path, this.base);
    return new Promise((resolve, reject) => {
      const r = request(url, { method, headers, rejectUnauthorized: false, ...(o.fresh ? { agent: false } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          for (const c of res.headers['set-cookie'] ?? []) {
            const [kv, ...attrs] = c.split(';');
            const i = kv!.indexOf('=');
            const k = kv!.slice(0, i).trim();
            const v = kv!.slice(i + 1).trim();
            if (attrs.some((a) => /max-age=0/i.test(a.trim())) || v === '') this.cookies.delete(k);
            else this.cookies.set(k, v);
          }
          const b = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b, text: b.toString('utf8') });
        });
      });
      r.on('error', reject);
      r.end(body);
    });
  }

  get(path: string, headers?: Record<string, string>): Promise<Answer> {
    return this.req('GET', path, headers ? { headers } : {});
  }

  /** POST a form with the page's CSRF token (fetched from `page` first unless given). */
  async post(path: string, form: Record<string, string>, o: { csrf?: string; page?: string } = {}): Promise<Answer> {
    const csrf = o.csrf ?? (await this.csrf(o.page ?? '/'));
    return this.req('POST', path, { form: { _csrf: csrf, ...form } });
  }

  async csrf(page: string): Promise<string> {
    const a = await this.get(page);
    const m = /name="_csrf" value="([^"]+)"/.exec(a.text);
    if (!m) throw new Error(`no CSRF token on ${page} (status ${a.status})`);
    return m[1]!;
  }
}

export const PASSWORD = 'correct horse battery';

/** First-run setup through the form: the admin `admin` exists and `c` is logged in as it. */
export async function setupAdmin(c: Client, stateDir: string, password = PASSWORD): Promise<void> {
  const csrf = await c.csrf('/setup');
  const a = await c.req('POST', '/setup', { form: { _csrf: csrf, code: setupCodeOf(stateDir), name: 'admin', password, password2: password } });
  if (a.status !== 303) throw new Error(`setup failed: ${a.status} ${a.text.slice(0, 400)}`);
}

export async function login(c: Client, name: string, password = PASSWORD): Promise<Answer> {
  const csrf = await c.csrf('/login');
  return c.req('POST', '/login', { form: { _csrf: csrf, name, password } });
}

/** In a browser on the first-run page: create the admin `admin` with the setup code, and wait for the overview. */
export async function setupInBrowser(page: Page, base: string, stateDir: string, password = PASSWORD): Promise<void> {
  await page.fill('#code', setupCodeOf(stateDir));
  await page.fill('#name', 'admin');
  await page.fill('#password', password);
  await page.fill('#password2', password);
  await page.click('button[type=submit]');
  await page.waitForURL(base + '/');
}

/** Debian's chromium, headless, as MACHINE.md says it runs here (playwright cannot download browsers). */
export async function launchChromium(): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  const page = await (await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } })).newPage();
  return { browser, page };
}

export interface GatewayConsole {
  gw: Provisioned;
  gateway: Gateway;
  server: ConsoleServer;
  base: string;
  stop(): Promise<void>;
}

/**
 * A real gateway (simulated sources) with its console wired as the gateway wires it, config changes applied to the
 * running gateway. `status` may add to what the console reads (parts no gateway here can have, such as serial devices).
 */
export async function gatewayConsole(
  caDir: string,
  config: Record<string, unknown>,
  o: { throttle?: ConsoleDeps['throttle']; status?: (st: ConsoleStatus) => ConsoleStatus } = {},
): Promise<GatewayConsole> {
  const gw = makeGateway(caDir, { config });
  const gateway = new Gateway(gw.config, silentLogger);
  await gateway.start();
  const c = gw.config;
  const extra = o.status ?? ((st: ConsoleStatus) => st);
  const server = new ConsoleServer({
    ...consoleDeps({
      config: c,
      settings: c.console!,
      core: gateway.evidence,
      recorder: gateway.recorderInterface,
      ...(gateway.uplinkQueue ? { queue: gateway.uplinkQueue } : {}),
      status: async () => extra((await gateway.status()) as ConsoleStatus),
      log: silentLogger,
      onConfigApplied: () => gateway.configApplied(),
      control: { auth: gateway.officerAuthInterface },
    }),
    ...(o.throttle ? { throttle: o.throttle } : {}),
  });
  await server.start();
  return {
    gw,
    gateway,
    server,
    base: `https://127.0.0.1:${server.address().port}`,
    async stop() {
      await server.stop();
      await gateway.stop();
    },
  };
}
