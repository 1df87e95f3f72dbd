/**
 * The agency files a gateway config names, checked beyond what the schema can see: the encryption certificate must
 * be the agency's (src/pki/encryption-cert.ts) under the CA in `agency.caCert`. `recgw config check`, the gateway's
 * start and the console's config editor all refuse a config whose files fail here, with the same messages; the
 * receiver's config check (receiver/config-files.ts) reads its files the same way.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { splitPemBundle } from '../pki/certs.js';
import { checkEncryptionCert, issuesText, issuesTextZh, type EncryptionCert } from '../pki/encryption-cert.js';
import { RecgwError, isENOENT } from '../util/errors.js';
import type { ConfigProblem } from './problems.js';

export interface AgencyPaths {
  caCert: string;
  encryptionCert: string;
}

export type ConfigFileRead = { ok: true; text: string } | { ok: false; problem: ConfigProblem };

/** What a file named in a config should be, in both languages ("the agency CA certificate (ca.pem)"). */
export interface FileRole {
  en: string;
  zh: string;
}

/** Certificates and keys are a few KiB; anything far larger is not one (and /dev/zero must not be read to the end). */
const MAX_BYTES = 1 << 20;

/** A certificate or key file a config names at `key`, or the problem with it (missing, unreadable, not a file). */
export function readConfigFile(key: string, path: string, what: FileRole): ConfigFileRead {
  try {
    // Checked before reading: the console's editor can name any path, and reading a pipe would never return.
    const st = statSync(path);
    if (!st.isFile() || st.size > MAX_BYTES) {
      const why = st.isFile() ? { en: `is ${st.size} bytes, too large for a certificate`, zh: `有 ${st.size} 字节，不可能是证书` } : { en: 'is not a regular file', zh: '不是普通文件' };
      return { ok: false, problem: { key, message: `${path} ${why.en}: give ${what.en}`, zh: `${path} ${why.zh}：请提供${what.zh}` } };
    }
    return { ok: true, text: readFileSync(path, 'utf8') };
  } catch (err) {
    if (isENOENT(err)) {
      return { ok: false, problem: { key, message: `${path} does not exist: give ${what.en}`, zh: `${path} 不存在：请提供${what.zh}` } };
    }
    const m = (err as Error).message;
    return { ok: false, problem: { key, message: `cannot read ${path} (${m}): give ${what.en} the service can read`, zh: `无法读取 ${path}（${m}）：请提供服务可读取的${what.zh}` } };
  }
}

export const CA = { en: 'the agency CA certificate (ca.pem)', zh: '执法机构 CA 证书（ca.pem）' };
export const ENC = { en: "the agency's encryption certificate (agency-enc.pem)", zh: '执法机构的加密证书（agency-enc.pem）' };

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
