/**
 * Ledger entries as sentences for the event log page: one per entry type of docs/evidence-format.md §6 and
 * docs/console.md, in Chinese and English, times in the installation's zone. A type this version does not know
 * (a newer gateway's, or one added later) is still listed: its members as "name: value" pairs.
 */
import { matterByCode, reasonByCode } from '../evidence/vocabulary.js';
import { ENTRY } from '../evidence/types.js';
import { localTime } from '../util/local-time.js';
import { keyName } from './config-names.js';
import { DICT, translator, type Key, type Lang } from './i18n.js';

type Body = Record<string, unknown>;

/** What a sentence is built with: the page's language and zone. */
interface Say {
  lang: Lang;
  zone: string;
}

/** The two languages of one sentence; `w` picks the page's. */
type Both = readonly [zh: string, en: string];

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const obj = (v: unknown): Body => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Body) : {});

class Words {
  constructor(private readonly s: Say) {}
  get en(): boolean {
    return this.s.lang === 'en';
  }
  pick(b: Both): string {
    return b[this.en ? 1 : 0];
  }
  time(v: unknown): string {
    return typeof v === 'string' || typeof v === 'number' ? localTime(v, this.s.zone, this.en ? 'en' : 'zh') : '?';
  }
  list(items: string[]): string {
    return items.join(this.en ? ', ' : '、');
  }
  officers(v: unknown): string {
    return this.list(arr(v).map((o) => `${str(obj(o).name)}(${str(obj(o).badge)})`)) || this.pick(['无', 'none']);
  }
  matter(b: Body): string {
    const m = matterByCode(str(b.matter));
    return m ? (this.en ? m.en : m.zh) : str(b.matterLabel) || str(b.matter);
  }
  reason(code: unknown): string {
    const r = reasonByCode(str(code));
    return r ? (this.en ? r.en : r.zh) : str(code);
  }
  key(k: unknown): string {
    return keyName(str(k), this.s.lang);
  }
  /** A pre-flight check by name ("电池"), as the self-test page names it. */
  check(c: unknown): string {
    const key = `check.${str(obj(c).check)}`;
    return key in DICT ? translator(this.s.lang)(key as Key) : str(obj(c).check);
  }
  /** "，当事人 X" / ", party X" when the member is there. */
  opt(label: Both, v: unknown): string {
    const s = str(v);
    return s ? (this.en ? `, ${label[1]} ${s}` : `，${label[0]} ${s}`) : '';
  }
}

const CONFIRM_FAILURES: Record<string, Both> = {
  'bad-pin': ['PIN 不正确', 'wrong PIN'],
  'unknown-officer': ['名单中没有该执法证号', 'no such badge on the roster'],
  'officer-not-valid': ['该执法人员不在有效期内', "the officer's entry is not valid now"],
  'roster-expired': ['执法人员名单已过期', 'the roster has expired'],
  'no-roster': ['未安装执法人员名单', 'no roster is installed'],
  throttled: ['错误次数过多，被暂时锁定', 'locked after too many wrong PINs'],
};
const VIA: Record<string, Both> = {
  panel: ['控制面板', 'the panel'],
  console: ['控制台', 'the console'],
  cli: ['命令行', 'the command line'],
  control: ['命令行', 'the command line'],
};

const EXPLANATION_MISSING: Record<string, Both> = {
  'nothing-heard': ['等待时间内无人说话', 'nobody spoke in time'],
  'session-closed': ['会话先结束', 'the session ended first'],
  'no-microphone': ['没有麦克风', 'no microphone'],
};

/** Seconds as a person reads them: one decimal. */
const secs = (v: unknown): string => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(1) : '?');

const LOGIN_FAILURES: Record<string, Both> = {
  'unknown-user': ['没有这个用户', 'no such user'],
  'bad-password': ['密码错误', 'wrong password'],
  disabled: ['账户已停用', 'the account is disabled'],
  throttled: ['失败次数过多，被暂时锁定', 'locked after too many failures'],
  'bad-setup-code': ['首次设置码错误', 'wrong setup code'],
  'reset-none': ['没有待处理的密码重置', 'no reset was asked for'],
  'reset-expired': ['重置码已过期', 'the reset code expired'],
  'reset-bad-code': ['重置码错误', 'wrong reset code'],
};

/** `{account}`: the account acted on. */
const ACCOUNT_ACTIONS: Record<string, Both> = {
  created: ['{user} 创建了账户 {account}', '{user} created the account {account}'],
  disabled: ['{user} 停用了账户 {account}', '{user} disabled the account {account}'],
  enabled: ['{user} 启用了账户 {account}', '{user} enabled the account {account}'],
  'password-changed': ['{user} 修改了账户 {account} 的密码', '{user} changed the password of {account}'],
  'password-reset': ['账户 {account} 的密码已用重置码重置', 'The password of {account} was reset with a reset code'],
};

const ROLES: Record<string, Both> = { admin: ['管理员', 'admin'], technician: ['技术员', 'technician'] };
const INPUTS: Record<string, Both> = {
  'record-button': ['录制按钮', 'record button'],
  door: ['门磁', 'door contact'],
  ignition: ['点火开关', 'ignition'],
  lightbar: ['警灯', 'lightbar'],
};
const ALARM_LEVELS: Record<string, Both> = {
  missed: ['已超过上传期限', 'past their upload deadline'],
  forked: ['出现分叉（同一长度有两个不同的根）', 'forked (two different roots for one size)'],
  shrank: ['变短了', 'shrank'],
  'bad-proof': ['的回执证明不成立', "gave a receipt whose proof does not hold"],
  'bad-signature': ['的检查点缺少有效的 SM2 签名', 'offered a checkpoint without a valid SM2 signature'],
};

const term = (w: Words, table: Record<string, Both>, code: unknown): string => {
  const c = str(code);
  return Object.hasOwn(table, c) ? w.pick(table[c]!) : c;
};

/** A config change's keys with their new values, a few of them: "录制 · 片段时长（秒）→ 2；…". */
function changes(w: Words, b: Body): string {
  const list = arr(b.changes).map((c) => {
    const x = obj(c);
    const to = x.to === undefined ? w.pick(['（删除，用默认值）', '(removed: the default)']) : str(x.to);
    return `${w.key(x.key)} → ${to}`;
  });
  const more = arr(b.changes).length + Number(b.more ?? 0) - Math.min(list.length, 5);
  const shown = list.slice(0, 5).join(w.en ? '; ' : '；');
  return more > 0 ? `${shown}${w.en ? ` and ${more} more` : ` 等另 ${more} 项`}` : shown;
}

const SENTENCES: Record<string, (b: Body, w: Words) => string> = {
  [ENTRY.ledgerOpened]: (b, w) =>
    w.en ? `The ledger of device ${str(b.deviceId)} was opened by recgw ${str(obj(b.software).version)}` : `设备 ${str(b.deviceId)} 的签名日志启用（recgw ${str(obj(b.software).version)}）`,
  [ENTRY.certificateInstalled]: (_b, w) =>
    w.pick(['设备证书已更换：此后的记录用新证书签名', 'A new device certificate is in force: later entries are signed with it']),
  [ENTRY.encryptionInstalled]: (_b, w) =>
    w.pick(['启用机构加密证书：此后录像的数据密钥为该证书加密', "The agency's encryption certificate is in force: later segments' keys are wrapped for it"]),
  [ENTRY.serviceStarted]: (b, w) =>
    w.en
      ? `recgw ${str(b.version)} started; the run before ${b.previousStop === 'unclean' ? 'ended uncleanly (power cut, crash or kill)' : 'stopped cleanly'}${w.opt(['', 'config'], b.config)}`
      : `服务启动（recgw ${str(b.version)}）；上次运行${b.previousStop === 'unclean' ? '非正常结束（断电、崩溃或被强制终止）' : '正常停止'}${w.opt(['配置文件', ''], b.config)}`,
  [ENTRY.serviceStopped]: (b, w) =>
    b.clean === false
      ? w.en
        ? `The service stopped; these parts did not stop in order: ${w.list(arr(b.failed).map(str))}`
        : `服务停止，以下部分未能正常停止：${w.list(arr(b.failed).map(str))}`
      : w.pick(['服务正常停止', 'The service stopped cleanly']),
  [ENTRY.sessionOpened]: (b, w) =>
    w.en
      ? `Recording started: ${w.matter(b)}, case ${str(b.caseRef) || '(none)'}, officers ${w.officers(b.officers)}${w.opt(['', 'party'], b.party)}${w.opt(['', 'place'], b.place)}${arr(b.forced).length ? `; started despite failed checks: ${w.list(arr(b.forced).map((c) => w.check(c)))}` : ''}`
      : `开始录制：${w.matter(b)}，案号 ${str(b.caseRef) || '无'}，执法人员 ${w.officers(b.officers)}${w.opt(['当事人', ''], b.party)}${w.opt(['地点', ''], b.place)}${arr(b.forced).length ? `；检查未通过仍强制开始（${w.list(arr(b.forced).map((c) => w.check(c)))}）` : ''}`,
  [ENTRY.sessionClosed]: (b, w) =>
    b.reason === 'terminated'
      ? w.en
        ? `The session ended with an interruption that never resumed (${w.list(arr(b.unresumed).map((r) => w.reason(r)))}): it needs a written statement confirmed by two officers`
        : `会话因中断未能恢复而终止（${w.list(arr(b.unresumed).map((r) => w.reason(r)))}）：需要两名以上执法人员确认的书面说明`
      : w.pick(['结束录制', 'Recording stopped']),
  [ENTRY.sessionStatement]: (b, w) =>
    w.en ? `Written statement, confirmed by ${w.officers(b.officers)}: "${str(b.text)}"` : `书面说明（确认人 ${w.officers(b.officers)}）：“${str(b.text)}”`,
  [ENTRY.announcementPlayed]: (b, w) =>
    b.ok === false
      ? w.en
        ? `The recording announcement did not play: ${str(b.error)}`
        : `录制告知未能播放：${str(b.error)}`
      : w.en
        ? `The recording announcement was played (on ${str(b.device) || 'default'})`
        : `已播放录制告知（扬声器 ${str(b.device) || 'default'}）`,
  [ENTRY.explanationHeard]: (b, w) =>
    w.en
      ? `The spoken reason for the interruption was heard on ${str(b.source)} at ${w.time(b.start)} (${secs(b.seconds)} s)`
      : `已在 ${str(b.source)} 录到中断原因的口头说明：${w.time(b.start)} 起 ${secs(b.seconds)} 秒`,
  [ENTRY.explanationMissing]: (b, w) =>
    w.en
      ? `No spoken reason for the interruption was heard (${term(w, EXPLANATION_MISSING, b.why)}): two officers must confirm a written statement`
      : `未录到中断原因的口头说明（${term(w, EXPLANATION_MISSING, b.why)}），需两名执法人员书面说明`,
  [ENTRY.credentialsShown]: (b, w) =>
    w.en
      ? `${w.officers(b.officers)} showed their credentials to the party (confirmed on ${term(w, VIA, b.via)})`
      : `${w.officers(b.officers)} 已向当事人亮证（在${term(w, VIA, b.via)}确认）`,
  [ENTRY.segmentSealed]: (b, w) => {
    const src = str(obj(b.source).id);
    const flags = [b.explanation ? w.pick(['中断后的第一段（口述中断原因）', 'first after a resume (the spoken explanation)']) : '', b.preEvent ? w.pick(['预录', 'pre-event']) : '']
      .filter(Boolean)
      .join(w.en ? ', ' : '，');
    return w.en
      ? `${src} segment #${str(b.seq)}: ${w.time(b.start)} to ${w.time(b.end)}, case ${str(b.caseRef) || '(none)'}${flags ? ` (${flags})` : ''}`
      : `${src} 第 ${str(b.seq)} 段：${w.time(b.start)} 至 ${w.time(b.end)}，案号 ${str(b.caseRef) || '无'}${flags ? `（${flags}）` : ''}`;
  },
  [ENTRY.segmentDeleted]: (b, w) =>
    w.en
      ? `The local copy of segment ${str(b.segment)} was deleted after the agency's receipt (entry #${str(b.receiptSeq)})`
      : `已凭机构回执（第 ${str(b.receiptSeq)} 条记录）删除片段 ${str(b.segment)} 的本地副本`,
  [ENTRY.interruptionStarted]: (b, w) => {
    const who = b.origin === 'declared' ? w.pick(['执法人员声明中断', 'Interruption declared by an officer']) : w.pick(['检测到中断', 'Interruption detected']);
    const sources = arr(b.sources).length ? w.list(arr(b.sources).map(str)) : w.pick(['全部音视频源', 'every source']);
    return w.en
      ? `${who}: ${w.reason(b.reason)}${b.text ? ` (${str(b.text)})` : ''}, ${sources}, from ${w.time(b.start)}`
      : `${who}：${w.reason(b.reason)}${b.text ? `（${str(b.text)}）` : ''}，${sources}，自 ${w.time(b.start)} 起`;
  },
  [ENTRY.interruptionEnded]: (b, w) => {
    const how =
      b.endedBy === 'session-closed'
        ? w.pick(['随会话结束而结束（未恢复录制）', 'ended with the session (recording never resumed)'])
        : b.endedBy === 'service-restart'
          ? w.pick(['服务重启后结束', 'ended by a restart of the service'])
          : w.pick(['恢复录制', 'recording resumed']);
    const spoken = b.spokenExplanation ? w.pick(['，已提示执法人员口述中断原因', '; the officers were asked to state the reason aloud']) : '';
    return w.en ? `Interruption over, ${how}, at ${w.time(b.end)}${spoken}` : `中断结束，${how}：${w.time(b.end)}${spoken}`;
  },
  [ENTRY.receiptReceived]: (b, w) => {
    const r = obj(b.receipt);
    return w.en
      ? `The agency's receipt for segment ${str(r.name)}: stored by ${str(r.receiver)} at ${w.time(r.storedAt)} (deadline ${w.time(r.deadline)})`
      : `收到机构回执：片段 ${str(r.name)} 已由 ${str(r.receiver)} 于 ${w.time(r.storedAt)} 存储（上传期限 ${w.time(r.deadline)}）`;
  },
  [ENTRY.alarmRaised]: (b, w) => {
    if (b.kind === 'agency-log') {
      return w.en
        ? `Alarm: the agency log ${str(b.origin)} ${term(w, ALARM_LEVELS, b.level)}: report this to the supervisor`
        : `告警：机构日志 ${str(b.origin)} ${term(w, ALARM_LEVELS, b.level)}，请报告主管`;
    }
    const level = b.level === 'missed' ? term(w, ALARM_LEVELS, 'missed') : w.en ? `${str(b.level)} before their upload deadline` : `距上传期限不足 ${str(b.level).replace(/h$/, ' 小时')}`;
    return w.en
      ? `Upload alarm: ${str(b.count)} item(s) ${level} (earliest deadline ${w.time(b.deadline)})`
      : `上传期限告警：${str(b.count)} 项${level}（最早期限 ${w.time(b.deadline)}）`;
  },
  [ENTRY.uploadDeadlineExtended]: (b, w) => {
    const away = obj(b.away);
    const back = b.reason === 'returned-to-base' ? w.pick(['返回基地', 'returned to base']) : w.pick(['回到信号覆盖区', 'came back into coverage']);
    return w.en
      ? `The vehicle ${back} (away from ${w.time(away.from)} to ${w.time(away.returned)}): the upload deadline of ${str(b.count)} segment(s) moves to ${w.time(b.deadline)}`
      : `车辆${back}（离开 ${w.time(away.from)}，返回 ${w.time(away.returned)}）：${str(b.count)} 个片段的上传期限顺延至 ${w.time(b.deadline)}`;
  },
  [ENTRY.clockStepped]: (b, w) => {
    const delta = Number(b.deltaMs);
    const secs = Number.isFinite(delta) ? (Math.abs(delta) / 1000).toFixed(1) : '?';
    const fwd = delta >= 0;
    const why = b.detectedBy === 'ledger' ? w.pick(['（启动时发现时钟被调回）', ' (found at start: the clock had been set back)']) : '';
    return w.en
      ? `The clock jumped ${fwd ? 'forward' : 'back'} ${secs} s, from ${w.time(b.old)} to ${w.time(b.new)}${why}${b.sessionId ? ' during a session' : ''}`
      : `时钟${fwd ? '向前' : '向后'}跳变 ${secs} 秒：由 ${w.time(b.old)} 变为 ${w.time(b.new)}${why}${b.sessionId ? '，发生在会话中' : ''}`;
  },
  [ENTRY.eventMarked]: (b, w) =>
    w.en
      ? `${term(w, INPUTS, b.input)} became ${b.state === 'active' ? 'active' : 'inactive'} (pin ${str(b.pin)}) at ${w.time(b.time)}${b.sessionId ? ', during a session' : ''}`
      : `${term(w, INPUTS, b.input)}${b.state === 'active' ? '触发' : '复位'}（引脚 ${str(b.pin)}）：${w.time(b.time)}${b.sessionId ? '，发生在会话中' : ''}`,
  [ENTRY.configChanged]: (b, w) => {
    const user = str(b.user);
    if (b.what === 'certificate') {
      return w.en
        ? `${user} installed the device certificate ${str(b.serial)}, valid until ${w.time(b.validTo)}`
        : `${user} 安装了设备证书（序列号 ${str(b.serial)}，有效期至 ${w.time(b.validTo)}）`;
    }
    if (b.what === 'account') {
      const role = b.role ? (w.en ? ` (${term(w, ROLES, b.role)})` : `（${term(w, ROLES, b.role)}）`) : '';
      const action = str(b.action);
      const said = Object.hasOwn(ACCOUNT_ACTIONS, action) ? w.pick(ACCOUNT_ACTIONS[action]!) : `{user}: ${action} {account}`;
      return said.replace('{user}', user).replace('{account}', str(b.account)) + role;
    }
    const restart = b.restartNeeded ? w.pick(['；部分修改在重启服务后生效', '; some take effect after a restart']) : '';
    return w.en ? `${user} changed the config: ${changes(w, b)}${restart}` : `${user} 修改了配置：${changes(w, b)}${restart}`;
  },
  [ENTRY.rosterInstalled]: (b, w) => {
    const r = obj(b.roster);
    const n = arr(r.officers).length;
    return w.en
      ? `The officer roster of ${str(r.agency)} is in force (${n} officers, valid ${w.time(r.notBefore)} to ${w.time(r.notAfter)})`
      : `启用 ${str(r.agency)} 的执法人员名单（${n} 人，有效期 ${w.time(r.notBefore)} 至 ${w.time(r.notAfter)}）`;
  },
  [ENTRY.officerConfirmFailed]: (b, w) => {
    const who = `${str(b.name) || '?'}（${str(b.badge)}）`;
    const lock = b.lockedSeconds ? (w.en ? `; locked for ${str(b.lockedSeconds)} s` : `；锁定 ${str(b.lockedSeconds)} 秒`) : '';
    return w.en
      ? `An officer's confirmation was refused on ${term(w, VIA, b.via)} (${str(b.channel)}) for ${who.replace('（', ' (').replace('）', ')')}: ${term(w, CONFIRM_FAILURES, b.reason)}${lock}`
      : `${term(w, VIA, b.via)}（${str(b.channel)}）上 ${who} 的确认被拒绝：${term(w, CONFIRM_FAILURES, b.reason)}${lock}`;
  },
  [ENTRY.consoleLogin]: (b, w) =>
    w.en ? `${str(b.user)} (${term(w, ROLES, b.role)}) logged in from ${str(b.ip)}` : `${str(b.user)}（${term(w, ROLES, b.role)}）从 ${str(b.ip)} 登录控制台`,
  [ENTRY.consoleLoginFailed]: (b, w) => {
    const lock = b.lockedSeconds ? (w.en ? `; locked for ${str(b.lockedSeconds)} s` : `；锁定 ${str(b.lockedSeconds)} 秒`) : '';
    return w.en
      ? `Failed login from ${str(b.ip)} as "${str(b.user)}": ${term(w, LOGIN_FAILURES, b.reason)}${lock}`
      : `${str(b.ip)} 以用户名“${str(b.user)}”登录失败：${term(w, LOGIN_FAILURES, b.reason)}${lock}`;
  },
};

/** The entry types that have a sentence of their own (the rest get the member list). */
export const SENTENCE_TYPES: readonly string[] = Object.keys(SENTENCES);

/** An entry as a sentence in the page's language; an unknown type as its members. */
export function entrySentence(type: string, body: Body, say: Say): string {
  const w = new Words(say);
  const f = Object.hasOwn(SENTENCES, type) ? SENTENCES[type] : undefined;
  if (f) return f(body, w);
  const members = Object.entries(body).map(([k, v]) => `${k}${w.en ? ': ' : '：'}${str(v)}`);
  return members.join(w.en ? '; ' : '；') || w.pick(['（无内容）', '(no content)']);
}
