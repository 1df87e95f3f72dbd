/**
 * The closed vocabularies of the evidence format: matter types (the 事项清单 of 004) and interruption reasons
 * (000 §23, 003 §16, 004 制度 §11). Codes are stable English identifiers; labels are what officers read.
 */
export interface Term {
  code: string;
  zh: string;
  en: string;
  aliases?: string[];
}

export const MATTERS: readonly Term[] = [
  { code: 'site-inspection', zh: '现场检查', en: 'on-site inspection', aliases: ['inspection'] },
  { code: 'sampling', zh: '抽样取证', en: 'sampling and evidence collection', aliases: ['抽样'] },
  { code: 'hearing', zh: '举行听证', en: 'hearing', aliases: ['听证'] },
  { code: 'preservation', zh: '先行登记保存', en: 'registration and preservation of evidence' },
  { code: 'seizure', zh: '查封扣押', en: 'sealing up and seizure', aliases: ['查封', '扣押'] },
  { code: 'verification', zh: '实地核查', en: 'on-site verification' },
  { code: 'dispute', zh: '争议处理', en: 'dispute handling', aliases: ['争议'] },
  { code: 'service', zh: '留置/公告送达', en: 'service by leaving or by public notice', aliases: ['留置送达', '公告送达', '送达'] },
  { code: 'rectification', zh: '限期整改', en: 'rectification within a time limit' },
  { code: 'other', zh: '其他', en: 'other' },
];

export const REASONS: readonly Term[] = [
  { code: 'device-fault', zh: '设备故障', en: 'device fault' },
  { code: 'device-damaged', zh: '设备损坏', en: 'device damaged' },
  { code: 'bad-weather', zh: '恶劣天气', en: 'bad weather' },
  { code: 'obstruction', zh: '人为阻挠', en: 'obstruction by persons' },
  { code: 'low-battery', zh: '电量不足', en: 'low battery' },
  { code: 'storage-full', zh: '存储空间已满', en: 'storage full' },
  { code: 'site-change', zh: '转换执法场所', en: 'change of site' },
  { code: 'power-loss', zh: '断电', en: 'power loss' },
  { code: 'clock-jump', zh: '时钟跳变', en: 'clock jump' },
  { code: 'camera-covered', zh: '镜头遮挡或无画面', en: 'camera covered or no picture' },
  { code: 'other', zh: '其他', en: 'other' },
];

/** Where a clock's time comes from (`clock.source` of manifests and status): words for people. */
export const CLOCK_SOURCES: readonly Term[] = [
  { code: 'ntp', zh: '网络校时（NTP）', en: 'network time (NTP)' },
  { code: 'gps', zh: '卫星授时（GPS）', en: 'GPS time' },
  { code: 'rtc', zh: '设备内置时钟（RTC）', en: 'the battery clock (RTC)' },
  { code: 'system', zh: '主机系统时钟', en: "the host's clock" },
];

/** Find a term by code, Chinese label, English name or alias; case-insensitive for Latin text. */
export function lookupTerm(terms: readonly Term[], input: string): Term | undefined {
  const q = input.trim().toLowerCase();
  return terms.find((t) => t.code === q || t.zh === input.trim() || t.en.toLowerCase() === q || t.aliases?.some((a) => a.toLowerCase() === q));
}

export const matterByCode = (code: string): Term | undefined => MATTERS.find((m) => m.code === code);
export const reasonByCode = (code: string): Term | undefined => REASONS.find((r) => r.code === code);
export const clockSourceByCode = (code: string): Term | undefined => CLOCK_SOURCES.find((c) => c.code === code);
