/**
 * Config changes, pure (the console's editor and the gateway's live reload use them): parse the edited text (a syntax error with its line and column), flatten it
 * into key paths as the validator names them (`recording.sources[0].fps`), diff two configs key by key, and tell
 * from the schema's `x-restart` marks which changes only take effect after a restart.
 */
import { configSchema } from './schema.js';
import { validateConfig, type ConfigProblem } from './load.js';

/** One key's change; `restart`: it only takes effect after a restart of the service. */
export interface ConfigChange {
  key: string;
  from?: unknown;
  to?: unknown;
  restart: boolean;
}

export type Parsed = { ok: true; value: unknown } | { ok: false; message: string; line: number; column: number };

export function parseConfigJson(text: string): Parsed {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    const message = (err as Error).message;
    const m = /position (\d+)/.exec(message);
    const pos = m ? Number(m[1]) : text.length;
    const before = text.slice(0, pos).split('\n');
    return { ok: false, message, line: before.length, column: before.at(-1)!.length + 1 };
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const child = (base: string, k: string | number): string => (typeof k === 'number' ? `${base}[${k}]` : base ? `${base}.${k}` : k);

/** Leaves by key path; empty objects and arrays count as leaves so they still show. */
export function flatten(v: unknown, base = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (Array.isArray(v) && v.length > 0) v.forEach((x, i) => flatten(x, child(base, i), out));
  else if (isObj(v) && Object.keys(v).length > 0) for (const [k, x] of Object.entries(v)) flatten(x, child(base, k), out);
  else out.set(base || '(top level)', v);
  return out;
}

/** Key path segments of `recording.sources[0].fps`: ['recording', 'sources', 0, 'fps']. */
export function segments(key: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of key.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

type SchemaNode = Record<string, unknown>;
const defs = (configSchema as unknown as { $defs: Record<string, SchemaNode> }).$defs;

function resolve(n: SchemaNode | undefined): SchemaNode | undefined {
  const ref = n?.$ref;
  return typeof ref === 'string' ? defs[ref.replace('#/$defs/', '')] : n;
}

function anyRestart(n: SchemaNode | undefined): boolean {
  const r = resolve(n);
  if (!r) return false;
  if (r['x-restart'] === true) return true;
  const props = r.properties as Record<string, SchemaNode> | undefined;
  if (props && Object.values(props).some(anyRestart)) return true;
  return anyRestart(r.items as SchemaNode | undefined);
}

/**
 * Whether changing `key` needs a restart: a mark on the key or any key above it, or, when a whole object or array
 * appears or disappears (`whole`), a mark anywhere below it.
 */
export function needsRestart(key: string, whole: boolean): boolean {
  let n: SchemaNode | undefined = configSchema as unknown as SchemaNode;
  for (const seg of segments(key)) {
    n = resolve(n);
    if (!n) return false;
    if (n['x-restart'] === true) return true;
    n = typeof seg === 'number' ? (n.items as SchemaNode | undefined) : (n.properties as Record<string, SchemaNode> | undefined)?.[seg];
  }
  n = resolve(n);
  if (!n) return false;
  return whole ? anyRestart(n) : n['x-restart'] === true;
}

/** Key-by-key changes from `before` to `after` (both as written, defaults not filled in). */
export function diffConfig(before: unknown, after: unknown): ConfigChange[] {
  const a = flatten(before);
  const b = flatten(after);
  const out: ConfigChange[] = [];
  const composite = (v: unknown): boolean => typeof v === 'object' && v !== null;
  for (const [key, from] of a) {
    if (!b.has(key)) out.push({ key, from, restart: needsRestart(key, true) });
    else if (JSON.stringify(from) !== JSON.stringify(b.get(key))) {
      const to = b.get(key);
      out.push({ key, from, to, restart: needsRestart(key, composite(from) || composite(to)) });
    }
  }
  for (const [key, to] of b) if (!a.has(key)) out.push({ key, to, restart: needsRestart(key, true) });
  return out.sort((x, y) => x.key.localeCompare(y.key));
}

/** Schema problems of an edited config, checked on a copy (the validator fills in defaults where it runs). */
export function configProblems(value: unknown): ConfigProblem[] {
  return validateConfig(structuredClone(value));
}

/** Changes that are allowed but will hurt: a technician must see them before applying. Dictionary keys. */
export function configWarnings(changes: ConfigChange[]): { key: string; warning: 'warn.deviceId' | 'warn.stateDir' }[] {
  const out: { key: string; warning: 'warn.deviceId' | 'warn.stateDir' }[] = [];
  for (const c of changes) {
    if (c.key === 'deviceId') out.push({ key: c.key, warning: 'warn.deviceId' });
    if (c.key === 'stateDir') out.push({ key: c.key, warning: 'warn.stateDir' });
  }
  return out;
}

/** A value as a short line for tables and the ledger's diff summary. */
export function shortValue(v: unknown, max = 120): string {
  if (v === undefined) return '';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}
