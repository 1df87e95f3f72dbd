/**
 * The desk's retention (src/desk/retention.ts, docs/desk.md §10) over the shared test store indexed in SQLite and in a
 * real PostgreSQL, on a test clock: the term's boundary to the millisecond (off the list and refused one millisecond
 * before, listed at it), an unclosed session never listed nor deletable, an evidence mark keeping a session off the
 * list, a term of two years, two leaders deciding one request at once (one wins, one row in the register), and an
 * approved deletion widened in the table refused by toApply (its register row does not attest it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { buildIndexStore, cli, type IndexStore } from '../helpers/index-store.js';
import { createDatabase, withPostgres } from '../helpers/postgres.js';
import { deskPair } from '../helpers/retention.js';
import { caPaths } from '../../src/pki/ca.js';
import { openIndexDb, type IndexDb } from '../../src/index/database.js';
import { migrateIndex } from '../../src/index/migrate.js';
import { DeskAudit } from '../../src/desk/audit.js';
import { KeySigner } from '../../src/evidence/signer.js';
import { Retention } from '../../src/desk/retention.js';
import { ApprovalRefused } from '../../src/desk/approvals.js';
import { termEnds } from '../../src/evidence/deletion-event.js';
import { createPrivateKey } from 'node:crypto';

const OFFICER = { name: 'officer1', role: 'evidence-officer' as const, ip: 'test' };
const LEADER = { name: 'leader1', role: 'leader' as const, ip: 'test' };
const LEADER2 = { name: 'leader2', role: 'leader' as const, ip: 'test' };

let s: IndexStore;
const pg = withPostgres();

beforeAll(async () => {
  s = await buildIndexStore();
}, 120_000);
afterAll(cleanupTmp);

const refusal = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApprovalRefused) return err.key;
    throw err;
  }
  return 'not refused';
};

describe.each(['sqlite', 'postgres'] as const)('retention in the desk, index on %s', (kind) => {
  let db: IndexDb;
  let clock = 0;
  let retention: (years?: number, signer?: 'desk' | 'receipt' | 'none') => Retention;
  let endA = 0;

  beforeAll(async () => {
    const url = kind === 'postgres' ? await createDatabase(pg.server(), 'desk_retention') : `sqlite:${join(tmp('recgw-desk-retention-'), 'index.db')}`;
    expect((await cli('index', 'rebuild', '--store', s.store, '--database', url, '--ca', caPaths(s.caDir).caCert, '--quiet')).code).toBe(0);
    db = await openIndexDb(url);
    await migrateIndex(db);
    const p = caPaths(s.caDir);
    const desk = deskPair(s.caDir);
    const signers: Record<string, KeySigner | undefined> = {
      desk: new KeySigner(createPrivateKey(desk.keyPem), desk.certPem),
      receipt: new KeySigner(createPrivateKey(readFileSync(p.receiptKey, 'utf8')), readFileSync(p.receiptCert, 'utf8')),
      none: undefined,
    };
    retention = (years = 1, signer: 'desk' | 'receipt' | 'none' = 'desk') => new Retention(db, new DeskAudit(db, () => clock, signers[signer]), () => clock, years, 'Asia/Shanghai', [readFileSync(p.caCert, 'utf8')]);
    endA = Number((await db.query<{ end_ms: number | string }>("SELECT end_ms FROM sessions WHERE session_id = 'S-A'"))[0]!.end_ms);
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  it('lists a session at the end of its term to the millisecond, never before, never an unclosed one', async () => {
    const r = retention();
    clock = termEnds(endA, 1) - 1;
    expect((await r.expired()).map((x) => x.session)).not.toContain('S-A');
    expect(await refusal(r.request(OFFICER, { kind: 'delete', sessions: ['room-1/S-A'], reason: '提前一毫秒删除' }))).toBe('retention.withinTerm');
    clock = termEnds(endA, 1);
    const list = await r.expired();
    expect(list.map((x) => x.session)).toContain('S-A');
    expect(list.find((x) => x.session === 'S-A')!.expiresMs).toBe(clock);
    clock = termEnds(endA, 5);
    expect((await r.expired()).map((x) => x.session)).not.toContain('S-D');
    expect(await refusal(r.request(OFFICER, { kind: 'delete', sessions: ['car-2/S-D'], reason: '未结束的录制' }))).toBe('retention.notClosed');
    // A longer term: the same moment is inside it.
    clock = termEnds(endA, 1);
    expect((await retention(2).expired()).map((x) => x.session)).not.toContain('S-A');
    expect(await refusal(retention(2).request(OFFICER, { kind: 'delete', sessions: ['room-1/S-A'], reason: '两年期限内删除' }))).toBe('retention.withinTerm');
  });

  it('an evidence mark keeps a session off the list and refuses its deletion, also at the approval', async () => {
    const r = retention();
    clock = termEnds(endA, 1) + 2 * 86_400_000; // S-B ended some hours after S-A
    const del = await r.request(OFFICER, { kind: 'delete', sessions: ['room-1/S-B'], reason: '保存期满删除' });
    const mark = await r.request(OFFICER, { kind: 'evidence', sessions: ['room-1/S-B'], reason: '作为证据', caseRef: '京朝市监罚〔2026〕102号' });
    await r.decide(LEADER, mark.id, { approve: true });
    expect((await r.expired()).map((x) => x.session)).not.toContain('S-B');
    expect(await refusal(r.decide(LEADER, del.id, { approve: true }))).toBe('retention.isEvidence');
    expect((await r.get(del.id))!.state).toBe('pending');
    expect(await r.classOf('room-1', 'S-B')).toEqual({ cls: 'evidence', caseRef: '京朝市监罚〔2026〕102号' });
  });

  it('two leaders deciding one request at once: one decision stands, one row in the register', async () => {
    const r = retention();
    const asked = await r.request(OFFICER, { kind: 'delete', sessions: ['room-1/S-A'], reason: '保存期满删除' });
    const got = await Promise.allSettled([r.decide(LEADER, asked.id, { approve: true }), r.decide(LEADER2, asked.id, { approve: false, note: '不同意' })]);
    expect(got.filter((g) => g.status === 'fulfilled')).toHaveLength(1);
    const rows = await db.query("SELECT 1 FROM desk_audit WHERE action IN ('retention-approve', 'retention-refuse') AND detail LIKE $1", [`{"request":"${asked.id}",%`]);
    expect(rows).toHaveLength(1);
  });

  it('an approval widened in the table is refused by toApply; the genuine one passes', async () => {
    const r = retention();
    const asked = await r.request(OFFICER, { kind: 'delete', sessions: ['room-1/S-A'], reason: '保存期满删除，第二次' });
    await r.decide(LEADER, asked.id, { approve: true });
    const mine = (await r.toApply()).find((x) => x.request.id === asked.id)!;
    expect(mine.refused).toBeUndefined();
    // What apply puts into the deletion event: the approval's row, signed by the desk's own certificate.
    expect(JSON.parse(mine.attestation!.record)).toMatchObject({ action: 'retention-approve', name: LEADER.name, detail: { request: asked.id, sessions: ['room-1/S-A'] } });
    // A desk that signs its rows with the receipt key (every receiver host has it), or not at all: nothing to apply.
    for (const [signer, why] of [['receipt', /not the desk's \(the certificate is for role "recgw-receipt"/], ['none', /not signed by the desk/]] as const) {
      const other = retention(1, signer);
      const req = await other.request(OFFICER, { kind: 'delete', sessions: ['room-1/S-A'], reason: `保存期满删除，${signer}` });
      await other.decide(LEADER, req.id, { approve: true });
      const got = (await other.toApply()).find((x) => x.request.id === req.id)!;
      expect(got.refused, signer).toMatch(why);
      expect(got.attestation).toBeUndefined();
    }
    await db.query('UPDATE desk_retention_requests SET sessions = $2 WHERE id = $1', [asked.id, JSON.stringify(['room-1/S-A', 'car-2/S-C'])]);
    const widened = (await r.toApply()).find((x) => x.request.id === asked.id)!;
    expect(widened.refused).toContain('no matching, validly signed row');
    // A leader's own request, approved in the table by nobody: no register row at all.
    const own = await r.request(LEADER, { kind: 'delete', sessions: ['car-2/S-C'], reason: '自己申请自己批' });
    expect(await refusal(r.decide(LEADER, own.id, { approve: true }))).toBe('access.selfApproval');
    await db.query("UPDATE desk_retention_requests SET state = 'approved', decider = $2 WHERE id = $1", [own.id, LEADER.name]);
    expect((await r.toApply()).find((x) => x.request.id === own.id)!.refused).toContain('no matching, validly signed row');
  });
});
