/**
 * The agency log keeps its tree's right edge with its head (src/receiver/agency-log.ts), and signs each new
 * checkpoint's root from it. A wrong edge would have the log sign a root of a tree it does not hold: a fork, signed
 * by the agency. Attacked here the ways an edge could go wrong: another receiver sharing the store appends, an append
 * rolls back — including the case where the other receiver then brings the log to exactly the size the rolled-back
 * append had — and a head from before the edge was stored (rebuilt from the tiles). Every checkpoint signed is checked
 * against the RFC 6962 definition computed over the leaves receiver.db holds, and every receipt's proof with
 * sigstore-js's verifier as well as ours.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { openReceiverDb } from '../../src/receiver/store-db.js';
import { AgencyLog } from '../../src/receiver/agency-log.js';
import { caPaths, logOrigin } from '../../src/pki/ca.js';
import { encodeLeaf, type LogLeaf } from '../../src/evidence/log-leaf.js';
import { openCheckpoint } from '../../src/tlog/checkpoint.js';
import { parseProof } from '../../src/tlog/proof-text.js';
import { leafHash, verifyInclusion } from '../../src/tlog/merkle.js';
import type { Db } from '../../src/state/db.js';
import { SqliteReceiverSql } from '../../src/receiver/sqlite-receiver-sql.js';
import type { ReceiverSql } from '../../src/receiver/receiver-sql.js';

const require = createRequire(import.meta.url);
// sigstore's verifier is CommonJS without an exports map: its module path is the only way in.
const { verifyMerkleInclusion } = require('@sigstore/verify/dist/tlog/merkle.js') as {
  verifyMerkleInclusion(entry: { canonicalizedBody: Buffer; inclusionProof: { logIndex: string; hashes: Buffer[] } }, cp: { logSize: bigint; logHash: Buffer }): void;
};

afterAll(cleanupTmp);

const ca = makeCa();
const p = caPaths(ca.dir);
const caPem = readFileSync(p.caCert, 'utf8');
const origin = logOrigin(caPem);
const logPub = createPublicKey(createPrivateKey(readFileSync(p.logKey, 'utf8')));

const sha = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const x of parts) h.update(x);
  return h.digest();
};

/** RFC 6962 §2.1, literally, over the leaves' bytes. */
function mth(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return sha();
  if (leaves.length === 1) return sha(Buffer.of(0), leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha(Buffer.of(1), mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

const leaf = (i: number, salt: string): LogLeaf => ({ v: 1, kind: 'segment', device: `dev-${salt}`, name: `seg-${i}`, size: i, sha256: i.toString(16).padStart(64, '0'), manifestSeq: i, accepted: '2026-12-07T10:00:00.000Z' });
const batch = (n: number, salt: string): LogLeaf[] => Array.from({ length: n }, (_, k) => leaf(k, salt));

interface Rx {
  db: Db;
  sql: ReceiverSql;
  log: AgencyLog;
}

/** One receiver on the store: its own connection and log, as each receiver process has. */
function receiver(store: string): Rx {
  const db = openReceiverDb(store);
  const sql = new SqliteReceiverSql(db);
  return { db, sql, log: new AgencyLog(sql, createPrivateKey(readFileSync(p.logKey, 'utf8')), origin) };
}

/**
 * Append in a transaction as the ingests do, prove the last leaf (its receipt) and the first, and check the signed
 * checkpoint and both proofs against the leaves the store holds once committed.
 */
async function appendAndCheck(r: Rx, leaves: LogLeaf[]): Promise<void> {
  const a = await r.sql.transaction((tx) => r.log.append(tx, leaves));
  const { first, size, checkpoint } = a;
  // The receipt's proof (given by the append), and the first leaf's, made from the stored tree.
  const proofs = [a.proof!, await r.log.proof(first, size, checkpoint)];
  const stored = (r.db.prepare('SELECT leaf FROM log_leaves ORDER BY idx').all() as { leaf: Buffer }[]).map((x) => x.leaf);
  expect(stored).toHaveLength(size);
  const cp = openCheckpoint(checkpoint, origin, logPub);
  if ('why' in cp) throw new Error(cp.why);
  expect(cp.size).toBe(size);
  expect(cp.root.toString('base64'), `the checkpoint of ${size} leaves signs the root of the leaves stored`).toBe(mth(stored).toString('base64'));
  for (const [k, text] of proofs.entries()) {
    const index = k === 0 ? size - 1 : first;
    const pr = parseProof(text);
    if ('why' in pr) throw new Error(pr.why);
    expect(pr.index).toBe(index);
    expect(pr.checkpoint).toBe(checkpoint);
    const data = encodeLeaf(leaves[index - first]!);
    expect(verifyInclusion(leafHash(data), index, size, pr.hashes, cp.root)).toBe(true);
    expect(() => verifyMerkleInclusion({ canonicalizedBody: data, inclusionProof: { logIndex: String(index), hashes: pr.hashes } }, { logSize: BigInt(size), logHash: cp.root })).not.toThrow();
  }
}

/** An append that rolls back after it signed its checkpoint and gave its proof (the bookkeeping after it failed). */
async function appendRolledBack(r: Rx, leaves: LogLeaf[]): Promise<void> {
  await expect(
    r.sql.transaction(async (tx) => {
      await r.log.append(tx, leaves);
      throw new Error('the bookkeeping failed');
    }),
  ).rejects.toThrow('the bookkeeping failed');
}

describe("the agency log's stored right edge", () => {
  it('signs the true root after appends by another receiver sharing the store, in turn', async () => {
    const store = tmp('recgw-edge-');
    const a = receiver(store);
    const b = receiver(store);
    for (const [r, n, salt] of [[a, 5, 'a1'], [a, 1, 'a2'], [b, 3, 'b1'], [a, 256, 'a3'], [b, 1, 'b2'], [b, 250, 'b3'], [a, 7, 'a4']] as const) await appendAndCheck(r, batch(n, salt));
    a.db.close();
    b.db.close();
  });

  it('signs the true root after an append that rolled back, also when another receiver then filled the log to the size it had', async () => {
    const store = tmp('recgw-edge-');
    const a = receiver(store);
    const b = receiver(store);
    await appendAndCheck(a, batch(9, 'a1'));
    // a's own rollback, then a goes on.
    await appendRolledBack(a, batch(4, 'gone1'));
    await appendAndCheck(a, batch(4, 'a2'));
    // a's rollback to 13 + 6; b brings the log to exactly 19 with other leaves; a appends after it.
    await appendRolledBack(a, batch(6, 'gone2'));
    await appendAndCheck(b, batch(6, 'b1'));
    await appendAndCheck(a, batch(1, 'a3'));
    await appendAndCheck(a, batch(300, 'a4'));
    a.db.close();
    b.db.close();
  });

  it('a receiver started again on the store goes on from the stored edge', async () => {
    const store = tmp('recgw-edge-');
    const a = receiver(store);
    await appendAndCheck(a, batch(700, 'a1'));
    a.db.close();
    const again = receiver(store);
    await appendAndCheck(again, batch(3, 'a2'));
    await appendAndCheck(again, batch(1, 'a3'));
    again.db.close();
  });

  it('a head from before the edge was stored (NULL) is rebuilt from the tiles at the next append, and stored', async () => {
    const store = tmp('recgw-edge-');
    const a = receiver(store);
    await appendAndCheck(a, batch(70_000 / 100 + 3, 'a1'));
    a.db.prepare('UPDATE log_head SET edge = NULL WHERE id = 1').run();
    a.db.close();
    const again = receiver(store);
    await appendAndCheck(again, batch(5, 'a2'));
    expect((again.db.prepare('SELECT edge FROM log_head WHERE id = 1').get() as { edge: Buffer | null }).edge).not.toBeNull();
    await appendAndCheck(again, batch(300, 'a3'));
    again.db.close();
  });
});
