/**
 * The room control panel's logic (docs/panel-protocol.md): turns the panel's commands into calls on the recorder
 * interface - the same calls, checked by the same parameter validation, as the CLI's control socket - and keeps the
 * panel's display showing the recorder's state, prompts and refusals. It knows nothing of serial ports: it talks to
 * a LineLink (the LinePort in the gateway, a fake in unit tests).
 */
import type { Officer } from '../evidence/types.js';
import { MATTERS, REASONS, lookupTerm, type Term } from '../evidence/vocabulary.js';
import type { StartRequest, SessionSummary } from '../recorder/recorder.js';
import type { CheckResult } from '../recorder/preflight.js';
import { pauseParams, startParams } from '../control/protocol.js';
import { NoiseLog } from '../hal/serial/noise.js';
import { RecgwError } from '../util/errors.js';
import { silentLogger, type Logger } from '../util/log.js';
import { DEFAULT_ZONE, localClock, zoneName } from '../util/local-time.js';
import { CONFIRM_TTL_MS, ConfirmRefused, type Confirmation } from '../officers/auth.js';
import { CHECK_ZH, refusalZh, type SessionAction } from '../recorder/refusal-words.js';
import {
  decodePanelLine,
  encodeGatewayMessage,
  loggableLine,
  OFFICER_SLOTS,
  PROTOCOL_VERSION,
  type ErrCode,
  type GatewayMessage,
  type PanelCommand,
  type PanelState,
} from './protocol.js';

/** What the panel shows of a session. */
export type SessionView = Pick<SessionSummary, 'sessionId' | 'matter' | 'matterLabel' | 'caseRef' | 'officers' | 'state' | 'start'>;
export interface RecorderView {
  session: SessionView | null;
}
export interface RecorderPrompt {
  code: string;
  zh: string;
  en: string;
}

/** The part of the recorder interface the panel uses; the Recorder itself satisfies it. */
export interface RecorderApi {
  startSession(req: StartRequest): Promise<{ session: SessionView; forced: CheckResult[] }>;
  pauseSession(reason: string, text?: string): Promise<SessionView>;
  resumeSession(): Promise<SessionView>;
  stopSession(o?: { confirmations?: Confirmation[] }): Promise<SessionView>;
  credentialsShown(via: 'panel'): Promise<SessionView>;
  status(): Promise<RecorderView>;
  on(event: 'changed', listener: (status: RecorderView) => void): unknown;
  on(event: 'prompt', listener: (prompt: RecorderPrompt) => void): unknown;
  off(event: 'changed', listener: (status: RecorderView) => void): unknown;
  off(event: 'prompt', listener: (prompt: RecorderPrompt) => void): unknown;
}

/** The PIN check the panel's keypad uses (OfficerAuth satisfies it). */
export interface PinCheck {
  required(): boolean;
  confirm(req: { badge: string; pin: string; via: 'panel' }): Promise<Confirmation>;
}

/** A line connection to the panel; LinePort satisfies it. */
export interface LineLink {
  writeLine(line: string): boolean;
  on(event: 'line', listener: (line: string) => void): unknown;
  on(event: 'open', listener: () => void): unknown;
  off(event: 'line', listener: (line: string) => void): unknown;
  off(event: 'open', listener: () => void): unknown;
}

export interface PanelOptions {
  deviceId: string;
  version?: string;
  /** The gateway's heartbeat interval (default 2000 ms; the panel expects one at least every 6 s). */
  heartbeatMs?: number;
  /** How long a command id is remembered to answer retransmissions instead of acting twice (default 120 s). */
  dedupeMs?: number;
  log?: Logger;
  now?: () => number;
  /** The installation's time zone (config time.zone): the display shows times in it, named. Default Beijing time. */
  zone?: string;
  /** Officers' PINs (a roster is installed): PIN lines are checked here and START/STOP carry the confirmations. */
  pins?: PinCheck;
}

export interface PanelStatus {
  /** What the panel said in its last HELLO. */
  panel: { proto: number; model: string; firmware: string; at: string } | null;
  lastLineAt: string | null;
  commands: number;
  garbage: number;
  draft: { matter: string | null; caseRef: string; officers: Officer[] };
  /** Officers whose PIN was checked and who wait for START or STOP (never the PIN). */
  confirmed: { name: string; badge: string; at: string }[];
}

type IdCommand = Extract<PanelCommand, { id: number }>;

/** The recorder action a verb asks for (its refusals read accordingly). */
const ACTIONS: Partial<Record<IdCommand['verb'], SessionAction>> = { START: 'start', PAUSE: 'pause', RESUME: 'resume', STOP: 'stop', CRED: 'credentials' };

/** A refusal the panel itself decides, before the recorder is asked. */
class PanelRefusal extends Error {
  constructor(
    readonly code: ErrCode,
    readonly zh: string,
  ) {
    super(zh);
  }
}

export class Panel {
  private readonly o: Required<Omit<PanelOptions, 'version' | 'pins'>> & { version: string; pins?: PinCheck };
  private readonly noise: NoiseLog;
  private draft: { matter: Term | null; caseRef: string; officers: (Officer | null)[] } = Panel.emptyDraft();
  private view: RecorderView = { session: null };
  private viewSeq = 0;
  private appliedSeq = 0;
  private message = '';
  /** Bumped by every message shown: a command's own result does not cover a prompt that arrived meanwhile. */
  private messageSeq = 0;
  /** The last line sent per display item, so unchanged items are not resent on every recorder change. */
  private readonly sent = new Map<string, string>();
  /** Command ids seen recently, by id: the line and, once done, the final answer (OK or ERR). */
  private readonly seen = new Map<number, { at: number; line: string; final: string | null }>();
  private hb: NodeJS.Timeout | undefined;
  private hello: PanelStatus['panel'] = null;
  /** PINs checked on the keypad, by 执法证号, until START or STOP takes them (or they go stale: OfficerAuth's TTL). */
  private readonly confirmedPins = new Map<string, Confirmation>();
  private lastLineAt: number | null = null;
  private commands = 0;

  constructor(
    private readonly recorder: RecorderApi,
    private readonly link: LineLink,
    opts: PanelOptions,
  ) {
    this.o = { heartbeatMs: 2000, dedupeMs: 120_000, log: silentLogger, now: Date.now, version: '0', zone: DEFAULT_ZONE, ...opts };
    this.noise = new NoiseLog(this.o.log, 10, this.o.now);
  }

  start(): void {
    if (this.hb) return;
    this.link.on('line', this.onLine);
    this.link.on('open', this.onOpen);
    this.recorder.on('changed', this.onChanged);
    this.recorder.on('prompt', this.onPrompt);
    this.hb = setInterval(() => this.send({ verb: 'HB', state: this.state() }), this.o.heartbeatMs);
    this.hb.unref();
    // The link may be open already (no 'open' will come): greet and show the state now; if it is not, nothing is sent.
    this.onOpen();
  }

  stop(): void {
    clearInterval(this.hb);
    this.hb = undefined;
    this.link.off('line', this.onLine);
    this.link.off('open', this.onOpen);
    this.recorder.off('changed', this.onChanged);
    this.recorder.off('prompt', this.onPrompt);
  }

  /** Shows an alarm on the panel (ALM line and the message row): e.g. the UPS monitor's low-battery warning. */
  alert(code: string, text: string): void {
    this.send({ verb: 'ALM', code, text });
    this.setMessage(text);
  }

  status(): PanelStatus {
    return {
      panel: this.hello,
      lastLineAt: this.lastLineAt === null ? null : new Date(this.lastLineAt).toISOString(),
      commands: this.commands,
      garbage: this.noise.total,
      draft: { matter: this.draft.matter?.code ?? null, caseRef: this.draft.caseRef, officers: this.draft.officers.filter((x): x is Officer => x !== null) },
      confirmed: [...this.confirmedPins.values()].map((c) => ({ name: c.name, badge: c.badge, at: c.at })),
    };
  }

  // ---- from the panel --------------------------------------------------------------------------------------

  private readonly onLine = (line: string): void => {
    this.lastLineAt = this.o.now();
    const d = decodePanelLine(line);
    if (!d.ok) {
      this.noise.garbage(d.reason, loggableLine(line));
      // An intact line with a command the gateway cannot carry out: say so, or the panel would retransmit it forever.
      if (d.id !== undefined) this.send({ verb: 'ERR', id: d.id, code: 'BADCMD', text: d.reason });
      return;
    }
    const cmd = d.msg;
    if (cmd.verb === 'HB') return;
    if (cmd.verb === 'HELLO') {
      // A (re)booted panel numbers its commands from the start again: forget the old ids.
      this.seen.clear();
      this.hello = { proto: cmd.proto, model: cmd.model, firmware: cmd.firmware, at: new Date(this.o.now()).toISOString() };
      if (cmd.proto !== PROTOCOL_VERSION) this.o.log.warn('the panel speaks another protocol version', { panel: cmd.proto, gateway: PROTOCOL_VERSION });
      else this.o.log.info('panel connected', { model: cmd.model, firmware: cmd.firmware });
      this.onOpen();
      return;
    }
    void this.command(cmd, line);
  };

  private async command(cmd: IdCommand, line: string): Promise<void> {
    const now = this.o.now();
    for (const [id, e] of this.seen) if (now - e.at > this.o.dedupeMs) this.seen.delete(id);
    const prev = this.seen.get(cmd.id);
    if (prev && prev.line === line) {
      // A retransmission (our ACK or answer was lost): never act twice, repeat what was said.
      this.send({ verb: 'ACK', id: cmd.id });
      if (prev.final) this.link.writeLine(prev.final);
      return;
    }
    const entry = { at: now, line, final: null as string | null };
    this.seen.set(cmd.id, entry);
    this.commands++;
    this.send({ verb: 'ACK', id: cmd.id });
    const before = this.messageSeq;
    let final: GatewayMessage;
    let shown: string;
    try {
      shown = await this.execute(cmd);
      final = { verb: 'OK', id: cmd.id };
    } catch (err) {
      const e = this.refusal(cmd, err);
      shown = e.zh;
      final = { verb: 'ERR', id: cmd.id, code: e.code, text: e.zh };
      this.o.log[e.code === 'FAILED' ? 'error' : 'info']('panel command refused', { verb: cmd.verb, id: cmd.id, error: (err as Error).message });
    }
    entry.final = encodeGatewayMessage(final);
    this.link.writeLine(entry.final);
    if (final.verb === 'ERR' || this.messageSeq === before) this.setMessage(shown);
    await this.refresh();
  }

  private async execute(cmd: IdCommand): Promise<string> {
    const d = this.draft;
    switch (cmd.verb) {
      case 'MAT': {
        const t = lookupTerm(MATTERS, cmd.matter);
        if (!t) throw new PanelRefusal('BADARG', `未知事项：${cmd.matter}`);
        d.matter = t;
        return `已选择事项：${t.zh}`;
      }
      case 'CASE':
        d.caseRef = cmd.caseRef;
        return cmd.caseRef ? `案件编号：${cmd.caseRef}` : '已清除案件编号';
      case 'OFC': {
        if (cmd.badge === null) {
          d.officers[cmd.slot - 1] = null;
          return `已清除执法人员 ${cmd.slot}`;
        }
        const other = d.officers.findIndex((o, i) => o?.badge === cmd.badge && i !== cmd.slot - 1);
        if (other >= 0) throw new PanelRefusal('BADARG', `执法证号 ${cmd.badge} 已录入为执法人员 ${other + 1}`);
        d.officers[cmd.slot - 1] = { name: cmd.name, badge: cmd.badge };
        return `执法人员 ${cmd.slot}：${cmd.name}（${cmd.badge}）`;
      }
      case 'CLR':
        this.draft = Panel.emptyDraft();
        this.confirmedPins.clear();
        return '已清除录入内容';
      case 'PIN': {
        const pins = this.o.pins;
        if (!pins?.required()) throw new PanelRefusal('BADARG', '未安装执法人员名单：无需输入 PIN');
        const c = await pins.confirm({ badge: cmd.badge, pin: cmd.pin, via: 'panel' });
        this.confirmedPins.set(c.badge, c);
        return `${c.name}（${c.badge}）已确认`;
      }
      case 'START': {
        if (!d.matter) throw new PanelRefusal('BADARG', '请先选择事项');
        const officers = d.officers.filter((x): x is Officer => x !== null);
        if (officers.length === 0) throw new PanelRefusal('BADARG', '请至少录入一名执法人员（姓名和执法证号）');
        // The control socket's own validation, so a panel start is exactly a CLI start.
        const req = startParams({ matter: d.matter.code, caseRef: d.caseRef, officers, force: cmd.force });
        const confirmations = this.pinsOf(officers);
        const r = await this.recorder.startSession({ ...req, ...(confirmations.length > 0 ? { confirmations } : {}) });
        for (const c of confirmations) this.confirmedPins.delete(c.badge);
        return r.forced.length > 0 ? `已强制开始录制（预检未通过：${r.forced.map((c) => CHECK_ZH[c.check] ?? c.check).join('、')}）` : '已开始录制';
      }
      case 'PAUSE': {
        const reason = lookupTerm(REASONS, cmd.reason);
        if (!reason) throw new PanelRefusal('BADARG', `未知中断原因：${cmd.reason}`);
        if (reason.code === 'other' && !cmd.text) throw new PanelRefusal('BADARG', '中断原因为“其他”时须说明情况');
        const p = pauseParams({ reason: reason.code, ...(cmd.text ? { text: cmd.text } : {}) });
        await this.recorder.pauseSession(p.reason, p.text);
        return `已暂停：${reason.zh}`;
      }
      case 'RESUME':
        await this.recorder.resumeSession();
        return '已恢复录制';
      case 'STOP': {
        const confirmations = this.pinsOf((await this.recorder.status()).session?.officers ?? []);
        await (confirmations.length > 0 ? this.recorder.stopSession({ confirmations }) : this.recorder.stopSession());
        this.confirmedPins.clear();
        return '已停止录制';
      }
      case 'CRED':
        await this.recorder.credentialsShown('panel');
        return '已记录亮证';
    }
  }

  /** The fresh keypad confirmations of these officers (stale ones are forgotten: the action would refuse them). */
  private pinsOf(officers: Officer[]): Confirmation[] {
    const t = this.o.now();
    for (const [b, c] of this.confirmedPins) if (t - Date.parse(c.at) > CONFIRM_TTL_MS) this.confirmedPins.delete(b);
    return officers.map((o) => this.confirmedPins.get(o.badge)).filter((c): c is Confirmation => c !== undefined);
  }

  /** What to tell the panel about a failed command: a code and a short Chinese reason for its display (refusal-words.ts). */
  private refusal(cmd: IdCommand, err: unknown): { code: ErrCode; zh: string } {
    if (err instanceof PanelRefusal) return { code: err.code, zh: err.zh };
    if (err instanceof ConfirmRefused) return { code: 'REFUSED', zh: err.zh };
    const code: ErrCode = err instanceof RecgwError ? (err.code === 'usage' ? 'BADARG' : err.code === 'recorder' ? 'REFUSED' : 'FAILED') : 'FAILED';
    return { code, zh: refusalZh(err, ACTIONS[cmd.verb] ?? 'start') };
  }

  // ---- to the panel ----------------------------------------------------------------------------------------

  /** (Re)connected or greeted: the panel may have lost everything, so say hello and send the whole state. */
  private readonly onOpen = (): void => {
    this.sent.clear();
    this.send({ verb: 'HELLO', proto: PROTOCOL_VERSION, name: 'recgw', version: this.o.version, device: this.o.deviceId });
    void this.refresh(true);
  };

  private readonly onChanged = (status: RecorderView): void => {
    this.apply(++this.viewSeq, status);
    this.render(false);
  };

  private readonly onPrompt = (p: RecorderPrompt): void => {
    this.send({ verb: 'PRM', code: p.code, text: p.zh });
    this.setMessage(p.zh);
  };

  private async refresh(force = false): Promise<void> {
    const seq = ++this.viewSeq;
    try {
      this.apply(seq, await this.recorder.status());
    } catch (err) {
      // Show what is known rather than nothing.
      this.o.log.warn('cannot read the recorder status for the panel', { err });
    }
    this.render(force);
  }

  /** Status answers can overtake each other: only a newer one replaces what is shown. */
  private apply(seq: number, status: RecorderView): void {
    if (seq <= this.appliedSeq) return;
    this.appliedSeq = seq;
    this.view = status;
  }

  private state(): PanelState {
    const s = this.view.session;
    return !s || s.state === 'closed' ? 'IDLE' : s.state === 'recording' ? 'REC' : 'PAUSED';
  }

  private render(force: boolean): void {
    const st = this.state();
    const s = st === 'IDLE' ? null : this.view.session;
    const d = this.draft;
    const officers = s ? s.officers : d.officers.filter((x): x is Officer => x !== null);
    const rows = [
      st === 'IDLE' ? '待机：可开始录制' : `${st === 'REC' ? '录制中' : '已暂停（录制中断）'}  开始 ${hhmm(s!.start, this.o.zone)}`,
      `事项：${s ? s.matterLabel : (d.matter?.zh ?? '未选择')}  案号：${(s ? s.caseRef : d.caseRef) || '无'}`,
      `执法人员：${officers.map((o) => `${o.name}(${o.badge})`).join(' ') || '未录入'}`,
    ];
    this.show('st', { verb: 'ST', state: st, session: s?.sessionId ?? null }, force);
    rows.forEach((text, i) => this.show(`dsp${i + 1}`, { verb: 'DSP', row: i + 1, text }, force));
    this.show('dsp4', { verb: 'DSP', row: 4, text: this.message }, force);
  }

  private setMessage(text: string): void {
    this.message = text;
    this.messageSeq++;
    this.show('dsp4', { verb: 'DSP', row: 4, text }, true);
  }

  private show(key: string, m: GatewayMessage, force: boolean): void {
    const line = encodeGatewayMessage(m);
    if (!force && this.sent.get(key) === line) return;
    // Remember only what went out: after a failed write the item is sent again at the next change.
    if (this.link.writeLine(line)) this.sent.set(key, line);
    else this.sent.delete(key);
  }

  private send(m: GatewayMessage): void {
    this.link.writeLine(encodeGatewayMessage(m));
  }

  private static emptyDraft(): Panel['draft'] {
    return { matter: null, caseRef: '', officers: new Array<Officer | null>(OFFICER_SLOTS).fill(null) };
  }
}

/** "09:00（北京时间）": the time of day in the installation's zone, named (the gateway's own TZ is often UTC). */
function hhmm(iso: string, zone: string): string {
  const t = Date.parse(iso);
  return `${Number.isNaN(t) ? '--:--' : localClock(t, zone).slice(11, 16)}（${zoneName(zone)}）`;
}
