/**
 * The agency files a gateway config names, checked beyond what the schema can see: the encryption certificate must
 * be the agency's (src/pki/encryption-cert.ts) under the CA in `agency.caCert`. `recgw config check`, the gateway's
 * start and the console's config editor all refuse a config whose files fail here, with the same messages.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { splitPemBundle } from '../pki/certs.js';
import { checkEncryptionCert, issuesText, issuesTextZh, type EncryptionCert } from '../pki/encryption-cert.js';
import { RecgwError } from '../util/errors.js';
import type { ConfigProblem } from './problems.js';
import { CA, ENC, readConfigFile } from './files.js';

export interface AgencyPaths {
  caCert: string;
  encryptionCert: string;
}

/** The encryption certificate, or the problems (keyed as the config names them) that keep the gateway from using it. */
export function agencyEncryptionCert(agency: AgencyPaths, at: Date): { ok: true; cert: EncryptionCert } | { ok: false; problems: ConfigProblem[] } {
  const ca = readConfigFile('agency.caCert', agency.caCert, CA);
  if (!ca.ok) return { ok: false, problems: [ca.problem] };
  const caPems = splitPemBundle(ca.text);
  if (caPems.length === 0) {
    return { ok: false, problems: [{ key: 'agency.caCert', message: `${agency.caCert} holds no PEM certificate: give ${CA.en}`, zh: `${agency.caCert} 中没有 PEM 证书：请提供${CA.zh}` }] };
  }
  const enc = readConfigFile('agency.encryptionCert', agency.encryptionCert, ENC);
  if (!enc.ok) return { ok: false, problems: [enc.problem] };
  const c = checkEncryptionCert(enc.text, caPems, at);
  if (c.ok) return c;
  const file = agency.encryptionCert;
  return { ok: false, problems: [{ key: 'agency.encryptionCert', message: `${file} is refused: ${issuesText(c.issues)}`, zh: `拒绝使用 ${file}：${issuesTextZh(c.issues)}` }] };
}

export const agencyFileProblems = (agency: AgencyPaths, at: Date): ConfigProblem[] => {
  const r = agencyEncryptionCert(agency, at);
  return r.ok ? [] : r.problems;
};

/** The encryption certificate the gateway wraps data keys for; a config error (exit 2) naming the fix otherwise. */
export function loadAgencyEncryptionCert(configFile: string, agency: AgencyPaths, at: Date): EncryptionCert {
  const r = agencyEncryptionCert(agency, at);
  if (r.ok) return r.cert;
  throw new RecgwError('config', `config file ${configFile}: ${r.problems.map((p) => `${p.key}: ${p.message}`).join('; ')}`);
}

/**
 * The same checks for a config being edited (not yet validated or written): paths resolve against the config
 * file's folder, as the loader resolves them. Nothing to say while the agency paths are not both strings (the
 * schema reports that).
 */
export function editedAgencyFileProblems(value: unknown, configFile: string, at: Date): ConfigProblem[] {
  const agency = (value as { agency?: { caCert?: unknown; encryptionCert?: unknown } } | null)?.agency;
  if (typeof agency?.caCert !== 'string' || typeof agency.encryptionCert !== 'string' || !agency.caCert || !agency.encryptionCert) return [];
  const base = dirname(resolve(configFile));
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  return agencyFileProblems({ caCert: abs(agency.caCert), encryptionCert: abs(agency.encryptionCert) }, at);
}
