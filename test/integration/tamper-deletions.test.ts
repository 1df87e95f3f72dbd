/**
 * Local deletions after the agency's receipt (docs/evidence-format.md §6, §10): a sealed file may be absent when a
 * segment.deleted entry names a genuine receipt for exactly that file, recorded before it. Any other deletion is
 * `deleted-without-receipt`; a recorded receipt that is not genuine is `bad-receipt`. Stores are made through
 * the real code (gateway ledger, sealer, export) with receipts signed by the demo CA's receipt key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { cleanupTmp, makeCa } from '../helpers/fixtures.js';
import { buildStore, copyStore, kinds, makeSamples, verify, type BuildOptions, type BuiltStore, type Samples } from '../helpers/store-fixture.js';
import type { EvidenceCore } from '../../src/app/evidence-core.js';
import { KeySigner, type Signer } from '../../src/evidence/signer.js';
import { makeReceipt, type Receipt } from '../../src/evidence/receipt.js';
import { ENTRY } from '../../src/evidence/types.js';
import { formatReport } from '../../src/verify/human.js';
import type { VerifyReport } from '../../src/verify/findings.js';

let ca: ReturnType<typeof makeCa>;
let samples: Samples;
let receiptSigner: Signer;
/** The receipt certificate with a key that is not its own: what a forger without the agency key could make. */
let forger: Signer;

beforeAll(async () => {
  ca = makeCa();
  samples = await makeSamples();
  receiptSigner = new KeySigner(createPrivateKey(readFileSync(ca.paths.receiptKey, 'utf8')), readFileSync(ca.paths.receiptCert, 'utf8'));
  forger = new KeySigner(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, receiptSigner.certificatePem);
}, 120_000);
afterAll(cleanupTmp);

const segName = (s: { sessionId: string }, source: 'cam1' | 'mic1', i: number): string => `${s.sessionId}_${source}_${String(i).padStart(6, '0')}`;
const fileOf = (name: string): string => `segments/${name}.seg`;
const details = (r: VerifyReport, kind: string): string[] => r.findings.filter((f) => f.kind === kind).map((f) => f.detail);

/** The agency's receipt for a sealed segment, as the receiver would sign it (from the gateway's own index). */
function receiptFor(core: EvidenceCore, name: string, signer: Signer): Receipt {
  const device = (JSON.parse(core.ledger.entry(0)!.line) as { device: string }).device;
  const row = core.db.prepare('SELECT ledger_seq, stored_size, stored_sha256 FROM segments WHERE name = ?').get(name) as
    | { ledger_seq: number; stored_size: number; stored_sha256: string }
    | undefined;
  if (!row) throw new Error(`segment ${name} is not sealed`);
  const now = new Date().toISOString();
  return makeReceipt(
    {
      kind: 'segment',
      device,
      name,
      size: row.stored_size,
      sha256: row.stored_sha256,
      manifestSeq: row.ledger_seq,
      deadline: new Date(Date.now() + 86_400_000).toISOString(),
      storedAt: now,
      receiver: 'test-receiver',
    },
    signer,
  );
}

const recordReceipt = (core: EvidenceCore, r: Receipt): number =>
  core.ledger.append(ENTRY.receiptReceived, { receipt: r as unknown as Record<string, unknown> }).seq;

const recordDeletion = (core: EvidenceCore, name: string, receiptSeq: number): void =>
  void core.ledger.append(ENTRY.segmentDeleted, { segment: name, file: fileOf(name), receiptSeq });

const build = (extra: BuildOptions['extra']): Promise<BuiltStore> => buildStore({ caDir: ca.dir, samples, ...(extra ? { extra } : {}) });

/** A copy of the store without the named segments' files, as an export made after the deletions would be. */
function withoutFiles(s: BuiltStore, names: string[]): { storeDir: string; deviceDir: string } {
  const c = copyStore(s);
  for (const n of names) rmSync(join(c.deviceDir, fileOf(n)));
  return c;
}

describe('a deletion covered by a genuine receipt recorded before it', () => {
  let store: BuiltStore;
  let deleted: string;
  beforeAll(async () => {
    store = await build((core, { session }) => {
      deleted = segName(session, 'cam1', 0);
      recordDeletion(core, deleted, recordReceipt(core, receiptFor(core, deleted, receiptSigner)));
    });
  }, 60_000);

  it('verifies with the file removed, with and without the agency key, and says the file was deleted after its receipt', async () => {
    const c = withoutFiles(store, [deleted]);
    for (const withKey of [false, true]) {
      const r = await verify(c.storeDir, store, withKey);
      expect(r.findings).toEqual([]);
      expect(r.devices[0]!.deletedSegments).toBe(1);
      // The session analysis still counts the deleted segment's footage: its manifest is in the ledger.
      expect(r.devices[0]!.sessions[0]!.gaps).toEqual([]);
      const text = formatReport(r);
      expect(text).toMatch(/1 deleted here after the agency's receipt/);
      expect(text).toMatch(/Result: VALID\. Nothing was deleted without the agency's receipt/);
    }
  });

  it('verifies with the file still present (the deletion may not have finished)', async () => {
    expect(existsSync(join(store.deviceDir, fileOf(deleted)))).toBe(true);
    const r = await verify(store.storeDir, store, true);
    expect(r.findings).toEqual([]);
    expect(r.devices[0]!.deletedSegments).toBeUndefined();
  });

  it('still reports a file removed without any deletion entry as missing, and a present one altered', async () => {
    const other = segName(store.session, 'mic1', 1);
    const c = withoutFiles(store, [deleted, other]);
    const r = await verify(c.storeDir, store);
    expect(kinds(r)).toEqual(['missing-segment']);
    expect(details(r, 'missing-segment')).toEqual([expect.stringContaining(other)]);
  });

  it('a directory in place of a sealed file is a finding, not an exception, even where a deletion is receipted', async () => {
    const other = segName(store.session, 'mic1', 2);
    const c = withoutFiles(store, [deleted, other]);
    mkdirSync(join(c.deviceDir, fileOf(deleted)));
    mkdirSync(join(c.deviceDir, fileOf(other)));
    for (const withKey of [false, true]) {
      const r = await verify(c.storeDir, store, withKey);
      expect(kinds(r)).toEqual(['missing-segment']);
      const d = details(r, 'missing-segment');
      expect(d).toHaveLength(2);
      for (const n of [deleted, other]) expect(d).toContainEqual(expect.stringMatching(new RegExp(`${n}\\.seg .* is a directory, not the sealed file`)));
    }
  });
});

describe('deletions the verifier must not accept', () => {
  it('a deletion that names no receipt is deleted-without-receipt, and its absent file is missing', async () => {
    let name = '';
    const store = await build((core, { session }) => {
      name = segName(session, 'cam1', 1);
      // receiptSeq names the session.opened entry: an entry, but no receipt.
      const opened = core.db.prepare(`SELECT seq FROM ledger WHERE type = ?`).get(ENTRY.sessionOpened) as { seq: number };
      recordDeletion(core, name, opened.seq);
    });
    const present = await verify(store.storeDir, store);
    expect(kinds(present)).toEqual(['deleted-without-receipt']);
    expect(details(present, 'deleted-without-receipt')).toEqual([expect.stringMatching(new RegExp(`segment ${name} was deleted without the agency's receipt.*no receipt\\.received entry`))]);
    const r = await verify(withoutFiles(store, [name]).storeDir, store);
    expect(kinds(r)).toEqual(['deleted-without-receipt', 'missing-segment']);
    expect(details(r, 'missing-segment')).toEqual([expect.stringContaining(name)]);
  }, 60_000);

  it('a receipt signed by a key other than the receipt certificate\'s is bad-receipt, and covers no deletion', async () => {
    let name = '';
    const store = await build((core, { session }) => {
      name = segName(session, 'mic1', 0);
      recordDeletion(core, name, recordReceipt(core, receiptFor(core, name, forger)));
    });
    const r = await verify(withoutFiles(store, [name]).storeDir, store);
    expect(kinds(r)).toEqual(['bad-receipt', 'deleted-without-receipt', 'missing-segment']);
    expect(details(r, 'bad-receipt')).toEqual([expect.stringMatching(/signature does not verify/)]);
    expect(details(r, 'deleted-without-receipt')).toEqual([expect.stringMatching(/is not genuine/)]);
    expect(formatReport(r)).toMatch(/bad receipt \(.*\): line \d+: the receipt recorded in entry seq \d+ is not genuine/);
  }, 60_000);

  it('a receipt recorded after the deletion, or one for another segment, covers nothing; malformed bodies are malformed', async () => {
    const names: Record<string, string> = {};
    const store = await build((core, { session }) => {
      names.late = segName(session, 'cam1', 0);
      names.other = segName(session, 'cam1', 1);
      names.forOther = segName(session, 'cam1', 2);
      // The deletion names the seq its receipt gets one entry later.
      recordDeletion(core, names.late, core.ledger.head()!.seq + 2);
      recordReceipt(core, receiptFor(core, names.late, receiptSigner));
      recordDeletion(core, names.other, recordReceipt(core, receiptFor(core, names.forOther, receiptSigner)));
      core.ledger.append(ENTRY.receiptReceived, { receipt: 'signed, honestly' });
      core.ledger.append(ENTRY.segmentDeleted, { segment: names.forOther, receiptSeq: -1 });
    });
    const r = await verify(store.storeDir, store);
    expect(kinds(r)).toEqual(['deleted-without-receipt', 'malformed']);
    const d = details(r, 'deleted-without-receipt');
    expect(d).toHaveLength(2);
    expect(d).toContainEqual(expect.stringMatching(new RegExp(`segment ${names.late} .*no receipt\\.received entry with seq \\d+ comes before it`)));
    expect(d).toContainEqual(expect.stringMatching(new RegExp(`segment ${names.other} .*confirms ${names.forOther}`)));
    expect(details(r, 'malformed')).toEqual([
      expect.stringMatching(/receipt\.received: receipt is missing or has the wrong type/),
      expect.stringMatching(/segment\.deleted: file is missing or has the wrong type/),
    ]);
  }, 60_000);

  it('a genuine receipt for a segment whose manifest the ledger no longer has as receipted is receipt-contradicted', async () => {
    let name = '';
    const store = await build((core, { session }) => {
      name = segName(session, 'cam1', 0);
      const { sig: _s, cert: _c, v: _v, type: _t, ...fields } = receiptFor(core, name, receiptSigner);
      // A receipt that states another hash than the manifest: what a ledger rewritten under a receipt looks like.
      recordReceipt(core, makeReceipt({ ...fields, sha256: 'f'.repeat(64) } as Parameters<typeof makeReceipt>[0], receiptSigner));
      recordReceipt(core, receiptFor(core, segName(session, 'cam1', 1), receiptSigner));
    });
    const r = await verify(store.storeDir, store);
    expect(kinds(r)).toEqual(['receipt-contradicted']);
    expect(details(r, 'receipt-contradicted')).toEqual([expect.stringMatching(new RegExp(`does not fit this ledger: the receipt it names confirms ${name}, .* SHA-256 f{64}`))]);
  }, 60_000);
});
