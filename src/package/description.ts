/**
 * The 文字说明 of an evidence disc (000 §26, 004 规定 §11, 制度 §17): a printable page in Chinese naming the matter,
 * time, place, method, officers, the extractor and the extraction time, and the SHA-256 of every other file on the
 * disc. Built only from what the signed entries say and what the extractor typed, escaped by `h`.
 */
import { h, type Html } from '../console/html.js';
import { matterByCode, reasonByCode } from '../evidence/vocabulary.js';
import type { SegmentManifest } from '../evidence/types.js';
import { hashName } from '../evidence/segment-scheme.js';
import { localClock, localTime, zoneName } from '../util/local-time.js';
import type { PickedSession } from './select.js';
import type { VerifyReport } from '../verify/findings.js';

export interface DiscFile {
  path: string;
  size: number;
  sha256: string;
}

export interface Description {
  sessions: PickedSession[];
  segments: (SegmentManifest & { deviceId: string; path: string })[];
  extractor: string;
  reason: string;
  /** Extraction time (ms since the epoch). */
  at: number;
  zone: string;
  report: VerifyReport;
  /** Every other file on the disc. */
  files: DiscFile[];
}

/** The session's interruptions and gaps as the verifier read them from the ledger (report/verify.json). */
function interruptionText(d: Description, s: PickedSession): string {
  const r = d.report.devices.find((x) => x.deviceId === s.deviceId)?.sessions.find((x) => x.sessionId === s.opened.sessionId);
  if (!r) return '（验证报告中无此会话）';
  const t = (iso: string | null): string => (iso ? localClock(iso, d.zone) : '（未结束）');
  const parts = [
    ...r.interruptions.map((i) => `${t(i.start)} 至 ${t(i.end)} 中断，原因：${reasonByCode(i.reason)?.zh ?? i.reason}`),
    ...r.gaps.filter((g) => !g.explained).map((g) => `${g.source} 在 ${t(g.start)} 至 ${t(g.end)} 无录像，未说明原因`),
  ];
  return parts.length > 0 ? parts.join('；') : '无';
}

/** Whether a segment's times rest on a synchronised clock (the manifest's clock), in the page's words. */
const clockText = (m: SegmentManifest): string =>
  m.clock.synced ? (m.clock.assumed ? `${m.clock.source}，按配置视为已同步` : `${m.clock.source}，已同步`) : `${m.clock.source}，未同步（时间为设备自报）`;

const SOURCE_KIND: Record<string, string> = { camera: '摄像', microphone: '录音' };

function sessionRows(d: Description, s: PickedSession): Html {
  const o = s.opened;
  const segs = d.segments.filter((m) => m.sessionId === o.sessionId && m.deviceId === s.deviceId);
  const gps = segs.map((m) => m.gps).find((g) => g !== null && g !== undefined);
  const first = segs.reduce((a, m) => (m.start < a ? m.start : a), segs[0]?.start ?? '');
  const last = segs.reduce((a, m) => (m.end > a ? m.end : a), segs[0]?.end ?? '');
  const sources = [...new Set(segs.map((m) => `${m.source.id}（${SOURCE_KIND[m.source.kind] ?? m.source.kind}）`))];
  const t = (iso: string | undefined): string => (iso ? localTime(iso, d.zone) : '（未记录）');
  return h`<table class="kv">
<tr><th>执法事项</th><td>${matterByCode(o.matter)?.zh ?? o.matter}（${o.matter}）；案件编号 ${o.caseRef}</td></tr>
<tr><th>执法时间</th><td>${t(o.start)} 至 ${t(s.closed?.end)}</td></tr>
<tr><th>提取的录像时段</th><td>${first ? `${t(first)} 至 ${t(last)}` : '（无）'}</td></tr>
<tr><th>执法地点</th><td>${o.place ?? '（未记录）'}${gps ? `；卫星定位 北纬 ${gps.lat.toFixed(6)}，东经 ${gps.lon.toFixed(6)}` : ''}</td></tr>
<tr><th>执法人员</th><td>${o.officers.map((x) => `${x.name}（执法证号 ${x.badge}）`).join('、')}</td></tr>
${o.party ? h`<tr><th>当事人</th><td>${o.party}</td></tr>` : ''}
<tr><th>记录方式</th><td>执法记录网关 ${s.deviceId} 全过程音视频记录，记录源：${sources.join('、')}；共 ${segs.length} 个录像片段，每段由网关签名并加密封存，上传机构后由机构出具签名回执并记入机构透明日志</td></tr>
<tr><th>中断情况</th><td>${interruptionText(d, s)}</td></tr>
<tr><th>会话编号</th><td>${o.sessionId}</td></tr>
</table>
<table><tr><th>录像文件</th><th>记录源</th><th>起止时间（${zoneName(d.zone)}）</th><th>时钟</th></tr>
${segs.map((m) => h`<tr><td>${m.path}</td><td>${m.source.id}</td><td>${localClock(m.start, d.zone)} 至 ${localClock(m.end, d.zone)}</td><td>${clockText(m)}</td></tr>`)}
</table>`;
}

export function descriptionHtml(d: Description): string {
  const ok = d.report.ok;
  // The plaintext hashes the manifests name: SHA-256, SM3 under the gm suite (国密), or both during a migration.
  const plainHashes = [...new Set(d.segments.map((m) => hashName(m.plain)))].join('、') || 'SHA-256';
  const page = h`<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>电子证据提取文字说明</title>
<style>
body { font-family: "Noto Serif CJK SC", "WenQuanYi Micro Hei", serif; margin: 2em; color: #000; }
h1 { text-align: center; font-size: 1.6em; } h2 { font-size: 1.2em; border-bottom: 1px solid #000; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1em; } th, td { border: 1px solid #000; padding: 4px 6px; text-align: left; vertical-align: top; }
table.kv th { width: 9em; white-space: nowrap; } td.hash { font-family: monospace; word-break: break-all; }
.sign { margin-top: 3em; } .blank { display: inline-block; width: 10em; border-bottom: 1px solid #000; margin-right: 2em; } @media print { body { margin: 0; } h2 { break-after: avoid; } }
</style></head><body>
<h1>电子证据提取文字说明</h1>
<p>本光盘收录行政执法全过程记录的音视频资料，作为证据使用，随案归档。</p>
<h2>一、执法事项、时间、地点、人员与记录方式</h2>
${d.sessions.map((s) => sessionRows(d, s))}
<h2>二、提取情况</h2>
<table class="kv">
<tr><th>提取人</th><td>${d.extractor}</td></tr>
<tr><th>提取时间</th><td>${localTime(d.at, d.zone)}</td></tr>
<tr><th>提取事由</th><td>${d.reason}</td></tr>
<tr><th>提取方法</th><td>使用 recgw package 从机构存储中读取所选会话的签名账本条目，用机构加密私钥解密所选录像片段，核对每个片段的明文 ${plainHashes} 与网关签名清单一致后写入本光盘（media/ 目录）；附账本条目、机构透明日志的包含证明与签名检查点（entries/、log/）、证书（certs/）及验证报告（report/），制成 ISO 9660 光盘镜像，一式两份（双刻），两份镜像哈希相同。</td></tr>
<tr><th>验证结果</th><td>${ok ? '通过：存储中的账本、封存文件、机构回执与透明日志均未发现问题' : `未通过：发现 ${d.report.findings.length} 项问题，详见 report/verify.txt`}</td></tr>
<tr><th>离线核验方法</th><td>在任意装有 openssl 的计算机上，于光盘根目录执行 <code>sh verify.sh</code>（或 <code>sh verify.sh . 清单哈希</code>）；该脚本只使用光盘上的文件，逐一核对文件哈希、设备签名、透明日志包含证明和录像明文哈希。说明见 README.txt。</td></tr>
</table>
<h2>三、光盘文件及其 SHA-256 哈希值</h2>
<p>共 ${d.files.length} 个文件（本说明页本身及文件清单 SHA256SUMS 的哈希值见 SHA256SUMS 及刻录时登记的光盘哈希）。</p>
<table><tr><th>文件</th><th>字节数</th><th>SHA-256</th></tr>
${d.files.map((f) => h`<tr><td>${f.path}</td><td>${f.size}</td><td class="hash">${f.sha256}</td></tr>`)}
</table>
<div class="sign"><p>提取人（签名）：<span class="blank"></span> 见证人（签名）：<span class="blank"></span> 日期：<span class="blank"></span></p></div>
</body></html>
`;
  return page.text;
}
