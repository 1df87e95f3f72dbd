/**
 * The agency side of rosters: from a file of officers with their PINs to the signed roster file a gateway takes
 * (`recgw ca roster`). PINs are hashed here (scrypt) and never written anywhere; the officers file itself holds them
 * in clear, so the CLI tells the agency to destroy it.
 */
import { hashSecret, SCRYPT_DEFAULT } from '../util/scrypt-hash.js';
import { RecgwError } from '../util/errors.js';
import type { Signer } from '../evidence/signer.js';
import { badgeProblem, nameProblem, normalName } from './names.js';
import { MAX_OFFICERS, pinCommitment, signRoster, type PinRecord, type RosterFile, type RosterOfficer } from './roster.js';

export interface OfficerInput {
  name: string;
  badge: string;
  pin: string;
  notBefore?: string;
  notAfter?: string;
}

/** Digits only (a panel keypad enters them), 6-12 of them, and none of the PINs everyone tries first. */
export function pinProblem(pin: string): string | undefined {
  if (!/^[0-9]{6,12}$/.test(pin)) return 'a PIN is 6 to 12 digits';
  const d = [...pin].map(Number);
  const step = d[1]! - d[0]!;
  if (Math.abs(step) <= 1 && d.every((x, i) => i === 0 || x - d[i - 1]! === step)) return 'a PIN of one digit repeated or counting up or down (111111, 123456, 654321) is the first one guessed';
  return undefined;
}

const usage = (msg: string): RecgwError => new RecgwError('usage', msg);

/** The officers file: JSON, a list of {name, badge, pin, notBefore?, notAfter?} or {"officers": [...]}. */
export function parseOfficersFile(text: string, file: string): OfficerInput[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw usage(`${file} is not JSON (${(err as Error).message}): write the officers as [{"name": "张三", "badge": "13010001", "pin": "480913"}, ...]`);
  }
  const list = Array.isArray(v) ? v : (v as { officers?: unknown } | null)?.officers;
  if (!Array.isArray(list) || list.length === 0) throw usage(`${file} holds no list of officers: write [{"name": ..., "badge": ..., "pin": ...}, ...]`);
  if (list.length > MAX_OFFICERS) throw usage(`${file} lists ${list.length} officers; a roster holds at most ${MAX_OFFICERS}: split it by unit`);
  return list.map((o: unknown, i) => {
    const x = o as Record<string, unknown>;
    const str = (k: string): string | undefined => (typeof x?.[k] === 'string' ? (x[k] as string) : undefined);
    const name = str('name');
    const badge = str('badge');
    const pin = typeof x?.pin === 'number' ? String(x.pin) : str('pin');
    if (name === undefined || badge === undefined || pin === undefined) throw usage(`${file}: officer ${i + 1} needs "name", "badge" (执法证号) and "pin" as strings`);
    const notBefore = str('notBefore');
    const notAfter = str('notAfter');
    return { name, badge, pin, ...(notBefore ? { notBefore } : {}), ...(notAfter ? { notAfter } : {}) };
  });
}

function utc(text: string, what: string): string {
  const t = new Date(text);
  if (!/Z$/.test(text) || Number.isNaN(t.getTime())) throw usage(`${what} ${JSON.stringify(text)} is not a UTC time like 2026-12-06T08:00:00Z`);
  return t.toISOString();
}

export interface MakeRosterOptions {
  officers: OfficerInput[];
  agency: string;
  notBefore: Date;
  notAfter: Date;
  signer: Signer;
  now: Date;
  /** scrypt cost; tests may lower it. */
  hashParams?: typeof SCRYPT_DEFAULT;
}

/** Check every officer, hash every PIN, and sign: the roster file, or a usage error naming the officer and the fix. */
export async function makeRosterFile(o: MakeRosterOptions): Promise<RosterFile> {
  const notBefore = o.notBefore.toISOString();
  const notAfter = o.notAfter.toISOString();
  if (notAfter <= notBefore) throw usage(`the roster's end (${notAfter}) is not after its start (${notBefore})`);
  const seen = new Map<string, number>();
  const officers: RosterOfficer[] = [];
  const pins: PinRecord[] = [];
  for (const [i, x] of o.officers.entries()) {
    const who = `officer ${i + 1} (${JSON.stringify(x.name)}, ${JSON.stringify(x.badge)})`;
    const problem = nameProblem(x.name) ?? badgeProblem(x.badge) ?? pinProblem(x.pin);
    if (problem) throw usage(`${who}: ${problem}`);
    if (seen.has(x.badge)) throw usage(`${who}: the 执法证号 ${x.badge} is already officer ${seen.get(x.badge)! + 1}; each officer is on a roster once, under a 执法证号 of their own`);
    seen.set(x.badge, i);
    const from = x.notBefore ? utc(x.notBefore, `${who}: notBefore`) : notBefore;
    const to = x.notAfter ? utc(x.notAfter, `${who}: notAfter`) : notAfter;
    if (from < notBefore || to > notAfter || to <= from) throw usage(`${who}: the validity ${from} - ${to} is not a span within the roster's ${notBefore} - ${notAfter}`);
    const rec: PinRecord = { badge: x.badge, hash: await hashSecret(x.pin, o.hashParams) };
    pins.push(rec);
    officers.push({ name: normalName(x.name), badge: x.badge, notBefore: from, notAfter: to, pin: pinCommitment(rec) });
  }
  const roster = signRoster({ agency: o.agency, issued: o.now.toISOString(), notBefore, notAfter, officers }, o.signer);
  return { pins, roster };
}
