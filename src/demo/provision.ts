/**
 * Provisioning a simulated installation: an agency CA (unless given) and an enrolled gateway with a config
 * file. The demo uses it, and so do the tests, so both go through the same enrolment as a technician would.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { brokerCaCertOf } from '../pki/transport-ca.js';
import { caPaths, initCa, issueReceiverCertificate, signDeviceCsr, type CaPaths } from '../pki/ca.js';
import { receiverFileBase } from '../pki/names.js';
import { loadReceiverConfig, type ReceiverConfig } from '../receiver/config.js';
import { identityPaths, installCertificate } from '../pki/identity.js';
import { prepareEnrolment } from '../pki/enrol.js';
import { caSuiteOf } from '../pki/gm-ca.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { writeFileAtomicSync } from '../util/fsx.js';

export interface ProvisionOptions {
  /** Folder for the gateway: config file and state. */
  dir: string;
  /** Folder of an existing CA, or where to create one. */
  caDir: string;
  createCa?: boolean;
  deviceId?: string;
  /** Extra config keys merged over the defaults (the `recording` object is merged one level deep). */
  config?: Record<string, unknown>;
}

export interface Provisioned {
  ca: CaPaths;
  configPath: string;
  config: Config;
}

/** A gm CA folder's transport CA certificate (the broker's TLS CA, §17.8), if this CA is gm. */
export function transportCaOf(ca: CaPaths): string | undefined {
  const broker = brokerCaCertOf(dirname(ca.caCert));
  return broker === ca.caCert ? undefined : broker;
}

export function defaultSimConfig(deviceId: string, ca: CaPaths): Record<string, unknown> {
  const transport = transportCaOf(ca);
  return {
    deviceId,
    installation: 'interview-room',
    place: '演示执法局 一号询问室 (demo interview room 1)',
    stateDir: './state',
    agency: { caCert: ca.caCert, encryptionCert: ca.agencyEncCert, ...(transport ? { transportCaCert: transport } : {}) },
    recording: {
      segmentSeconds: 4,
      expectedSessionMinutes: 10,
      sources: [
        { id: 'cam1', kind: 'camera', driver: 'sim', width: 640, height: 360, fps: 25 },
        { id: 'mic1', kind: 'microphone', driver: 'sim', frequency: 440 },
      ],
    },
  };
}

export function provisionGateway(o: ProvisionOptions): Provisioned {
  const ca = o.createCa ? initCa({ out: o.caDir }) : caPaths(o.caDir);
  mkdirSync(o.dir, { recursive: true });
  const deviceId = o.deviceId ?? 'demo-room-1';
  const base = defaultSimConfig(deviceId, ca);
  const extra = o.config ?? {};
  const merged = {
    ...base,
    ...extra,
    recording: { ...(base.recording as object), ...((extra.recording as object | undefined) ?? {}) },
  };
  const configPath = join(o.dir, 'recgw.json');
  writeFileAtomicSync(configPath, JSON.stringify(merged, null, 2) + '\n');
  const config = loadConfig(configPath);
  const paths = identityPaths(config.stateDir);
  const { csrPem } = prepareEnrolment(deviceId, paths, caSuiteOf(readFileSync(ca.caCert, 'utf8')));
  const { certPem } = signDeviceCsr({ caDir: o.caDir, csrPem });
  installCertificate(deviceId, paths, config.agency.caCert, certPem, undefined, config.agency.transportCaCert);
  return { ca, configPath, config };
}

export const readText = (p: string): string => readFileSync(p, 'utf8');

export interface ProvisionedReceiver {
  configPath: string;
  config: ReceiverConfig;
}

/** A receiver's certificate, key and config under `dir`, storing into `store` (default `dir/store`). `name` is `receiver:<label>`. */
export function provisionReceiver(o: {
  dir: string;
  caDir: string;
  name: string;
  broker: string;
  store?: string;
  protocolVersion?: 4 | 5;
  shareGroup?: string | null;
  /** The receivers' PostgreSQL database (`database` in the config); absent, SQLite beside the store. */
  database?: string;
}): ProvisionedReceiver {
  const ca = caPaths(o.caDir);
  mkdirSync(o.dir, { recursive: true });
  const { certPem, keyPem } = issueReceiverCertificate({ caDir: o.caDir, name: o.name });
  const base = receiverFileBase(o.name);
  const cert = join(o.dir, `${base}.pem`);
  const key = join(o.dir, `${base}-key.pem`);
  writeFileAtomicSync(cert, certPem);
  writeFileAtomicSync(key, keyPem, 0o600);
  const obj = {
    name: o.name,
    store: o.store ?? join(o.dir, 'store'),
    ...(o.database ? { database: o.database } : {}),
    broker: o.broker,
    protocolVersion: o.protocolVersion ?? 5,
    ...(o.shareGroup !== undefined ? { shareGroup: o.shareGroup } : {}),
    tls: { cert, key, ...(transportCaOf(ca) ? { ca: transportCaOf(ca) } : {}) },
    agency: { caCert: ca.caCert, receiptKey: ca.receiptKey, receiptCert: ca.receiptCert, logKey: ca.logKey, logCert: ca.logCert, ...(caSuiteOf(readFileSync(ca.caCert, 'utf8')) === 'gm' ? { logSm2Key: ca.logSm2Key, logSm2Cert: ca.logSm2Cert } : {}), encryptionCerts: [ca.agencyEncCert] },
  };
  const configPath = join(o.dir, `${base}.json`);
  writeFileAtomicSync(configPath, JSON.stringify(obj, null, 2) + '\n');
  return { configPath, config: loadReceiverConfig(configPath) };
}
