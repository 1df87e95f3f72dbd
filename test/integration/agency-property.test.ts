/**
 * Property-based acceptance of issue 14: random rewrites of a receiver store by someone holding the device keys
 * (and write access to the device folders, not the agency's keys) never verify as valid when a fact the agency
 * receipted or logged changed, and the findings name what changed. What the agency holds is modelled from the
 * pristine store (its log's entries, the receipted manifests and files, the agency's head); each run rewrites a fresh
 * copy, reads what the copy now says, and holds the verifier's report against the model both ways: every changed
 * fact is named, no finding of the agency kinds appears without a change that justifies it, and a store in which
 * nothing the agency holds changed still verifies (receipts reordered, repeated, re-spelt or removed while the log
 * holds what they said; an older head the agency signed; the ledger re-signed as it was). Entries appended to a
 * ledger are never valid here: a receiver store holds only what the receiver accepted, so one its log lacks is
 * `unlogged`. One pristine store (two devices, made through the gateway's and the receiver's own code) per file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { buildStore, makeSamples, readLines, verifyOptions, type BuiltStore } from '../helpers/store-fixture.js';
import { receiveDevice } from '../helpers/receiver-store.js';
import { anyPlan, harmlessPlan, performPlan, segmentNames, type DeviceAttackContext, type DevicePlan } from '../helpers/store-attacks.js';
import { lineHash, parseLine, type LedgerEntry } from '../../src/evidence/entry.js';
import { ENTRY, type SegmentManifest } from '../../src/evidence/types.js';
import { verifyStore } from '../../src/verify/verifier.js';
import { LOG_SUBJECT } from '../../src/verify/agency-evidence.js';
import type { FindingKind, VerifyReport } from '../../src/verify/findings.js';

// Runs per property: every kind of operation many times over, while the file stays under ~40 s on 2 cores.
const RUNS = Number(process.env.RECGW_PROPERTY_RUNS ?? 60);

/** What the agency holds of one device, and what the attacker has at hand for it. */
interface DeviceModel {
  id: string;
  built: BuiltStore;
  hashes: string[];
  manifests: { seq: number; file: string }[];
  /** SHA-256 of each sealed file as the receiver stored it, by file name. */
  files: Map<string, string>;
  receipts: unknown[];
  ctx: DeviceAttackContext;
}

let store: string;
let models: DeviceModel[];
let checkpoint: string;
/** Copies of log/ as published after each earlier upload: genuinely signed, older states of the log. */
const olderLogs: string[] = [];

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const entriesOf = (lines: string[]): LedgerEntry[] => lines.map((l) => (parseLine(l) as { entry: LedgerEntry }).entry);
const readReceiptLines = (deviceDir: string): string[] => readFileSync(join(deviceDir, 'receipts.jsonl'), 'utf8').split('\n').filter((l) => l !== '');

beforeAll(async () => {
  const ca = makeCa();
  const samples = await makeSamples();
  // Two devices: one with an interruption and a statement (more kinds of entries to rewrite), one plain.
  const room1 = await buildStore({
    caDir: ca.dir,
    samples,
    deviceId: 'room-1',
    interruption: { beforeIndex: 1, startMs: 900, endMs: 1100, reason: 'device-fault' },
    extra: (core, { session }) => core.ledger.append(ENTRY.sessionStatement, { sessionId: session.sessionId, text: '情况说明', officers: session.officers }),
  });
  const room2 = await buildStore({ caDir: ca.dir, samples, deviceId: 'room-2' });
  store = tmp('recgw-rx-store-');
  const heads = new Map<string, Set<string>>();
  const snapshot = (): void => {
    for (const b of [room1, room2]) {
      const p = join(store, b.deviceId, 'head.json');
      if (existsSync(p)) heads.set(b.deviceId, (heads.get(b.deviceId) ?? new Set()).add(readFileSync(p, 'utf8')));
    }
    const copy = tmp('recgw-old-log-');
    cpSync(join(store, 'log'), copy, { recursive: true });
    olderLogs.push(copy);
  };
  for (const b of [room1, room2]) await receiveDevice(b.deviceDir, store, ca.dir, undefined, snapshot);
  checkpoint = readFileSync(join(store, 'log', 'checkpoint'), 'utf8');
  // The last publication is the store's own log: not an older one.
  olderLogs.pop();

  const pool = new Set<string>(['CASE-FORGED']);
  const collect = (v: unknown): void => {
    if (typeof v === 'string' && v.length <= 80) pool.add(v);
    else if (typeof v === 'object' && v !== null) Object.values(v).forEach(collect);
  };
  for (const b of [room1, room2]) entriesOf(readLines(join(store, b.deviceId))).forEach((e) => collect(e.body));

  models = [room1, room2].map((built) => {
    const dir = join(store, built.deviceId);
    const lines = readLines(dir);
    const agencyHead = readFileSync(join(dir, 'head.json'), 'utf8');
    const others = [room1, room2].filter((b) => b !== built).flatMap((b) => readReceiptLines(join(store, b.deviceId)));
    return {
      id: built.deviceId,
      built,
      hashes: lines.map(lineHash),
      manifests: entriesOf(lines).flatMap((e) => (e.type === ENTRY.segmentSealed ? [{ seq: e.seq, file: (e.body as unknown as SegmentManifest).file }] : [])),
      files: new Map(segmentNames(dir).map((f) => [f, sha(readFileSync(join(dir, 'segments', f)))])),
      receipts: readReceiptLines(dir).map((l) => JSON.parse(l) as unknown),
      ctx: {
        built,
        segFiles: segmentNames(dir),
        olderHeads: [...(heads.get(built.deviceId) ?? [])].filter((h) => h !== agencyHead),
        agencyHead,
        foreignReceipts: others,
        pool: [...pool],
      },
    };
  });
}, 180_000);
afterAll(cleanupTmp);

/** A finding the report must hold: one of `anyOf` for `device`, its detail containing `detail`. */
interface Need {
  device: string;
  what: string;
  anyOf: FindingKind[];
  detail?: string;
}

/** The model's reading of a rewritten store: what must be named, whether anything is damaged, which agency findings are justified. */
interface Verdict {
  needs: Need[];
  damage: string[];
  justified: Map<string, Set<FindingKind>>;
}

/** The findings that say the agency's evidence and the store disagree: each must be justified by a real change. */
const AGENCY_KINDS: FindingKind[] = ['receipt-contradicted', 'rollback', 'unlogged', 'bad-receipt', 'bad-log'];

function judge(root: string): Verdict {
  const needs: Need[] = [];
  const damage: string[] = [];
  const justified = new Map<string, Set<FindingKind>>();
  for (const m of models) {
    const ok = new Set<FindingKind>();
    justified.set(m.id, ok);
    const need = (what: string, anyOf: FindingKind[], detail?: string): void => {
      needs.push({ device: m.id, what, anyOf, ...(detail ? { detail } : {}) });
      damage.push(`${m.id}: ${what}`);
      for (const k of anyOf) ok.add(k);
    };
    const dir = join(root, m.id);
    const isFile = (p: string): boolean => existsSync(p) && statSync(p).isFile();
    if (!existsSync(join(dir, 'ledger.jsonl'))) {
      need('its device folder is gone', ['rollback']);
      continue;
    }
    const readable = isFile(join(dir, 'ledger.jsonl'));
    const lines = readable ? readLines(dir).filter((l) => l !== '') : [];
    const hashes = lines.map(lineHash);
    const first = hashes.findIndex((h, i) => i < m.hashes.length && h !== m.hashes[i]);
    if (!readable) need('its ledger.jsonl is not a file', ['rollback']);
    else if (lines.length === 0) need('its ledger is empty', ['rollback']);
    else if (lines.length < m.hashes.length) need(`its ledger is shorter (${lines.length} of ${m.hashes.length} entries)`, ['rollback']);
    if (first >= 0) need(`logged entry ${first} is different`, ['receipt-contradicted']);
    if (lines.length > m.hashes.length) need(`entries the agency never took were appended (${lines.length - m.hashes.length})`, ['unlogged']);
    const ledgerSame = first < 0 && lines.length === m.hashes.length;

    const head = join(dir, 'head.json');
    if (!existsSync(head)) need('head.json is gone', ['broken-chain']);
    else if (!isFile(head)) need('head.json is not a file', ['malformed'], 'head.json');
    else {
      const text = readFileSync(head, 'utf8');
      if (text !== m.ctx.agencyHead && !m.ctx.olderHeads.includes(text)) need('head.json is not one the agency signed', ['untrusted-certificate'], "only the agency's head counts");
    }

    // A receipted file whose manifest still stands must be there, unchanged.
    for (const { seq, file } of m.manifests) {
      if (hashes[seq] !== m.hashes[seq]) continue;
      const p = join(dir, file);
      if (!isFile(p)) need(`${file} is gone`, ['missing-segment'], file);
      else if (sha(readFileSync(p)) !== m.files.get(basename(file))) need(`${file} is different`, ['altered-segment'], file);
    }
    const segDir = join(dir, 'segments');
    for (const f of existsSync(segDir) && statSync(segDir).isDirectory() ? readdirSync(segDir) : []) {
      if (!f.endsWith('.seg') || m.files.has(f)) continue;
      if (ledgerSame) need(`segments/${f} was added`, ['broken-chain'], f);
      else damage.push(`${m.id}: segments/${f} was added`);
    }

    const receiptsPath = join(dir, 'receipts.jsonl');
    if (existsSync(receiptsPath) && !isFile(receiptsPath)) need('receipts.jsonl is not a file', ['malformed'], 'receipts.jsonl');
    const receipts = isFile(receiptsPath) ? readReceiptLines(dir) : [];
    receipts.forEach((l, i) => {
      let r: unknown;
      try {
        r = JSON.parse(l);
      } catch {
        return need(`receipts.jsonl line ${i + 1} is not JSON`, ['malformed']);
      }
      if (m.receipts.some((g) => isDeepStrictEqual(g, r))) return;
      // A genuine receipt of another device can only be told apart by the device of the ledger beside it.
      const foreign = models.some((o) => o !== m && o.receipts.some((g) => isDeepStrictEqual(g, r)));
      if (foreign && lines.length === 0) return void damage.push(`${m.id}: receipts.jsonl line ${i + 1} is another device's`);
      need(`receipts.jsonl line ${i + 1} is not one of the agency's receipts for it`, ['bad-receipt']);
    });
  }
  return { needs, damage, justified };
}

/** The report against the model: every need met, no agency finding without a cause, and valid exactly when undamaged. */
function expectVerdict(r: VerifyReport, v: Verdict): void {
  const shown = JSON.stringify(r.findings.map((f) => `${f.deviceId} ${f.kind}: ${f.detail}`), null, 1);
  for (const n of v.needs) {
    const met = r.findings.some((f) => f.deviceId === n.device && n.anyOf.includes(f.kind) && (n.detail === undefined || f.detail.includes(n.detail)));
    expect(met, `${n.device}: ${n.what}, but no ${n.anyOf.join(' or ')} finding says so; findings: ${shown}`).toBe(true);
  }
  for (const f of r.findings) {
    if (!AGENCY_KINDS.includes(f.kind)) continue;
    expect(v.justified.get(f.deviceId)?.has(f.kind), `${f.kind} for ${f.deviceId} though nothing the model knows justifies it: ${f.detail}\nall findings: ${shown}`).toBe(true);
  }
  if (v.damage.length > 0) expect(r.ok, `VALID although ${v.damage.join('; ')}`).toBe(false);
  else expect(r.findings, 'nothing the agency holds changed, yet the store does not verify').toEqual([]);
}

/** Rewrite a fresh copy of the store (removed afterwards) and verify it; `log` may also change the store's log. */
async function attackAndVerify(plans: DevicePlan[], opts: { trusted?: boolean; log?: (logDir: string) => void } = {}): Promise<{ r: VerifyReport; v: Verdict }> {
  const root = mkdtempSync(join(tmpdir(), 'recgw-agency-prop-'));
  try {
    // receiver.db is the agency's own bookkeeping, not evidence: the verifier never reads it.
    cpSync(store, root, { recursive: true, filter: (src) => !basename(src).startsWith('receiver.db') });
    models.forEach((m, i) => performPlan(join(root, m.id), m.ctx, plans[i]!));
    opts.log?.(join(root, 'log'));
    const v = judge(root);
    const r = await verifyStore(root, { ...verifyOptions(models[0]!.built), ...(opts.trusted ? { trustedCheckpoint: checkpoint } : {}) });
    return { r, v };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Rewrites of both devices: about a third change nothing the agency holds, the rest change one device or both. */
const devicePlan = fc.oneof(harmlessPlan, { arbitrary: anyPlan, weight: 3 });
const plans = fc.oneof(fc.tuple(harmlessPlan, harmlessPlan), { arbitrary: fc.tuple(devicePlan, devicePlan), weight: 4 });
const untouched: DevicePlan = { ledger: [], resign: false, files: [], receipts: [], head: { op: 'agency' }, removeFolder: false };
const noOpResign: DevicePlan = { ...untouched, resign: true };
/** Changes to what is not evidence the agency holds: receipts shuffled, deleted, duplicated or re-spelt; an older agency head. */
const harmless: DevicePlan = {
  ...untouched,
  receipts: [{ op: 'swap', a: 0, b: 3 }, { op: 'delete', at: 1 }, { op: 'duplicate', at: 2 }, { op: 'reformat', at: 0 }],
  head: { op: 'older', pick: 1 },
};
const noReceipts: DevicePlan = { ...untouched, resign: true, receipts: [{ op: 'remove-file' }] };
// Rewrites this property found the verifier wrong about (each also a test of its own below).
/** Another device's genuine receipt was held against this ledger: "rewritten", falsely. */
const foreignReceipt: DevicePlan = { ...untouched, receipts: [{ op: 'foreign', at: 0 }] };
/** Every entry dropped and the receipts with them: the folder is there, its ledger empty, and no rollback was said. */
const emptied: DevicePlan = { ...untouched, ledger: [{ op: 'truncate', keep: 0 }], receipts: [{ op: 'remove-file' }], head: { op: 'delete' } };
/** The folder's own files made directories: the verifier threw (EISDIR) on receipts.jsonl and ledger.jsonl. */
const directories: DevicePlan = { ...untouched, files: [{ op: 'not-a-file', target: 'receipts.jsonl' }, { op: 'not-a-file', target: 'head.json' }, { op: 'not-a-file', target: 'segments' }] };
/** An unreadable ledger, no receipts, and a head the device signed: the device's head passed for the agency's. */
const unreadableWithDeviceHead: DevicePlan = { ...untouched, files: [{ op: 'not-a-file', target: 'ledger.jsonl' }], receipts: [{ op: 'remove-file' }], head: { op: 'device' } };

describe('a receiver store rewritten at random with the device keys', () => {
  it('the pristine store verifies, against its log and against the checkpoint a witness would hold', async () => {
    const plain = await verifyStore(store, verifyOptions(models[0]!.built));
    expect(plain.findings).toEqual([]);
    expect(plain.devices.map((d) => d.agency)).toEqual([true, true]);
    const anchored = await verifyStore(store, { ...verifyOptions(models[0]!.built), trustedCheckpoint: checkpoint });
    expect(anchored.findings).toEqual([]);
    expect(anchored.log?.anchoredTo?.size).toBe(anchored.log?.size);
    expect(olderLogs.length).toBeGreaterThan(3);
    expect(models.every((m) => m.ctx.olderHeads.length >= 2)).toBe(true);
  });

  it('never verifies when a receipted or logged fact changed, names each change, and still verifies when none did', async () => {
    await fc.assert(
      fc.asyncProperty(plans, fc.boolean(), async (ps, trusted) => {
        const { r, v } = await attackAndVerify(ps, { trusted });
        expectVerdict(r, v);
        if (trusted && r.ok) expect(r.log?.anchoredTo).toBeDefined();
      }),
      {
        // The examples run first and count towards numRuns.
        numRuns: Math.max(RUNS, 7),
        examples: [
          [[untouched, untouched], false],
          [[noOpResign, noOpResign], true],
          [[harmless, harmless], false],
          [[noReceipts, harmless], true],
          [[untouched, foreignReceipt], false],
          [[emptied, untouched], false],
          [[directories, unreadableWithDeviceHead], false],
        ],
      },
    );
  }, 300_000);

  it('with the store\'s log removed or replaced by an older one, the checkpoint a witness holds still fails it', async () => {
    const logAttack = fc.oneof(fc.constant(-1), fc.nat({ max: olderLogs.length - 1 }));
    await fc.assert(
      fc.asyncProperty(plans, logAttack, async (ps, which) => {
        const { r } = await attackAndVerify(ps, {
          trusted: true,
          log: (logDir) => {
            rmSync(logDir, { recursive: true, force: true });
            if (which >= 0) cpSync(olderLogs[which]!, logDir, { recursive: true });
          },
        });
        expect(r.ok).toBe(false);
        const onLog = r.findings.filter((f) => f.kind === 'bad-log' && f.deviceId === LOG_SUBJECT);
        expect(onLog.map((f) => f.detail).join('\n'), JSON.stringify(r.findings, null, 1)).toMatch(which < 0 ? /no agency log/ : /cut back|rewritten/);
      }),
      { numRuns: Math.ceil(RUNS / 3), examples: [[[untouched, untouched], -1], [[noOpResign, untouched], 0]] },
    );
  }, 300_000);
});

describe('what the property found', () => {
  const findingsOf = async (ps: DevicePlan[]): Promise<string[]> => {
    const { r, v } = await attackAndVerify(ps);
    expectVerdict(r, v);
    return r.findings.map((f) => `${f.deviceId} ${f.kind}: ${f.detail}`);
  };

  it("another device's genuine receipt copied into a folder is a bad receipt, and says nothing about the ledger beside it", async () => {
    const found = await findingsOf([untouched, foreignReceipt]);
    expect(found).toEqual([expect.stringMatching(/^room-2 bad-receipt: receipts\.jsonl line \d+ is a receipt for device room-1, not room-2$/)]);
  });

  it('a ledger emptied of every entry the agency logged is a rollback', async () => {
    const found = await findingsOf([emptied, untouched]);
    expect(found).toContain('room-1 rollback: the agency log holds entries of device room-1, but its folder\'s ledger has none: they were removed');
  });

  it('ledger.jsonl, receipts.jsonl or head.json made a directory is reported, never thrown', async () => {
    const found = await findingsOf([directories, unreadableWithDeviceHead]);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^room-1 malformed: receipts\.jsonl cannot be read \(EISDIR/),
        expect.stringMatching(/^room-1 malformed: head\.json is not a valid head statement/),
        expect.stringMatching(/^room-2 malformed: ledger\.jsonl cannot be read \(EISDIR/),
        expect.stringMatching(/^room-2 rollback: .*its folder's ledger has none/),
        expect.stringMatching(/^room-2 untrusted-certificate: head\.json is signed by the device, but in a receiver store/),
      ]),
    );
  });

  it('the pristine store still verifies after all of the above', async () => {
    const r = await verifyStore(store, { ...verifyOptions(models[0]!.built), trustedCheckpoint: checkpoint });
    expect(r.findings).toEqual([]);
  });
});
