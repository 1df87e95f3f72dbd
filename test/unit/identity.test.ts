/**
 * The gateway refuses to record without a valid identity, and says which part is wrong: no certificate, an
 * expired one, one from another CA, one for another device, or one that does not carry the device's key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, copyFileSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { cleanupTmp, makeCa, makeGateway } from '../helpers/fixtures.js';
import { createCsr, signDeviceCsr } from '../../src/pki/ca.js';
import { identityPaths, installCertificate, loadDeviceIdentity, type IdentityPaths } from '../../src/pki/identity.js';
import { startEvidenceCore, stateDbPath } from '../../src/app/evidence-core.js';
import { RecgwError } from '../../src/util/errors.js';
import { silentLogger } from '../../src/util/log.js';
import type { Provisioned } from '../../src/demo/provision.js';

let caDir: string;
let otherCaDir: string;

beforeAll(() => {
  caDir = makeCa().dir;
  otherCaDir = makeCa().dir;
}, 60_000);
afterAll(cleanupTmp);

const DEVICE = 'room-1';

function enrolled(): { gw: Provisioned; paths: IdentityPaths } {
  const gw = makeGateway(caDir, { deviceId: DEVICE });
  return { gw, paths: identityPaths(gw.config.stateDir) };
}

function identityError(fn: () => unknown): RecgwError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RecgwError);
    const e = err as RecgwError;
    expect(e.code).toBe('identity');
    expect(e.exitCode).toBe(2);
    return e;
  }
  throw new Error('expected an identity error, but it loaded');
}

/** Both ways in: loading the identity, and starting the evidence core, which must not write a thing. */
async function expectRefusal(gw: Provisioned, paths: IdentityPaths, message: RegExp): Promise<void> {
  const e = identityError(() => loadDeviceIdentity(DEVICE, paths, gw.config.agency.caCert));
  expect(e.message).toMatch(message);
  await expect(startEvidenceCore(gw.config, silentLogger)).rejects.toMatchObject({ code: 'identity', message: expect.stringMatching(message) });
  expect(existsSync(stateDbPath(gw.config.stateDir))).toBe(false);
}

const keyPems = (paths: IdentityPaths): { priv: string; pub: string } => {
  const priv = readFileSync(paths.key, 'utf8');
  return { priv, pub: createPublicKey(createPrivateKey(priv)).export({ type: 'spki', format: 'pem' }) as string };
};

describe('device identity', () => {
  it('an enrolled gateway loads its identity and starts', async () => {
    const { gw, paths } = enrolled();
    const id = loadDeviceIdentity(DEVICE, paths, gw.config.agency.caCert);
    expect(id.certPem).toBe(readFileSync(paths.cert, 'utf8'));
    const core = await startEvidenceCore(gw.config, silentLogger);
    try {
      // ledger.opened with the device certificate, then encryption.installed with the agency's.
      expect([...core.ledger.lines()].map((l) => (JSON.parse(l.line) as { type: string }).type)).toEqual(['ledger.opened', 'encryption.installed']);
    } finally {
      await core.stop();
    }
  });

  it('the device key file is mode 0600, and a key others can read is refused', () => {
    const { gw, paths } = enrolled();
    expect(statSync(paths.key).mode & 0o777).toBe(0o600);
    chmodSync(paths.key, 0o644);
    const e = identityError(() => loadDeviceIdentity(DEVICE, paths, gw.config.agency.caCert));
    expect(e.message).toMatch(/device key at .*device-key\.pem is readable by others \(mode 644\): run chmod 600/);
  });

  it('refuses to start without a certificate', async () => {
    const { gw, paths } = enrolled();
    rmSync(paths.cert);
    await expectRefusal(gw, paths, /device certificate not found at .*device\.pem: the device is not enrolled: run `recgw enrol csr/);
  });

  it('refuses to start with an expired certificate', async () => {
    const { gw, paths } = enrolled();
    const { certPem } = signDeviceCsr({ caDir, csrPem: readFileSync(paths.csr, 'utf8'), now: new Date(Date.now() - 10 * 86_400_000), days: 1 });
    writeFileSync(paths.cert, certPem);
    await expectRefusal(gw, paths, /^cannot record: the device certificate has expired \(.*\): enrol again to get a new one$/);
  });

  it('refuses to start with a certificate from another CA', async () => {
    const { gw, paths } = enrolled();
    const { certPem } = signDeviceCsr({ caDir: otherCaDir, csrPem: readFileSync(paths.csr, 'utf8') });
    writeFileSync(paths.cert, certPem);
    await expectRefusal(gw, paths, /^cannot record: the device certificate is foreign: the certificate for CN=room-1.* was not issued by the agency CA; install one signed by the configured CA$/);
    // Installing it is refused in the first place.
    const e = identityError(() => installCertificate(DEVICE, paths, gw.config.agency.caCert, certPem));
    expect(e.message).toMatch(/^refusing to install the certificate: the device certificate is foreign/);
  });

  it('refuses to start with a certificate for another device ID', async () => {
    const { gw, paths } = enrolled();
    const k = keyPems(paths);
    const { certPem } = signDeviceCsr({ caDir, csrPem: createCsr('room-99', k.priv, k.pub) });
    writeFileSync(paths.cert, certPem);
    await expectRefusal(gw, paths, /^cannot record: the device certificate belongs to another device: the certificate is issued to "room-99", not "room-1"$/);
  });

  it('refuses to start with a certificate that does not carry the device key', async () => {
    const { gw, paths } = enrolled();
    // Another gateway enrolled under the same device ID by the same CA: a genuine certificate, another key.
    const twin = enrolled();
    copyFileSync(twin.paths.cert, paths.cert);
    await expectRefusal(gw, paths, /^cannot record: the device certificate is foreign: the certificate does not carry this device's public key/);
  });

  it('refuses to start when the agency CA certificate is missing', async () => {
    const { gw, paths } = enrolled();
    const missing = join(gw.config.stateDir, 'no-such-ca.pem');
    const config = { ...gw.config, agency: { ...gw.config.agency, caCert: missing } };
    await expectRefusal({ ...gw, config }, paths, /agency CA certificate not found at .*no-such-ca\.pem: set agency\.caCert in the config/);
  });
});
