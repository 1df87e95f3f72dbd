/**
 * Receipts bind: someone holding a device key (any gateway's SD card) rewrites a receiver store's history, re-signs
 * every line and head.json with that key - and the verifier still says NOT VALID, because the agency's receipts and
 * log, which the device key cannot sign, say otherwise. Each attack of issue 14 is performed on a copy of one
 * receiver store made by the receiver's own code, and must be caught with the finding that names it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, cpSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey } from 'node:crypto';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { buildStore, kinds, makeSamples, verifyOptions, type BuiltStore } from '../helpers/store-fixture.js';
import { receivedStore, rewriteWithDeviceKey } from '../helpers/receiver-store.js';
import { verifyStore } from '../../src/verify/verifier.js';
import { makeReceipt, encodeReceipt } from '../../src/evidence/receipt.js';
import { KeySigner } from '../../src/evidence/signer.js';
import { identityPaths } from '../../src/pki/identity.js';
import { ENTRY } from '../../src/evidence/types.js';
import type { LedgerEntry } from '../../src/evidence/entry.js';
import type { VerifyReport } from '../../src/verify/findings.js';

let built: BuiltStore;
let store: string;

beforeAll(async () => {
  const ca = makeCa();
  built = await buildStore({ caDir: ca.dir, samples: await makeSamples() });
  store = tmp('recgw-rx-store-');
  await receivedStore(built, ca.dir, store);
}, 120_000);
afterAll(cleanupTmp);

/** A fresh copy of the receiver store; `mutate` gets its device folder and its root. */
async function attack(mutate: (deviceDir: string, root: string) => void, extra: Partial<Parameters<typeof verifyStore>[1]> = {}): Promise<VerifyReport> {
  const root = tmp('recgw-attack-');
  cpSync(store, root, { recursive: true });
  mutate(join(root, built.deviceId), root);
  return verifyStore(root, { ...verifyOptions(built), ...extra });
}

const sealed = (es: LedgerEntry[]): number[] => es.flatMap((e, i) => (e.type === ENTRY.segmentSealed ? [i] : []));

describe('a receiver store rewritten with the device key', () => {
  it('the store as the receiver made it verifies, against its agency log', async () => {
    const r = await verifyStore(store, verifyOptions(built));
    expect(r.findings).toEqual([]);
    expect(r.devices[0]!.agency).toBe(true);
    expect(r.log?.size).toBeGreaterThan(r.devices[0]!.entries);
    expect(readdirSync(join(store, built.deviceId))).toContain('receipts.jsonl');
  });

  it('two segments swapped in time: caught by the receipts and the log, and the device-signed head is refused', async () => {
    const r = await attack((d) =>
      rewriteWithDeviceKey(d, built, (es) => {
        const [a, b] = sealed(es);
        const ma = es[a!]!.body;
        const mb = es[b!]!.body;
        [ma.start, mb.start, ma.end, mb.end] = [mb.start, ma.start, mb.end, ma.end];
        return es;
      }),
    );
    expect(kinds(r)).toEqual(expect.arrayContaining(['receipt-contradicted', 'untrusted-certificate']));
    expect(r.findings.find((f) => f.kind === 'untrusted-certificate')!.detail).toMatch(/only the agency's head counts/);
  });

  it("a manifest's case reference changed", async () => {
    const r = await attack((d) =>
      rewriteWithDeviceKey(d, built, (es) => {
        es[sealed(es)[0]!]!.body.caseRef = 'CASE-FORGED';
        return es;
      }),
    );
    expect(r.ok).toBe(false);
    expect(kinds(r)).toContain('receipt-contradicted');
  });

  it('a whole session erased (its entries and files): the agency still holds them', async () => {
    const r = await attack((d) => {
      rewriteWithDeviceKey(d, built, (es) => es.filter((e) => !('sessionId' in e.body)));
      rmSync(join(d, 'segments'), { recursive: true });
    });
    expect(r.ok).toBe(false);
    expect(kinds(r)).toEqual(expect.arrayContaining(['rollback', 'untrusted-certificate']));
    expect(r.findings.filter((f) => f.kind === 'rollback').map((f) => f.detail).join('\n')).toMatch(/receipted entries up to seq \d+, but the ledger ends at seq \d+/);
  });

  it('the same rewrite with receipts.jsonl deleted too: the store-wide log still contradicts it', async () => {
    const r = await attack((d) => {
      rewriteWithDeviceKey(d, built, (es) => es.slice(0, -2));
      rmSync(join(d, 'receipts.jsonl'));
    });
    expect(kinds(r)).toEqual(expect.arrayContaining(['rollback', 'untrusted-certificate']));
  });

  it('a line signed with the device key appended to receipts.jsonl is not a receipt', async () => {
    const r = await attack((d) => {
      const id = identityPaths(built.gateway.config.stateDir);
      const forger = new KeySigner(createPrivateKey(readFileSync(id.key, 'utf8')), readFileSync(id.cert, 'utf8'));
      const fake = makeReceipt({ kind: 'entries', device: built.deviceId, through: { seq: 99, hash: 'a'.repeat(64) }, deadline: '2099-01-01T00:00:00.000Z', storedAt: new Date().toISOString(), receiver: 'receiver:1' }, forger);
      appendFileSync(join(d, 'receipts.jsonl'), encodeReceipt(fake) + '\n');
    });
    expect(kinds(r)).toEqual(['bad-receipt']);
    expect(r.findings[0]!.detail).toMatch(/receipts\.jsonl line \d+ is not a genuine agency receipt/);
  });

  it('a device folder removed whole: the log names the device', async () => {
    const r = await attack((d) => rmSync(d, { recursive: true }));
    expect(kinds(r)).toContain('rollback');
    expect(r.findings.find((f) => f.kind === 'rollback')!.detail).toMatch(/has no folder with its ledger/);
  });

  it('entries appended with the device key that the agency never took are not in its log', async () => {
    const r = await attack((d) =>
      rewriteWithDeviceKey(d, built, (es) => [...es, { ...es[es.length - 1]!, type: 'event.marked', body: { input: 'door', pin: 5, state: 'active', time: es[es.length - 1]!.time, sessionId: null } }]),
    );
    expect(kinds(r)).toEqual(expect.arrayContaining(['unlogged', 'untrusted-certificate']));
  });

  it('the log removed with everything else the agency signed: an export, labelled so; against a checkpoint from a witness it fails', async () => {
    const checkpoint = readFileSync(join(store, 'log', 'checkpoint'), 'utf8');
    const strip = (d: string, root: string): void => {
      rewriteWithDeviceKey(d, built, (es) => es.slice(0, -2));
      rmSync(join(d, 'receipts.jsonl'));
      rmSync(join(root, 'log'), { recursive: true });
    };
    const plain = await attack(strip);
    expect(plain.devices[0]!.agency).toBe(false);
    expect(plain.log).toBeUndefined();
    const anchored = await attack(strip, { trustedCheckpoint: checkpoint });
    expect(kinds(anchored)).toContain('bad-log');
  });
});

describe('the agency log itself', () => {
  it('a leaf changed in an entry bundle: the root no longer matches the signed checkpoint', async () => {
    const r = await attack((_d, root) => {
      // The bundle the checkpoint's size reads (the log is shorter than 256 leaves: one partial bundle).
      const size = Number(readFileSync(join(root, 'log', 'checkpoint'), 'utf8').split('\n')[1]);
      const file = join(root, 'log', 'tile', 'entries', `000.p`, String(size));
      const b = readFileSync(file);
      b[10] = b[10]! ^ 1;
      writeFileSync(file, b);
    });
    expect(kinds(r)).toContain('bad-log');
  });

  it('the checkpoint replaced by an older one (the log cut back): receipts issued from the longer log show it', async () => {
    const r = await attack((_d, root) => {
      // An older, genuinely signed checkpoint of this log: the first entries receipt carries one.
      const first = JSON.parse(readFileSync(join(store, built.deviceId, 'receipts.jsonl'), 'utf8').split('\n')[0]!) as { log: string };
      const older = first.log.slice(first.log.indexOf('\n\n') + 2);
      renameSync(join(root, 'log', 'checkpoint'), join(root, 'log', 'checkpoint.newer'));
      writeFileSync(join(root, 'log', 'checkpoint'), older);
    });
    expect(kinds(r)).toContain('rollback');
  });
});
