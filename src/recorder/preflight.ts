/**
 * Pre-flight checks before a session may start (001 §24, 004 制度 §7): free storage for the expected duration at
 * the measured bitrate, battery, clock synchronised, every source producing frames. Each check says why it failed.
 */
import type { ClockState } from '../evidence/types.js';

export type CheckName = 'storage' | 'battery' | 'clock' | 'sources' | 'ups' | 'ptz';

export interface CheckResult {
  check: CheckName;
  ok: boolean;
  detail: string;
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
  const storage: CheckResult =
    room >= need
      ? { check: 'storage', ok: true, detail: `${mb(room)} free, ${mb(need)} needed for ${minutes} min` }
      : {
          check: 'storage',
          ok: false,
          detail: `only ${mb(room)} free${i.quotaLeftBytes !== undefined && i.quotaLeftBytes < i.freeBytes ? ' under the storage quota' : ''}, ${mb(need)} needed for ${minutes} min at ${Math.round((i.bytesPerSecond * 8) / 1000)} kbit/s: wait for uploads to free space or replace the storage`,
        };
  const battery: CheckResult =
    i.battery === undefined
      ? { check: 'battery', ok: true, detail: 'no battery monitored (mains powered)' }
      : i.battery.onMains || i.battery.percent >= i.minBatteryPercent
        ? { check: 'battery', ok: true, detail: `battery ${i.battery.percent}%${i.battery.onMains ? ', on mains' : ''}` }
        : { check: 'battery', ok: false, detail: `battery at ${i.battery.percent}%, below the ${i.minBatteryPercent}% needed: charge it or connect mains power` };
  const clock: CheckResult = i.clock.synced
    ? { check: 'clock', ok: true, detail: `clock synchronised (${i.clock.source})` }
    : { check: 'clock', ok: false, detail: `clock not synchronised (source ${i.clock.source}): recorded times could not be matched to the paper records; check the network/NTP or GPS` };
  const bad = i.sources.filter((s) => !s.producing);
  const sources: CheckResult =
    bad.length === 0
      ? { check: 'sources', ok: true, detail: `all ${i.sources.length} sources producing frames` }
      : { check: 'sources', ok: false, detail: bad.map((s) => `${s.id} is not producing frames${s.problem ? ` (${s.problem})` : ''}`).join('; ') + ': check its cable, power and config' };
  return [storage, battery, clock, sources];
}
