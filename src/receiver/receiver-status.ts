/**
 * What the agency's witnesses report about its log, where the desk sees it: a witness that refuses a checkpoint as
 * inconsistent with one it cosigned (the log forked), or that has cosigned a larger one (the log shrank), is a standing
 * alarm of this receiver, published retained on `recgw/<receiver>/status` in the gateways' status format
 * (docs/uplink-protocol.md §7, `logAlarms`), which the broker's ACL lets every client write under its own name and
 * the desk's watch reads (src/desk/gateway-watch.ts). Nothing is published until there is an alarm, so a healthy
 * receiver leaves no status; each alarm is raised once per witness and kind, and published again at each connect
 * (the retained message also outlives this process; a receiver started anew raises it again at its first round).
 */
import type { MqttClient } from 'mqtt';
import { topics } from '../uplink/wire.js';
import type { LogAlarm } from '../uplink/log-watch.js';
import type { Logger } from '../util/log.js';

/** Where a witness's report goes. */
export interface WitnessAlarms {
  raise(witness: string, alarm: LogAlarm): void;
}

export class ReceiverStatus implements WitnessAlarms {
  private readonly alarms = new Map<string, LogAlarm & { witness: string }>();
  private client: MqttClient | undefined;
  private readonly onConnect = (): void => this.publish();

  constructor(
    private readonly name: string,
    private readonly log: Logger,
  ) {}

  /** Publish over `client`, now and at each (re)connect. */
  start(client: MqttClient): void {
    this.client = client;
    client.on('connect', this.onConnect);
    this.publish();
  }

  raise(witness: string, alarm: LogAlarm): void {
    const key = `${witness}/${alarm.level}`;
    if (this.alarms.has(key)) return;
    this.alarms.set(key, { ...alarm, witness });
    this.publish();
  }

  /** The standing alarms, oldest first, each naming the witness that reported it. */
  standing(): (LogAlarm & { witness: string })[] {
    return [...this.alarms.values()];
  }

  stop(): void {
    this.client?.off('connect', this.onConnect);
    this.client = undefined;
  }

  private publish(): void {
    const client = this.client;
    if (!client?.connected || this.alarms.size === 0) return;
    const status = { v: 1, device: this.name, state: 'online', at: new Date().toISOString(), logAlarms: this.standing() };
    client.publish(topics.status(this.name), JSON.stringify(status), { qos: 1, retain: true }, (err) => {
      if (err) this.log.warn('could not publish the witnesses\u2019 alarms; they are published again at the next connect', { err: err.message });
    });
  }
}
