/**
 * The demo's embedded MQTT broker (aedes, MQTT 3.1.1) behind TLS with client certificates from the demo CA, and
 * the same rules as the mosquitto of docs/uplink-protocol.md §1-2: a device publishes only under its own `up/`,
 * `status` and alert topics, reads only its own `down/`; receivers the reverse; nothing larger than mosquitto's `max_packet_size`.
 * Unlike mosquitto it reads the role (OU) as well as the name (CN), and a name outside its role's namespace
 * (pki/names.ts) gets nothing. aedes has no shared subscriptions, so the demo's single receiver subscribes plainly.
 */
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { Aedes, type Client } from 'aedes';
import { ROLE_DEVICE, ROLE_RECEIVER } from '../pki/ca.js';
import { isReceiverName, isValidDeviceId } from '../pki/names.js';
import { MAX_PACKET_BYTES } from './mosquitto-config.js';

export interface EmbeddedBroker {
  url: string;
  stop(): Promise<void>;
}

interface Who {
  name: string;
  role: string;
}

function who(client: Client | null): Who | undefined {
  const sock = client?.conn as TLSSocket | undefined;
  const subject = sock?.getPeerCertificate?.()?.subject as Record<string, string | string[]> | undefined;
  const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
  const name = one(subject?.CN);
  const role = one(subject?.OU);
  if (!name || !role) return undefined;
  if (role === ROLE_DEVICE && isValidDeviceId(name)) return { name, role };
  if (role === ROLE_RECEIVER && isReceiverName(name)) return { name, role };
  return undefined;
}

/** A QoS 1 PUBLISH's size in MQTT 3.1.1 (aedes speaks nothing else), counted as mosquitto's `max_packet_size` does. */
export function publishPacketBytes(topic: string, payloadBytes: number): number {
  const rest = 2 + Buffer.byteLength(topic) + 2 + payloadBytes;
  return 1 + (rest < 128 ? 1 : rest < 16_384 ? 2 : rest < 2_097_152 ? 3 : 4) + rest;
}

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function mayPublish(w: Who | undefined, topic: string, payloadBytes: number): boolean {
  if (!w || publishPacketBytes(topic, payloadBytes) > MAX_PACKET_BYTES) return false;
  if (w.role === ROLE_DEVICE) return new RegExp(`^recgw/${esc(w.name)}/(up/[^#+]+|status|alert|alert/state)$`).test(topic);
  if (w.role === ROLE_RECEIVER) return /^recgw\/[^/#+]+\/down\/[^#+]+$/.test(topic);
  return false;
}

export function maySubscribe(w: Who | undefined, filter: string): boolean {
  if (!w) return false;
  if (w.role === ROLE_DEVICE) return new RegExp(`^recgw/${esc(w.name)}/down/([^#+]+|#)$`).test(filter);
  if (w.role === ROLE_RECEIVER) return ['recgw/+/up/#', 'recgw/+/status', 'recgw/+/alert', 'recgw/+/alert/state'].includes(filter);
  return false;
}

export async function startEmbeddedBroker(o: { key: string; cert: string; ca: string; port?: number; host?: string }): Promise<EmbeddedBroker> {
  const aedes = await Aedes.createBroker({
    authorizePublish: (client, packet, cb) => cb(mayPublish(who(client), packet.topic, Buffer.byteLength(packet.payload)) ? null : new Error(`not allowed to publish on ${packet.topic}`)),
    authorizeSubscribe: (client, sub, cb) => cb(null, maySubscribe(who(client), sub.topic) ? sub : null),
  });
  const server: Server = createServer({ key: o.key, cert: o.cert, ca: o.ca, requestCert: true, rejectUnauthorized: true }, (sock) => {
    sock.setNoDelay(true);
    aedes.handle(sock);
  });
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `mqtts://${host}:${port}`,
    async stop() {
      await new Promise<void>((r) => aedes.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
