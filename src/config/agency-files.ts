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
import { CA, ENC, ROSTER, TRANSPORT_CA, readConfigFile } from './files.js';
import { caSuiteOf } from '../pki/gm-ca.js';
import { checkRosterFile, rosterIssuesText, rosterIssuesTextZh, type InstalledRoster } from '../officers/roster.js';

export interface AgencyPaths {
  caCert: string;
  encryptionCert: string;
  roster?: string;
  transportCaCert?: string;
}

/**
 * A gm CA's certificates cannot serve in TLS (OpenSSL 3.0 has no SM2 there): a gm agency's gateway needs its transport
 * CA (agency.transportCaCert, evidence-format.md §17.8) for the broker. Said here so `recgw config check` and the
 * console's editor say it before the uplink does.
 */
function transportProblems(agency: AgencyPaths): ConfigProblem[] {
  const ca = caPemsOf(agency);
  if (!ca.ok || !ca.pems.some((p) => caSuiteOf(p) === 'gm')) return [];
  if (!agency.transportCaCert) {
    return [{ key: 'agency.transportCaCert', message: `the agency CA is gm, whose certificates cannot serve in TLS: set it to ${TRANSPORT_CA.en}`, zh: `执法机构 CA 为国密（SM2），其证书不能用于 TLS：请设为${TRANSPORT_CA.zh}` }];
  }
  const f = readConfigFile('agency.transportCaCert', agency.transportCaCert, TRANSPORT_CA);
  if (!f.ok) return [f.problem];
  if (splitPemBundle(f.text).length === 0) return [{ key: 'agency.transportCaCert', message: `${agency.transportCaCert} holds no PEM certificate: give ${TRANSPORT_CA.en}`, zh: `${agency.transportCaCert} 中没有 PEM 证书：请提供${TRANSPORT_CA.zh}` }];
  return [];
}

/** The CA certificates of `agency.caCert`, or the problem with the file. */
function caPemsOf(agency: AgencyPaths): { ok: true; pems: string[] } | { ok: false; problems: ConfigProblem[] } {
  const ca = readConfigFile('agency.caCert', agency.caCert, CA);
  if (!ca.ok) return { ok: false, problems: [ca.problem] };
  const pems = splitPemBundle(ca.text);
  if (pems.length > 0) return { ok: true, pems };
  return { ok: false, problems: [{ key: 'agency.caCert', message: `${agency.caCert} holds no PEM certificate: give ${CA.en}`, zh: `${agency.caCert} 中没有 PEM 证书：请提供${CA.zh}` }] };
}

/** The encryption certificate, or the problems (keyed as the config names them) that keep the gateway from using it. */
export function agencyEncryptionCert(agency: AgencyPaths, at: Date): { ok: true; cert: EncryptionCert } | { ok: false; problems: ConfigProblem[] } {
  const ca = caPemsOf(agency);
  if (!ca.ok) return ca;
  const caPems = ca.pems;
  const enc = readConfigFile('agency.encryptionCert', agency.encryptionCert, ENC);
  if (!enc.ok) return { ok: false, problems: [enc.problem] };
  const c = checkEncryptionCert(enc.text, caPems, at);
  if (c.ok) return c;
  const file = agency.encryptionCert;
  return { ok: false, problems: [{ key: 'agency.encryptionCert', message: `${file} is refused: ${issuesText(c.issues)}`, zh: `拒绝使用 ${file}：${issuesTextZh(c.issues)}` }] };
}

/**
 * The officer roster the config names (none: undefined), checked as the gateway takes it: signed by the agency's
 * roster certificate under `agency.caCert`, valid at `at`, a PIN hash for every officer (src/officers/roster.ts).
 */
export function agencyRoster(agency: AgencyPaths, at: Date): { ok: true; roster: InstalledRoster | undefined } | { ok: false; problems: ConfigProblem[] } {
  if (!agency.roster) return { ok: true, roster: undefined };
  const ca = caPemsOf(agency);
  if (!ca.ok) return ca;
  const f = readConfigFile('agency.roster', agency.roster, ROSTER);
  if (!f.ok) return { ok: false, problems: [f.problem] };
  const c = checkRosterFile(f.text, ca.pems, at);
  if (c.ok) return { ok: true, roster: c.installed };
  const file = agency.roster;
  return { ok: false, problems: [{ key: 'agency.roster', message: `${file} is refused: ${rosterIssuesText(c.issues)}`, zh: `拒绝使用 ${file}：${rosterIssuesTextZh(c.issues)}` }] };
}

export const agencyFileProblems = (agency: AgencyPaths, at: Date): ConfigProblem[] => {
  const enc = agencyEncryptionCert(agency, at);
  const roster = agencyRoster(agency, at);
  const problems = enc.ok ? [] : [...enc.problems];
  // Both read agency.caCert: its problem is said once.
  for (const p of roster.ok ? [] : roster.problems) if (!problems.some((q) => q.message === p.message)) problems.push(p);
  problems.push(...transportProblems(agency));
  return problems;
};

/** The roster the gateway confirms officers with (none configured: undefined); a config error (exit 2) naming the fix otherwise. */
export function loadAgencyRoster(configFile: string, agency: AgencyPaths, at: Date): InstalledRoster | undefined {
  const r = agencyRoster(agency, at);
  if (r.ok) return r.roster;
  throw new RecgwError('config', `config file ${configFile}: ${r.problems.map((p) => `${p.key}: ${p.message}`).join('; ')}`);
}

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
  const agency = (value as { agency?: { caCert?: unknown; encryptionCert?: unknown; roster?: unknown; transportCaCert?: unknown } } | null)?.agency;
  if (typeof agency?.caCert !== 'string' || typeof agency.encryptionCert !== 'string' || !agency.caCert || !agency.encryptionCert) return [];
  const base = dirname(resolve(configFile));
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  const roster = typeof agency.roster === 'string' && agency.roster ? { roster: abs(agency.roster) } : {};
  const transport = typeof agency.transportCaCert === 'string' && agency.transportCaCert ? { transportCaCert: abs(agency.transportCaCert) } : {};
  return agencyFileProblems({ caCert: abs(agency.caCert), encryptionCert: abs(agency.encryptionCert), ...roster, ...transport }, at);
}
