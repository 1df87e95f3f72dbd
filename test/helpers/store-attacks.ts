/**
 * The attacker of a receiver store who holds a device key and may write in the device's folder, but holds none of
 * the agency's keys: random rewrites as fast-check arbitraries (plain data, so a failing case prints and shrinks to
 * something readable) and the code that performs one on a copy of the store. The ledger is always re-signed with
 * the device key from the first change on, so it is internally valid: the strongest such attacker.
 */
import fc from 'fast-check';
import { appendFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, createPrivateKey } from 'node:crypto';
import { lineHash, parseLine, type LedgerEntry } from '../../src/evidence/entry.js';
import { ENTRY, type SegmentManifest } from '../../src/evidence/types.js';
import { encodeReceipt, makeReceipt, type Receipt } from '../../src/evidence/receipt.js';
import { KeySigner } from '../../src/evidence/signer.js';
import { identityPaths } from '../../src/pki/identity.js';
import { canonicalJson } from '../../src/util/canonical.js';
import { rewriteWithDeviceKey } from './receiver-store.js';
import type { BuiltStore } from './store-fixture.js';
import { hashHex } from '../../src/evidence/segment-scheme.js';

/** Entries the attacker may insert, all of realistic types (evidence-format.md §6). */
const INSERTS = ['event', 'statement', 'interruption', 'segment', 'session', 'copy', 'certificate'] as const;
type InsertKind = (typeof INSERTS)[number];

export type LedgerOp =
  | { op: 'drop'; at: number }
  | { op: 'insert'; at: number; kind: InsertKind; pick: number }
  | { op: 'move'; from: number; to: number }
  /** A leaf of an entry (its `time`, or any value inside its body) given another value of the same kind. */
  | { op: 'edit'; at: number; leaf: number; tweak: number; text: string }
  /** A leaf removed (a member of an object, an element of an array such as one officer). */
  | { op: 'unset'; at: number; leaf: number }
  | { op: 'truncate'; keep: number }
  /** A manifest made to describe the file now at its path (after the file operations): a consistent forgery. */
  | { op: 'rehash'; at: number };

export type FileOp =
  | { op: 'delete' | 'garble' | 'truncate' | 'extra' | 'directory'; i: number; tweak: number }
  | { op: 'copy'; i: number; j: number }
  /** One of the folder's own files made a directory (or segments/ a file): the verifier must say so, not throw. */
  | { op: 'not-a-file'; target: 'ledger.jsonl' | 'receipts.jsonl' | 'head.json' | 'segments' };

export type ReceiptOp =
  | { op: 'delete' | 'duplicate' | 'reformat'; at: number }
  | { op: 'swap'; a: number; b: number }
  | { op: 'edit'; at: number; leaf: number; tweak: number; text: string }
  /** A receipt signed with the device key, stating what the rewritten ledger holds; with the agency's receipt certificate or the device's. */
  | { op: 'forge'; kind: 'entries' | 'segment'; at: number; agencyCert: boolean; withProof: boolean }
  /** A genuine receipt of another device. */
  | { op: 'foreign'; at: number }
  | { op: 'remove-file' };

export type HeadOp = { op: 'device' } | { op: 'agency' } | { op: 'older'; pick: number } | { op: 'delete' };

export interface DevicePlan {
  ledger: LedgerOp[];
  /** Re-sign the ledger (and write a device-signed head) even when no ledger operation changes it. */
  resign: boolean;
  files: FileOp[];
  receipts: ReceiptOp[];
  head: HeadOp;
  removeFolder: boolean;
}

const idx = fc.nat({ max: 63 });
const ledgerOp: fc.Arbitrary<LedgerOp> = fc.oneof(
  fc.record({ op: fc.constant('drop' as const), at: idx }),
  fc.record({ op: fc.constant('insert' as const), at: idx, kind: fc.constantFrom(...INSERTS), pick: idx }),
  fc.record({ op: fc.constant('move' as const), from: idx, to: idx }),
  { arbitrary: fc.record({ op: fc.constant('edit' as const), at: idx, leaf: fc.nat({ max: 255 }), tweak: fc.nat(), text: fc.string({ maxLength: 12 }) }), weight: 3 },
  fc.record({ op: fc.constant('unset' as const), at: idx, leaf: fc.nat({ max: 255 }) }),
  fc.record({ op: fc.constant('truncate' as const), keep: idx }),
  fc.record({ op: fc.constant('rehash' as const), at: idx }),
);
const fileOp: fc.Arbitrary<FileOp> = fc.oneof(
  fc.record({ op: fc.constantFrom('delete' as const, 'garble' as const, 'truncate' as const, 'extra' as const, 'directory' as const), i: idx, tweak: fc.nat() }),
  fc.record({ op: fc.constant('copy' as const), i: idx, j: idx }),
  fc.record({ op: fc.constant('not-a-file' as const), target: fc.constantFrom('ledger.jsonl' as const, 'receipts.jsonl' as const, 'head.json' as const, 'segments' as const) }),
);
const receiptOp: fc.Arbitrary<ReceiptOp> = fc.oneof(
  fc.record({ op: fc.constantFrom('delete' as const, 'duplicate' as const, 'reformat' as const), at: idx }),
  fc.record({ op: fc.constant('swap' as const), a: idx, b: idx }),
  fc.record({ op: fc.constant('edit' as const), at: idx, leaf: fc.nat({ max: 255 }), tweak: fc.nat(), text: fc.string({ maxLength: 12 }) }),
  fc.record({ op: fc.constant('forge' as const), kind: fc.constantFrom('entries' as const, 'segment' as const), at: idx, agencyCert: fc.boolean(), withProof: fc.boolean() }),
  fc.record({ op: fc.constant('foreign' as const), at: idx }),
  fc.constant({ op: 'remove-file' as const }),
);
const headOp: fc.Arbitrary<HeadOp> = fc.oneof(
  fc.constant({ op: 'device' as const }),
  fc.constant({ op: 'agency' as const }),
  fc.record({ op: fc.constant('older' as const), pick: idx }),
  fc.constant({ op: 'delete' as const }),
);

/** Mostly nothing, else one to three operations: a run then changes a few things, each of which must be named. */
const some = <T>(op: fc.Arbitrary<T>): fc.Arbitrary<T[]> => fc.oneof({ arbitrary: fc.constant<T[]>([]), weight: 2 }, fc.array(op, { minLength: 1, maxLength: 3 }));

/** Any rewrite of one device folder. */
export const anyPlan: fc.Arbitrary<DevicePlan> = fc.record({
  ledger: some(ledgerOp),
  resign: fc.boolean(),
  files: some(fileOp),
  receipts: some(receiptOp),
  head: headOp,
  // Rarely (it hides every other change), and shrinking towards keeping the folder.
  removeFolder: fc.nat({ max: 11 }).map((n) => n === 11),
});

/**
 * A rewrite that changes nothing the agency holds: the ledger re-signed as it was, receipts reordered, repeated,
 * re-spelt or dropped (the log still holds what they said), the agency's head or an older one it signed.
 */
export const harmlessPlan: fc.Arbitrary<DevicePlan> = fc.record({
  ledger: fc.constant([]),
  resign: fc.boolean(),
  files: fc.constant([]),
  receipts: fc.array(
    fc.oneof(
      fc.record({ op: fc.constantFrom('delete' as const, 'duplicate' as const, 'reformat' as const), at: idx }),
      fc.record({ op: fc.constant('swap' as const), a: idx, b: idx }),
      fc.constant({ op: 'remove-file' as const }),
    ),
    { maxLength: 3 },
  ),
  head: fc.oneof(fc.constant({ op: 'agency' as const }), fc.record({ op: fc.constant('older' as const), pick: idx })),
  removeFolder: fc.constant(false),
});

/** What the attacker has at hand for one device: its key, and genuine things the agency signed earlier. */
export interface DeviceAttackContext {
  built: BuiltStore;
  /** The sealed files' names in the device's folder as the receiver stored them. */
  segFiles: string[];
  /** head.json as the agency wrote it on earlier uploads (genuine, older). */
  olderHeads: string[];
  /** The head.json the agency wrote last. */
  agencyHead: string;
  /** Genuine receipt lines of other devices. */
  foreignReceipts: string[];
  /** Realistic strings to put in place of others: other segments' names, case references, badges. */
  pool: string[];
}

type Path = (string | number)[];

/** The paths of an entry's leaves: its `time` and every value inside its body. */
function leafPaths(v: unknown, path: Path): Path[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => leafPaths(x, [...path, i]));
  if (typeof v === 'object' && v !== null) return Object.keys(v).sort().flatMap((k) => leafPaths((v as Record<string, unknown>)[k], [...path, k]));
  return [path];
}

function parentOf(root: unknown, path: Path): Record<string | number, unknown> {
  let o = root as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  return o;
}

const ISO = /^\d{4}-\d\d-\d\dT[0-9:.]+Z$/;

/** Another value of the same kind as `v`: a shifted time, another hash, another realistic string, a changed number. */
function tweakValue(v: unknown, tweak: number, text: string, pool: string[]): unknown {
  if (typeof v === 'string') {
    if (ISO.test(v)) return new Date(Date.parse(v) + ((tweak % 7201) - 3600) * 1000).toISOString();
    if (/^[0-9a-f]{64}$/.test(v)) return createHash('sha256').update(`${v}${tweak}`).digest('hex');
    const choices = [text, `${v}-x`, ...pool];
    return choices[tweak % choices.length];
  }
  if (typeof v === 'number') return v + (tweak % 1001) - 500;
  if (typeof v === 'boolean') return !v;
  return text;
}

function editLeaf(root: object, leaf: number, tweak: number, text: string, pool: string[]): void {
  const paths = leafPaths(root, []);
  if (paths.length === 0) return;
  const path = paths[leaf % paths.length]!;
  const parent = parentOf(root, path);
  const k = path[path.length - 1]!;
  parent[k] = tweakValue(parent[k], tweak, text, pool);
}

function unsetLeaf(root: object, leaf: number): void {
  const paths = leafPaths(root, []);
  if (paths.length === 0) return;
  const path = paths[leaf % paths.length]!;
  const parent = parentOf(root, path);
  const k = path[path.length - 1]!;
  if (Array.isArray(parent)) parent.splice(k as number, 1);
  else delete parent[k];
}

const sessionIds = (es: LedgerEntry[]): string[] => es.flatMap((e) => (e.type === ENTRY.sessionOpened && typeof e.body.sessionId === 'string' ? [e.body.sessionId] : []));
const manifestsOf = (es: LedgerEntry[]): LedgerEntry[] => es.filter((e) => e.type === ENTRY.segmentSealed);

/** New entries of a realistic type, as the device could sign them; `near` gives the device and a plausible time. */
function makeInsert(kind: InsertKind, es: LedgerEntry[], near: LedgerEntry, pick: number): LedgerEntry[] {
  const sids = sessionIds(es);
  const sessionId = sids.length > 0 ? sids[pick % sids.length]! : 'S-forged';
  const at = (type: string, body: Record<string, unknown>): LedgerEntry => ({ ...near, type, body });
  const officers = [
    { name: '王五', badge: '13019999' },
    { name: '赵六', badge: '13019998' },
  ];
  switch (kind) {
    case 'event':
      return [at('event.marked', { input: 'door', pin: 5, state: 'active', time: near.time, sessionId })];
    case 'statement':
      return [at(ENTRY.sessionStatement, { sessionId, text: '情况说明：设备故障', officers })];
    case 'interruption': {
      const interruptionId = `${sessionId}-forged-${pick}`;
      return [
        at(ENTRY.interruptionStarted, { sessionId, interruptionId, reason: 'device-fault', start: near.time, origin: 'declared' }),
        at(ENTRY.interruptionEnded, { sessionId, interruptionId, end: near.time }),
      ];
    }
    case 'segment': {
      const ms = manifestsOf(es);
      if (ms.length === 0) return [];
      const m = structuredClone(ms[pick % ms.length]!.body) as unknown as SegmentManifest;
      m.segment = `${m.segment}-forged`;
      m.file = `segments/${m.segment}.seg`;
      return [at(ENTRY.segmentSealed, m as unknown as Record<string, unknown>)];
    }
    case 'session': {
      const id = `S-forged-${pick}`;
      return [
        at(ENTRY.sessionOpened, { sessionId: id, matter: 'site-inspection', caseRef: 'CASE-FORGED', officers, start: near.time }),
        at(ENTRY.sessionClosed, { sessionId: id, reason: 'stopped', end: near.time }),
      ];
    }
    case 'copy':
      return [structuredClone(es[pick % es.length]!)];
    case 'certificate': {
      const opened = es.find((e) => e.type === ENTRY.ledgerOpened);
      return opened ? [at(ENTRY.certificateInstalled, { cert: opened.body.cert })] : [];
    }
  }
}

function applyLedgerOp(es: LedgerEntry[], o: LedgerOp, deviceDir: string, pool: string[]): LedgerEntry[] {
  const n = es.length;
  switch (o.op) {
    case 'drop':
      return n === 0 ? es : es.filter((_, i) => i !== o.at % n);
    case 'insert': {
      const near = es[Math.min(o.at % (n + 1), n - 1)];
      if (!near) return es;
      const at = o.at % (n + 1);
      return [...es.slice(0, at), ...makeInsert(o.kind, es, near, o.pick), ...es.slice(at)];
    }
    case 'move': {
      if (n === 0) return es;
      const out = [...es];
      const [e] = out.splice(o.from % n, 1);
      out.splice(o.to % n, 0, e!);
      return out;
    }
    case 'edit':
    case 'unset': {
      if (n === 0) return es;
      const out = structuredClone(es);
      // An edit may change the envelope's time too (the rest of the envelope is what the re-signing sets); a
      // removal only what is inside the body, since an entry without a time is no entry at all.
      const e = out[o.at % n]!;
      if (o.op === 'unset') unsetLeaf(e.body, o.leaf);
      else {
        const target = { time: e.time, body: e.body };
        editLeaf(target, o.leaf, o.tweak, o.text, pool);
        Object.assign(e, target);
      }
      return out;
    }
    case 'truncate':
      return es.slice(0, o.keep % (n + 1));
    case 'rehash': {
      const ms = manifestsOf(es);
      if (ms.length === 0) return es;
      const target = ms[o.at % ms.length]!;
      const file = target.body.file;
      const path = typeof file === 'string' ? join(deviceDir, file) : '';
      let data: Buffer;
      try {
        data = readFileSync(path);
      } catch {
        return es;
      }
      return es.map((e) => (e === target ? { ...e, body: { ...e.body, stored: { size: data.length, sha256: createHash('sha256').update(data).digest('hex') } } } : e));
    }
  }
}

function applyFileOp(deviceDir: string, names: string[], o: FileOp): void {
  if (o.op === 'not-a-file') {
    const p = join(deviceDir, o.target);
    rmSync(p, { recursive: true, force: true });
    return o.target === 'segments' ? writeFileSync(p, '') : mkdirSync(p);
  }
  if (names.length === 0) return;
  const path = (k: number): string => join(deviceDir, 'segments', names[k % names.length]!);
  const p = path(o.i);
  try {
    switch (o.op) {
      case 'delete':
        return rmSync(p, { recursive: true, force: true });
      case 'garble': {
        const b = readFileSync(p);
        if (b.length === 0) return;
        b[o.tweak % b.length] = b[o.tweak % b.length]! ^ (1 + (o.tweak % 255));
        return writeFileSync(p, b);
      }
      case 'truncate': {
        const size = readFileSync(p).length;
        return truncateSync(p, size === 0 ? 0 : o.tweak % size);
      }
      case 'extra':
        return cpSync(p, join(deviceDir, 'segments', `extra-${o.tweak % 1000}.seg`));
      case 'directory':
        rmSync(p, { recursive: true, force: true });
        return mkdirSync(p);
      case 'copy':
        return writeFileSync(p, readFileSync(path(o.j)));
    }
  } catch {
    // An earlier operation removed the file or made it a directory: this one has nothing to act on.
  }
}

function deviceSigner(s: BuiltStore, withAgencyCert: string | undefined): KeySigner {
  const id = identityPaths(s.gateway.config.stateDir);
  return new KeySigner(createPrivateKey(readFileSync(id.key, 'utf8')), withAgencyCert ?? readFileSync(id.cert, 'utf8'));
}

function applyReceiptOp(deviceDir: string, c: DeviceAttackContext, o: ReceiptOp): void {
  const path = join(deviceDir, 'receipts.jsonl');
  if (o.op === 'remove-file') return rmSync(path, { force: true });
  const lines = existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l !== '') : [];
  const n = lines.length;
  const write = (ls: string[]): void => writeFileSync(path, ls.map((l) => l + '\n').join(''));
  switch (o.op) {
    case 'delete':
      return n === 0 ? undefined : write(lines.filter((_, i) => i !== o.at % n));
    case 'duplicate':
      return n === 0 ? undefined : write([...lines, lines[o.at % n]!]);
    case 'reformat': {
      // The same receipt, members in another order: still the agency's signed statement.
      if (n === 0) return;
      const r = JSON.parse(lines[o.at % n]!) as Record<string, unknown>;
      const reordered = Object.fromEntries(Object.entries(r).reverse());
      return write(lines.map((l, i) => (i === o.at % n ? JSON.stringify(reordered) : l)));
    }
    case 'swap': {
      if (n === 0) return;
      const out = [...lines];
      [out[o.a % n], out[o.b % n]] = [out[o.b % n]!, out[o.a % n]!];
      return write(out);
    }
    case 'edit': {
      if (n === 0) return;
      const r = JSON.parse(lines[o.at % n]!) as Record<string, unknown>;
      editLeaf(r, o.leaf, o.tweak, o.text, c.pool);
      return write(lines.map((l, i) => (i === o.at % n ? canonicalJson(r) : l)));
    }
    case 'foreign':
      if (c.foreignReceipts.length === 0) return;
      return appendFileSync(path, c.foreignReceipts[o.at % c.foreignReceipts.length]! + '\n');
    case 'forge':
      return appendFileSync(path, forgeReceipt(deviceDir, c, o, lines) + '\n');
  }
}

/** A receipt stating what the (rewritten) ledger now holds, signed with the device key. */
function forgeReceipt(deviceDir: string, c: DeviceAttackContext, o: ReceiptOp & { op: 'forge' }, genuine: string[]): string {
  const ledger = existsSync(join(deviceDir, 'ledger.jsonl')) ? readFileSync(join(deviceDir, 'ledger.jsonl'), 'utf8').split('\n').filter((l) => l !== '') : [];
  const agencyCert = genuine.length > 0 ? (JSON.parse(genuine[0]!) as Receipt).cert : undefined;
  const signer = deviceSigner(c.built, o.agencyCert ? agencyCert : undefined);
  const proof = o.withProof && genuine.length > 0 ? (JSON.parse(genuine[o.at % genuine.length]!) as Receipt).log : undefined;
  const base = { device: c.built.deviceId, deadline: '2099-01-01T00:00:00.000Z', storedAt: new Date().toISOString(), receiver: 'receiver:1', ...(proof ? { log: proof } : {}) };
  const entries = ledger.map((l) => ({ line: l, e: (parseLine(l) as { entry?: LedgerEntry }).entry }));
  const sealed = entries.filter((x) => x.e?.type === ENTRY.segmentSealed);
  if (o.kind === 'segment' && sealed.length > 0) {
    const { e } = sealed[o.at % sealed.length]!;
    const m = e!.body as unknown as SegmentManifest;
    return encodeReceipt(makeReceipt({ ...base, kind: 'segment', name: m.segment, size: m.stored.size, sha256: hashHex(m.stored), manifestSeq: e!.seq }, signer));
  }
  const k = ledger.length === 0 ? 0 : o.at % ledger.length;
  const through = ledger.length === 0 ? { seq: 0, hash: '0'.repeat(64) } : { seq: k, hash: lineHash(ledger[k]!) };
  return encodeReceipt(makeReceipt({ ...base, kind: 'entries', through }, signer));
}

/** Perform `plan` on the device folder `deviceDir` of a copy of the store. */
export function performPlan(deviceDir: string, c: DeviceAttackContext, plan: DevicePlan): void {
  // Files the other operations read or write become something else last.
  const last = plan.files.filter((o) => o.op === 'not-a-file');
  for (const o of plan.files) if (o.op !== 'not-a-file') applyFileOp(deviceDir, c.segFiles, o);
  if (plan.ledger.length > 0 || plan.resign || plan.head.op === 'device') {
    rewriteWithDeviceKey(deviceDir, c.built, (es) => plan.ledger.reduce((acc, o) => applyLedgerOp(acc, o, deviceDir, c.pool), es));
  }
  const head = join(deviceDir, 'head.json');
  switch (plan.head.op) {
    case 'device':
      break;
    case 'agency':
      writeFileSync(head, c.agencyHead);
      break;
    case 'older':
      writeFileSync(head, c.olderHeads.length > 0 ? c.olderHeads[plan.head.pick % c.olderHeads.length]! : c.agencyHead);
      break;
    case 'delete':
      rmSync(head, { force: true });
      break;
  }
  for (const o of plan.receipts) applyReceiptOp(deviceDir, c, o);
  for (const o of last) applyFileOp(deviceDir, c.segFiles, o);
  if (plan.removeFolder) rmSync(deviceDir, { recursive: true, force: true });
}

/** The .seg names of a device folder. */
export const segmentNames = (deviceDir: string): string[] => readdirSync(join(deviceDir, 'segments')).filter((f) => f.endsWith('.seg')).sort();
