/**
 * The agency encryption certificate: how the agency's encryption key reaches a gateway, and what the receiver and
 * the verifier hold manifests against. A bare key file could hold any key, even one kept on the gateway (whose
 * holder could then read the recordings back), so only exactly one PEM certificate is taken, issued by the agency
 * CA for the role recgw-encryption, in date, carrying an RSA key strong enough for RSA-OAEP-256 or an SM2 key (the gm
 * suite wraps with SM2 encryption, evidence-format.md §17.7). The gateway (at
 * start and in the console), the receiver (at start) and the verifier (in the ledger) all check with this.
 */
import type { KeyObject, X509Certificate } from 'node:crypto';
import { checkCertificate, parseCertificate, type CertProblem } from './certs.js';
import { isSm2Key } from '../crypto/gm/sm2-keys.js';
import { encryptionKeyId } from '../evidence/segment-scheme.js';
import { ROLE_ENCRYPTION } from './roles.js';

/** RSA-OAEP-256 with a shorter modulus is no longer considered safe (and NIST SP 800-131A disallows it). */
export const MIN_RSA_BITS = 2048;

export interface EncryptionCert {
  /** The certificate as PEM re-encoded from its DER, CR LF line ends (what encryption.installed carries, §2). */
  pem: string;
  x509: X509Certificate;
  publicKey: KeyObject;
  /** SHA-256 (RSA) or SM3 (SM2) of the key's DER SubjectPublicKeyInfo, hex: a manifest's `enc.agencyKeyId`. */
  keyId: string;
}

type Kind = 'private-key' | 'bare-key' | 'not-pem' | 'extra-blocks' | 'extra-text' | 'weak-key' | CertProblem['kind'];

/** One thing wrong with a would-be encryption certificate: what (`problem`) and what to do (`fix`), in both languages. */
export interface EncryptionCertIssue {
  kind: Kind;
  problem: { en: string; zh: string };
  fix: { en: string; zh: string };
}

const GIVE_CERT = {
  en: "give the agency's encryption certificate (agency-enc.pem), issued by the agency CA for the role recgw-encryption",
  zh: '请改用执法机构 CA 签发的加密证书（agency-enc.pem，角色 recgw-encryption）',
};

const issue = (kind: Kind, en: string, zh: string, fix = GIVE_CERT): EncryptionCertIssue => ({ kind, problem: { en, zh }, fix });

/** The labels of the PEM blocks in `text`, and whether anything but whitespace is outside them. */
export function pemBlocks(text: string): { labels: string[]; outside: boolean } {
  const labels: string[] = [];
  const rest = text.replace(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g, (_m, label: string) => {
    labels.push(label);
    return '';
  });
  return { labels, outside: rest.trim() !== '' };
}

/** Why `text` is not exactly one PEM certificate and nothing else, or undefined when it is. */
export function notOneCertificate(text: string): EncryptionCertIssue | undefined {
  const { labels, outside } = pemBlocks(text);
  const key = labels.find((l) => l.includes('PRIVATE KEY'));
  if (key) {
    return issue(
      'private-key',
      `it holds a private key (-----BEGIN ${key}-----); no private key may be given to or kept on a gateway`,
      `其中含有私钥（-----BEGIN ${key}-----）；网关上不得存放任何私钥`,
      { en: `delete it, and ${GIVE_CERT.en}`, zh: `请删除该文件，${GIVE_CERT.zh}` },
    );
  }
  if (labels.length === 1 && labels[0]!.includes('PUBLIC KEY')) {
    return issue('bare-key', `it holds a bare public key (-----BEGIN ${labels[0]}-----), which no CA vouches for`, `其中只有公钥（-----BEGIN ${labels[0]}-----），没有 CA 为其担保`);
  }
  if (labels.length === 0) return issue('not-pem', 'it holds no PEM certificate (-----BEGIN CERTIFICATE-----)', '其中没有 PEM 证书（-----BEGIN CERTIFICATE-----）');
  if (labels.length > 1 || labels[0] !== 'CERTIFICATE') {
    const list = labels.join(', ');
    return issue('extra-blocks', `it holds ${labels.length} PEM blocks (${list}) where exactly one certificate must be`, `其中有 ${labels.length} 个 PEM 块（${list}），只能有且仅有一个证书`);
  }
  if (outside) return issue('extra-text', 'it holds text besides its certificate; it must hold exactly one certificate and nothing else', '证书之外还有其他内容；文件中只能有一个证书');
  return undefined;
}

function certIssue(p: CertProblem): EncryptionCertIssue {
  switch (p.kind) {
    case 'foreign':
      return issue('foreign', `it was not issued by the agency CA (${p.detail})`, `它不是由执法机构 CA 签发的（${p.detail}）`);
    case 'wrong-role':
      return issue(
        'wrong-role',
        `it is not an encryption certificate (${p.detail}); device, receipt and server certificates cannot be used`,
        `它不是加密证书（${p.detail}）；设备、回执或服务器证书不能用于加密`,
      );
    case 'expired':
      return issue('expired', `it has expired (${p.detail})`, `它已过期（${p.detail}）`, {
        en: 'ask the agency for its current encryption certificate',
        zh: '请向执法机构索取当前有效的加密证书',
      });
    case 'not-yet-valid':
      return issue('not-yet-valid', `it is not valid yet (${p.detail})`, `它尚未生效（${p.detail}）`, {
        en: "check this machine's clock, or ask the agency for its current encryption certificate",
        zh: '请检查本机时钟，或向执法机构索取当前有效的加密证书',
      });
    default:
      return issue(p.kind, p.detail, p.detail);
  }
}

function keyIssue(key: KeyObject): EncryptionCertIssue | undefined {
  // An SM2 key is the gm suite's: data keys are wrapped for it with SM2 encryption (a 256-bit curve, no size to check).
  if (isSm2Key(key)) return undefined;
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (key.asymmetricKeyType !== 'rsa') {
    return issue(
      'weak-key',
      `it carries a key of type ${key.asymmetricKeyType ?? 'unknown'}; data keys are wrapped with RSA-OAEP-256, which needs an RSA key of at least ${MIN_RSA_BITS} bits, or (gm suite) with SM2 encryption for an SM2 key`,
      `它的密钥类型是 ${key.asymmetricKeyType ?? '未知'}；数据密钥用 RSA-OAEP-256 封装（需要至少 ${MIN_RSA_BITS} 位的 RSA 密钥），或在国密套件下用 SM2 加密封装（需要 SM2 密钥）`,
    );
  }
  if (bits === undefined || bits < MIN_RSA_BITS) {
    return issue(
      'weak-key',
      `it carries an RSA key of ${bits ?? 'unknown'} bits; RSA-OAEP-256 needs at least ${MIN_RSA_BITS}`,
      `它的 RSA 密钥只有 ${bits ?? '未知'} 位；RSA-OAEP-256 需要至少 ${MIN_RSA_BITS} 位`,
    );
  }
  return undefined;
}

export type EncryptionCertCheck = { ok: true; cert: EncryptionCert } | { ok: false; issues: EncryptionCertIssue[] };

/**
 * Check `text` (a file's content, or a ledger entry's `cert`) as the agency encryption certificate at time `at`:
 * exactly one PEM certificate, chaining to one of `caPems`, role recgw-encryption, valid at `at`, an RSA key of at
 * least MIN_RSA_BITS bits. Never throws.
 */
export function checkEncryptionCert(text: string, caPems: string[], at: Date): EncryptionCertCheck {
  const form = notOneCertificate(text);
  if (form) return { ok: false, issues: [form] };
  const x509 = parseCertificate(text);
  if (!x509) return { ok: false, issues: [issue('unparseable', 'it is not a readable X.509 certificate', '它不是可读取的 X.509 证书')] };
  const issues = checkCertificate(text, caPems, { at, role: ROLE_ENCRYPTION }).map(certIssue);
  const weak = keyIssue(x509.publicKey);
  if (weak) issues.push(weak);
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, cert: { pem: x509.toString().replace(/\r?\n/g, '\r\n'), x509, publicKey: x509.publicKey, keyId: encryptionKeyId(x509.publicKey) } };
}

/** The issues as one English sentence ("...; ...: fix"), each issue with its own fix. */
export const issuesText = (issues: EncryptionCertIssue[]): string => issues.map((i) => `${i.problem.en}: ${i.fix.en}`).join('; ');
export const issuesTextZh = (issues: EncryptionCertIssue[]): string => issues.map((i) => `${i.problem.zh}：${i.fix.zh}`).join('；');
