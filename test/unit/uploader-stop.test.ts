/**
 * Uploader.stop() against receipts that still arrive while it stops. A soak run crashed a gateway right after
 * "stopped cleanly" (exit 1): a receipt during the stop scheduled a status message for the end of that second, and
 * the timer read the state database after it was closed. The link here is a stand-in that never connects and
 * records statuses, so that progress() can be called at the exact point of the stop; the queue, ledger, alarms
 * and retention are the real ones on a real state database (the soak runs the whole thing over real MQTT).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { queueWorld } from '../helpers/queue-world.js';
import { cleanupTmp, makeCa } from '../helpers/fixtures.js';
import { uplinkGateway } from '../helpers/uplink-world.js';
import { KeySigner } from '../../src/evidence/signer.js';
import { caPaths } from '../../src/pki/ca.js';
import { silentLogger } from '../../src/util/log.js';
import { DeadlineAlarms } from '../../src/uplink/alarms.js';
import { LogWatch } from '../../src/uplink/log-watch.js';
import { Inbox } from '../../src/uplink/inbox.js';
import { Retention } from '../../src/uplink/retention.js';
import { Uploader } from '../../src/uplink/uploader.js';
import type { MqttLink } from '../../src/uplink/link.js';

let ca: ReturnType<typeof makeCa>;

beforeAll(() => {
  ca = makeCa();
});
afterAll(cleanupTmp);

/** A link that is never connected; it records the statuses published through it. */
function recordingLink(): { link: MqttLink; statuses: { state: string }[] } {
  const statuses: { state: string }[] = [];
  const link = {
    connected: false,
    connection: 0,
    waitConnected: (signal: AbortSignal) => new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve()))),
    publishStatus: (_device: string, status: { state: string }) => statuses.push(status),
  };
  return { link: link as unknown as MqttLink, statuses };
}

describe('Uploader.stop', () => {
  it('publishes no status once stopping, so nothing reads the database after it is closed', async () => {
    const p = caPaths(ca.dir);
    const receiptSigner = new KeySigner(createPrivateKey(readFileSync(p.receiptKey, 'utf8')), readFileSync(p.receiptCert, 'utf8'));
    const w = await queueWorld({ caDir: ca.dir, receiptSigner, caseRef: 'US-2026-001', sources: ['cam1'] });
    const config = uplinkGateway(ca.dir, 'stop-status', 'mqtts://127.0.0.1:1').config.uplink!;
    const { link, statuses } = recordingLink();
    const now = (): number => Date.now();
    const logWatch = new LogWatch(w.core.db, w.core.ledger, [readFileSync(p.caCert, 'utf8')], now, silentLogger);
    const inbox = new Inbox({ deviceId: w.deviceId, caPems: [readFileSync(p.caCert, 'utf8')], queue: w.queue, now, log: silentLogger, onProgress: () => {}, logWatch });
    const up = new Uploader({
      deviceId: w.deviceId,
      config,
      db: w.core.db,
      ledger: w.core.ledger,
      queue: w.queue,
      alarms: new DeadlineAlarms(w.core.db, w.core.ledger, w.queue, config.alarmHoursBefore),
      retention: new Retention(w.core.db, w.core.ledger, config.retentionHours, silentLogger),
      inbox,
      link,
      logWatch,
      now,
      log: silentLogger,
    });
    up.start();
    // Two receipts in one second while running: the first status goes at once, the second at the second's end.
    up.progress();
    up.progress();
    await sleep(1100);
    const running = statuses.length;
    expect(running).toBe(2);

    // Receipts arriving while it stops (the link is still up then).
    const stopping = up.stop();
    up.progress();
    up.progress();
    await stopping;
    // A status timer left behind fires within the second: after 'offline', and in the gateway after the state
    // database was closed (a throw in a timer: the crash).
    await sleep(1200);
    expect(statuses.slice(running).map((s) => s.state)).toEqual(['offline']);
    await w.core.stop();
  }, 30_000);
});
