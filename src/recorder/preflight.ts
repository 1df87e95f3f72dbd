/**
 * Pre-flight checks before a session may start (001 §24, 004 制度 §7): free storage for the expected duration at
 * the measured bitrate, battery, clock synchronised, every source producing frames. Each check says why it failed.
 */
import type { ClockState } from '../evidence/types.js';
import { clockSourceByCode } from '../evidence/vocabulary.js';

export type CheckName = 'storage' | 'battery' | 'clock' | 'sources' | 'ups' | 'ptz' | 'cameras';

export interface CheckResult {
  check: CheckName;
  ok: boolean;
  /** Passed, but something will hurt the recording (camera-check.ts): shown and recorded, never refuses a start. */
  warning?: boolean;
  detail: string;
  /** The same in Chinese, for the console and the panel (absent: the console shows `detail`). */
  zh?: string;
}

export interface PreflightInput {
  freeBytes: number;
  /** Bytes still allowed under the configured quota, if there is one. */
  quotaLeftBytes: number | undefined;
  bytesPerSecond: number;
  expectedSeconds: number;
  battery: { percent: number; onMains: boolean } | undefined;
  minBatteryPercent: number;
  clock: ClockState;
  sources: { id: string; producing: boolean; problem?: string }[];
}

const mb = (b: number): string => `${Math.round(b / 1e6)} MB`;

export function preflight(i: PreflightInput): CheckResult[] {
  const need = Math.ceil(i.bytesPerSecond * i.expectedSeconds * 1.1);
  const room = Math.min(i.freeBytes, i.quotaLeftBytes ?? Infinity);
  const minutes = Math.round(i.expectedSeconds / 60);
  const quota = i.quotaLeftBytes !== undefined && i.quotaLeftBytes < i.freeBytes;
  const kbps = Math.round((i.bytesPerSecond * 8) / 1000);
  const storage: CheckResult =
    room >= need
      ? { check: 'storage', ok: true, detail: `${mb(room)} free, ${mb(need)} needed for ${minutes} min`, zh: `可用 ${mb(room)}，录制 ${minutes} 分钟需要 ${mb(need)}` }
      : {
          check: 'storage',
          ok: false,
          detail: `only ${mb(room)} free${quota ? ' under the storage quota' : ''}, ${mb(need)} needed for ${minutes} min at ${kbps} kbit/s: wait for uploads to free space or replace the storage`,
          zh: `${quota ? '存储配额内' : ''}仅剩 ${mb(room)}，以 ${kbps} kbit/s 录制 ${minutes} 分钟需要 ${mb(need)}：请等待上传腾出空间或更换存储`,
        };
  const battery: CheckResult =
    i.battery === undefined
      ? { check: 'battery', ok: true, detail: 'no battery monitored (mains powered)', zh: '未监测电池（市电供电）' }
      : i.battery.onMains || i.battery.percent >= i.minBatteryPercent
        ? { check: 'battery', ok: true, detail: `battery ${i.battery.percent}%${i.battery.onMains ? ', on mains' : ''}`, zh: `电池 ${i.battery.percent}%${i.battery.onMains ? '，市电供电' : ''}` }
        : {
            check: 'battery',
            ok: false,
            detail: `battery at ${i.battery.percent}%, below the ${i.minBatteryPercent}% needed: charge it or connect mains power`,
            zh: `电池电量 ${i.battery.percent}%，低于所需的 ${i.minBatteryPercent}%：请充电或接通市电`,
          };
  const clockZh = clockSourceByCode(i.clock.source)?.zh ?? i.clock.source;
  const clock: CheckResult = i.clock.assumed
    ? {
        check: 'clock',
        ok: true,
        warning: true,
        detail: `clock assumed synchronised (${i.clock.source}, time.assumeSynchronised): the OS does not confirm it; recorded times carry "assumed"`,
        zh: `时钟按配置视为已同步（${clockZh}，配置项“假定时钟已同步”）：操作系统未确认同步；录像时间标记为“假定”`,
      }
    : i.clock.synced
    ? { check: 'clock', ok: true, detail: `clock synchronised (${i.clock.source})`, zh: `时钟已同步（${clockZh}）` }
    : {
        check: 'clock',
        ok: false,
        detail: `clock not synchronised (source ${i.clock.source}): recorded times could not be matched to the paper records; check the network/NTP or GPS`,
        zh: `时钟未同步（来源：${clockZh}）：录像时间将无法与书面记录对应；请检查网络/NTP 或 GPS`,
      };
  const bad = i.sources.filter((s) => !s.producing);
  const sources: CheckResult =
    bad.length === 0
      ? { check: 'sources', ok: true, detail: `all ${i.sources.length} sources producing frames`, zh: `全部 ${i.sources.length} 路信号源正常输出` }
      : {
          check: 'sources',
          ok: false,
          detail: bad.map((s) => `${s.id} is not producing frames${s.problem ? ` (${s.problem})` : ''}`).join('; ') + ': check its cable, power and config',
          zh: `${bad.map((s) => `${s.id}${s.problem ? `（${s.problem}）` : ''}`).join('、')} 没有输出：请检查线缆、电源和配置`,
        };
  return [storage, battery, clock, sources];
}
