/** `recgw enrol ...`: device key, CSR, certificate installation and status. */
import { readFileSync, existsSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { loadConfig } from '../config/load.js';
import { splitPemBundle } from '../pki/certs.js';
import { identityPaths, installCertificate, loadDeviceIdentity, uplinkTls } from '../pki/identity.js';
import { prepareEnrolment } from '../pki/enrol.js';
import { enrolmentSuite } from '../pki/gm-ca.js';
import { RecgwError, isENOENT } from '../util/errors.js';
import { parse, required } from './args.js';
import type { Io } from './io.js';

const USAGE = `recgw enrol csr --config FILE
       recgw enrol install --config FILE --cert FILE
       recgw enrol show --config FILE`;

export async function enrolCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parse(rest, { config: { type: 'string' }, cert: { type: 'string' } }, USAGE);
  const config = loadConfig(required(values.config, '--config', USAGE));
  const paths = identityPaths(config.stateDir);
  switch (sub) {
    case 'csr': {
      // A new key is of the agency CA's suite (SM2 for a gm CA); without the CA certificate yet, RSA.
      const r = prepareEnrolment(config.deviceId, paths, enrolmentSuite(config.agency.caCert));
      io.out(
        `${r.keyCreated ? 'Created the device key' : 'Using the existing device key'} (${paths.key}, mode 600).\n` +
          (existsSync(paths.tlsKey) ? `The agency CA is gm: the CSR file also requests the broker TLS certificate for the key ${paths.tlsKey} (ECDSA P-256; OpenSSL has no SM2 in TLS).\n` : '') +
          `Certificate request for ${config.deviceId}: ${paths.csr}\nSend it to the agency to be signed, then run: recgw enrol install --config ${config.file} --cert <signed.pem>\n`,
      );
      return 0;
    }
    case 'install': {
      const certPath = required(values.cert, '--cert', USAGE);
      let pem: string;
      try {
        pem = readFileSync(certPath, 'utf8');
      } catch (err) {
        if (isENOENT(err)) throw new RecgwError('usage', `certificate file ${certPath} does not exist`);
        throw err;
      }
      installCertificate(config.deviceId, paths, config.agency.caCert, pem, undefined, config.agency.transportCaCert);
      // A gm device's file from `recgw ca sign` holds its SM2 certificate and its broker TLS certificate (§17.8).
      const n = splitPemBundle(pem).length;
      io.out(`Installed the device certificate${n === 2 ? ' and its TLS certificate' : ''} for ${config.deviceId} (valid until ${new X509Certificate(pem).validTo}).\n`);
      return 0;
    }
    case 'show': {
      if (!existsSync(paths.cert)) {
        io.out(`${config.deviceId}: not enrolled (no certificate at ${paths.cert}).\n`);
        return 1;
      }
      try {
        const id = loadDeviceIdentity(config.deviceId, paths, config.agency.caCert);
        const x = new X509Certificate(id.certPem);
        io.out(`${config.deviceId}: enrolled; certificate valid from ${x.validFrom} until ${x.validTo}, serial ${x.serialNumber}.\n`);
        if (!existsSync(paths.tlsKey)) return 0;
        // A gm device's broker TLS certificate (evidence-format.md §17.8), checked as the uplink checks it at start.
        const tls = uplinkTls(config.deviceId, paths, config.agency);
        io.out(`${config.deviceId}: broker TLS certificate (transport CA) valid until ${new X509Certificate(tls.cert).validTo}.\n`);
        return 0;
      } catch (err) {
        if (err instanceof RecgwError) {
          io.out(`${config.deviceId}: ${err.message}\n`);
          return 1;
        }
        throw err;
      }
    }
    default:
      throw new RecgwError('usage', `unknown enrol subcommand ${JSON.stringify(sub ?? '')}\nusage: ${USAGE}`);
  }
}
