/**
 * Revocation at the broker (operations.md §12): a real mosquitto with `crlfile` refuses the TLS handshake of a
 * revoked certificate once it has read the new CRL, and still lets the others in. For an intl agency the CA's own
 * CRL; for a gm agency the transport CA's (evidence-format.md §17.8), which `recgw ca revoke` writes when given the
 * device's bundle of its SM2 and TLS certificates. openssl reads the same CRLs. What was measured on mosquitto
 * 2.0.11 and is documented: a reload (SIGHUP) is enough for new connections, a connection made before stays up
 * until the broker restarts, and a CRL out of date makes the broker refuse every client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { cleanupTmp, makeGateway, tmp } from '../helpers/fixtures.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { main } from '../../src/cli/main.js';
import { initCa } from '../../src/pki/ca.js';
import { identityPaths } from '../../src/pki/identity.js';
import { brokerCrlOf, issueCrl, revokeCertificate } from '../../src/pki/revoke.js';
import { transportPaths } from '../../src/pki/transport-ca.js';

const open: MqttClient[] = [];

afterAll(async () => {
  await Promise.all(open.splice(0).map((c) => c.endAsync(true)));
  cleanupTmp();
});

/** The TLS key and certificate a gateway presents to the broker: its device pair (intl) or its TLS pair (gm). */
function clientOptions(stateDir: string, caCert: string, gm: boolean): IClientOptions {
  const p = identityPaths(stateDir);
  return { key: readFileSync(gm ? p.tlsKey : p.key), cert: readFileSync(gm ? p.tlsCert : p.cert), ca: readFileSync(caCert), rejectUnauthorized: true, reconnectPeriod: 0, connectTimeout: 5_000 };
}

/** Connect, or the reason the broker gave none. */
async function connect(url: string, o: IClientOptions): Promise<MqttClient | Error> {
  try {
    const c = await mqtt.connectAsync(url, o);
    open.push(c);
    return c;
  } catch (err) {
    return err as Error;
  }
}

const openssl = (...args: string[]) => spawnSync('openssl', args, { encoding: 'utf8' });

for (const suite of ['intl', 'gm'] as const) {
  describe(`a ${suite} agency's broker with a CRL`, () => {
    const gm = suite === 'gm';
    let caDir: string;
    let broker: Mosquitto;
    let a: string;
    let b: string;

    beforeAll(async () => {
      caDir = join(tmp('recgw-broker-crl-'), 'ca');
      initCa({ out: caDir, suite });
      // The broker is set up with a CRL from the start (an empty one: nothing is revoked yet).
      await issueCrl(caDir);
      a = makeGateway(caDir, { deviceId: 'crl-a' }).config.stateDir;
      b = makeGateway(caDir, { deviceId: 'crl-b' }).config.stateDir;
      broker = await startMosquitto({ caDir });
    }, 120_000);

    afterAll(async () => {
      await broker?.stop();
    });

    it('uses the CRL of the issuer of the TLS certificates: the transport CA under gm, the CA itself under intl', () => {
      expect(broker.crlFile).toBeDefined();
      expect(brokerCrlOf(caDir)).toBe(gm ? join(transportPaths(caDir).dir, 'crl.pem') : join(caDir, 'crl.pem'));
      expect(readFileSync(join(broker.dir, 'mosquitto.conf'), 'utf8')).toContain(`crlfile ${broker.crlFile}`);
    });

    it('refuses the revoked device at the handshake once reloaded, lets the other in, and openssl agrees', async () => {
      const before = await connect(broker.url, clientOptions(a, broker.caCert, gm));
      expect(before).not.toBeInstanceOf(Error);
      expect(await connect(broker.url, clientOptions(b, broker.caCert, gm))).not.toBeInstanceOf(Error);

      // A gm device's certificate file: its SM2 evidence certificate and its TLS certificate, revoked in one go.
      const p = identityPaths(a);
      const bundle = join(tmp('recgw-broker-crl-cert-'), 'device-bundle.pem');
      writeFileSync(bundle, readFileSync(p.cert, 'utf8') + (gm ? readFileSync(p.tlsCert, 'utf8') : ''));
      let said = '';
      const io = { out: (t: string) => void (said += t), err: (t: string) => void (said += t) };
      expect(await main(['ca', 'revoke', '--ca', caDir, '--cert', bundle, '--reason', 'keyCompromise'], io), said).toBe(0);
      expect(said.match(/^Revoked /gm)).toHaveLength(gm ? 2 : 1);
      expect(said).toContain(`put ${brokerCrlOf(caDir)} in the broker's crlfile`);

      // openssl: the TLS certificate against its CA and the broker's CRL.
      const tlsCa = gm ? transportPaths(caDir).caCert : join(caDir, 'ca.pem');
      const tlsCert = gm ? p.tlsCert : p.cert;
      const v = openssl('verify', '-crl_check', '-CRLfile', brokerCrlOf(caDir), '-CAfile', tlsCa, tlsCert);
      expect(v.stdout + v.stderr).toMatch(/certificate revoked/);
      const ok = openssl('verify', '-crl_check', '-CRLfile', brokerCrlOf(caDir), '-CAfile', tlsCa, gm ? identityPaths(b).tlsCert : identityPaths(b).cert);
      expect(ok.status, ok.stdout + ok.stderr).toBe(0);

      copyFileSync(brokerCrlOf(caDir), broker.crlFile!);
      await broker.reload();
      const refused = await connect(broker.url, clientOptions(a, broker.caCert, gm));
      expect(refused).toBeInstanceOf(Error);
      expect(await connect(broker.url, clientOptions(b, broker.caCert, gm))).not.toBeInstanceOf(Error);
      expect(readFileSync(broker.logFile, 'utf8')).toMatch(/certificate verify failed/);
      // Measured on mosquitto 2.0.11: the connection made before the reload is still up (operations.md §12 says to
      // restart the broker to end it) ...
      expect((before as MqttClient).connected).toBe(true);
      await broker.restart();
      // ... and after the restart it cannot come back.
      expect(await connect(broker.url, clientOptions(a, broker.caCert, gm))).toBeInstanceOf(Error);
      expect(await connect(broker.url, clientOptions(b, broker.caCert, gm))).not.toBeInstanceOf(Error);
    }, 60_000);

    it('refuses every client once its CRL is out of date, and takes them back with a fresh one', async () => {
      const old = new Date(Date.now() - 31 * 86_400_000);
      for (const path of await issueCrl(caDir, old)) expect(existsSync(path)).toBe(true);
      copyFileSync(brokerCrlOf(caDir), broker.crlFile!);
      await broker.reload();
      expect(await connect(broker.url, clientOptions(b, broker.caCert, gm))).toBeInstanceOf(Error);
      await issueCrl(caDir);
      copyFileSync(brokerCrlOf(caDir), broker.crlFile!);
      await broker.reload();
      expect(await connect(broker.url, clientOptions(b, broker.caCert, gm))).not.toBeInstanceOf(Error);
      // The fresh CRL still lists the revoked device.
      expect(await connect(broker.url, clientOptions(a, broker.caCert, gm))).toBeInstanceOf(Error);
    }, 60_000);
  });
}

describe('recgw ca revoke with a bundle', () => {
  it('revokes nothing when one of the certificates is not the CA\'s (a foreign certificate slipped into the bundle)', async () => {
    const caDir = join(tmp('recgw-broker-crl-bundle-'), 'ca');
    initCa({ out: caDir, suite: 'gm' });
    const other = join(tmp('recgw-broker-crl-other-'), 'ca');
    initCa({ out: other, suite: 'gm' });
    const mine = identityPaths(makeGateway(caDir, { deviceId: 'crl-mine' }).config.stateDir);
    const theirs = identityPaths(makeGateway(other, { deviceId: 'crl-theirs' }).config.stateDir);
    const bundle = readFileSync(mine.cert, 'utf8') + readFileSync(theirs.tlsCert, 'utf8');
    await expect(revokeCertificate({ caDir, certPem: bundle, reason: 'keyCompromise' })).rejects.toThrow(/was not issued by the CA in/);
    expect(existsSync(join(caDir, 'crl.pem'))).toBe(false);
    expect(existsSync(join(transportPaths(caDir).dir, 'revoked.json'))).toBe(false);
    // The device's own bundle is revoked by both issuers.
    const r = await revokeCertificate({ caDir, certPem: readFileSync(mine.cert, 'utf8') + readFileSync(mine.tlsCert, 'utf8'), reason: 'superseded' });
    expect(r.all.map((x) => x.issuer)).toEqual(['the agency CA', 'the transport CA (broker TLS)']);
  }, 60_000);
});
