/**
 * A schema error as a problem a technician can act on, in English (the CLI, the log) and Chinese (the console's
 * default language): the key as the validator names it (`recording.sources[0].fps`) and what is wrong with it.
 */
import type { ErrorObject } from 'ajv';

export interface ConfigProblem {
  key: string;
  message: string;
  /** The same in Chinese, for the console. */
  zh: string;
}

/** `/recording/sources/0/id` -> `recording.sources[0].id` */
export function keyPath(instancePath: string): string {
  if (instancePath === '') return '(top level)';
  return instancePath
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

const TYPE_ZH: Record<string, string> = { string: '文本', integer: '整数', number: '数字', boolean: 'true 或 false', object: '对象 {…}', array: '数组 […]', null: 'null' };
const COMPARE_ZH: Record<string, string> = { '>=': '不能小于', '<=': '不能大于', '>': '必须大于', '<': '必须小于' };

const under = (base: string, k: string): string => (base === '(top level)' ? k : `${base}.${k}`);

/** Settings that were replaced: the message says what to give instead, not that the key is unknown. */
const RETIRED: Record<string, ConfigProblem> = {
  'agency.encryptionKey': {
    key: 'agency.encryptionKey',
    message:
      "is no longer accepted (a key file could hold any key, even one kept on this gateway): remove it and set agency.encryptionCert to the agency's encryption certificate (agency-enc.pem, issued by the agency CA for the role recgw-encryption)",
    zh: '已不再接受（密钥文件可能是任何密钥，甚至是存放在本网关上的密钥）：请删除此项，并将 agency.encryptionCert 设为执法机构 CA 签发的加密证书（agency-enc.pem，角色 recgw-encryption）',
  },
};

export function describeError(e: ErrorObject): ConfigProblem {
  const base = keyPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  const fallback = e.message ?? 'is invalid';
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = under(base, String(p.additionalProperty));
      // Own keys only: a config key named like an Object method (toString) is just unknown.
      return (Object.hasOwn(RETIRED, key) ? RETIRED[key] : undefined) ?? { key, message: 'is not a known setting (check the spelling)', zh: '不是已知的配置项（请检查拼写）' };
    }
    case 'required': {
      const missing = String(p.missingProperty);
      return { key: under(base, missing), message: 'is required', zh: '必须填写' };
    }
    case 'enum': {
      const list = (p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ');
      return { key: base, message: `must be one of ${list}`, zh: `必须是以下之一：${list}` };
    }
    case 'type': {
      const types = ([] as string[]).concat(p.type as string | string[]);
      return { key: base, message: fallback, zh: `必须是${types.map((t) => TYPE_ZH[t] ?? t).join('或')}` };
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { key: base, message: fallback, zh: `${COMPARE_ZH[String(p.comparison)] ?? String(p.comparison)} ${String(p.limit)}` };
    case 'minLength':
      return { key: base, message: fallback, zh: Number(p.limit) === 1 ? '不能为空' : `不能少于 ${String(p.limit)} 个字符` };
    case 'maxLength':
      return { key: base, message: fallback, zh: `不能多于 ${String(p.limit)} 个字符` };
    case 'minItems':
      return { key: base, message: fallback, zh: `至少需要 ${String(p.limit)} 项` };
    case 'maxItems':
      return { key: base, message: fallback, zh: `最多 ${String(p.limit)} 项` };
    case 'format':
      if (p.format === 'time-zone') {
        return { key: base, message: 'is not a time zone: give an IANA name such as Asia/Shanghai (Beijing time)', zh: '不是有效的时区：请填写 IANA 时区名，例如 Asia/Shanghai（北京时间）' };
      }
      return { key: base, message: fallback, zh: `格式不正确（须为 ${String(p.format)}）` };
    case 'pattern':
      return { key: base, message: fallback, zh: `格式不正确（须符合 ${String(p.pattern)}）` };
    default:
      return { key: base, message: fallback, zh: `不符合要求（${fallback}）` };
  }
}

/** Ajv's errors as one problem per key (ajv can report several for one mistake; the first is kept). */
export function problemsOf(errors: ErrorObject[] | null | undefined): ConfigProblem[] {
  const out = new Map<string, ConfigProblem>();
  for (const e of errors ?? []) {
    const p = describeError(e);
    if (!out.has(p.key)) out.set(p.key, p);
  }
  return [...out.values()];
}
