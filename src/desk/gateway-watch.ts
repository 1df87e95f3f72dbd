/**
 * The desk's watch on the gateways' status (docs/uplink-protocol.md §7): nothing in the store says whether a gateway
 * is online, and the receivers keep no status, so the desk subscribes to the retained `recgw/+/status` itself (with a
 * receiver certificate, which the broker's ACL lets read it) and keeps each gateway's latest in desk_gateway_status:
 * its state, since when the desk has seen it in that state, when it last heard from it, and the agency-log alarms the
 * gateway raises (a fork or a shrink of the log it checks receipts against). alerts.ts turns these into alerts.
 */
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import type { Queryable } from '../index/database.js';
import { mqttTlsOptions, noDelay, subscribeOnConnect } from '../uplink/link.js';
import { RecgwError } from '../util/errors.js';
import type { Logger } from '../util/log.js';

export interface GatewayWatchConfig {
  /** mqtts://HOST:PORT of the broker the gateways publish to. */
  broker: string;
  /** PEM files of a receiver certificate (`recgw ca receiver-cert --name receiver:desk`) and its key. */
  cert: string;
  key: string;
  /** A gateway silent this long (no status; an online one sends it every minute) is offline. */
  offlineMinutes: number;
}

const TOPIC = /^recgw\/([^/]+)\/status$/;

/** What a status message says, when it is one of the device its topic names; undefined otherwise. */
export function parseStatus(topic: string, payload: Buffer): { device: string; state: 'online' | 'offline'; at: number | null; logAlarms: unknown[] } | undefined {
  const device = TOPIC.exec(topic)?.[1];
  if (!device || payload.length === 0 || payload.length > 64 * 1024) return undefined;
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof m !== 'object' || m === null || m.device !== device || (m.state !== 'online' && m.state !== 'offline')) return undefined;
  const at = typeof m.at === 'string' ? Date.parse(m.at) : NaN;
  const logAlarms = Array.isArray(m.logAlarms) ? m.logAlarms.filter((a): a is Record<string, unknown> => typeof a === 'object' && a !== null).slice(0, 20) : [];
  return { device, state: m.state, at: Number.isNaN(at) ? null : at, logAlarms };
}

/** Keep a status: `since` moves only when the state changes, so a retained message seen again is the same episode. */
export async function recordStatus(db: Queryable, s: NonNullable<ReturnType<typeof parseStatus>>, now: number): Promise<void> {
  await db.query(
    `INSERT INTO desk_gateway_status (device_id, state, since_ms, seen_ms, at_ms, log_alarms) VALUES ($1, $2, $3, $3, $4, $5)
     ON CONFLICT (device_id) DO UPDATE SET
       since_ms = CASE WHEN desk_gateway_status.state = excluded.state THEN desk_gateway_status.since_ms ELSE excluded.since_ms END,
       -- The last will says only "offline": the alarms the gateway raised before stay.
       log_alarms = CASE WHEN excluded.state = 'offline' THEN desk_gateway_status.log_alarms ELSE excluded.log_alarms END,
       state = excluded.state, seen_ms = excluded.seen_ms, at_ms = excluded.at_ms`,
    [s.device, s.state, now, s.at, JSON.stringify(s.logAlarms)],
  );
}

export class GatewayWatch {
  private client: MqttClient | undefined;

  constructor(
    private readonly c: GatewayWatchConfig,
    private readonly caFile: string,
    private readonly db: Queryable,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  start(): void {
    const read = (p: string, key: string): string => {
      try {
        return readFileSync(p, 'utf8');
      } catch (err) {
        throw new RecgwError('config', `gateways.${key} in the desk config: cannot read ${p} (${(err as Error).message}): give the receiver certificate's PEM files (recgw ca receiver-cert --name receiver:desk)`, { cause: err });
      }
    };
    const tls = { cert: read(this.c.cert, 'cert'), key: read(this.c.key, 'key'), ca: read(this.caFile, 'ca') };
    const client = mqtt.connect(this.c.broker, { clientId: `desk-${process.pid}-${Math.random().toString(16).slice(2, 8)}`, clean: true, reconnectPeriod: 2000, connectTimeout: 10_000, ...mqttTlsOptions(tls) });
    this.client = client;
    client.on('connect', () => {
      noDelay(client);
      subscribeOnConnect(client, 'recgw/+/status', this.log, (granted) => granted && this.log.info('watching the gateways\u2019 status', { broker: this.c.broker }));
    });
    client.on('error', (err) => this.log.warn('the desk\u2019s broker connection failed; it tries again', { err: err.message }));
    client.on('message', (topic, payload) => {
      const s = parseStatus(topic, payload);
      if (!s) return;
      recordStatus(this.db, s, this.now()).catch((err: unknown) => this.log.error('could not keep a gateway status', { device: s.device, err: (err as Error).message }));
    });
  }

  async stop(): Promise<void> {
    await this.client?.endAsync();
    this.client = undefined;
  }
}
