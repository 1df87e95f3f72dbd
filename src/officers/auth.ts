/**
 * Officers confirming with their PINs (evidence-format.md §16). Two steps, so a panel can check each officer's PIN
 * as it is typed and a socket request can carry them all at once:
 *
 *   confirm({badge, pin, via, channel}) -> Confirmation   the PIN checked against the installed roster, throttled;
 *   take(confirmations, rule, what)      -> Confirmation[] an action (start, statement, early stop) claims them.
 *
 * Invariants: a Confirmation counts only if this OfficerAuth made it (forged or copied objects are refused), within
 * CONFIRM_TTL_MS of its check, once (take() marks it used), for the roster installed now. "Distinct" officers are
 * distinct roster entries, i.e. distinct 执法证号: the roster holds each badge once, so one person (one badge) never
 * counts twice. Every refused check is a ledger entry (officer.confirm_failed, never the PIN) and a journal line.
 */
import { ENTRY, type Officer } from '../evidence/types.js';
import { verifySecret } from '../util/scrypt-hash.js';
import { LoginThrottle } from '../util/throttle.js';
import { RecgwError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { normalName } from './names.js';
import { rosterTimeIssue, type InstalledRoster, type RosterOfficer } from './roster.js';

export const VIAS = ['panel', 'console', 'cli'] as const;
/** How a PIN reached the gateway: the room's panel keypad, the local web console, or the control socket (recgw session). */
export type Via = (typeof VIAS)[number];

/** One officer's PIN confirmation, as the ledger records it in the body of the action it confirmed. */
export interface Confirmation {
  name: string;
  badge: string;
  via: Via;
  /** When the PIN was checked (ISO). */
  at: string;
  /** SHA-256 of the roster it was checked against (its roster.installed entry). */
  roster: string;
}

/** How long a checked PIN may wait for its action: officers type theirs one after another, then press START. */
export const CONFIRM_TTL_MS = 120_000;
/**
 * Per officer and per channel: the third wrong PIN in a row locks for 5 s, each further one doubles the lock, up to 15
 * minutes; a right PIN clears the officer's and the channel's count (util/throttle.ts).
 */
export const PIN_THROTTLE = { freeFailures: 3, baseMs: 5000, maxMs: 15 * 60_000 };

export type ConfirmFailure = 'bad-pin' | 'unknown-officer' | 'officer-not-valid' | 'roster-expired' | 'no-roster' | 'throttled';

/** A refused confirmation or action, with the Chinese sentence a panel or the console shows. */
export class ConfirmRefused extends RecgwError {
  constructor(
    message: string,
    readonly zh: string,
    readonly failure?: ConfirmFailure,
    /** While throttled: how long until the next attempt may be made. */
    readonly retryAfterMs = 0,
  ) {
    super('recorder', message);
  }
}

/** What an action needs: `named` must each confirm (no one else), at least `atLeast` of them, all among `within`. */
export interface ConfirmRule {
  named: Officer[];
  atLeast: number;
  within?: Officer[];
}

export interface OfficerAuthOptions {
  /** The roster the config names, checked (config/agency-files.ts); undefined when none. */
  roster: InstalledRoster | undefined;
  /**
   * The ledger recorded a roster before but the config names none now: confirmations stay required (the verifier
   * requires them from a device's first roster on), and are refused with the fix until a roster is configured again.
   */
  rosterInLedger: boolean;
  ledger: { append(type: string, body: Record<string, unknown>): unknown };
  log: Logger;
  now?: () => number;
  throttle?: Partial<typeof PIN_THROTTLE>;
}

/** What status shows of officer confirmation. */
export interface OfficerAuthStatus {
  required: boolean;
  roster: { sha256: string; agency: string; notBefore: string; notAfter: string; officers: number } | null;
}

const typed = (s: string): string => [...s.slice(0, 32)].map((c) => (c.charCodeAt(0) < 0x20 || c === '\u007f' ? '?' : c)).join('');
const who = (o: { name: string; badge: string }): string => `${o.name} (${o.badge})`;

export class OfficerAuth {
  private readonly now: () => number;
  private readonly throttle: LoginThrottle;
  /** Every Confirmation this instance made, and whether an action has taken it. */
  private readonly issued = new WeakMap<Confirmation, { used: boolean }>();

  constructor(private readonly o: OfficerAuthOptions) {
    this.now = o.now ?? Date.now;
    this.throttle = new LoginThrottle({ ...PIN_THROTTLE, ...o.throttle, now: this.now });
  }

  /** Whether starts, statements and early stops need confirmations (a roster is, or was, installed). */
  required(): boolean {
    return this.o.roster !== undefined || this.o.rosterInLedger;
  }

  status(): OfficerAuthStatus {
    const r = this.o.roster;
    return {
      required: this.required(),
      roster: r ? { sha256: r.sha256, agency: r.roster.agency, notBefore: r.roster.notBefore, notAfter: r.roster.notAfter, officers: r.roster.officers.length } : null,
    };
  }

  /** The roster's entry for a badge, if the roster has one (a panel shows the name). */
  officer(badge: string): RosterOfficer | undefined {
    return this.o.roster?.roster.officers.find((x) => x.badge === badge);
  }

  /**
   * Check one officer's PIN. `channel` names where it came from within `via` (the console passes the client's address;
   * default: `via` itself): guesses are throttled per officer and per channel. Throws ConfirmRefused.
   */
  async confirm(req: { badge: string; pin: string; via: Via; channel?: string }): Promise<Confirmation> {
    const channel = `${req.via}:${req.channel ?? req.via}`;
    const keys = [`officer:${req.badge}`, `channel:${channel}`];
    const r = this.o.roster;
    if (!r) {
      throw this.refuse(req, channel, 'no-roster', 0, {
        en: this.o.rosterInLedger
          ? 'no officer roster is installed, though this gateway used one before: set agency.roster in the config to the agency\'s current roster (recgw ca roster) and restart'
          : 'no officer roster is installed, so PINs cannot be checked: the agency makes one with `recgw ca roster`, then set agency.roster in the config',
        zh: '未安装执法人员名单，无法核验 PIN：请在配置中设置 agency.roster（执法机构用 recgw ca roster 制作）',
      });
    }
    const wait = this.throttle.wait(keys);
    if (wait.ms > 0) {
      const s = Math.ceil(wait.ms / 1000);
      throw this.refuse(req, channel, 'throttled', wait.firstRefusal ? s : -1, { en: `too many wrong PINs: try again in ${s} s`, zh: `PIN 错误次数过多，请 ${s} 秒后再试` }, wait.ms);
    }
    const entry = this.officer(req.badge);
    if (!entry) {
      const lock = this.throttle.fail([`channel:${channel}`]);
      throw this.refuse(req, channel, 'unknown-officer', Math.ceil(lock / 1000), {
        en: `执法证号 ${typed(req.badge)} is not on the officer roster: check the number, or ask the agency to add the officer`,
        zh: `执法证号 ${typed(req.badge)} 不在执法人员名单上：请核对证号，或请执法机构将其列入名单`,
      });
    }
    const hash = r.pins.get(req.badge)!;
    // A PIN longer than any valid one is wrong without asking scrypt.
    const ok = req.pin.length <= 64 && (await verifySecret(req.pin, hash));
    if (!ok) {
      const lock = this.throttle.fail(keys);
      const more = lock > 0 ? { en: `; locked for ${Math.ceil(lock / 1000)} s`, zh: `；已锁定 ${Math.ceil(lock / 1000)} 秒` } : { en: '', zh: '' };
      throw this.refuse(req, channel, 'bad-pin', Math.ceil(lock / 1000), { en: `wrong PIN for ${who(entry)}${more.en}`, zh: `${entry.name}（${entry.badge}）的 PIN 不正确${more.zh}` }, lock);
    }
    this.throttle.succeed(keys);
    const at = new Date(this.now());
    const when = rosterTimeIssue(r.roster, at);
    if (when) throw this.refuse(req, channel, 'roster-expired', 0, { en: when.en, zh: when.zh });
    const t = at.toISOString();
    if (t < entry.notBefore || t > entry.notAfter) {
      throw this.refuse(req, channel, 'officer-not-valid', 0, {
        en: `${who(entry)} may confirm only from ${entry.notBefore} to ${entry.notAfter} (the roster says so): ask the agency`,
        zh: `${entry.name}（${entry.badge}）仅可在 ${entry.notBefore} 至 ${entry.notAfter} 期间确认（依人员名单）：请联系执法机构`,
      });
    }
    const c: Confirmation = { name: entry.name, badge: entry.badge, via: req.via, at: t, roster: r.sha256 };
    this.issued.set(c, { used: false });
    return c;
  }

  /**
   * Claim confirmations for an action (`what`, for messages). Without a roster (and none before) nothing is needed and
   * none may be given; otherwise the rule must hold and every confirmation must be this instance's, fresh and unused.
   * Returns them in the order of `rule.named`, now used (unless `mark` is false). Throws ConfirmRefused naming what is
   * missing.
   */
  take(confirmations: Confirmation[], rule: ConfirmRule, what: string, o: { mark?: boolean } = {}): Confirmation[] {
    if (!this.required()) {
      if (confirmations.length > 0) throw new ConfirmRefused(`${what}: PINs were given, but no officer roster is installed to check them`, `${what}：未安装执法人员名单，无法核验 PIN`);
      return [];
    }
    const named = rule.named.map((o) => ({ name: normalName(o.name), badge: o.badge.trim() }));
    const refuse = (en: string, zh: string): never => {
      throw new ConfirmRefused(`${what}: ${en}`, zh);
    };
    if (!this.o.roster && (named.length > 0 || rule.atLeast > 0)) {
      refuse(
        "officers must confirm with their PINs (this gateway used an officer roster before), but no roster is installed: set agency.roster in the config to the agency's current roster (recgw ca roster) and restart",
        '本网关曾使用执法人员名单，须以 PIN 确认，但当前未安装名单：请在配置中设置 agency.roster 并重启',
      );
    }
    const twice = named.find((o, i) => named.findIndex((x) => x.badge === o.badge) !== i);
    if (twice) refuse(`执法证号 ${twice.badge} is named twice: one officer confirms once, and counts once`, `执法证号 ${twice.badge} 重复：同一名执法人员只能确认一次`);
    if (named.length < rule.atLeast) refuse(`it needs ${rule.atLeast} different officers, each confirming with their own PIN`, `需要 ${rule.atLeast} 名不同的执法人员各自输入 PIN 确认`);
    const within = rule.within ? new Set(rule.within.map((o) => o.badge)) : undefined;
    for (const o of named) {
      if (within && !within.has(o.badge)) refuse(`${who(o)} is not an officer of this session: only its officers may confirm`, `${o.name}（${o.badge}）不是本次执法的执法人员，不能确认`);
      const entry = this.officer(o.badge);
      if (!entry) refuse(`执法证号 ${o.badge} is not on the officer roster`, `执法证号 ${o.badge} 不在执法人员名单上`);
      else if (entry.name !== o.name) refuse(`the roster gives 执法证号 ${o.badge} to ${entry.name}, not ${o.name}`, `人员名单上执法证号 ${o.badge} 属于${entry.name}，不是${o.name}`);
    }
    const t = this.now();
    const byBadge = new Map<string, Confirmation>();
    for (const c of confirmations) {
      const state = this.issued.get(c);
      if (!state) refuse(`a confirmation for ${c?.badge ?? '?'} was not made by this gateway's PIN check`, '确认无效：不是本网关核验 PIN 得出的');
      else if (state.used) refuse(`${who(c)} confirmed for another action already: each PIN confirmation serves one action; enter the PIN again`, `${c.name}（${c.badge}）的确认已用于其他操作，请重新输入 PIN`);
      else if (t - Date.parse(c.at) > CONFIRM_TTL_MS) refuse(`${who(c)} confirmed more than ${CONFIRM_TTL_MS / 1000} s ago: enter the PIN again`, `${c.name}（${c.badge}）的确认已超过 ${CONFIRM_TTL_MS / 1000} 秒，请重新输入 PIN`);
      else if (c.roster !== this.o.roster?.sha256) refuse(`${who(c)} confirmed against another roster: enter the PIN again`, `${c.name}（${c.badge}）的确认依据的是另一份名单，请重新输入 PIN`);
      if (byBadge.has(c.badge)) refuse(`${who(c)} confirmed twice: one officer counts once`, `${c.name}（${c.badge}）重复确认：同一名执法人员只计一次`);
      if (!named.some((o) => o.badge === c.badge)) refuse(`${who(c)} confirmed but is not named for it`, `${c.name}（${c.badge}）未被列为本操作的执法人员`);
      byBadge.set(c.badge, c);
    }
    const missing = named.filter((o) => !byBadge.has(o.badge));
    if (missing.length > 0) {
      refuse(
        `${missing.map(who).join(', ')} must confirm with their own PIN`,
        `${missing.map((o) => `${o.name}（${o.badge}）`).join('、')}须各自输入 PIN 确认`,
      );
    }
    const out = named.map((x) => byBadge.get(x.badge)!);
    // mark: false checks only (an action that may still fail, e.g. on its pre-flight, takes them when it succeeds).
    if (o.mark !== false) for (const c of out) this.issued.get(c)!.used = true;
    return out;
  }

  /** Record and log a refused check (never the PIN), and make the error. `lockedSeconds` -1: a refusal during a lock already recorded. */
  private refuse(req: { badge: string; via: Via }, channel: string, failure: ConfirmFailure, lockedSeconds: number, text: { en: string; zh: string }, retryAfterMs = 0): ConfirmRefused {
    const name = this.officer(req.badge)?.name;
    const body = { badge: typed(req.badge), ...(name ? { name } : {}), via: req.via, channel, reason: failure, ...(lockedSeconds > 0 ? { lockedSeconds } : {}) };
    if (lockedSeconds !== -1) this.o.ledger.append(ENTRY.officerConfirmFailed, body);
    this.o.log.warn('officer PIN confirmation refused', body);
    return new ConfirmRefused(text.en, text.zh, failure, retryAfterMs);
  }
}

/** An officer named for an action, with the PIN they typed (absent: they did not confirm). */
export interface OfficerPin {
  officer: Officer;
  pin?: string;
}

/**
 * Each PIN given, checked one after another through `auth` (each officer's own throttle and ledger entry); officers
 * without a PIN are left out, and the action's rule (take) then says who is missing. The control socket and the
 * console both confirm this way; the panel checks one PIN per keypad line with auth.confirm itself.
 */
export async function confirmEach(auth: OfficerAuth | undefined, officers: OfficerPin[], via: Via, channel?: string): Promise<Confirmation[]> {
  const out: Confirmation[] = [];
  for (const o of officers) {
    if (o.pin === undefined) continue;
    if (!auth) throw new RecgwError('usage', 'PINs were given, but no officer roster is installed to check them');
    out.push(await auth.confirm({ badge: o.officer.badge.trim(), pin: o.pin, via, ...(channel ? { channel } : {}) }));
  }
  return out;
}
