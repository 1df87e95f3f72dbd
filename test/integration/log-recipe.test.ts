/**
 * docs/recipes/check-receipt.sh, run with the real `openssl` and `sh` against a receiver store made by the receiver's
 * own code: it passes for every receipt, and fails when the receipt, its log proof, its checkpoint's signature or the
 * ledger it vouches for is changed. It is the independent check of the log's inclusion proofs and checkpoint
 * signatures: nothing in it is recgw code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { buildStore, makeSamples, type BuiltStore } from '../helpers/store-fixture.js';
import { receivedStore } from '../helpers/receiver-store.js';
import { embedded, recipe, sh } from '../helpers/doc-recipes.js';
import { receiptSigner } from '../helpers/report-store.js';
import { encodeReceipt, receiptSignedBytes, type Receipt } from '../../src/evidence/receipt.js';

const CHECK = recipe('check-receipt.sh');
let built: BuiltStore;
let store: string;
let caPath: string;
let receipts: string[];
let caDir: string;

beforeAll(async () => {
  const ca = makeCa();
  caDir = ca.dir;
  caPath = ca.paths.caCert;
  built = await buildStore({ caDir: ca.dir, samples: await makeSamples() });
  store = tmp('recgw-logrecipe-');
  await receivedStore(built, ca.dir, store);
  receipts = readFileSync(join(store, built.deviceId, 'receipts.jsonl'), 'utf8').trimEnd().split('\n');
}, 120_000);
afterAll(cleanupTmp);

/** A copy of the store with line `n` of receipts.jsonl replaced by `edit(line)`; returns its device folder. */
function spoilt(n: number, edit: (line: string) => string): string {
  const root = tmp('recgw-logrecipe-bad-');
  cpSync(store, root, { recursive: true });
  const lines = receipts.map((l, i) => (i === n - 1 ? edit(l) : l));
  writeFileSync(join(root, built.deviceId, 'receipts.jsonl'), lines.map((l) => l + '\n').join(''));
  return join(root, built.deviceId);
}

/** The receipt on line `n` with its log proof changed by `edit`, signed again with the genuine receipt key. */
function resigned(n: number, edit: (log: string) => string): string {
  return spoilt(n, (l) => {
    const { sig: _sig, ...r } = JSON.parse(l) as Receipt;
    const unsigned = { ...r, log: edit(r.log!) };
    return encodeReceipt({ ...unsigned, sig: receiptSigner(caDir).sign(receiptSignedBytes(unsigned)).toString('base64') } as Receipt);
  });
}

describe('check-receipt.sh', () => {
  it('is the very text docs/evidence-format.md shows, and so is check-inclusion.sh beside it', () => {
    expect(embedded('check-receipt.sh')).toBe(readFileSync(CHECK, 'utf8'));
    expect(embedded('check-inclusion.sh')).toBe(readFileSync(recipe('check-inclusion.sh'), 'utf8'));
  });

  it('passes for every receipt of the store, entries and segment receipts alike', () => {
    expect(receipts.some((l) => l.includes('"kind":"segment"')) && receipts.some((l) => l.includes('"kind":"entries"'))).toBe(true);
    receipts.forEach((_l, i) => {
      const r = sh(CHECK, [join(store, built.deviceId), caPath, String(i + 1)]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/item is leaf \d+ of the log/);
    });
  });

  it('fails when the receipt is changed: its signature covers the log proof too', () => {
    const d = spoilt(1, (l) => l.replace('"receiver":"receiver:1"', '"receiver":"receiver:2"'));
    const r = sh(CHECK, [d, caPath, '1']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/receipt's signature does not verify/);
  });

  it('fails when a proof hash is changed (the receipt signed again by the agency): the item is then not in the log', () => {
    const n = receipts.findIndex((l) => /index \d+\\n[A-Za-z0-9+/]{43}=/.test(l)) + 1;
    expect(n).toBeGreaterThan(0);
    const d = resigned(n, (log) => log.replace(/(index \d+\n)([A-Za-z0-9+/])/, (_m, a: string, c: string) => a + (c === 'A' ? 'B' : 'A')));
    const r = sh(CHECK, [d, caPath, String(n)]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/does not lead to the checkpoint's root/);
  });

  it("fails when the checkpoint's root is changed (the receipt signed again by the agency): the log's signature fails", () => {
    const d = resigned(2, (log) => log.replace(/(\n\d+\n)([A-Za-z0-9+/])/, (_m, a: string, c: string) => a + (c === 'A' ? 'B' : 'A')));
    const r = sh(CHECK, [d, caPath, '2']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/checkpoint's signature does not verify/);
  });

  it("fails when the ledger no longer holds the entry an entries receipt vouches for", () => {
    const n = receipts.findIndex((l) => l.includes('"kind":"entries"')) + 1;
    const root = tmp('recgw-logrecipe-ledger-');
    cpSync(store, root, { recursive: true });
    const ledger = join(root, built.deviceId, 'ledger.jsonl');
    const lines = readFileSync(ledger, 'utf8').split('\n');
    const seq = (JSON.parse(receipts[n - 1]!) as { through: { seq: number } }).through.seq;
    lines[seq] = lines[seq]!.replace('"v":1', '"v":1 ');
    writeFileSync(ledger, lines.join('\n'));
    const r = sh(CHECK, [join(root, built.deviceId), caPath, String(n)]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/but the agency stored entry/);
  });

  it('fails against a CA that did not certify the receipt and log keys', () => {
    const root = tmp('recgw-logrecipe-ca-');
    cpSync(store, root, { recursive: true });
    const other = makeCa();
    const r = sh(CHECK, [join(root, built.deviceId), other.paths.caCert, '1']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/is not valid under|not issued by/);
  });

  it('refuses bad arguments with exit 2', () => {
    expect(sh(CHECK, [join(store, built.deviceId), caPath]).code).toBe(2);
    expect(sh(CHECK, [join(store, built.deviceId), caPath, '0']).code).toBe(2);
    expect(sh(CHECK, [store, caPath, '1']).code).toBe(2);
  });
});
