/**
 * A mosquitto configured as docs/uplink-protocol.md §1-2 says: mutual TLS against the agency CA, the certificate CN
 * as username and client ID, the per-device ACL with one block per receiver name, the packet size limit, no Nagle, room for queued
 * chunks. Written by one piece of code for the tests, the benches and anyone setting up a broker for a trial, so
 * they cannot drift from the documented contract. With `dropPrivileges` the files get the owners and modes of
 * docs/operations.md §11 and mosquitto, started as root, runs as user `mosquitto` as it does in production.
 */
import { chmodSync, chownSync, copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { issueServerCertificate } from '../pki/ca.js';
import { brokerCaCertOf } from '../pki/transport-ca.js';
import { brokerCrlOf } from '../pki/revoke.js';
import { receiverNameProblem } from '../pki/names.js';
import { MAX_CHUNK_KIB, maxChunkPacketBytes } from '../uplink/wire.js';
import { RecgwError } from '../util/errors.js';
import { systemUser } from '../util/system-user.js';

/** mosquitto's `max_packet_size`: a chunk at the largest `uplink.chunkKiB` any gateway may use, and nothing larger. */
export const MAX_PACKET_BYTES = maxChunkPacketBytes(MAX_CHUNK_KIB);

/**
 * The ACL of uplink-protocol.md §2, with one receiver block per name. Receiver names are `receiver:<label>`, which
 * no device ID can be, so no device certificate matches a `user` block (pki/names.ts).
 */
export function uplinkAcl(receivers: string[]): string {
  const lines = ['pattern write recgw/%u/up/#', 'pattern write recgw/%u/status', 'pattern write recgw/%u/alert', 'pattern write recgw/%u/alert/state', 'pattern read  recgw/%u/down/#', ''];
  for (const r of receivers) {
    const problem = receiverNameProblem(r);
    if (problem) throw new RecgwError('usage', `cannot give ${JSON.stringify(r)} a receiver block in the broker ACL: ${problem}`);
    lines.push(`user ${r}`, 'topic read  recgw/+/up/#', 'topic write recgw/+/down/#', 'topic read  recgw/+/status', 'topic read  recgw/+/alert', 'topic read  recgw/+/alert/state', '');
  }
  return lines.join('\n');
}

export interface MosquittoFiles {
  confFile: string;
  logFile: string;
  caCert: string;
  /** The broker's copy of the CA's CRL (`crlfile`); set when the CA folder has one (revoke.ts brokerCrlOf). */
  crlFile?: string;
}

export interface MosquittoConfigOptions {
  dir: string;
  caDir: string;
  port: number;
  /** Receiver names (`receiver:<label>`), each given the receiver block of the ACL. */
  receivers: string[];
  /**
   * Leave out the `user` line, so that mosquitto started as root switches to user `mosquitto` before it reads a
   * file, and give the files the documented owners and modes. Needs root, user `mosquitto`, and every folder above
   * `dir` open to others (x). Without it, mosquitto started as root keeps running as the current user.
   */
  dropPrivileges?: boolean;
}

/** Server certificate (from the CA in `caDir`), CA certificate, ACL and mosquitto.conf in `dir`, on 127.0.0.1:`port`. */
export function writeMosquittoConfig(o: MosquittoConfigOptions): MosquittoFiles {
  const caCert = join(o.dir, 'ca.pem');
  const certFile = join(o.dir, 'server.pem');
  const keyFile = join(o.dir, 'server-key.pem');
  const aclFile = join(o.dir, 'acl');
  const logFile = join(o.dir, 'mosquitto.log');
  const confFile = join(o.dir, 'mosquitto.conf');
  const server = issueServerCertificate({ caDir: o.caDir, names: ['localhost', '127.0.0.1'] });
  // The broker gets the CA certificate only, never the CA's folder (it holds the CA key); a gm agency's broker the
  // transport CA's (evidence-format.md §17.8).
  copyFileSync(brokerCaCertOf(o.caDir), caCert);
  writeFileSync(certFile, server.certPem);
  writeFileSync(keyFile, server.keyPem, { mode: 0o600 });
  writeFileSync(aclFile, uplinkAcl(o.receivers));
  // A CA that has revoked nothing has no CRL yet; once it has one the broker checks every client against it. An out
  // of date CRL makes OpenSSL refuse every client (operations.md §12): `recgw ca crl` renews it.
  const crlSource = brokerCrlOf(o.caDir);
  const crlFile = existsSync(crlSource) ? join(o.dir, 'crl.pem') : undefined;
  if (crlFile) copyFileSync(crlSource, crlFile);
  const asRoot = process.getuid?.() === 0;
  if (o.dropPrivileges) {
    if (!asRoot) throw new RecgwError('usage', 'dropPrivileges needs root: mosquitto started by another user runs as that user');
    const m = systemUser('mosquitto', 'to drop privileges to: install the mosquitto package');
    // Readable by mosquitto's group, not by others: the key and the ACL; the folder lets mosquitto in, no further.
    for (const [f, mode] of [[o.dir, 0o750], [keyFile, 0o640], [aclFile, 0o640]] as const) {
      chownSync(f, 0, m.gid);
      chmodSync(f, mode);
    }
    for (const f of [caCert, certFile, ...(crlFile ? [crlFile] : [])]) chmodSync(f, 0o644);
    // mosquitto opens its log after switching user, and may not create files in the folder: it owns this one.
    writeFileSync(logFile, '', { mode: 0o640 });
    chownSync(logFile, m.uid, m.gid);
  }
  const conf = [
    // As root, mosquitto drops to user `mosquitto` unless told otherwise: which must then read every file below.
    ...(asRoot && !o.dropPrivileges ? [`user ${userInfo().username}`] : []),
    'per_listener_settings false',
    'allow_anonymous false',
    'persistence false',
    // Small protocol messages (hello, state, receipts) must not wait ~40 ms for delayed ACKs (Nagle).
    'set_tcp_nodelay true',
    // Room for a burst of chunks queued for a slow receiver (the default 1000 drops the rest silently).
    'max_queued_messages 10000',
    // The largest chunk a gateway may send; a larger packet ends the sender's connection unread.
    `max_packet_size ${MAX_PACKET_BYTES}`,
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
    ...(crlFile ? [`crlfile ${crlFile}`] : []),
    'require_certificate true',
    // The broker knows a client by its certificate's CN only: as username (the ACL) and as client ID, so that no
    // certificate can take over another client's session by naming its client ID (and end its connection).
    'use_identity_as_username true',
    'use_username_as_clientid true',
    '',
  ].join('\n');
  writeFileSync(confFile, conf);
  return { confFile, logFile, caCert, ...(crlFile ? { crlFile } : {}) };
}
