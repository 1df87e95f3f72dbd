/**
 * Device IDs and receiver names never meet (src/pki/names.ts): the broker knows a client only by its certificate's
 * CN, so a device certificate carrying a receiver's name would get that receiver's rights. The CA refuses both
 * directions with a sentence saying why; the receiver config and the ACL writer refuse a device-form receiver name,
 * and a receiver refuses a certificate that does not carry its name (its receipts would name someone else).
 * broker-acl.test.ts performs the attack on a real mosquitto.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { createCsr, issueReceiverCertificate, signDeviceCsr } from '../../src/pki/ca.js';
import { deviceIdProblem, isReceiverName, isValidDeviceId, receiverNameProblem } from '../../src/pki/names.js';
import { loadReceiverConfig } from '../../src/receiver/config.js';
import { uplinkAcl } from '../../src/demo/mosquitto-config.js';
import { provisionReceiver } from '../../src/demo/provision.js';
import { Receiver } from '../../src/receiver/receiver.js';
import { silentLogger } from '../../src/util/log.js';

let caDir: string;
beforeAll(() => {
  caDir = makeCa().dir;
}, 30_000);
afterAll(cleanupTmp);

function csrFor(cn: string): string {
  const k = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return createCsr(cn, k.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, k.publicKey.export({ type: 'spki', format: 'pem' }) as string);
}

describe('the two namespaces', () => {
  it('no string is both a device ID and a receiver name', () => {
    // Strings near both forms: the alphabet of device IDs, the colon, the prefix, look-alikes of the colon.
    const near = fc.array(fc.constantFrom('a', 'Z', '0', '.', '_', '-', ':', '：', 'receiver', 'receiver:', 'Receiver:', ' ', '/', '+'), { maxLength: 12 }).map((a) => a.join(''));
    fc.assert(
      fc.property(fc.oneof(near, fc.string({ maxLength: 80 })), (s) => {
        expect(isValidDeviceId(s) && isReceiverName(s)).toBe(false);
        expect(deviceIdProblem(s) === undefined && receiverNameProblem(s) === undefined).toBe(false);
      }),
      { numRuns: 2000 },
    );
    // Control: each form is accepted by its own namespace.
    expect([isValidDeviceId('receiver-1'), isReceiverName('receiver:1'), isReceiverName('receiver:receiver-1')]).toEqual([true, true, true]);
  });
});

describe('the CA keeps them apart', () => {
  it('refuses a device CSR that names a receiver, saying why', () => {
    expect(() => signDeviceCsr({ caDir, csrPem: csrFor('receiver:1') })).toThrow(
      'refusing to sign the CSR: its CN "receiver:1" is a receiver name, not a device ID: the broker gives a receiver name every device\'s uploads, so no device certificate may carry one. A gateway\'s CSR names its own deviceId (letters, digits, . _ -, up to 64)',
    );
    // Control: the same kind of CSR for a device ID (even one that reads like a receiver) is signed.
    const { certPem, deviceId } = signDeviceCsr({ caDir, csrPem: csrFor('receiver-1') });
    expect(deviceId).toBe('receiver-1');
    expect(new X509Certificate(certPem).subject).toBe('CN=receiver-1\nOU=recgw-device');
  });

  it('refuses a receiver certificate for a device-form name, and names the form to use', () => {
    for (const name of ['receiver-1', 'dev-a']) {
      expect(() => issueReceiverCertificate({ caDir, name })).toThrow(
        `refusing to issue a receiver certificate: receiver name "${name}" has the form of a device ID: a gateway enrolled with that ID would get this receiver's rights at the broker. Receiver names are receiver:<label>, the label of letters, digits, . _ -, up to 64 (e.g. receiver:${name})`,
      );
    }
    expect(() => issueReceiverCertificate({ caDir, name: 'receiver:a b' })).toThrow(/receiver name "receiver:a b" is not valid: receiver names are receiver:<label>.*\(e\.g\. receiver:ab\)/);
    const { certPem } = issueReceiverCertificate({ caDir, name: 'receiver:1' });
    expect(new X509Certificate(certPem).subject).toBe('CN=receiver:1\nOU=recgw-receiver');
  });
});

describe('receiver names elsewhere', () => {
  it('a receiver config with a device-form name is refused, saying what to use', () => {
    const f = join(tmp(), 'rx.json');
    const conf = (name: string): Record<string, unknown> => ({ name, store: 's', broker: 'mqtts://b:8883', tls: { cert: 'c', key: 'k' }, agency: { caCert: 'a', receiptKey: 'r', receiptCert: 'rc', logKey: 'lk', logCert: 'lc', encryptionCerts: ['ec'] } });
    writeFileSync(f, JSON.stringify(conf('receiver-1')));
    expect(() => loadReceiverConfig(f)).toThrow(
      `config file ${f} is invalid:\n  name: receiver name "receiver-1" has the form of a device ID: a gateway enrolled with that ID would get this receiver's rights at the broker. Receiver names are receiver:<label>, the label of letters, digits, . _ -, up to 64 (e.g. receiver:receiver-1); its certificate (recgw ca receiver-cert --name) and the broker ACL's \`user\` line carry the same name`,
    );
    writeFileSync(f, JSON.stringify(conf('receiver:1')));
    expect(loadReceiverConfig(f).name).toBe('receiver:1');
  });

  it('a receiver refuses to start with a certificate that does not carry its name', async () => {
    const rx = provisionReceiver({ dir: tmp(), caDir, name: 'receiver:1', broker: 'mqtts://127.0.0.1:1' });
    const own = readFileSync(rx.config.tls.cert, 'utf8');
    writeFileSync(rx.config.tls.cert, issueReceiverCertificate({ caDir, name: 'receiver:2' }).certPem);
    await expect(new Receiver(rx.config, silentLogger).start()).rejects.toThrow(
      `receiver certificate ${rx.config.tls.cert} is not usable as receiver receiver:1: the certificate is issued to "receiver:2", not "receiver:1"; issue one with \`recgw ca receiver-cert --name receiver:1\``,
    );
    // Control: with its own certificate it starts (its broker is not there; it keeps trying until stopped).
    writeFileSync(rx.config.tls.cert, own);
    const r = new Receiver(rx.config, silentLogger);
    await r.start();
    await r.stop();
  });

  it('the ACL writer gives receiver blocks to receiver names only', () => {
    expect(() => uplinkAcl(['receiver:1', 'receiver-2'])).toThrow(/cannot give "receiver-2" a receiver block in the broker ACL: receiver name "receiver-2" has the form of a device ID/);
    expect(uplinkAcl(['receiver:1'])).toContain('\nuser receiver:1\ntopic read  recgw/+/up/#\n');
  });
});
