/**
 * Gateways offline and agency-log forks among the desk's live alerts, with a real mosquitto configured as the uplink
 * protocol says: the desk watches the retained recgw/+/status with a receiver certificate; a gateway (its device
 * certificate, its last will saying offline) reports a forked agency log in its status, falls silent longer than the
 * configured time, then vanishes (the broker publishes its will). Each becomes an alert, acknowledged by a named
 * account (kept, audited); the /alerts page in Chromium shows them (screenshot in a printed folder).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { cleanupTmp, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { launchChromium } from '../helpers/console.js';
import { DESK_ACCOUNTS, DESK_PASSWORD, signedIn, startDesk, type TestDesk } from '../helpers/desk.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { deviceMqttOptions } from '../helpers/mqtt-clients.js';
import { issueReceiverCertificate } from '../../src/pki/ca.js';
import { liveAlerts } from '../../src/desk/alerts.js';
import { openIndexDb, type IndexDb } from '../../src/index/database.js';

const shots = mkdtempSync(join(tmpdir(), 'recgw-desk-gateways-shots-'));
const MIN = 60_000;

describe('gateways offline and log forks on the desk', () => {
  let broker: Mosquitto;
  let desk: TestDesk;
  let db: IndexDb;
  let gw: MqttClient;
  let clock = Date.now();
  const device = 'room-9';

  beforeAll(async () => {
    const ca = makeCa();
    broker = await startMosquitto({ caDir: ca.dir, receivers: ['receiver:desk'] });
    const dir = tmp('recgw-desk-gw-');
    const r = issueReceiverCertificate({ caDir: ca.dir, name: 'receiver:desk' });
    writeFileSync(join(dir, 'desk-mqtt.pem'), r.certPem);
    writeFileSync(join(dir, 'desk-mqtt-key.pem'), r.keyPem, { mode: 0o600 });
    const url = `sqlite:${join(dir, 'index.db')}`;
    const gateways = { broker: broker.url, cert: join(dir, 'desk-mqtt.pem'), key: join(dir, 'desk-mqtt-key.pem'), offlineMinutes: 2 };
    desk = await startDesk(ca.dir, url, tmp('recgw-empty-store-'), { gateways }, () => clock);
    db = await openIndexDb(url);
    const g = makeGateway(ca.dir, { deviceId: device });
    // As the gateway connects (src/uplink/link.ts): its last will says offline, its status is retained.
    gw = mqtt.connect(broker.url, { ...deviceMqttOptions(g.config.stateDir, broker.caCert), clean: true, reconnectPeriod: 0, will: { topic: `recgw/${device}/status`, payload: Buffer.from(JSON.stringify({ v: 1, device, state: 'offline' })), qos: 1, retain: true } });
    await new Promise<void>((resolve, reject) => {
      gw.once('connect', () => resolve());
      gw.once('error', reject);
    });
  }, 120_000);

  afterAll(async () => {
    gw?.end(true);
    await desk?.stop();
    await db?.close();
    await broker?.stop();
    cleanupTmp();
  });

  const statusRow = async (): Promise<{ state: string } | undefined> => (await db.query<{ state: string }>('SELECT state FROM desk_gateway_status WHERE device_id = $1', [device]))[0];
  const waitFor = async (what: () => Promise<boolean>): Promise<void> => {
    for (let i = 0; i < 100 && !(await what()); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await what()).toBe(true);
  };
  const kinds = async (): Promise<string[]> => (await liveAlerts(db, clock, 2 * MIN)).filter((a) => a.device === device).map((a) => `${a.kind}:${a.reason}`);

  it('alerts on a fork the gateway reports, on a gateway silent too long, and on one that vanished; each acknowledged by name', async () => {
    const at = new Date(clock).toISOString();
    const logAlarms = [{ level: 'forked', origin: 'agency.example/log', at, detail: 'two checkpoints of size 9 with other roots' }];
    gw.publish(`recgw/${device}/status`, JSON.stringify({ v: 1, device, state: 'online', at, queue: { entries: 0, files: 0, bytes: 0 }, nextDeadline: null, alarms: [], logAlarms }), { qos: 1, retain: true });
    await waitFor(async () => (await statusRow())?.state === 'online');
    expect(await kinds()).toEqual(['log-alarm:forked']);

    // Two minutes and more without a status: offline (silent).
    clock += 2 * MIN + 1000;
    expect((await kinds()).sort()).toEqual(['gateway-offline:silent', 'log-alarm:forked']);

    // The gateway vanishes: the broker publishes its will, the desk sees it offline.
    gw.stream.destroy();
    await waitFor(async () => (await statusRow())?.state === 'offline');
    const alerts = (await liveAlerts(db, clock, 2 * MIN)).filter((a) => a.device === device);
    expect(alerts.map((a) => `${a.kind}:${a.reason}`).sort()).toEqual(['gateway-offline:offline', 'log-alarm:forked']);

    const c = await signedIn(desk.base, DESK_ACCOUNTS['evidence-officer']);
    const csrf = await c.csrf('/alerts');
    const page = await c.get('/alerts');
    expect(page.text).toContain('网关离线');
    expect(page.text).toContain('机构日志异常');
    expect(page.text).toContain('分叉（同一长度有两个不同的根）');
    for (const a of alerts) expect((await c.req('POST', '/alerts/ack', { form: { _csrf: csrf, key: a.key, note: '已电话联系' } })).headers.location).toBe('/alerts?m=acked');
    const acked = (await liveAlerts(db, clock, 2 * MIN)).filter((a) => a.device === device);
    expect(acked.map((a) => a.ack?.name)).toEqual([DESK_ACCOUNTS['evidence-officer'], DESK_ACCOUNTS['evidence-officer']]);
    const audit = await db.query<{ detail: string }>("SELECT detail FROM desk_audit WHERE action = 'ack-alert' ORDER BY at_ms, id");
    expect(audit.map((r) => (JSON.parse(r.detail) as { kind: string }).kind).sort()).toEqual(['gateway-offline', 'log-alarm']);
    // The same episode seen again (the retained will, after a desk restart) is the same alert: still acknowledged.
    expect((await c.req('POST', '/alerts/ack', { form: { _csrf: csrf, key: alerts[0]!.key } })).headers.location).toBe('/alerts?m=already');

    const { browser, page: p } = await launchChromium();
    try {
      await p.goto(`${desk.base}/login?next=/alerts`);
      await p.fill('#name', DESK_ACCOUNTS.leader);
      await p.fill('#password', DESK_PASSWORD);
      await p.click('button[type=submit]');
      await p.waitForSelector('#alerts');
      expect(await p.$$eval('#alerts tr[data-kind="gateway-offline"], #alerts tr[data-kind="log-alarm"]', (r) => r.length)).toBe(2);
      await p.screenshot({ path: join(shots, 'alerts-gateways.png'), fullPage: true });
      console.info(`[desk-gateways] screenshots in ${shots}`);
    } finally {
      await browser.close();
    }
  }, 90_000);
});
