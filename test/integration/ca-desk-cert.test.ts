/**
 * `recgw ca desk-cert`: the evidence desk's signing key and certificate from the agency CA (role recgw-desk), the key
 * readable by its owner only, taken as the desk config's sampleSigning (the key and its certificate, checked at start).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { cli } from '../helpers/desk.js';
import { caPaths } from '../../src/pki/ca.js';
import { parseDeskConfig, readSampleSigner } from '../../src/desk/config.js';

describe('recgw ca desk-cert', () => {
  afterAll(cleanupTmp);

  it('issues a signing key the desk takes as sampleSigning', async () => {
    const ca = makeCa();
    const dir = tmp('recgw-desk-cert-');
    const r = await cli(['ca', 'desk-cert', '--ca', ca.dir, '--cert', join(dir, 'sample-cert.pem'), '--key', join(dir, 'sample-key.pem')]);
    expect(r.code, r.err).toBe(0);
    expect(statSync(join(dir, 'sample-key.pem')).mode & 0o777).toBe(0o600);
    const cert = new X509Certificate(readFileSync(join(dir, 'sample-cert.pem')));
    expect(cert.subject).toMatch(/OU=recgw-desk/);
    expect(cert.checkIssued(new X509Certificate(readFileSync(caPaths(ca.dir).caCert)))).toBe(true);
    const config = parseDeskConfig({ database: 'sqlite:x.db', listen: { host: '127.0.0.1', port: 0 }, tls: { cert: 'c', key: 'k' }, ca: caPaths(ca.dir).caCert, sampleSigning: { key: 'sample-key.pem', cert: 'sample-cert.pem' } }, dir);
    const signer = readSampleSigner(config)!;
    expect(signer.certificatePem).toBe(readFileSync(join(dir, 'sample-cert.pem'), 'utf8'));
    expect((await cli(['ca', 'desk-cert', '--ca', ca.dir, '--cert', join(dir, 'c2.pem')])).err).toMatch(/--key/);
  });
});
