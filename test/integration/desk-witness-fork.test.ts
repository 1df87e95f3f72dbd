/**
 * A fork of the agency log that a witness reports reaches the desk as a live alert: a real witness (`recgw witness
 * serve`) has cosigned a genuine log of 5 leaves; a real receiver (`recgw receiver`, its witness in its config) starts
 * on a store whose log holds 5 other leaves (a database restored from a forged copy). At its start it asks the
 * witness to cosign, is refused (422: inconsistent with what the witness cosigned), and publishes the alarm retained on
 * recgw/receiver:1/status (src/receiver/receiver-status.ts), which the desk's watch on a real mosquitto takes in as
 * it takes a gateway's log alarms (gateway-watch.ts, alerts.ts): the /alerts page names the witness, a named account
 * acknowledges it. A receiver whose log the witness has cosigned raises nothing. The attacker's part: a gateway
 * cannot put an alarm (or the retraction of one) under a receiver's name, the broker's ACL refuses it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrivateKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { cleanupTmp, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { ensureBuilt } from '../helpers/store-fixture.js';
import { initWitness, serveWitness, type TestWitness } from '../helpers/witness.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { deviceMqttOptions } from '../helpers/mqtt-clients.js';
import { makeReceiver, startReceiver, type ReceiverProcess } from '../helpers/uplink-world.js';
import { DESK_ACCOUNTS, signedIn, startDesk, type TestDesk } from '../helpers/desk.js';
import { issueReceiverCertificate, caPaths, logOrigin } from '../../src/pki/ca.js';
import { openReceiverDb } from '../../src/receiver/store-db.js';
import { AgencyLog } from '../../src/receiver/agency-log.js';
import { SqliteReceiverSql } from '../../src/receiver/sqlite-receiver-sql.js';
import { LogFiles } from '../../src/receiver/log-files.js';
import { WitnessClient } from '../../src/receiver/witness-client.js';
import { silentLogger } from '../../src/util/log.js';
import { liveAlerts } from '../../src/desk/alerts.js';
import { openIndexDb, type IndexDb } from '../../src/index/database.js';
import type { LogLeaf } from '../../src/evidence/log-leaf.js';

const WITNESS = 'sfj.example.gov.cn/witness1';

const leaf = (i: number, salt: string): LogLeaf => ({ v: 1, kind: 'entry', device: 'room-1', seq: i, hash: Buffer.alloc(32, i % 256).toString('hex').slice(0, 62) + salt, accepted: '2026-12-06T10:00:00.000Z' });

describe('a fork a witness reports, on the desk', () => {
  let ca: ReturnType<typeof makeCa>;
  let broker: Mosquitto;
  let witness: TestWitness;
  let desk: TestDesk;
  let db: IndexDb;
  const receivers: ReceiverProcess[] = [];

  /** A receiver store whose log holds leaves 0..n-1 made with `salt`; `cosign`: asked the witness for them first. */
  async function storeWithLog(n: number, salt: string, cosign: boolean): Promise<string> {
    const store = tmp('recgw-wfork-store-');
    const p = caPaths(ca.dir);
    const sql = new SqliteReceiverSql(openReceiverDb(store));
    try {
      const log = new AgencyLog(sql, createPrivateKey(readFileSync(p.logKey, 'utf8')), logOrigin(readFileSync(p.caCert, 'utf8')));
      const files = new LogFiles(store, log);
      await files.republish(readFileSync(p.logCert, 'utf8'));
      await sql.transaction((tx) => log.append(tx, Array.from({ length: n }, (_, i) => leaf(i, salt))));
      await files.publish();
      if (cosign) {
        const client = new WitnessClient(files.dir, log, [{ url: witness.url, vkey: witness.vkey }], silentLogger);
        client.kick();
        await client.idle();
        expect(readFileSync(join(files.dir, 'witnessed'), 'utf8').split('\n')[1]).toBe(String(n));
      }
    } finally {
      await sql.close();
    }
    return store;
  }

  async function receiverOn(store: string, name: string): Promise<ReceiverProcess> {
    const rx = makeReceiver(ca.dir, name, broker.url, { store });
    const cfg = JSON.parse(readFileSync(rx.configPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(rx.configPath, JSON.stringify({ ...cfg, witnesses: [{ url: witness.url, vkey: witness.vkeyText }] }));
    const r = await startReceiver(rx);
    receivers.push(r);
    return r;
  }

  beforeAll(async () => {
    ensureBuilt();
    ca = makeCa();
    broker = await startMosquitto({ caDir: ca.dir, receivers: ['receiver:1', 'receiver:2', 'receiver:desk'] });
    witness = await serveWitness(initWitness(WITNESS, [caPaths(ca.dir).logVkey]));
    const dir = tmp('recgw-wfork-desk-');
    const r = issueReceiverCertificate({ caDir: ca.dir, name: 'receiver:desk' });
    writeFileSync(join(dir, 'desk-mqtt.pem'), r.certPem);
    writeFileSync(join(dir, 'desk-mqtt-key.pem'), r.keyPem, { mode: 0o600 });
    const url = `sqlite:${join(dir, 'index.db')}`;
    desk = await startDesk(ca.dir, url, tmp('recgw-empty-store-'), { gateways: { broker: broker.url, cert: join(dir, 'desk-mqtt.pem'), key: join(dir, 'desk-mqtt-key.pem'), offlineMinutes: 2 } });
    db = await openIndexDb(url);
  }, 120_000);

  afterAll(async () => {
    for (const r of receivers) await r.stop();
    await desk?.stop();
    await db?.close();
    await witness?.stop();
    await broker?.stop();
    cleanupTmp();
  });

  const alarms = async (): Promise<Awaited<ReturnType<typeof liveAlerts>>> => (await liveAlerts(db, Date.now(), 2 * 60_000)).filter((a) => a.kind === 'log-alarm');
  const waitFor = async (what: () => Promise<boolean>, ms = 15_000): Promise<void> => {
    const end = Date.now() + ms;
    while (Date.now() < end && !(await what())) await new Promise((r) => setTimeout(r, 100));
    expect(await what()).toBe(true);
  };

  it('a receiver whose log the witness cosigned raises nothing; one whose log forked is an alert naming the witness, acknowledged by name', async () => {
    // The genuine log, cosigned; a receiver on it (its first round is at its start): the witness cosigns again.
    const genuine = await storeWithLog(5, '00', true);
    const good = await receiverOn(genuine, 'receiver:2');

    // The forged copy: 5 other leaves under the same log key.
    const forged = await storeWithLog(5, 'ff', false);
    const bad = await receiverOn(forged, 'receiver:1');
    await waitFor(async () => (await alarms()).some((a) => a.device === 'receiver:1'));
    expect(bad.log()).toMatch(/a witness refused the checkpoint as inconsistent with what it cosigned before: the log forked/);
    const found = await alarms();
    expect(good.log()).not.toMatch(/witness refused/);
    expect(found.map((a) => [a.device, a.reason, a.witness, a.origin])).toEqual([['receiver:1', 'forked', WITNESS, logOrigin(readFileSync(caPaths(ca.dir).caCert, 'utf8'))]]);
    // A receiver is no gateway: its status is no "gateway offline" alert, however long it stays silent.
    expect((await liveAlerts(db, Date.now() + 3600_000, 2 * 60_000)).filter((a) => a.device.startsWith('receiver:')).map((a) => a.kind)).toEqual(['log-alarm']);

    const c = await signedIn(desk.base, DESK_ACCOUNTS['evidence-officer']);
    const page = await c.get('/alerts');
    expect(page.text).toContain(`见证方 ${WITNESS} 报告机构日志异常：分叉（同一长度有两个不同的根）`);
    expect(page.text).toContain('接收端 receiver:1');
    const csrf = await c.csrf('/alerts');
    expect((await c.req('POST', '/alerts/ack', { form: { _csrf: csrf, key: found[0]!.key, note: '已通知见证方' } })).headers.location).toBe('/alerts?m=acked');
    expect((await alarms()).map((a) => a.ack?.name)).toEqual([DESK_ACCOUNTS['evidence-officer']]);

    // Restarted on the same forged log, the receiver raises it again; the desk keeps one alert per witness and alarm.
    await bad.stop();
    receivers.splice(receivers.indexOf(bad), 1);
    const again = await receiverOn(forged, 'receiver:1');
    await waitFor(async () => /the log forked/.test(again.log()));
    await waitFor(async () => (await alarms()).filter((a) => a.device === 'receiver:1').length === 1 && (await alarms())[0]!.at !== found[0]!.at);
  }, 120_000);

  it("refuses a gateway that writes under a receiver's name: neither a forged alarm nor the retraction of the real one reaches the desk", async () => {
    const before = await alarms();
    expect(before).toHaveLength(1);
    const g = makeGateway(ca.dir, { deviceId: 'room-7' });
    const gw = mqtt.connect(broker.url, { ...deviceMqttOptions(g.config.stateDir, broker.caCert), clean: true, reconnectPeriod: 0, protocolVersion: 5 });
    try {
      await new Promise<void>((resolve, reject) => {
        gw.once('connect', () => resolve());
        gw.once('error', reject);
      });
      const forged = { v: 1, device: 'receiver:1', state: 'online', at: new Date().toISOString(), logAlarms: [] };
      const withAlarm = { v: 1, device: 'receiver:9', state: 'online', at: new Date().toISOString(), logAlarms: [{ level: 'forked', origin: 'x', at: new Date().toISOString(), detail: 'forged', witness: 'w' }] };
      const codes = await Promise.all(
        [['recgw/receiver:1/status', forged], ['recgw/receiver:9/status', withAlarm]].map(
          ([topic, body]) =>
            new Promise<string>((resolve) => gw.publish(topic as string, JSON.stringify(body), { qos: 1, retain: true }, (err) => resolve(err ? err.message : 'accepted'))),
        ),
      );
      // MQTT 5: PUBACK 0x87 "not authorized" from mosquitto's ACL (mqtt.js makes it an error).
      expect(codes).toEqual([expect.stringMatching(/not authorized/i), expect.stringMatching(/not authorized/i)]);
      // And its own status, after them on the same connection, arrives: the desk has read past the refused ones.
      gw.publish('recgw/room-7/status', JSON.stringify({ v: 1, device: 'room-7', state: 'online', at: new Date().toISOString() }), { qos: 1, retain: true });
      await waitFor(async () => (await db.query('SELECT 1 FROM desk_gateway_status WHERE device_id = $1', ['room-7'])).length === 1);
      expect((await alarms()).map((a) => [a.device, a.key])).toEqual(before.map((a) => [a.device, a.key]));
    } finally {
      gw.end(true);
    }
  }, 60_000);
});
