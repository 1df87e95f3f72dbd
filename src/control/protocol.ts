/**
 * The local control protocol: newline-delimited JSON over a Unix socket (file permissions decide who may use
 * it). Request {"id", "method", "params"}; response {"id", "ok": true, "result"} or {"id", "ok": false,
 * "error": {"code", "message", "zh"?}}. Params are checked here so the recorder only ever sees well-formed requests.
 * Officers may carry their PIN (`{"name", "badge", "pin"}`): the server checks each with the roster (OfficerAuth) and
 * passes the confirmations on; a PIN is never echoed, logged or stored (docs/operations.md §14).
 */
import type { Officer } from '../evidence/types.js';
import type { StartRequest } from '../recorder/recorder.js';
import { RecgwError } from '../util/errors.js';
import type { OfficerPin } from '../officers/auth.js';

export const METHODS = ['session.start', 'session.pause', 'session.resume', 'session.stop', 'session.statement', 'session.credentials', 'status', 'preflight'] as const;
export type Method = (typeof METHODS)[number];

export interface Request {
  id: number | string;
  method: Method;
  params: Record<string, unknown>;
}

export type Response =
  | { id: number | string | null; ok: true; result: unknown }
  | { id: number | string | null; ok: false; error: { code: string; message: string; /** for people, when the gateway has it in Chinese */ zh?: string } };

export const MAX_LINE = 64 * 1024;

const bad = (msg: string): RecgwError => new RecgwError('usage', msg);

export function parseRequest(line: string): Request {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch {
    throw bad('the request is not valid JSON');
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw bad('the request must be a JSON object');
  const r = obj as Record<string, unknown>;
  if (typeof r.id !== 'number' && typeof r.id !== 'string') throw bad('the request needs an id (number or string)');
  if (typeof r.method !== 'string' || !(METHODS as readonly string[]).includes(r.method)) {
    throw bad(`unknown method ${JSON.stringify(r.method)}; known: ${METHODS.join(', ')}`);
  }
  const params = r.params ?? {};
  if (typeof params !== 'object' || params === null || Array.isArray(params)) throw bad('params must be a JSON object');
  return { id: r.id, method: r.method as Method, params: params as Record<string, unknown> };
}

function str(p: Record<string, unknown>, key: string, required: boolean): string | undefined {
  const v = p[key];
  if (v === undefined || v === null) {
    if (required) throw bad(`${key} is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw bad(`${key} must be a string`);
  if (v.length > 1000) throw bad(`${key} is too long (at most 1000 characters)`);
  return v;
}

export function officersParam(p: Record<string, unknown>): Officer[] {
  return officerPinsParam(p).map((x) => x.officer);
}


/** `officers`: a list of {name, badge, pin?}; `optional`: absent means none (session.stop). */
export function officerPinsParam(p: Record<string, unknown>, optional = false): OfficerPin[] {
  const v = p.officers;
  if (v === undefined && optional) return [];
  if (!Array.isArray(v)) throw bad('officers must be a list of {name, badge} (with "pin" when officers confirm with PINs)');
  return v.map((o: unknown, i) => {
    const x = o as { name?: unknown; badge?: unknown; pin?: unknown } | null;
    if (typeof x !== 'object' || x === null || typeof x.name !== 'string' || typeof x.badge !== 'string') {
      throw bad(`officers[${i}] must have a name and a badge (执法证号)`);
    }
    if (x.pin !== undefined && (typeof x.pin !== 'string' || x.pin.length > 64)) throw bad(`officers[${i}].pin must be a string of the officer's PIN digits`);
    return { officer: { name: x.name, badge: x.badge }, ...(typeof x.pin === 'string' ? { pin: x.pin } : {}) };
  });
}

export function startParams(p: Record<string, unknown>): StartRequest {
  const party = str(p, 'party', false);
  const place = str(p, 'place', false);
  return {
    matter: str(p, 'matter', true)!,
    caseRef: str(p, 'caseRef', false) ?? '',
    officers: officersParam(p),
    ...(party ? { party } : {}),
    ...(place ? { place } : {}),
    force: p.force === true,
  };
}

export function pauseParams(p: Record<string, unknown>): { reason: string; text?: string } {
  const text = str(p, 'text', false);
  return { reason: str(p, 'reason', true)!, ...(text ? { text } : {}) };
}

export function statementParams(p: Record<string, unknown>): { text: string; officers: Officer[]; sessionId?: string } {
  const sessionId = str(p, 'sessionId', false);
  return { text: str(p, 'text', true)!, officers: officersParam(p), ...(sessionId ? { sessionId } : {}) };
}

/** session.credentials: the officers who showed their credentials (absent or empty: all of the session's). */
export function credentialsParams(p: Record<string, unknown>): { officers?: Officer[] } {
  return p.officers === undefined ? {} : { officers: officersParam(p) };
}

/** "张三:13010001" -> {name, badge}; the CLI's way of naming an officer. */
export function parseOfficer(s: string): Officer {
  const i = s.lastIndexOf(':');
  if (i <= 0 || i === s.length - 1) throw bad(`officer ${JSON.stringify(s)} must be written "name:执法证号", e.g. "张三:13010001"`);
  return { name: s.slice(0, i).trim(), badge: s.slice(i + 1).trim() };
}
