/** Where each thing goes on an evidence disc (docs/evidence-package.md §2), and the disc's README. */

/** Entry files are named by seq, zero-padded so that names sort in ledger order. */
const seqName = (seq: number): string => String(seq).padStart(10, '0');

export const DISC = {
  readme: 'README.txt',
  description: 'description.html',
  sums: 'SHA256SUMS',
  verifier: 'verify.sh',
  /** The inclusion-proof walk verify.sh calls (docs/recipes/check-inclusion.sh). */
  inclusion: 'check-inclusion.sh',
  /** A gm disc's check of the checkpoint's SM2 line, which verify.sh calls (docs/recipes/check-gm-checkpoint.sh). */
  gmCheckpoint: 'check-gm-checkpoint.sh',
  ca: 'certs/ca.pem',
  logCert: 'certs/log-cert.pem',
  /** A gm log's SM2 certificate: the key of log/checkpoint's SM2 line (evidence-format.md §17.9). */
  logSm2Cert: 'certs/log-sm2-cert.pem',
  checkpoint: 'log/checkpoint',
  reportJson: 'report/verify.json',
  reportText: 'report/verify.txt',
  /** `<base>.line` (the ledger line, no newline), `<base>.leaf` (its log leaf), `<base>.proof` (tlog-proof). */
  entry: (device: string, seq: number): string => `entries/${device}/${seqName(seq)}`,
  media: (device: string, segment: string): string => `media/${device}/${segment}.ts`,
} as const;

export function readmeText(): string {
  return `行政执法全过程记录 电子证据光盘
================================

description.html   文字说明（执法事项、时间、地点、方法、执法人员、提取人、提取时间及每个文件的 SHA-256），可打印
media/             解密后的录像片段（MPEG-TS），按设备分目录
entries/           设备签名的账本条目（.line）、机构透明日志叶子（.leaf）及包含证明（.proof）
log/checkpoint     机构透明日志的签名检查点
certs/             机构根证书（ca.pem）与透明日志证书（log-cert.pem；国密机构另有 SM2 证书 log-sm2-cert.pem）
report/            提取时对机构存储的验证报告（verify.txt / verify.json）
SHA256SUMS         光盘上其他每个文件的 SHA-256
verify.sh          离线核验脚本：只需 sh 与 openssl
check-inclusion.sh verify.sh 调用的透明日志包含证明核验脚本
check-gm-checkpoint.sh  国密机构：verify.sh 调用的检查点 SM2 签名核验脚本

离线核验（在光盘根目录或复制出的目录中）：
  sh verify.sh                  核验光盘上的全部文件
  sh verify.sh . <清单哈希>      同时核对 SHA256SUMS 与刻录时公布的哈希
输出 "ALL CHECKS PASSED" 且退出码为 0 表示通过；任何一项不符即报告 FAIL 并以 1 退出。

Evidence disc of a recgw agency store. Verify offline with: sh verify.sh [DIR] [SHA256-OF-SHA256SUMS]
(needs only a POSIX shell and openssl). See description.html for what the disc holds.
`;
}
