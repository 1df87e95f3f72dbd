/**
 * The room control panel's line protocol, version 1 (docs/panel-protocol.md): pure encoding and decoding, no I/O.
 * A line is `VERB[ ARG]...*CCCC` + CRLF; arguments are separated by one space and the last argument of a verb that
 * takes text runs to the checksum, so names and messages may hold spaces (and `*`: the checksum follows the last one).
 */
import { frameLine, lineText, splitFields, unframeLine } from '../hal/serial/frame.js';
import { BADGE } from '../officers/names.js';

export { crc16, crcHex, frameLine, unframeLine, MAX_LINE_BYTES } from '../hal/serial/frame.js';

export const PROTOCOL_VERSION = 1;
/** Officer slots on the panel's form. */
export const OFFICER_SLOTS = 4;
export const DISPLAY_ROWS = 4;
/** Free text the gateway puts in one display row or message, in UTF-8 bytes (about 60 Chinese characters). */
export const MAX_TEXT_BYTES = 180;

export type PanelState = 'IDLE' | 'REC' | 'PAUSED';

/** Panel -> gateway. Commands with an `id` are acknowledged (ACK) and answered (OK or ERR) with that id. */
export type PanelCommand =
  | { verb: 'HB' }
  | { verb: 'HELLO'; proto: number; model: string; firmware: string }
  | { verb: 'MAT'; id: number; matter: string }
  | { verb: 'CASE'; id: number; caseRef: string }
  | { verb: 'OFC'; id: number; slot: number; badge: string | null; name: string }
  | { verb: 'CLR'; id: number }
  | { verb: 'START'; id: number; force: boolean }
  | { verb: 'PAUSE'; id: number; reason: string; text?: string }
  | { verb: 'RESUME'; id: number }
  | { verb: 'STOP'; id: number }
  /** An officer confirms with their PIN for the next START or STOP (docs/panel-protocol.md §4.1). */
  | { verb: 'PIN'; id: number; badge: string; pin: string }
  /** The officers showed their credentials to the party (亮证). */
  | { verb: 'CRED'; id: number };

export type ErrCode = 'BADCMD' | 'BADARG' | 'REFUSED' | 'FAILED';

/** Gateway -> panel. None is acknowledged: the gateway resends its whole state after every (re)connect and HELLO. */
export type GatewayMessage =
  | { verb: 'HELLO'; proto: number; name: string; version: string; device: string }
  | { verb: 'HB'; state: PanelState }
  | { verb: 'ACK'; id: number }
  | { verb: 'OK'; id: number }
  | { verb: 'ERR'; id: number | null; code: ErrCode; text: string }
  | { verb: 'ST'; state: PanelState; session: string | null }
  | { verb: 'DSP'; row: number; text: string }
  | { verb: 'PRM'; code: string; text: string }
  | { verb: 'ALM'; code: string; text: string };

export type Decoded<T> = { ok: true; msg: T } | { ok: false; reason: string; /** set when the line was intact and named a command id */ id?: number };

const ID = /^(0|[1-9][0-9]{0,4})$/;

function parseId(s: string | undefined): number | undefined {
  if (s === undefined || !ID.test(s)) return undefined;
  const n = Number(s);
  return n <= 65535 ? n : undefined;
}

/** Decodes one line from the panel (without CRLF). Never throws: garbage gives a reason to log. */
export function decodePanelLine(line: string): Decoded<PanelCommand> {
  const u = unframeLine(line, { required: true });
  if (!u.ok) return u;
  const { verb, rest } = verbAndRest(u.body);
  const fail = (reason: string, id?: number): Decoded<PanelCommand> => ({ ok: false, reason, ...(id === undefined ? {} : { id }) });
  if (verb === 'HB') return { ok: true, msg: { verb: 'HB' } };
  if (verb === 'HELLO') {
    const [proto, model, firmware] = splitFields(rest, 3);
    if (!proto || !/^[0-9]{1,3}$/.test(proto)) return fail('HELLO needs a protocol version');
    return { ok: true, msg: { verb: 'HELLO', proto: Number(proto), model: model ?? '', firmware: firmware ?? '' } };
  }
  const [idText, args = ''] = splitFields(rest, 2);
  const id = parseId(idText);
  if (!['MAT', 'CASE', 'OFC', 'CLR', 'START', 'PAUSE', 'RESUME', 'STOP', 'PIN', 'CRED'].includes(verb)) return fail(`unknown verb ${JSON.stringify(verb.slice(0, 16))}`, id);
  if (id === undefined) return fail(`${verb} needs a command id 0-65535`);
  switch (verb) {
    case 'MAT':
      if (!args.trim()) return fail('MAT needs a matter (code or Chinese name)', id);
      return { ok: true, msg: { verb, id, matter: args.trim() } };
    case 'CASE':
      if (args.length > 64) return fail('the case reference is longer than 64 characters', id);
      return { ok: true, msg: { verb, id, caseRef: args.trim() } };
    case 'OFC': {
      const [slotText, badge, name = ''] = splitFields(args, 3);
      const slot = Number(slotText);
      if (!slotText || !/^[1-9]$/.test(slotText) || slot > OFFICER_SLOTS) return fail(`OFC needs a slot 1-${OFFICER_SLOTS}`, id);
      if (badge === undefined || badge === '-') return { ok: true, msg: { verb, id, slot, badge: null, name: '' } };
      if (!BADGE.test(badge)) return fail('the 执法证号 must be 1-32 letters, digits or "-"', id);
      if (!name.trim() || [...name.trim()].length > 32) return fail('OFC needs a name of 1-32 characters after the 执法证号', id);
      return { ok: true, msg: { verb, id, slot, badge, name: name.trim() } };
    }
    case 'CLR':
    case 'RESUME':
    case 'STOP':
    case 'CRED':
      if (args) return fail(`${verb} takes no arguments`, id);
      return { ok: true, msg: { verb, id } };
    case 'START':
      if (args && args !== 'FORCE') return fail('START takes only the optional word FORCE', id);
      return { ok: true, msg: { verb, id, force: args === 'FORCE' } };
    case 'PAUSE': {
      const [reason, text] = splitFields(args, 2);
      if (!reason || [...reason].length > 32) return fail('PAUSE needs a reason (code or Chinese name)', id);
      return { ok: true, msg: { verb, id, reason, ...(text?.trim() ? { text: text.trim() } : {}) } };
    }
    case 'PIN': {
      const [badge, pin, extra] = splitFields(args, 3);
      if (badge === undefined || !BADGE.test(badge)) return fail('PIN needs the 执法证号 (1-32 letters, digits or "-")', id);
      if (pin === undefined || !/^[0-9]{1,12}$/.test(pin) || extra !== undefined) return fail('PIN needs the PIN after the 执法证号: 1-12 digits and nothing else', id);
      return { ok: true, msg: { verb, id, badge, pin } };
    }
  }
  return fail(`unknown verb ${verb}`, id);
}

const withText = (head: string, text: string): string => {
  const t = lineText(text, MAX_TEXT_BYTES);
  return t ? `${head} ${t}` : head;
};

/** Encodes a gateway message as one framed line (without CRLF). */
export function encodeGatewayMessage(m: GatewayMessage): string {
  switch (m.verb) {
    case 'HELLO':
      return frameLine(`HELLO ${m.proto} ${token(m.name)} ${token(m.version)} ${token(m.device)}`);
    case 'HB':
      return frameLine(`HB ${m.state}`);
    case 'ACK':
    case 'OK':
      return frameLine(`${m.verb} ${m.id}`);
    case 'ERR':
      return frameLine(withText(`ERR ${m.id ?? '-'} ${m.code}`, m.text));
    case 'ST':
      return frameLine(`ST ${m.state} ${m.session ?? '-'}`);
    case 'DSP':
      return frameLine(withText(`DSP ${m.row}`, m.text));
    case 'PRM':
    case 'ALM':
      return frameLine(withText(`${m.verb} ${token(m.code)}`, m.text));
  }
}

const token = (s: string): string => s.replace(/\s+/g, '_') || '-';

/** Encodes a panel command (the simulator's side, and a reference for firmware). */
export function encodePanelCommand(c: PanelCommand): string {
  switch (c.verb) {
    case 'HB':
      return frameLine('HB');
    case 'HELLO':
      return frameLine(`HELLO ${c.proto} ${token(c.model)} ${token(c.firmware)}`);
    case 'MAT':
      return frameLine(`MAT ${c.id} ${c.matter}`);
    case 'CASE':
      return frameLine(c.caseRef ? `CASE ${c.id} ${c.caseRef}` : `CASE ${c.id}`);
    case 'OFC':
      return frameLine(c.badge === null ? `OFC ${c.id} ${c.slot} -` : `OFC ${c.id} ${c.slot} ${c.badge} ${c.name}`);
    case 'CLR':
    case 'RESUME':
    case 'STOP':
    case 'CRED':
      return frameLine(`${c.verb} ${c.id}`);
    case 'START':
      return frameLine(c.force ? `START ${c.id} FORCE` : `START ${c.id}`);
    case 'PAUSE':
      return frameLine(c.text ? `PAUSE ${c.id} ${c.reason} ${c.text}` : `PAUSE ${c.id} ${c.reason}`);
    case 'PIN':
      return frameLine(`PIN ${c.id} ${c.badge} ${c.pin}`);
  }
}

/** Decodes a gateway line (the simulator's side, and a reference for firmware). */
export function decodeGatewayLine(line: string): Decoded<GatewayMessage> {
  const u = unframeLine(line, { required: true });
  if (!u.ok) return u;
  const { verb, rest } = verbAndRest(u.body);
  const bad = (reason: string): Decoded<GatewayMessage> => ({ ok: false, reason });
  switch (verb) {
    case 'HELLO': {
      const [proto, name = '', version = '', device = ''] = splitFields(rest, 4);
      return proto && /^[0-9]+$/.test(proto) ? { ok: true, msg: { verb, proto: Number(proto), name, version, device } } : bad('HELLO needs a version');
    }
    case 'HB':
      return isState(rest) ? { ok: true, msg: { verb, state: rest } } : bad('HB needs a state');
    case 'ACK':
    case 'OK': {
      const id = parseId(rest);
      return id === undefined ? bad(`${verb} needs an id`) : { ok: true, msg: { verb, id } };
    }
    case 'ERR': {
      const [idText, code, text = ''] = splitFields(rest, 3);
      const id = idText === '-' ? null : parseId(idText);
      if (id === undefined || !['BADCMD', 'BADARG', 'REFUSED', 'FAILED'].includes(code ?? '')) return bad('ERR needs an id and a code');
      return { ok: true, msg: { verb, id, code: code as ErrCode, text } };
    }
    case 'ST': {
      const [state, session] = splitFields(rest, 2);
      return isState(state) ? { ok: true, msg: { verb, state, session: !session || session === '-' ? null : session } } : bad('ST needs a state');
    }
    case 'DSP': {
      const [row, text = ''] = splitFields(rest, 2);
      return row && /^[1-9]$/.test(row) ? { ok: true, msg: { verb, row: Number(row), text } } : bad('DSP needs a row');
    }
    case 'PRM':
    case 'ALM': {
      const [code, text = ''] = splitFields(rest, 2);
      return code ? { ok: true, msg: { verb, code, text } } : bad(`${verb} needs a code`);
    }
  }
  return bad(`unknown verb ${JSON.stringify(verb)}`);
}

/** A panel line as it may be logged: of a PIN line only the verb and id (a garbled one may hold the PIN anywhere). */
export function loggableLine(line: string): string {
  return line.startsWith('PIN') ? `${/^PIN [0-9]{0,5}/.exec(line)?.[0] ?? 'PIN'} (the rest hidden)` : line;
}

function verbAndRest(body: string): { verb: string; rest: string } {
  const sp = body.indexOf(' ');
  return sp < 0 ? { verb: body, rest: '' } : { verb: body.slice(0, sp), rest: body.slice(sp + 1) };
}

const isState = (s: string | undefined): s is PanelState => s === 'IDLE' || s === 'REC' || s === 'PAUSED';
