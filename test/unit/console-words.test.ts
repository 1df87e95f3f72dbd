/**
 * What the console says in words instead of identifiers: config keys by name (every key of the schema has one),
 * ledger entries as sentences (every entry type the docs specify has one, times in the installation's zone), and
 * the one form of a deadline.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configSchema } from '../../src/config/schema.js';
import { NAMED_KEYS, keyName } from '../../src/console/config-names.js';
import { SENTENCE_TYPES, entrySentence } from '../../src/console/event-sentences.js';
import { deadlineText, type DeadlineWords } from '../../src/console/deadline-text.js';
import { ENTRY } from '../../src/evidence/types.js';
import { DICT } from '../../src/console/i18n.js';

type Node = Record<string, unknown>;
const defs = (configSchema as unknown as { $defs: Record<string, Node> }).$defs;

/** Every key pattern of the schema (array items as `[]`). */
function schemaKeys(n: Node, base = '', out: string[] = []): string[] {
  const node = typeof n.$ref === 'string' ? defs[n.$ref.replace('#/$defs/', '')]! : n;
  const props = node.properties as Record<string, Node> | undefined;
  for (const [k, v] of Object.entries(props ?? {})) {
    const key = base ? `${base}.${k}` : k;
    out.push(key);
    schemaKeys(v, key, out);
  }
  const items = node.items as Node | undefined;
  if (items) {
    out.push(`${base}[]`);
    schemaKeys(items, `${base}[]`, out);
  }
  return out;
}

const ISO_Z = /\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?Z/;

describe('config keys in words', () => {
  it('every key of the schema has a name (a key added without one fails here)', () => {
    const keys = schemaKeys(configSchema as unknown as Node);
    expect(keys.length).toBeGreaterThan(100);
    expect(keys.filter((k) => !NAMED_KEYS.includes(k))).toEqual([]);
    // And no name is left over for a key the schema no longer has.
    expect(NAMED_KEYS.filter((k) => !keys.includes(k))).toEqual([]);
  });

  it('names a source by its number and id, in both languages; an unknown key as written', () => {
    const config = { recording: { sources: [{ id: 'cam1', label: '询问桌' }, { id: 'mic1' }] } };
    expect(keyName('recording.sources[0].label', 'zh-CN', config)).toBe('录制 · 音视频源 1（cam1） · 名称');
    expect(keyName('recording.sources[1].onvif.timeZone', 'zh-CN', config)).toBe('录制 · 音视频源 2（mic1） · ONVIF 设置 · 摄像机显示时区');
    expect(keyName('recording.sources[0].label', 'en', config)).toBe('recording · source 1 (cam1) · label');
    expect(keyName('uplink.protocolVersion', 'zh-CN')).toBe('上传 · MQTT 协议版本');
    expect(keyName('time.zone', 'zh-CN')).toBe('时间 · 显示时区');
    expect(keyName('recordng.x', 'zh-CN')).toBe('“recordng” · “x”');
    expect(keyName('(top level)', 'zh-CN')).toBe('（整个配置）');
  });
});

describe('ledger entries as sentences', () => {
  const zh = { lang: 'zh-CN' as const, zone: 'Asia/Shanghai' };

  it('has a sentence for every entry type the gateway writes and the docs specify', () => {
    expect(Object.values(ENTRY).filter((t) => !SENTENCE_TYPES.includes(t))).toEqual([]);
    const root = join(import.meta.dirname, '..', '..', 'docs');
    const documented = [...readFileSync(join(root, 'evidence-format.md'), 'utf8').matchAll(/^### ([a-z_.]+(?:, [a-z_.]+)*)(?: \(|$)/gm)].flatMap((m) => m[1]!.split(', '));
    const consoleTypes = [...readFileSync(join(root, 'console.md'), 'utf8').matchAll(/^\| `([a-z_]+\.[a-z_]+)` \|/gm)].map((m) => m[1]!);
    expect(documented.length).toBeGreaterThan(15);
    expect(consoleTypes).toEqual(['console.login', 'console.login_failed', 'config.changed']);
    expect([...documented, ...consoleTypes].filter((t) => !SENTENCE_TYPES.includes(t))).toEqual([]);
    // Each has its label on the event page too.
    expect(SENTENCE_TYPES.filter((t) => !(`evt.${t}` in DICT))).toEqual([]);
  });

  it('says what happened, with times in Beijing time and never as ISO UTC', () => {
    const cases: [string, Record<string, unknown>, string][] = [
      [
        ENTRY.sessionOpened,
        { matter: 'site-inspection', caseRef: 'C-1', officers: [{ name: '张三', badge: '13010001' }], party: '某公司', forced: [{ check: 'battery' }] },
        '开始录制：现场检查，案号 C-1，执法人员 张三(13010001)，当事人 某公司；检查未通过仍强制开始（电池）',
      ],
      [ENTRY.interruptionStarted, { reason: 'obstruction', origin: 'declared', start: '2026-12-07T02:05:03.400Z', text: '当事人遮挡镜头' }, '执法人员声明中断：人为阻挠（当事人遮挡镜头），全部音视频源，自 2026-12-07 10:05:03 (北京时间 UTC+08:00) 起'],
      [ENTRY.interruptionEnded, { end: '2026-12-07T02:07:00Z', spokenExplanation: true }, '中断结束，恢复录制：2026-12-07 10:07:00 (北京时间 UTC+08:00)，已提示执法人员口述中断原因'],
      [ENTRY.clockStepped, { old: '2026-12-07T02:00:00Z', new: '2026-12-07T02:00:30Z', deltaMs: 30000, sessionId: 's1' }, '时钟向前跳变 30.0 秒：由 2026-12-07 10:00:00 (北京时间 UTC+08:00) 变为 2026-12-07 10:00:30 (北京时间 UTC+08:00)，发生在会话中'],
      [ENTRY.consoleLoginFailed, { user: 'admin', ip: '10.0.0.5', reason: 'bad-password', lockedSeconds: 2 }, '10.0.0.5 以用户名“admin”登录失败：密码错误；锁定 2 秒'],
      [
        ENTRY.configChanged,
        { via: 'console', user: 'admin', what: 'config', changes: [{ key: 'recording.sources[0].label', to: '正面', restart: true }], restartNeeded: true },
        'admin 修改了配置：录制 · 音视频源 1 · 名称 → 正面；部分修改在重启服务后生效',
      ],
      [ENTRY.configChanged, { via: 'console', user: '(reset code)', what: 'account', action: 'password-reset', account: 'admin' }, '账户 admin 的密码已用重置码重置'],
      [ENTRY.alarmRaised, { kind: 'upload-deadline', level: '6h', deadline: '2026-12-07T02:05:00Z', count: 3, items: [] }, '上传期限告警：3 项距上传期限不足 6 小时（最早期限 2026-12-07 10:05:00 (北京时间 UTC+08:00)）'],
    ];
    for (const [type, body, sentence] of cases) expect(entrySentence(type, body, zh)).toBe(sentence);
    expect(entrySentence(ENTRY.sessionClosed, { reason: 'stopped' }, { lang: 'en', zone: 'Asia/Shanghai' })).toBe('Recording stopped');
  });

  it('turns every documented type into a sentence without ISO times or JSON, even with members missing', () => {
    const times = { start: '2026-12-07T02:05:03Z', end: '2026-12-07T02:06:03Z', time: '2026-12-07T02:05:03Z', deadline: '2026-12-07T02:05:03Z', old: '2026-12-07T02:05:03Z', new: '2026-12-07T02:05:04Z' };
    for (const type of SENTENCE_TYPES) {
      for (const lang of ['zh-CN', 'en'] as const) {
        for (const body of [{}, times]) {
          const s = entrySentence(type, body, { lang, zone: 'Asia/Shanghai' });
          expect(s, `${type} ${lang}`).not.toMatch(ISO_Z);
          expect(s, `${type} ${lang}`).not.toMatch(/[{}]/);
          expect(s.length, `${type} ${lang}`).toBeGreaterThan(3);
        }
      }
    }
  });

  it('lists a type it does not know by its members', () => {
    expect(entrySentence('officer.confirmed', { officer: '张三', how: 'pin' }, zh)).toBe('officer：张三；how：pin');
    expect(entrySentence('officer.confirmed', {}, zh)).toBe('（无内容）');
  });
});

describe('the one form of a deadline', () => {
  const w: DeadlineWords = { left: '剩余 {span}（截止 {due}）', overdue: '已超期 {span}（截止 {due}）', hm: '{h} 小时 {m} 分', ms: '{m} 分 {s} 秒', zone: 'Asia/Shanghai', zoneName: '北京时间' };
  const due = Date.parse('2026-12-07T02:05:00Z');
  it('counts hours and minutes, the last hour to the second, and says when it passed', () => {
    expect(deadlineText(due, due - (3 * 3600 + 12 * 60 + 30) * 1000, w)).toEqual({ text: '剩余 3 小时 12 分（截止 2026-12-07 10:05 北京时间 UTC+08:00）', level: '' });
    expect(deadlineText(due, due - (59 * 60 + 5) * 1000, w)).toEqual({ text: '剩余 59 分 5 秒（截止 2026-12-07 10:05 北京时间 UTC+08:00）', level: 'warn' });
    expect(deadlineText(due, due + (3600 + 5 * 60) * 1000, w)).toEqual({ text: '已超期 1 小时 5 分（截止 2026-12-07 10:05 北京时间 UTC+08:00）', level: 'bad' });
    expect(deadlineText(due, due, { ...w, zone: 'Europe/Berlin', zoneName: 'Europe/Berlin' }).text).toBe('剩余 0 分 0 秒（截止 2026-12-07 03:05 Europe/Berlin UTC+01:00）');
  });
});
