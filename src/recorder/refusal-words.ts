/**
 * The recorder's refusals in Chinese, for the officers at the room's panel and the console. The recorder speaks
 * English (the control socket, the journal, `recgw session`); these are its refusals as people in the room read them,
 * in one table so the panel and the console say the same. A refusal this table does not know keeps the recorder's
 * words after a Chinese lead-in (输入有误 / 操作被拒绝 / 操作失败).
 */
import { ConfirmRefused } from '../officers/auth.js';
import { RecgwError } from '../util/errors.js';

/** What was asked of the recorder: some refusals read differently depending on it. */
export type SessionAction = 'start' | 'pause' | 'resume' | 'stop' | 'statement' | 'credentials';

/** Pre-flight checks in words (a start refused on them names them). */
export const CHECK_ZH: Record<string, string> = {
  storage: '存储空间不足',
  battery: '电池电量不足',
  clock: '时钟未同步',
  sources: '摄像机或麦克风无信号',
  ptz: '云台摄像机未开机或无响应',
  ups: '电源监测无数据',
  cameras: '网络摄像机设置有误',
};

/** The request fields the control protocol checks (src/control/protocol.ts), in words. */
const FIELD_ZH: Record<string, string> = { matter: '事项', caseRef: '案件编号', party: '当事人', place: '执法地点', text: '说明', reason: '中断原因', sessionId: '会话' };
const field = (name: string): string => FIELD_ZH[name] ?? name;

type Rule = [RegExp, (m: RegExpExecArray, action: SessionAction) => string];

const RULES: Rule[] = [
  [
    /^cannot start the session: (.*)\. An officer may force/s,
    (m) => {
      const names = [...m[1]!.matchAll(/(?:^|; )([a-z-]+): /g)].map((x) => x[1]!).filter((n) => n in CHECK_ZH);
      const zh = [...new Set(names)].map((n) => CHECK_ZH[n]).join('、');
      return `无法开始：${zh || '预检未通过'}。确认后可强制开始`;
    },
  ],
  [/is already (recording|paused)/, (_m, action) => (action === 'pause' ? '已处于暂停状态' : '已有录制在进行，请先停止')],
  [/no session is being recorded/, () => '当前没有进行中的录制'],
  [/is not paused/, () => '当前未暂停'],
  [/the UPS is in forced shutdown/, () => '不间断电源已下令关机，即将断电，不能开始录制：请等市电恢复、电源重新启动后再开始'],
  [/^cannot resume: the battery is about to run out/, () => '电池电量即将耗尽，不能恢复录制：请先接通市电，或停止录制'],
  [/^unknown matter type/, () => '未知事项：请从列表中选择'],
  [/^unknown interruption reason/, () => '未知中断原因：请从列表中选择'],
  [/^reason "other" needs a text/, () => '中断原因为“其他”时须说明情况'],
  [/^at least one officer/, () => '请至少录入一名执法人员（姓名和执法证号）'],
  [/needs both a name and a 执法证号/, () => '每名执法人员须同时填写姓名和执法证号'],
  [/^the statement text is empty/, () => '书面说明的内容不能为空'],
  [/^a statement must be confirmed by two different officers/, () => '书面说明须由两名不同的执法人员确认'],
  [/^(.+) \(([^()]+)\) is not an officer of session \S+: only its officers may sign/, (m) => `${m[1]}（${m[2]}）不是该次执法的执法人员，不能签署其书面说明`],
  [/^(.+) \(([^()]+)\) is not an officer of session /, (m) => `${m[1]}（${m[2]}）不是本次执法的执法人员`],
  [/^no session lacks its written statement/, () => '没有缺少书面说明的会话'],
  [/sessions lack their written statement/, () => '有多个会话缺少书面说明：请选定其中一个'],
  [/^no session (\S+)$/, (m) => `没有会话 ${m[1]}`],
  [/PINs were given, but no officer roster is installed/, () => '未安装执法人员名单，无法核验 PIN'],
  [/^(\w+) is too long \(at most (\d+) characters\)$/, (m) => `${field(m[1]!)}过长（最多 ${m[2]} 个字）`],
  [/^(\w+) is required$/, (m) => `请填写${field(m[1]!)}`],
];

/** The refusal in Chinese: a PIN refusal's own sentence, a known refusal's, or the recorder's words after a lead-in. */
export function refusalZh(err: unknown, action: SessionAction): string {
  if (err instanceof ConfirmRefused) return err.zh;
  const msg = (err as Error)?.message ?? String(err);
  for (const [re, say] of RULES) {
    const m = re.exec(msg);
    if (m) return say(m, action);
  }
  if (err instanceof RecgwError && err.code === 'usage') return `输入有误：${msg}`;
  if (err instanceof RecgwError && err.code === 'recorder') return `操作被拒绝：${msg}`;
  return `操作失败：${msg}`;
}
