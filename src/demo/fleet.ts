/**
 * A fleet of simulated gateways for the agency-scale bench (bench/agency-scale.bench.js) and its test: N devices,
 * each enrolled with the agency CA as a real gateway is (its own key and device certificate, for TLS and for
 * signing), each with a ledger of its own that a real gateway would write for one camera recording segments
 * (ledger.opened, encryption.installed, session.opened, one segment.sealed manifest per segment, session.closed), signed with
 * its key and chained. The segments are sealed once: every manifest of every device describes the same sealed
 * file (the real sealFile under the agency encryption key, so `recgw verify --agency-key` can open it), under a
 * name of its own. A load generator (bench/agency-gateways.js) then plays the devices over MQTT from `fleet.json`
 * alone, without this code.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate, randomBytes } from 'node:crypto';
import { caPaths, createCsr, initCa, signDeviceCsr } from '../pki/ca.js';
import { generateRsaKeyPair, writePrivateKey } from '../pki/keys.js';
import { identityPaths, loadDeviceIdentity } from '../pki/identity.js';
import { sealFile } from '../evidence/seal.js';
import { manifestFilePath } from '../evidence/sealer.js';
import { LedgerWriter } from './synthetic-store.js';
import { ENTRY } from '../evidence/types.js';
import { hashHex } from '../evidence/segment-scheme.js';

export interface FleetSegment {
  name: string;
  /** The ledger seq of its segment.sealed manifest. */
  seq: number;
  /** The upload deadline the gateway states (segment end + 24 h). */
  deadline: string;
}

export interface FleetDevice {
  deviceId: string;
  cert: string;
  key: string;
  /** Every ledger line, seq 0 first. */
  lines: string[];
  segments: FleetSegment[];
}

export interface Fleet {
  v: 1;
  caDir: string;
  caCert: string;
  /** The agency's private encryption key (to open sealed segments in a verify). */
  agencyEncKey: string;
  /** The one sealed file every manifest describes. */
  sealed: { file: string; size: number; sha256: string };
  segmentSeconds: number;
  devices: FleetDevice[];
}

export interface FleetOptions {
  /** Folder of the fleet (created); fleet.json is its index. */
  dir: string;
  devices: number;
  segmentsPerDevice: number;
  segmentBytes: number;
  /** The segment length the manifests state (default 4 s). */
  segmentSeconds?: number;
  onProgress?: (devicesDone: number) => void;
}

const iso = (t: number): string => new Date(t).toISOString();
export const fleetDeviceId = (i: number): string => `sim-${String(i).padStart(5, '0')}`;
const OFFICERS = [
  { name: '王五', badge: '13020001' },
  { name: '赵六', badge: '13020002' },
];

/** The fleet in `dir` when it was built with these options, else undefined. */
export function loadFleet(o: FleetOptions): Fleet | undefined {
  const file = join(o.dir, 'fleet.json');
  if (!existsSync(file)) return undefined;
  const f = JSON.parse(readFileSync(file, 'utf8')) as Fleet & { options?: unknown };
  const want = { devices: o.devices, segmentsPerDevice: o.segmentsPerDevice, segmentBytes: o.segmentBytes, segmentSeconds: o.segmentSeconds ?? 4 };
  return JSON.stringify(f.options) === JSON.stringify(want) && existsSync(f.sealed.file) ? f : undefined;
}

/**
 * Build the fleet: a CA, one sealed segment, N enrolled devices with their ledgers. Entry times lie in the last
 * minutes before each device's ledger is written (inside its certificate's validity, which starts 5 min back).
 */
export async function buildFleet(o: FleetOptions): Promise<Fleet> {
  const segmentSeconds = o.segmentSeconds ?? 4;
  mkdirSync(o.dir, { recursive: true });
  const caDir = join(o.dir, 'ca');
  const ca = existsSync(join(caDir, 'ca.pem')) ? caPaths(caDir) : initCa({ out: caDir });
  const agencyPublicKey = new X509Certificate(readFileSync(ca.agencyEncCert)).publicKey;
  const plainPath = join(o.dir, 'segment.ts');
  writeFileSync(plainPath, randomBytes(o.segmentBytes));
  const sealedFile = join(o.dir, 'segment.sealed');
  const sealed = await sealFile(plainPath, sealedFile, agencyPublicKey, { workers: false });
  const encPem = readFileSync(ca.agencyEncCert, 'utf8');
  const devices: FleetDevice[] = [];
  for (let i = 0; i < o.devices; i++) {
    const deviceId = fleetDeviceId(i);
    // The enrolment's steps (prepareEnrolment, the CA signing the CSR), without a gateway config around them.
    const paths = identityPaths(join(o.dir, 'devices', deviceId));
    mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
    const kp = generateRsaKeyPair(2048);
    writePrivateKey(paths.key, kp.privateKeyPem);
    const { certPem } = signDeviceCsr({ caDir, csrPem: createCsr(deviceId, kp.privateKeyPem, kp.publicKeyPem) });
    writeFileSync(paths.cert, certPem);
    const { signer } = loadDeviceIdentity(deviceId, paths, ca.caCert);
    const w = new LedgerWriter(join(o.dir, 'devices', deviceId, 'ledger'), deviceId, signer);
    const lines: string[] = [];
    const segments: FleetSegment[] = [];
    const span = o.segmentsPerDevice * segmentSeconds * 1000;
    if (span > 240_000) throw new Error(`a ledger of ${span / 1000} s would start before the device certificate is valid (5 min back): fewer or shorter segments`);
    const t0 = Date.now() - span - 10_000;
    lines.push(w.append(ENTRY.ledgerOpened, { deviceId, cert: signer.certificatePem, software: { name: 'recgw', version: 'fleet' } }, t0));
    lines.push(w.append(ENTRY.encryptionInstalled, { cert: encPem }, t0 + 1));
    const sessionId = `${iso(t0).replace(/[-:]/g, '').slice(0, 15)}Z-${deviceId}`;
    const session = { sessionId, matter: 'site-inspection', caseRef: `SIM-${deviceId}`, officers: OFFICERS, place: `模拟询问室 ${deviceId}` };
    const start = t0 + 1000;
    lines.push(w.append(ENTRY.sessionOpened, { ...session, start: iso(start), sources: ['cam1'] }, start));
    for (let n = 0; n < o.segmentsPerDevice; n++) {
      const name = `${sessionId}_cam1_${String(n).padStart(6, '0')}`;
      const from = start + n * segmentSeconds * 1000;
      const to = from + segmentSeconds * 1000;
      const manifest = {
        segment: name,
        file: manifestFilePath(name),
        ...session,
        source: { id: 'cam1', kind: 'camera' },
        seq: n,
        start: iso(from),
        end: iso(to),
        clock: { source: 'ntp', synced: true },
        gps: null,
        container: 'mpegts',
        plain: sealed.plain,
        stored: sealed.stored,
        enc: sealed.enc,
      };
      segments.push({ name, seq: w.seq, deadline: iso(to + 24 * 3600_000) });
      lines.push(w.append(ENTRY.segmentSealed, manifest, to + 150));
    }
    lines.push(w.append(ENTRY.sessionClosed, { sessionId, end: iso(start + span), reason: 'stopped' }, start + span + 500));
    w.finish(start + span + 1000);
    devices.push({ deviceId, cert: paths.cert, key: paths.key, lines, segments });
    o.onProgress?.(i + 1);
  }
  const fleet: Fleet = {
    v: 1,
    caDir,
    caCert: ca.caCert,
    agencyEncKey: ca.agencyKey,
    sealed: { file: sealedFile, size: sealed.stored.size, sha256: hashHex(sealed.stored) },
    segmentSeconds,
    devices,
  };
  const options = { devices: o.devices, segmentsPerDevice: o.segmentsPerDevice, segmentBytes: o.segmentBytes, segmentSeconds };
  writeFileSync(join(o.dir, 'fleet.json'), JSON.stringify({ ...fleet, options }));
  return fleet;
}
