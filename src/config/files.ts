/**
 * Files a config names (certificates, keys), read as a check: missing, unreadable, not a regular file or far too
 * large is a problem keyed as the config names the file, in both languages. The gateway's agency files
 * (agency-files.ts) and the receiver's (receiver/config.ts) are read this way. Light on purpose: the receiver's CLI
 * loads it before its lock is taken.
 */
import { readFileSync, statSync } from 'node:fs';
import { isENOENT } from '../util/errors.js';
import type { ConfigProblem } from './problems.js';

export type ConfigFileRead = { ok: true; text: string } | { ok: false; problem: ConfigProblem };

/** What a file named in a config should be, in both languages ("the agency CA certificate (ca.pem)"). */
export interface FileRole {
  en: string;
  zh: string;
}

/**
 * Certificates and keys are a few KiB, a roster of 2000 officers about 1 MiB; anything far larger is none of them (and
 * /dev/zero must not be read to the end).
 */
const MAX_BYTES = 4 << 20;

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
export const TRANSPORT_CA = { en: "a gm agency's transport CA certificate (transport/ca.pem)", zh: '国密机构的传输 CA 证书（transport/ca.pem）' };
export const ROSTER = { en: "the agency's signed officer roster (recgw ca roster)", zh: '执法机构签署的执法人员名单（recgw ca roster）' };
export const ENC = { en: "the agency's encryption certificate (agency-enc.pem)", zh: '执法机构的加密证书（agency-enc.pem）' };
