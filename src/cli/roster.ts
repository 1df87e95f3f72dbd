/** `recgw ca roster`: the agency signs its officer roster (src/officers/make-roster.ts) for its gateways. */
import { X509Certificate } from 'node:crypto';
import { caPaths, ensureRosterKey } from '../pki/ca.js';
import { subjectField } from '../pki/certs.js';
import { readPem } from '../pki/keys.js';
import { makeRosterFile, parseOfficersFile } from '../officers/make-roster.js';
import { encodeRosterFile, rosterSha256 } from '../officers/roster.js';
import { writeFileAtomicSync } from '../util/fsx.js';
import { RecgwError } from '../util/errors.js';
import { parse, positiveInt, readText, required } from './args.js';
import type { Io } from './io.js';

const U = 'recgw ca roster --ca DIR --officers FILE --out FILE [--days N] [--from ISO] [--agency NAME]';

export async function rosterCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { ca: { type: 'string' }, officers: { type: 'string' }, out: { type: 'string' }, days: { type: 'string' }, from: { type: 'string' }, agency: { type: 'string' } }, U);
  const caDir = required(values.ca, '--ca', U);
  const officersFile = required(values.officers, '--officers', U);
  const out = required(values.out, '--out', U);
  const now = new Date();
  const from = values.from === undefined ? now : new Date(values.from);
  if (Number.isNaN(from.getTime()) || (values.from !== undefined && !/Z$/.test(values.from))) throw new RecgwError('usage', `--from ${JSON.stringify(values.from)} is not a UTC time like 2026-12-06T00:00:00Z`);
  const days = positiveInt(values.days, '--days', 90);
  const signer = ensureRosterKey(caDir, { now });
  const ca = new X509Certificate(readPem(caPaths(caDir).caCert, 'CA certificate', 'point --ca at the folder `recgw ca init` wrote'));
  const file = await makeRosterFile({
    officers: parseOfficersFile(readText(officersFile, 'officers'), officersFile),
    agency: values.agency ?? subjectField(ca, 'O') ?? subjectField(ca, 'CN') ?? 'agency',
    notBefore: from,
    notAfter: new Date(from.getTime() + days * 86_400_000),
    signer,
    now,
  });
  // The roster file holds PIN hashes: readable by the gateway's service only.
  writeFileAtomicSync(out, encodeRosterFile(file), 0o640);
  const r = file.roster;
  io.out(
    `Signed the roster of ${r.officers.length} officer(s), valid ${r.notBefore} - ${r.notAfter}: ${out}\n` +
      `  roster ${rosterSha256(r)} (its SHA-256: confirmations in the ledger name it)\n` +
      `Give ${out} to the gateways (agency.roster in their config; it holds PIN hashes: install it readable only by the service).\n` +
      `${officersFile} holds the PINs in clear: destroy it (shred -u ${officersFile}) once every officer knows their PIN.\n`,
  );
  return 0;
}
