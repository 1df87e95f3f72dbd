/**
 * The pre-flight check of IP cameras' own settings, as their ONVIF service reports them (src/app/onvif-cameras.ts
 * reads them): a GOP longer than a segment (segments are cut at key frames only, so they come out longer than
 * configured and the detectors see a picture less often), and a camera clock that disagrees with the gateway's
 * (the time the camera writes on its picture is then not the time in the evidence). It warns and never refuses:
 * the recording itself is still complete and correctly timed by the gateway.
 */
import type { CheckResult } from './preflight.js';

export interface CameraReading {
  id: string;
  /** The GOP of the stream recorded, in seconds (absent: not known). */
  gopSeconds?: number;
  /** Camera clock minus gateway clock, ms, as read before any correction. */
  clockOffsetMs?: number;
  /** The clock was set from the gateway's after this reading. */
  clockSet?: boolean;
  /** Why the settings could not be read. */
  error?: string;
}

/** A clock further off than this is worth a warning (ONVIF reads whole seconds, so about ±0.5 s is noise). */
export const MAX_CAMERA_CLOCK_OFFSET_MS = 1000;

const s1 = (ms: number): string => (ms / 1000).toFixed(1);

export function cameraSettingsCheck(readings: CameraReading[], segmentSeconds: number): CheckResult {
  const en: string[] = [];
  const zh: string[] = [];
  for (const r of readings) {
    if (r.error) {
      en.push(`${r.id}: its ONVIF settings could not be read (${r.error})`);
      zh.push(`${r.id}：无法通过 ONVIF 读取设置（${r.error}）`);
      continue;
    }
    if (r.gopSeconds !== undefined && r.gopSeconds > segmentSeconds) {
      en.push(`${r.id}: GOP ${r.gopSeconds.toFixed(1)} s is longer than the ${segmentSeconds} s segment (segments will be longer; set the camera's I-frame interval to at most ${segmentSeconds} s, or onvif.gopSeconds)`);
      zh.push(`${r.id}：关键帧间隔（GOP）${r.gopSeconds.toFixed(1)} 秒，长于 ${segmentSeconds} 秒的片段（片段将变长；请将摄像机 I 帧间隔设为不超过 ${segmentSeconds} 秒，或设置 onvif.gopSeconds）`);
    }
    if (r.clockOffsetMs !== undefined && Math.abs(r.clockOffsetMs) > MAX_CAMERA_CLOCK_OFFSET_MS) {
      const ahead = r.clockOffsetMs > 0;
      en.push(`${r.id}: camera clock ${s1(Math.abs(r.clockOffsetMs))} s ${ahead ? 'ahead of' : 'behind'} the gateway's, so the time on its picture is wrong${r.clockSet ? ' (set from the gateway\'s clock now)' : ' (enable onvif.setClock or set it in the camera)'}`);
      zh.push(`${r.id}：摄像机时钟比网关${ahead ? '快' : '慢'} ${s1(Math.abs(r.clockOffsetMs))} 秒，画面上的时间不准${r.clockSet ? '（已按网关时钟校正）' : '（请启用 onvif.setClock 或在摄像机上校时）'}`);
    }
  }
  if (en.length === 0) {
    const ids = readings.map((r) => r.id).join(', ');
    return { check: 'cameras', ok: true, detail: `camera settings fit the recording (${ids}: GOP at most ${segmentSeconds} s, clock within ${MAX_CAMERA_CLOCK_OFFSET_MS / 1000} s)`, zh: `摄像机设置合适（${ids}：GOP 不超过 ${segmentSeconds} 秒，时钟偏差在 ${MAX_CAMERA_CLOCK_OFFSET_MS / 1000} 秒内）` };
  }
  return { check: 'cameras', ok: true, warning: true, detail: en.join('; '), zh: zh.join('；') };
}
