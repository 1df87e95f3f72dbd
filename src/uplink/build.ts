/**
 * Assembles the uplink from its parts for the gateway's composition root. The uplink sees the ledger and the
 * segments table only; it knows nothing of cameras, and of sessions only what their ledger entries say (the alerts).
 */
import { readFileSync } from 'node:fs';
import type { UplinkConfig } from '../config/types.js';
import type { Db } from '../state/db.js';
import type { Ledger } from '../evidence/ledger.js';
import type { Logger } from '../util/log.js';
import { splitPemBundle } from '../pki/certs.js';
import { UploadQueue } from './queue.js';
import { DeadlineAlarms } from './alarms.js';
import { Retention } from './retention.js';
import { Inbox } from './inbox.js';
import { LogWatch } from './log-watch.js';
import { MqttLink } from './link.js';
import { Uploader } from './uploader.js';
import { AlertPublisher } from './alerts.js';
import { topics } from './wire.js';

export interface Uplink {
  uploader: Uploader;
  queue: UploadQueue;
  start(): void;
  stop(): Promise<void>;
}

export function buildUplink(o: {
  deviceId: string;
  vehicle: boolean;
  awaySignal: 'coverage' | 'geofence';
  config: UplinkConfig;
  db: Db;
  ledger: Ledger;
  /** The broker's TLS: this device's key and certificate, and the CA the broker's certificate is checked with. */
  tls: { key: string; cert: string; caFile: string };
  /**
   * The agency CA that receipts and log checkpoints are checked with: the TLS CA under intl, never it under gm, where
   * the broker's CA is the transport CA and certifies nothing that is evidence (evidence-format.md §17.8).
   */
  agencyCaFile: string;
  now: () => number;
  log: Logger;
}): Uplink {
  const ca = readFileSync(o.tls.caFile, 'utf8');
  const agencyCa = readFileSync(o.agencyCaFile, 'utf8');
  const queue = new UploadQueue(o.db, o.ledger, o.config.deadlineHours);
  // The inbox and the link tell the uploader and the alerts things; they are built after them.
  const ref: { uploader?: Uploader; alerts?: AlertPublisher } = {};
  const logWatch = new LogWatch(o.db, o.ledger, splitPemBundle(agencyCa), o.now, o.log.child('agency-log'));
  const inbox = new Inbox({
    deviceId: o.deviceId,
    caPems: splitPemBundle(agencyCa),
    logWatch,
    queue,
    now: o.now,
    log: o.log.child('receipts'),
    onProgress: () => ref.uploader?.progress(),
  });
  const link = new MqttLink({
    url: o.config.broker,
    clientId: o.deviceId,
    protocolVersion: o.config.protocolVersion,
    tls: { key: o.tls.key, cert: o.tls.cert, ca },
    window: o.config.window,
    log: o.log.child('mqtt'),
    will: { topic: topics.status(o.deviceId), payload: JSON.stringify({ v: 1, device: o.deviceId, state: 'offline' }) },
    subscribe: [topics.state(o.deviceId), topics.receipt(o.deviceId)],
    onMessage: (t, p) => inbox.handle(t, p),
    onConnect: () => {
      ref.alerts?.connected();
      ref.uploader?.connected();
    },
    onDisconnect: () => ref.uploader?.disconnected(),
  });
  const up = new Uploader({
    deviceId: o.deviceId,
    vehicle: o.vehicle,
    awaySignal: o.awaySignal,
    db: o.db,
    config: o.config,
    ledger: o.ledger,
    queue,
    alarms: new DeadlineAlarms(o.db, o.ledger, queue, o.config.alarmHoursBefore),
    retention: new Retention(o.db, o.ledger, o.config.retentionHours, o.log.child('retention')),
    inbox,
    link,
    logWatch,
    now: o.now,
    log: o.log,
  });
  ref.uploader = up;
  const alerts = new AlertPublisher({ deviceId: o.deviceId, db: o.db, ledger: o.ledger, link, now: o.now, log: o.log.child('alerts') });
  ref.alerts = alerts;
  return {
    uploader: up,
    queue,
    start() {
      link.start();
      alerts.start();
      up.start();
    },
    async stop() {
      // Alerts first: the recorder's stop may just have ended a session, which the supervisor should hear of.
      await alerts.stop();
      await up.stop();
      await link.stop();
    },
  };
}
