/**
 * The gateway's MQTT connection: mutual TLS with the device certificate, a retained status with an "offline" last
 * will, reconnection, and publishing with a bounded number of messages awaiting PUBACK (mqtt.js does no outgoing
 * flow control of its own; the window never exceeds the broker's Receive Maximum).
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from '../util/log.js';
import { describe } from '../util/errors.js';
import { topics } from './wire.js';

export interface TlsFiles {
  key: string;
  cert: string;
  ca: string;
}

export interface LinkOptions {
  url: string;
  clientId: string;
  protocolVersion: 4 | 5;
  tls: TlsFiles;
  window: number;
  log: Logger;
  /** Retained topic and payload the broker publishes when the connection dies. */
  will?: { topic: string; payload: string };
  subscribe: string[];
  onMessage: (topic: string, payload: Buffer) => void;
  /** Told on every (re)connect, after subscribing. */
  onConnect?: () => void;
  /** Told when a connection is lost. */
  onDisconnect?: () => void;
}

export function mqttTlsOptions(t: TlsFiles): Pick<IClientOptions, 'key' | 'cert' | 'ca' | 'rejectUnauthorized'> {
  return { key: t.key, cert: t.cert, ca: t.ca, rejectUnauthorized: true };
}

/** Small protocol messages must not wait for delayed ACKs (Nagle): a QoS 1 round trip drops from ~40-90 ms to <1 ms. */
export function noDelay(client: MqttClient): void {
  (client.stream as unknown as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
}

/** Connections the broker closed within SHORT_MS of accepting them, FLAPS times within FLAP_WINDOW_MS, are a pattern. */
const SHORT_MS = 10_000;
const FLAPS = 3;
const FLAP_WINDOW_MS = 60_000;

/**
 * The broker takes the certificate's name as the client id (use_username_as_clientid), so a second client with
 * the same certificate throws the first off, and each reconnect throws the other off in turn: uploads crawl and
 * nothing says why. mosquitto 2.0 gives no reason (its log says "already connected, closing old connection"), so
 * the pattern is what tells: connections the broker keeps closing soon after accepting them. Said once per window.
 */
export function reportFlapping(client: MqttClient, log: Logger, whose: string, now: () => number = Date.now): void {
  let upAt: number | undefined;
  let closes: number[] = [];
  let saidAt = -Infinity;
  client.on('connect', () => (upAt = now()));
  client.on('close', () => {
    const t = now();
    const lasted = upAt === undefined ? Infinity : t - upAt;
    upAt = undefined;
    if (client.disconnecting || lasted >= SHORT_MS) return;
    closes = [...closes.filter((c) => t - c < FLAP_WINDOW_MS), t];
    if (closes.length < FLAPS || t - saidAt < FLAP_WINDOW_MS) return;
    saidAt = t;
    log.error(
      `the broker keeps closing this ${whose}'s connection soon after accepting it: most often another client is connected with the same certificate (a copied SD card or config folder), and the two throw each other off. Give every ${whose} a certificate of its own; the broker's log says "already connected, closing old connection" when this is the cause`,
      { closes: closes.length, withinSeconds: FLAP_WINDOW_MS / 1000 },
    );
  });
}

/**
 * Subscribe on a (re)connect. A connection that ends or drops before the broker answers is not a failure (the next
 * connection subscribes again): logged as info, and `then` is not called. A refusal (a SUBACK failure code, usually
 * the broker's ACL) is an error naming the topics; `then(false)`. `then(true)` once every topic is granted.
 */
export function subscribeOnConnect(client: MqttClient, wanted: string | string[], log: Logger, then: (granted: boolean) => void): void {
  client.subscribe(wanted, { qos: 1 }, (err, granted) => {
    if (err && (client.disconnecting || !client.connected)) {
      log.info('the connection ended while subscribing; subscribing again on the next one', { err: describe(err) });
      return;
    }
    const refused = (granted ?? []).filter((g) => g.qos >= 0x80).map((g) => g.topic);
    if (err || refused.length > 0) {
      log.error('the broker did not grant the subscription: check that its ACL lets this client read these topics', {
        topics: refused.length > 0 ? refused : [wanted].flat(),
        ...(err ? { err: describe(err) } : {}),
      });
      then(false);
      return;
    }
    then(true);
  });
}

/** How long a stop waits for what is in flight (the offline status, receipts) before closing the connection. */
const END_GRACE_MS = 3000;

/**
 * End an MQTT client. Connected, it ends gracefully (what is in flight is acknowledged first, then DISCONNECT), for
 * at most `graceMs`: over a connection that stalls or dies meanwhile, mqtt.js waits for those acknowledgements for
 * ever and holds no timer, so a stopping process ran out of work mid-stop and exited with code 13 (an unsettled
 * top-level await; found by the soak). Then, or when not connected, the connection is just closed: the broker
 * publishes the last will, and what was not acknowledged is sent again after the next hello.
 */
export async function endClient(client: MqttClient, graceMs = END_GRACE_MS): Promise<void> {
  if (!client.connected) return client.endAsync(true);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.endAsync(),
    new Promise<void>((resolve) => client.once('close', () => resolve())),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
  ]);
  clearTimeout(timer);
  client.stream?.destroy();
}

export class MqttLink {
  private client: MqttClient | undefined;
  private inflight = 0;
  private windowNow: number;
  private readonly slotWaiters: (() => void)[] = [];
  private connectWaiters: (() => void)[] = [];
  private generation = 0;
  /** The generation of the last connection that came up (a close of a failed attempt is not a disconnect). */
  private lastUp = -1;

  constructor(private readonly o: LinkOptions) {
    this.windowNow = o.window;
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  /** Changes each time the connection is lost, so work started on an old connection can tell. */
  get connection(): number {
    return this.generation;
  }

  start(): void {
    const { o } = this;
    const client = mqtt.connect(o.url, {
      clientId: o.clientId,
      protocolVersion: o.protocolVersion,
      clean: true,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      keepalive: 30,
      ...mqttTlsOptions(o.tls),
      ...(o.will ? { will: { topic: o.will.topic, payload: Buffer.from(o.will.payload), qos: 1 as const, retain: true } } : {}),
    });
    this.client = client;
    client.on('connect', (connack) => {
      noDelay(client);
      const max = connack.properties?.receiveMaximum;
      this.windowNow = Math.max(1, Math.min(o.window, max ?? o.window));
      o.log.info('connected to the broker', { url: o.url, window: this.windowNow });
      // Not granted (an error naming the topics), the link still counts as up: the uploader's hellos then go
      // unanswered and it warns each time, as when no receiver runs, until a connection's subscription is granted.
      subscribeOnConnect(client, o.subscribe, o.log, () => {
        for (const w of this.connectWaiters.splice(0)) w();
        this.lastUp = this.generation;
        o.onConnect?.();
      });
    });
    client.on('close', () => {
      if (this.generation === this.lastUp) o.onDisconnect?.();
      this.generation++;
      // Messages awaiting PUBACK on a dead connection will not free their slots by themselves.
      this.inflight = 0;
      for (const w of this.slotWaiters.splice(0)) w();
    });
    client.on('error', (err) => o.log.warn('broker connection problem', { err: describe(err) }));
    reportFlapping(client, o.log, 'gateway');
    client.on('message', (topic, payload) => {
      try {
        o.onMessage(topic, payload);
      } catch (err) {
        o.log.error('handling a message failed', { topic, err: describe(err) });
      }
    });
  }

  /** Resolve once connected (and subscribed), or when `signal` aborts. */
  waitConnected(signal: AbortSignal): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      signal.addEventListener('abort', done);
      this.connectWaiters.push(done);
    });
  }

  /**
   * Publish with QoS 1 once a window slot is free. Resolves when the slot is taken and the message handed to the
   * client, not at PUBACK: the returned `acked` promise tells that (false when the connection died first).
   */
  async send(topic: string, payload: Buffer | string, retain = false): Promise<{ acked: Promise<boolean> }> {
    while (this.inflight >= this.windowNow) await new Promise<void>((r) => this.slotWaiters.push(r));
    const client = this.client;
    if (!client?.connected) return { acked: Promise.resolve(false) };
    this.inflight++;
    const gen = this.generation;
    const acked = new Promise<boolean>((resolve) => {
      client.publish(topic, payload, { qos: 1, retain }, (err) => {
        if (gen === this.generation) {
          this.inflight--;
          this.slotWaiters.shift()?.();
        }
        resolve(!err);
      });
    });
    return { acked };
  }

  /** Wait until nothing is awaiting PUBACK (or the connection is gone). */
  async drain(): Promise<void> {
    while (this.inflight > 0 && this.connected) await new Promise<void>((r) => this.slotWaiters.push(r));
  }

  /**
   * Publish with QoS 1 at once, outside the window: an alert must not wait for chunk slots (it still follows what is
   * already written to the connection). Resolves at PUBACK: false when not connected or the publish failed.
   */
  publishNow(topic: string, payload: string, retain = false): Promise<boolean> {
    const client = this.client;
    if (!client?.connected) return Promise.resolve(false);
    return new Promise((resolve) => client.publish(topic, payload, { qos: 1, retain }, (err) => resolve(!err)));
  }

  publishStatus(deviceId: string, status: object): void {
    void this.publishNow(topics.status(deviceId), JSON.stringify(status), true);
  }

  async stop(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    for (const w of this.connectWaiters.splice(0)) w();
    if (c) await endClient(c);
  }
}
