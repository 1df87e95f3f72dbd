/**
 * An alert in a few words for the people at the agency (the receiver's log line, the report's table): Chinese with
 * English in brackets, as the report writes, codes kept beside their labels.
 */
import { reasonByCode } from '../evidence/vocabulary.js';
import { eventTime, type AlertKind } from './alert-wire.js';

const reason = (code: unknown): string => {
  const r = reasonByCode(String(code));
  return r ? `${r.zh} [${r.code}]` : String(code);
};

const ENDED_BY: Record<string, string> = {
  'session-closed': '随场次结束，未恢复 (ended with the session, never resumed)',
  'service-restart': '服务重启后结束 (ended by a service restart)',
  'mains-power': '市电恢复 (mains power back)',
};

const STOPPED_BY: Record<string, string> = {
  'service-stop': '服务停止 (the service stopped)',
  'ups-forced-shutdown': 'UPS 强制关机 (the UPS forced a shutdown)',
};

/** "中断开始 (interruption started): 转换执法场所 [site-change], 申报 (declared)" and the like. */
export function alertText(kind: AlertKind, body: Record<string, unknown>): string {
  switch (kind) {
    case 'interruption-started':
      return `中断开始 (interruption started): ${reason(body.reason)}, ${body.origin === 'declared' ? '申报 (declared)' : '检测 (detected)'}`;
    case 'interruption-ended':
      return `中断结束 (interruption ended): ${ENDED_BY[String(body.endedBy)] ?? '恢复录制 (recording resumed)'}`;
    case 'session-ended-early': {
      const unresumed = Array.isArray(body.unresumed) ? body.unresumed.map(reason).join(', ') : '';
      const why = body.reason === 'terminated' ? `中断未恢复 (an interruption never resumed${unresumed ? `: ${unresumed}` : ''})` : '';
      return `场次提前结束 (session ended early): ${[why, STOPPED_BY[String(body.by)] ?? ''].filter(Boolean).join('; ')}`;
    }
  }
}

/** From the event (by the gateway's clock) to its arrival (by the receiver's), in seconds with millisecond precision. */
export function alertDelaySeconds(e: { type: string; time: string; body: Record<string, unknown> }, receivedAt: string): number {
  return Math.round(Date.parse(receivedAt) - Date.parse(eventTime(e))) / 1000;
}
