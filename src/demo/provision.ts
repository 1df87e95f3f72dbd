/**
 * Provisioning a simulated installation: an agency CA (unless given) and an enrolled gateway with a config
 * file. The demo uses it, and so do the tests, so both go through the same enrolment as a technician would.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { caPaths, initCa, signDeviceCsr, type CaPaths } from '../pki/ca.js';
import { identityPaths, installCertificate, prepareEnrolment } from '../pki/identity.js';
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

export function defaultSimConfig(deviceId: string, ca: CaPaths): Record<string, unknown> {
  return {
    deviceId,
    installation: 'interview-room',
    place: '演示执法局 一号询问室 (demo interview room 1)',
    stateDir: './state',
    agency: { caCert: ca.caCert, encryptionKey: ca.agencyPub },
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
  const { csrPem } = prepareEnrolment(deviceId, paths);
  const { certPem } = signDeviceCsr({ caDir: o.caDir, csrPem });
  installCertificate(deviceId, paths, config.agency.caCert, certPem);
  return { ca, configPath, config };
}

export const readText = (p: string): string => readFileSync(p, 'utf8');
