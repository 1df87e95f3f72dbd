/**
 * A mosquitto configured as docs/uplink-protocol.md §1-2 says: mutual TLS against the agency CA, the certificate CN
 * as username, the per-device ACL, no Nagle, room for queued chunks. Written by one piece of code for the tests, the
 * benches and anyone setting up a broker for a trial, so they cannot drift from the documented contract.
 */
import { writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { caPaths, issueServerCertificate, isValidDeviceId } from '../pki/ca.js';

/** The ACL of uplink-protocol.md §2, with one receiver block per name. */
export function uplinkAcl(receivers: string[]): string {
  const lines = ['pattern write recgw/%u/up/#', 'pattern write recgw/%u/status', 'pattern read  recgw/%u/down/#', ''];
  for (const r of receivers) {
    if (!isValidDeviceId(r)) throw new Error(`receiver name ${JSON.stringify(r)} cannot be an ACL user`);
    lines.push(`user ${r}`, 'topic read  recgw/+/up/#', 'topic write recgw/+/down/#', 'topic read  recgw/+/status', '');
  }
  return lines.join('\n');
}

export interface MosquittoFiles {
  confFile: string;
  logFile: string;
  caCert: string;
}

/** Server certificate (from the CA in `caDir`), ACL and mosquitto.conf in `dir`, listening on 127.0.0.1:`port`. */
export function writeMosquittoConfig(o: { dir: string; caDir: string; port: number; receivers: string[] }): MosquittoFiles {
  const caCert = caPaths(o.caDir).caCert;
  const certFile = join(o.dir, 'server.pem');
  const keyFile = join(o.dir, 'server-key.pem');
  const aclFile = join(o.dir, 'acl');
  const logFile = join(o.dir, 'mosquitto.log');
  const confFile = join(o.dir, 'mosquitto.conf');
  const server = issueServerCertificate({ caDir: o.caDir, names: ['localhost', '127.0.0.1'] });
  writeFileSync(certFile, server.certPem);
  writeFileSync(keyFile, server.keyPem, { mode: 0o600 });
  writeFileSync(aclFile, uplinkAcl(o.receivers));
  const conf = [
    // As root, mosquitto would drop to user `mosquitto`, which cannot read a 0600 key in a 0700 temp folder.
    ...(process.getuid?.() === 0 ? [`user ${userInfo().username}`] : []),
    'per_listener_settings false',
    'allow_anonymous false',
    'persistence false',
    // Small protocol messages (hello, state, receipts) must not wait ~40 ms for delayed ACKs (Nagle).
    'set_tcp_nodelay true',
    // Room for a burst of chunks queued for a slow receiver (the default 1000 drops the rest silently).
    'max_queued_messages 10000',
    `acl_file ${aclFile}`,
    `log_dest file ${logFile}`,
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'connection_messages true',
    'log_timestamp_format %H:%M:%S',
    // max_inflight_messages stays at its default (20), which MQTT 5 clients see as the broker's Receive Maximum.
    `listener ${o.port} 127.0.0.1`,
    `cafile ${caCert}`,
    `certfile ${certFile}`,
    `keyfile ${keyFile}`,
    'require_certificate true',
    'use_identity_as_username true',
    '',
  ].join('\n');
  writeFileSync(confFile, conf);
  return { confFile, logFile, caCert };
}
