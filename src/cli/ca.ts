/** `recgw ca ...`: the demo/test agency CA. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { caPaths, ensureLogKey, initCa, isGmCa, issueDeskSigningCertificate, issueReceiverCertificate, issueServerCertificate, signDeviceCsr } from '../pki/ca.js';
import { brokerCrlOf, CRL_DAYS, CRL_FILE, issueCrl, revokeCertificate } from '../pki/revoke.js';
import { REVOCATION_REASONS, type RevocationReason } from '../pki/crl.js';
import { writeFileAtomicSync } from '../util/fsx.js';
import { splitPemBundle } from '../pki/certs.js';
import { transportPaths } from '../pki/transport-ca.js';
import { isSuiteName } from '../crypto/suite.js';
import { RecgwError, isENOENT } from '../util/errors.js';
import { parse, positiveInt, required, readText } from './args.js';
import type { Io } from './io.js';
import { rosterCommand } from './roster.js';

const USAGE = `recgw ca init --out DIR [--agency NAME] [--suite intl|gm]
       recgw ca sign --ca DIR --csr FILE --out FILE [--days N]
       recgw ca server-cert --ca DIR --name HOST [--name HOST ...] --cert FILE --key FILE
       recgw ca receiver-cert --ca DIR --name receiver:LABEL --cert FILE --key FILE
       recgw ca desk-cert --ca DIR --cert FILE --key FILE
       recgw ca revoke --ca DIR --cert FILE [--reason keyCompromise|superseded|cessationOfOperation|affiliationChanged|unspecified] [--date ISO]
       recgw ca crl --ca DIR
       recgw ca roster --ca DIR --officers FILE --out FILE [--days N] [--from ISO] [--agency NAME]`;

export async function caCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'init': {
      const u = 'recgw ca init --out DIR [--agency NAME] [--suite intl|gm]';
      const { values } = parse(rest, { out: { type: 'string' }, agency: { type: 'string' }, suite: { type: 'string' } }, u);
      const out = required(values.out, '--out', u);
      const suite = values.suite ?? 'intl';
      if (!isSuiteName(suite)) throw new RecgwError('usage', `--suite must be intl or gm, not ${JSON.stringify(suite)}\nusage: ${u}`);
      const p = initCa({ out, suite, ...(values.agency ? { agencyName: values.agency } : {}) });
      io.out(`Agency CA written to ${out}:\n  ${p.caCert} (CA certificate: give this to gateways and verifiers)\n  ${p.agencyEncCert} (agency encryption certificate: give this to gateways and receivers)\n  ${p.agencyKey} (agency private decryption key: keep it at the agency)\n  ${p.receiptCert} (receipt-signing certificate)\n  ${p.logKey}, ${p.logCert} (the agency log's checkpoint key and certificate: for receivers)\n  ${p.logVkey} (the log's verifier key: give it to witnesses)${suite === 'gm' ? `\n  ${p.logSm2Key}, ${p.logSm2Cert} (gm: the log's SM2 checkpoint key and certificate: for receivers)` : ''}\n`);
      if (suite === 'gm') {
        io.out(
          `Suite gm: SM2 keys, certificates signed SM2-with-SM3 with the signer ID 1234567812345678 (check one with openssl verify -vfyopt distid:1234567812345678 -CAfile ${p.caCert} CERT). The log key stays Ed25519.\n` +
            `  ${transportPaths(out).caCert} (the transport CA, ECDSA P-256, for the broker's TLS only: mosquitto's cafile, agency.transportCaCert on gateways, tls.ca on receivers; server-cert and receiver-cert issue from it)\n`,
        );
      }
      return 0;
    }
    case 'sign': {
      const u = 'recgw ca sign --ca DIR --csr FILE --out FILE [--days N]';
      const { values } = parse(rest, { ca: { type: 'string' }, csr: { type: 'string' }, out: { type: 'string' }, days: { type: 'string' } }, u);
      const csrPath = required(values.csr, '--csr', u);
      let csrPem: string;
      try {
        csrPem = readFileSync(csrPath, 'utf8');
      } catch (err) {
        if (isENOENT(err)) throw new RecgwError('usage', `CSR file ${csrPath} does not exist`);
        throw err;
      }
      const r = signDeviceCsr({ caDir: required(values.ca, '--ca', u), csrPem, days: positiveInt(values.days, '--days', 825) });
      const out = required(values.out, '--out', u);
      writeFileAtomicSync(out, r.certPem);
      const both = splitPemBundle(r.certPem).length === 2;
      io.out(`Issued a device certificate${both ? ' (gm CA) and its broker TLS certificate (transport CA)' : ''} for ${r.deviceId}: ${out}\n`);
      return 0;
    }
    case 'server-cert': {
      const u = 'recgw ca server-cert --ca DIR --name HOST [--name HOST ...] --cert FILE --key FILE';
      const { values } = parse(rest, { ca: { type: 'string' }, name: { type: 'string', multiple: true }, cert: { type: 'string' }, key: { type: 'string' } }, u);
      const names = values.name ?? [];
      if (names.length === 0) throw new RecgwError('usage', `--name is required\nusage: ${u}`);
      const r = issueServerCertificate({ caDir: required(values.ca, '--ca', u), names });
      writeFileAtomicSync(required(values.cert, '--cert', u), r.certPem);
      writeFileAtomicSync(required(values.key, '--key', u), r.keyPem, 0o600);
      io.out(`Issued a server certificate for ${names.join(', ')}\n`);
      return 0;
    }
    case 'receiver-cert': {
      const u = 'recgw ca receiver-cert --ca DIR --name receiver:LABEL --cert FILE --key FILE';
      const { values } = parse(rest, { ca: { type: 'string' }, name: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' } }, u);
      const name = required(values.name, '--name', u);
      const caDir = required(values.ca, '--ca', u);
      const r = issueReceiverCertificate({ caDir, name });
      writeFileAtomicSync(required(values.cert, '--cert', u), r.certPem);
      writeFileAtomicSync(required(values.key, '--key', u), r.keyPem, 0o600);
      // A receiver needs the log's keys: a CA folder from before them (a gm one from before its SM2 log key) gets them now.
      ensureLogKey(caDir);
      const p = caPaths(caDir);
      io.out(`Issued a receiver certificate for ${name} (its MQTT username)\n${isGmCa(caDir) ? `The log's keys for its config: ${p.logKey}, ${p.logCert}, ${p.logSm2Key}, ${p.logSm2Cert}\n` : ''}`);
      return 0;
    }
    case 'desk-cert': {
      const u = 'recgw ca desk-cert --ca DIR --cert FILE --key FILE';
      const { values } = parse(rest, { ca: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' } }, u);
      const r = issueDeskSigningCertificate({ caDir: required(values.ca, '--ca', u) });
      writeFileAtomicSync(required(values.cert, '--cert', u), r.certPem);
      writeFileAtomicSync(required(values.key, '--key', u), r.keyPem, 0o600);
      io.out('Issued the evidence desk\'s signing certificate (sampleSigning in the desk config: sample-check reports and the audit chain)\n');
      return 0;
    }
    case 'revoke': {
      const u = 'recgw ca revoke --ca DIR --cert FILE [--reason R] [--date ISO]';
      const { values } = parse(rest, { ca: { type: 'string' }, cert: { type: 'string' }, reason: { type: 'string' }, date: { type: 'string' } }, u);
      const reason = (values.reason ?? 'keyCompromise') as RevocationReason;
      if (!REVOCATION_REASONS.includes(reason)) throw new RecgwError('usage', `--reason must be one of ${REVOCATION_REASONS.join(', ')}`);
      const date = values.date === undefined ? undefined : new Date(values.date);
      if (date && (Number.isNaN(date.getTime()) || !/Z$/.test(values.date!))) throw new RecgwError('usage', `--date ${JSON.stringify(values.date)} is not a UTC time like 2026-12-06T08:00:00Z`);
      const certPath = required(values.cert, '--cert', u);
      const r = await revokeCertificate({ caDir: required(values.ca, '--ca', u), certPem: readText(certPath, 'certificate'), reason, ...(date ? { date } : {}) });
      for (const x of r.all) io.out(`Revoked ${x.entry.subject} (serial ${x.entry.serial}, ${reason}) from ${x.entry.date}: ${x.issuer}'s new CRL is ${x.crlPath}.\n`);
      io.out(
        `Give ${join(values.ca!, CRL_FILE)} to every receiver (agency.crl) and to verifiers (--crl); put ${brokerCrlOf(values.ca!)} in the broker's crlfile and reload it (docs/operations.md §12).\n` +
          `Issue fresh CRLs within ${CRL_DAYS} days with \`recgw ca crl\`: the broker refuses every client once its CRL is out of date.\n`,
      );
      return 0;
    }
    case 'crl': {
      const u = 'recgw ca crl --ca DIR';
      const { values } = parse(rest, { ca: { type: 'string' } }, u);
      for (const path of await issueCrl(required(values.ca, '--ca', u))) io.out(`CRL written to ${path}, valid ${CRL_DAYS} days.\n`);
      return 0;
    }
    case 'roster':
      return rosterCommand(rest, io);
    default:
      throw new RecgwError('usage', `unknown ca subcommand ${JSON.stringify(sub ?? '')}\nusage: ${USAGE}`);
  }
}
