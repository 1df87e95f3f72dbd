/**
 * Retention by the rules (issue 18 part 4; docs/desk.md §10, evidence-format.md §18) over a real receiver store of two
 * devices (sealed MPEG-TS segments, the agency log), an SQLite index and the desk on the test clock: a deletion within
 * the term is refused by the desk and the CLI; an officer asks for room-2's session to be marked as evidence and a
 * leader approves it; a year and two days on, the expiry list (in Chromium, Chinese) holds room-1's session only, the
 * officer asks for its deletion, the leader approves; `recgw retention apply` is stopped after the signed event was
 * logged (the crash) and its next run finishes the removal; the store verifies VALID with the event and NOT VALID with
 * it removed or altered. Attacks: a self-approval, an evidence session asked for and forced into the tables, an
 * approval forged in the database, a deletion event signed with a device key, and deletion events the agency's own
 * keys signed and logged within the term and for an evidence session.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createPrivateKey, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { buildStore, ensureBuilt, makeSamples, verify, kinds, type BuiltStore } from '../helpers/store-fixture.js';
import { receiveDevice } from '../helpers/receiver-store.js';
import { launchChromium } from '../helpers/console.js';
import { DESK_ACCOUNTS, DESK_PASSWORD, signedIn, startDesk, type TestDesk } from '../helpers/desk.js';
import { cli } from '../helpers/index-store.js';
import { main } from '../../src/cli/main.js';
import { closeSealWorker } from '../../src/evidence/seal-worker.js';
import { caPaths } from '../../src/pki/ca.js';
import { identityPaths } from '../../src/pki/identity.js';
import { provisionReceiver } from '../../src/demo/provision.js';
import { openIndexDb, type IndexDb } from '../../src/index/database.js';
import { parseDeskConfig } from '../../src/desk/config.js';
import { DELETIONS_FILE, deletionHash, encodeDeletion, signDeletion, termEnds, type UnsignedDeletion } from '../../src/evidence/deletion-event.js';
import { hashHex } from '../../src/evidence/segment-scheme.js';
import { KeySigner } from '../../src/evidence/signer.js';
import { Filing, stage } from '../../src/receiver/filing.js';
import type { RetentionRemover } from '../../src/receiver/retention-remover.js';
import { attestationFor, attestedOrder, deskSigningFiles, withReceiverParts, withRemover } from '../helpers/retention.js';
import { receiptSigner } from '../helpers/report-store.js';
import { libfaketime } from '../helpers/faketime.js';
import { findManifest } from '../../src/evidence/find-manifest.js';
import { ENTRY, type SegmentManifest } from '../../src/evidence/types.js';
import { parseLine } from '../../src/evidence/entry.js';

const OFFICER = DESK_ACCOUNTS['evidence-officer'];
const LEADER = DESK_ACCOUNTS.leader;
const DAY = 86_400_000;

let ca: { dir: string; paths: ReturnType<typeof caPaths> };
let one: BuiltStore;
let two: BuiltStore;
let three: BuiltStore;
let store: string;
let database: string;
let desk: TestDesk;
let db: IndexDb;
let receiverConfig: string;
let clock = Date.now();
const started = Date.now();

const ref1 = (): string => `room-1/${one.session.sessionId}`;
const ref2 = (): string => `room-2/${two.session.sessionId}`;
const ref3 = (): string => `room-3/${three.session.sessionId}`;

/** `recgw …` in this process on the test clock. */
async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t), now: () => clock });
  return { code, out, err };
}

/** The sealed files of a device's session in the store. */
const sealedFiles = (s: BuiltStore): string[] => sealedManifests(s).map((m) => join(store, s.deviceId, m.file));

/** A copy of the store to spoil. */
function copyOfStore(): string {
  const d = tmp('recgw-retention-copy-');
  cpSync(store, d, { recursive: true });
  return d;
}

/**
 * What insiders holding the agency's receipt and log keys and the desk's signing key could do without the desk or the
 * CLI: sign a deletion event, log it, write its line and remove the files, skipping every check. The verifier must
 * still judge it. `edit` may take the desk's attestation away (the receiver side's keys alone).
 */
async function forcedDeletion(dir: string, s: BuiltStore, edit: (u: UnsignedDeletion) => UnsignedDeletion): Promise<void> {
  await withReceiverParts(ca.dir, dir, async ({ sql, log, evidence, logFiles, signer }) => {
    const ms = sealedManifests(s);
    const end = Date.parse(closedAt(s));
    const approval = { id: randomUUID(), proposer: OFFICER, approver: LEADER, approvedAt: new Date().toISOString() };
    const e = signDeletion(
      edit({
        id: randomUUID(),
        device: s.deviceId,
        session: s.session.sessionId,
        class: 'non-evidence',
        sessionEnd: closedAt(s),
        termYears: 1,
        expired: new Date(termEnds(end, 1)).toISOString(),
        approval,
        attestation: attestationFor(ca.dir, { device: s.deviceId, session: s.session.sessionId, approval }),
        files: ms.map((m) => ({ file: m.file, segment: m.segment, size: m.stored.size, hash: hashHex(m.stored), alg: 'sha256' as const })),
        time: new Date().toISOString(),
        receiver: 'receiver:insider',
      }),
      signer,
    );
    const line = encodeDeletion(e);
    await sql.transaction(async (tx) => {
      await log.append(tx, [{ v: 1, kind: 'deletion', device: e.device, hash: deletionHash(line), accepted: e.time }]);
      await stage(tx, e.device, DELETIONS_FILE, line);
    });
    await new Filing(evidence, sql).file(e.device);
    await logFiles.publish();
    for (const f of e.files) rmSync(join(dir, e.device, f.file));
  });
}

function sealedManifests(s: BuiltStore): SegmentManifest[] {
  const out: SegmentManifest[] = [];
  for (const l of readFileSync(join(store, s.deviceId, 'ledger.jsonl'), 'utf8').trimEnd().split('\n')) {
    const p = parseLine(l);
    if (p.ok && p.entry.type === ENTRY.segmentSealed) out.push(p.entry.body as unknown as SegmentManifest);
  }
  return out;
}

function closedAt(s: BuiltStore): string {
  for (const l of readFileSync(join(store, s.deviceId, 'ledger.jsonl'), 'utf8').trimEnd().split('\n')) {
    const p = parseLine(l);
    if (p.ok && p.entry.type === ENTRY.sessionClosed) return p.entry.body.end as string;
  }
  throw new Error('no session.closed');
}

const idOf = (location: string | string[] | undefined): string => /\/retention\/([0-9a-f-]{36})/.exec(String(location))![1]!;

const remover = <T>(fn: (r: RetentionRemover) => Promise<T>): Promise<T> => withRemover(ca.dir, store, () => clock, fn);

/** A client signed in as `name`, kept while the test clock stands (sign-ins are throttled; a jump ends sessions). */
const clients = new Map<string, { at: number; c: Awaited<ReturnType<typeof signedIn>> }>();
async function as(name: string): Promise<Awaited<ReturnType<typeof signedIn>>> {
  const k = clients.get(name);
  if (k && k.at === clock) return k.c;
  const c = await signedIn(desk.base, name);
  clients.set(name, { at: clock, c });
  return c;
}

/** The officer's request over HTTP (it must be taken: 303), and its id. */
async function ask(form: Record<string, string>): Promise<string> {
  const officer = await as(OFFICER);
  const a = await officer.req('POST', '/retention', { form: { _csrf: await officer.csrf('/retention'), ...form } });
  expect(a.status, a.text.slice(0, 500)).toBe(303);
  return idOf(a.headers.location);
}

/** The leader approves request `id` over HTTP. */
async function approve(id: string): Promise<void> {
  const leader = await as(LEADER);
  expect((await leader.req('POST', `/retention/${id}/decide`, { form: { _csrf: await leader.csrf(`/retention/${id}`), decision: 'approve' } })).status).toBe(303);
}

const verifyDir = async (dir: string) => verify(dir, one);

beforeAll(async () => {
  ensureBuilt();
  ca = makeCa();
  const samples = await makeSamples();
  one = await buildStore({ caDir: ca.dir, samples, deviceId: 'room-1' });
  two = await buildStore({ caDir: ca.dir, samples, deviceId: 'room-2' });
  three = await buildStore({ caDir: ca.dir, samples, deviceId: 'room-3' });
  store = tmp('recgw-retention-store-');
  await receiveDevice(one.deviceDir, store, ca.dir);
  await receiveDevice(two.deviceDir, store, ca.dir);
  await receiveDevice(three.deviceDir, store, ca.dir);
  database = `sqlite:${join(tmp('recgw-retention-db-'), 'index.db')}`;
  expect((await cli('index', 'rebuild', '--store', store, '--database', database, '--ca', ca.paths.caCert, '--quiet')).code).toBe(0);
  desk = await startDesk(ca.dir, database, store, { retention: { years: 1 }, sampleSigning: deskSigningFiles(ca.dir) }, () => clock);
  db = await openIndexDb(database);
  receiverConfig = provisionReceiver({ dir: tmp('recgw-retention-rx-'), caDir: ca.dir, name: 'receiver:retention', broker: 'mqtts://127.0.0.1:1', store }).configPath;
}, 300_000);

afterAll(async () => {
  await desk?.stop();
  await db?.close();
  await closeSealWorker();
  cleanupTmp();
});

describe('retention by the rules', () => {
  it('the store starts valid, and a term under one year is refused by the config naming the key and the minimum', async () => {
    expect((await verifyDir(store)).findings).toEqual([]);
    const base = { database, listen: { host: '127.0.0.1', port: 0 }, tls: { cert: 'c', key: 'k' }, ca: ca.paths.caCert };
    for (const years of [0, 0.5, -1, '1']) expect(() => parseDeskConfig({ ...base, retention: { years } }, '/')).toThrow(/retention\.years: must be a whole number of years, at least 1/);
    expect(parseDeskConfig({ ...base, retention: { years: 2 } }, '/').retention).toEqual({ years: 2 });
  });

  it('within its term nothing can be asked for, and nothing is on the expiry list', async () => {
    const c = await as(OFFICER);
    const a = await c.req('POST', '/retention', { form: { _csrf: await c.csrf('/retention'), kind: 'delete', sessions: ref1(), reason: '试图提前删除' } });
    expect(a.status).toBe(403);
    expect(a.text).toContain('保存期内');
    expect((await run('retention', 'list', '--desk-config', desk.configFile, '--json')).out).toContain('"expired":[]');
    const n = await db.query('SELECT 1 FROM desk_retention_requests');
    expect(n).toHaveLength(0);
  });

  it('marking as evidence is asked for with the case and approved by a leader, never by the requester', async () => {
    const leader = await as(LEADER);
    const own = await leader.req('POST', '/retention', { form: { _csrf: await leader.csrf('/retention'), kind: 'evidence', sessions: ref2(), caseRef: '京朝市监罚〔2026〕201号', reason: '作为案件证据使用' } });
    expect(own.status).toBe(303);
    const ownId = idOf(own.headers.location);
    const self = await leader.req('POST', `/retention/${ownId}/decide`, { form: { _csrf: await leader.csrf(`/retention/${ownId}`), decision: 'approve' } });
    expect(self.status).toBe(403);
    expect(self.text).toContain('不能审批自己提出的');
    const officer = await as(OFFICER);
    const noCase = await officer.req('POST', '/retention', { form: { _csrf: await officer.csrf('/retention'), kind: 'evidence', sessions: ref2(), reason: '作为案件证据使用' } });
    expect(noCase.status).toBe(400);
    const asked = await officer.req('POST', '/retention', { form: { _csrf: await officer.csrf('/retention'), kind: 'evidence', sessions: ref2(), caseRef: '京朝市监罚〔2026〕201号', reason: '作为案件证据使用' } });
    const id = idOf(asked.headers.location);
    const ok = await leader.req('POST', `/retention/${id}/decide`, { form: { _csrf: await leader.csrf(`/retention/${id}`), decision: 'approve', note: '同意' } });
    expect(ok.status).toBe(303);
    expect(await db.query('SELECT case_ref FROM desk_evidence_marks WHERE session_id = $1', [two.session.sessionId])).toEqual([{ case_ref: '京朝市监罚〔2026〕201号' }]);
  });

  it('a year and two days on, the expiry list in Chromium holds room-1 and room-3, not the evidence; the officer asks, the leader approves', async () => {
    clock = started + 367 * DAY;
    const list = JSON.parse((await run('retention', 'list', '--desk-config', desk.configFile, '--json')).out) as { expired: { device: string }[] };
    expect(list.expired.map((s) => s.device).sort()).toEqual(['room-1', 'room-3']);
    const { browser } = await launchChromium();
    try {
      const signIn = async (name: string): Promise<Page> => {
        const page = await (await (browser as Browser).newContext({ ignoreHTTPSErrors: true })).newPage();
        await page.goto(`${desk.base}/retention`);
        await page.fill('#name', name);
        await page.fill('#password', DESK_PASSWORD);
        await page.click('button[type=submit]');
        await page.waitForURL(/\/retention$/);
        return page;
      };
      const officer = await signIn(OFFICER);
      expect(await officer.textContent('h1')).toBe('保存期限与删除');
      expect(await officer.locator('#expired tbody tr').count()).toBe(2);
      expect(await officer.locator(`#expired tr[data-session="${ref2()}"]`).count()).toBe(0);
      expect(await officer.textContent('#marks')).toContain('京朝市监罚〔2026〕201号');
      await officer.check(`#expired input[value="${ref1()}"]`);
      await officer.fill('#p-reason', '保存期满，按制度删除');
      await officer.click('#propose button[type=submit]');
      await officer.waitForURL(/\/retention\/[0-9a-f-]{36}\?m=requested$/);
      expect(await officer.textContent('#r-state')).toBe('待审批');
      expect(await officer.locator('#decide').count()).toBe(0);
      const id = new URL(officer.url()).pathname.split('/')[2]!;
      const leader = await signIn(LEADER);
      await leader.goto(`${desk.base}/retention/${id}`);
      await leader.fill('#f-note', '同意删除');
      await leader.click('#approve');
      await leader.waitForURL(/\?m=approved$/);
      expect(await leader.textContent('#r-state')).toBe('已批准');
      expect(await leader.textContent('#r-decider')).toContain(LEADER);
      await leader.screenshot({ path: join(tmp('recgw-retention-shots-'), 'approved.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });

  it('an evidence session cannot be asked for, and one forced into the tables as approved is refused by apply', async () => {
    const c = await as(OFFICER);
    const a = await c.req('POST', '/retention', { form: { _csrf: await c.csrf('/retention'), kind: 'delete', sessions: ref2(), reason: '试图删除证据' } });
    expect(a.status).toBe(403);
    expect(a.text).toContain('已标记为证据');
    // Whoever writes the database without the desk's signing key: an approved deletion of the evidence session.
    await db.query(
      "INSERT INTO desk_retention_requests (id, kind, requested_ms, requester, reason, sessions, state, decided_ms, decider, decision_note) VALUES ($1, 'delete', $2, $3, '伪造', $4, 'approved', $2, $5, '')",
      [randomUUID(), clock, OFFICER, JSON.stringify([ref2()]), LEADER],
    );
  });

  it('apply is stopped after the event is logged (a crash); its next run finishes the removal, and refuses the forged approval', async () => {
    const [approved] = await db.query<{ id: string; decided_ms: number; requester: string; decider: string }>("SELECT id, decided_ms, requester, decider FROM desk_retention_requests WHERE kind = 'delete' AND reason <> '伪造'");
    // The first step of what apply does, then nothing: the process died with the event logged and every file still there.
    await remover((r) =>
      r.record(attestedOrder(ca.dir, { request: approved!.id, device: 'room-1', session: one.session.sessionId, termYears: 1, approval: { id: approved!.id, proposer: approved!.requester, approver: approved!.decider, approvedAt: new Date(Number(approved!.decided_ms)).toISOString() } })),
    );
    const files = sealedFiles(one);
    expect(files.length).toBeGreaterThan(1);
    expect(files.every((f) => existsSync(f))).toBe(true);
    expect(readFileSync(join(store, 'room-1', DELETIONS_FILE), 'utf8').split('\n').filter(Boolean)).toHaveLength(1);
    // Event logged, files still there: the store is valid as it stands (the deletion had not finished).
    expect((await verifyDir(store)).findings).toEqual([]);

    const r = await run('retention', 'apply', '--config', receiverConfig, '--desk-config', desk.configFile);
    expect(r.out).toContain('finished 1 deletion(s) an earlier run logged');
    expect(r.out).toContain(`deleted ${ref1()}`);
    expect(r.err).toContain('no matching, validly signed row in the register');
    expect(r.code).toBe(1);
    expect(files.every((f) => !existsSync(f))).toBe(true);
    expect(sealedFiles(two).every((f) => existsSync(f))).toBe(true);
    // One event, not two: the run that finished it did not sign another.
    expect(readFileSync(join(store, 'room-1', DELETIONS_FILE), 'utf8').split('\n').filter(Boolean)).toHaveLength(1);
    const done = await db.query<{ action: string }>("SELECT action FROM desk_audit WHERE action LIKE 'retention-%' ORDER BY seq");
    expect(done.map((d) => d.action)).toContain('retention-delete');
    expect((await db.query<{ applied_ms: number | null }>('SELECT applied_ms FROM desk_retention_requests WHERE id = $1', [approved!.id]))[0]!.applied_ms).not.toBeNull();
    // Run again: nothing more goes; the forged approval is refused again.
    const again = await run('retention', 'apply', '--config', receiverConfig, '--desk-config', desk.configFile);
    expect(again.out).not.toContain('deleted');
    expect(sealedFiles(two).every((f) => existsSync(f))).toBe(true);
  });

  it('the store verifies VALID with the deletion event, and NOT VALID with it removed or altered', async () => {
    const r = await verifyDir(store);
    expect(r.findings).toEqual([]);
    expect(r.devices.find((d) => d.deviceId === 'room-1')!.retentionDeleted).toBe(sealedFiles(one).length);
    const human = await run('verify', store, '--ca', ca.paths.caCert);
    expect(human.code).toBe(0);
    expect(human.out).toContain('deleted by the agency after the retention term');
    expect(human.out).toContain("Result: VALID. Nothing was deleted but under the agency's signed retention deletions after their term");

    // The session pages say what became of each session.
    const c = await as(OFFICER);
    const deleted = await c.get(`/sessions/room-1/${encodeURIComponent(one.session.sessionId)}`);
    expect(deleted.text).toMatch(/id="retention" data-class="non-evidence" data-deleted="1">保存：保存期满，录像文件已于 .* 经批准删除/);
    const marked = await c.get(`/sessions/room-2/${encodeURIComponent(two.session.sessionId)}`);
    expect(marked.text).toContain('作为证据随案保存（京朝市监罚〔2026〕201号）');

    const removed = copyOfStore();
    rmSync(join(removed, 'room-1', DELETIONS_FILE));
    expect(kinds(await verifyDir(removed))).toEqual(['bad-deletion', 'missing-segment']);

    const altered = copyOfStore();
    const path = join(altered, 'room-1', DELETIONS_FILE);
    writeFileSync(path, readFileSync(path, 'utf8').replace('"termYears":1', '"termYears":2'));
    expect(kinds(await verifyDir(altered))).toEqual(['bad-deletion', 'missing-segment']);
    const cli1 = await run('verify', altered, '--ca', ca.paths.caCert);
    expect(cli1.code).toBe(1);
  });

  it('a missing file without an event, and an event signed with a device key, are findings', async () => {
    const bare = copyOfStore();
    rmSync(sealedFiles(two)[0]!.replace(store, bare));
    expect(kinds(await verifyDir(bare))).toEqual(['missing-segment']);

    const forged = copyOfStore();
    const id = identityPaths(two.gateway.config.stateDir);
    const deviceSigner = new KeySigner(createPrivateKey(readFileSync(id.key, 'utf8')), readFileSync(id.cert, 'utf8'));
    const ms = sealedManifests(two);
    const e = signDeletion(
      {
        id: randomUUID(), device: 'room-2', session: two.session.sessionId, class: 'non-evidence', sessionEnd: closedAt(two), termYears: 1,
        expired: new Date(termEnds(Date.parse(closedAt(two)), 1)).toISOString(), approval: { id: randomUUID(), proposer: OFFICER, approver: LEADER, approvedAt: new Date(clock).toISOString() },
        files: ms.map((m) => ({ file: m.file, segment: m.segment, size: m.stored.size, hash: hashHex(m.stored), alg: 'sha256' as const })),
        time: new Date(clock).toISOString(), receiver: 'receiver:retention',
      },
      deviceSigner,
    );
    writeFileSync(join(forged, 'room-2', DELETIONS_FILE), `${encodeDeletion(e)}\n`);
    for (const m of ms) rmSync(join(forged, 'room-2', m.file));
    const r = await verifyDir(forged);
    expect(kinds(r)).toEqual(['bad-deletion', 'missing-segment']);
    expect(r.findings.find((f) => f.kind === 'bad-deletion')!.detail).toContain('not signed by the agency');
  });

  it('events the agency keys signed and logged within the term, or for evidence, are findings', async () => {
    const early = copyOfStore();
    await forcedDeletion(early, two, (u) => u);
    const r = await verifyDir(early);
    expect(kinds(r)).toEqual(['deletion-within-term']);
    expect(r.findings[0]!.detail).toContain('inside the session');

    const short = copyOfStore();
    await forcedDeletion(short, two, (u) => ({ ...u, termYears: 0, expired: u.sessionEnd }));
    expect(kinds(await verifyDir(short))).toEqual(['deletion-within-term']);

    const self = copyOfStore();
    await forcedDeletion(self, two, (u) => ({ ...u, approval: { ...u.approval, approver: OFFICER }, time: new Date(started + 400 * DAY).toISOString() }));
    const selfReport = await verifyDir(self);
    expect(kinds(selfReport)).toEqual(['bad-deletion', 'missing-segment']);
    expect(selfReport.findings.find((f) => f.kind === 'bad-deletion')!.detail).toContain('approved by its own proposer');

    const evidence = copyOfStore();
    await forcedDeletion(evidence, two, (u) => ({ ...u, class: 'evidence' as 'non-evidence', time: new Date(started + 400 * DAY).toISOString() }));
    expect(kinds(await verifyDir(evidence))).toEqual(['deletion-of-evidence']);
  });

  it('the receiver side\'s keys alone delete nothing: an event without the desk\'s signed approval, with one the receipt key signed, or with the approval of another session, is a bad deletion', async () => {
    const later = new Date(started + 400 * DAY).toISOString();
    const cases: [string, (u: UnsignedDeletion) => UnsignedDeletion, RegExp][] = [
      ['none', ({ attestation: _a, ...u }) => ({ ...u, time: later }), /carries no approval the evidence desk signed/],
      // The receipt key is the agency's and on every receiver host: its signature on an approval row proves no leader acted.
      ['receipt key', (u) => ({ ...u, time: later, attestation: attestationFor(ca.dir, { device: u.device, session: u.session, approval: u.approval }, receiptSigner(ca.dir)) }), /not signed by the evidence desk/],
      ['another session', (u) => ({ ...u, time: later, attestation: attestationFor(ca.dir, { device: u.device, session: one.session.sessionId, approval: u.approval }) }), /does not name session/],
      ['another request', (u) => ({ ...u, time: later, approval: { ...u.approval, id: 'other' } }), /not the desk's approval of deletion request other/],
    ];
    for (const [what, edit, why] of cases) {
      const dir = copyOfStore();
      await forcedDeletion(dir, two, edit);
      const r = await verifyDir(dir);
      expect(kinds(r), what).toEqual(['bad-deletion', 'missing-segment']);
      expect(r.findings.find((f) => f.kind === 'bad-deletion')!.detail, what).toMatch(why);
    }
    // And the same insiders holding the desk's key too: accepted (the term and class checks of the next test apply).
    const both = copyOfStore();
    await forcedDeletion(both, two, (u) => ({ ...u, time: later }));
    expect(kinds(await verifyDir(both))).toEqual([]);
  });

  it('a manifest the event names wrongly is a bad deletion', async () => {
    const wrong = copyOfStore();
    const m = await findManifest(join(store, 'room-2'), sealedManifests(two)[0]!.segment);
    await forcedDeletion(wrong, two, (u) => ({ ...u, time: new Date(started + 400 * DAY).toISOString(), files: [{ ...u.files[0]!, hash: '0'.repeat(64) }, ...u.files.slice(1)] }));
    expect(m).toBeDefined();
    expect(kinds(await verifyDir(wrong))).toEqual(['bad-deletion', 'missing-segment']);
  });

  it('a deletion approved and then overtaken by an evidence mark is refused by apply; the remover itself refuses a session within its term', async () => {
    await approve(await ask({ kind: 'delete', sessions: ref3(), reason: '保存期满，按制度删除' }));
    await approve(await ask({ kind: 'evidence', sessions: ref3(), caseRef: '京朝市监罚〔2026〕305号', reason: '后来发现需要作为证据' }));
    const r = await run('retention', 'apply', '--config', receiverConfig, '--desk-config', desk.configFile);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${ref3()} 已标记为证据，随案保存：不能删除`);
    expect(sealedFiles(three).every((f) => existsSync(f))).toBe(true);

    // Below the desk: the receiver side's own check of the term, by its clock, whatever the order says.
    const at = clock;
    clock = started;
    try {
      const logBefore = readFileSync(join(store, 'log', 'checkpoint'), 'utf8');
      await expect(remover((r) => r.record(attestedOrder(ca.dir, { request: randomUUID(), device: 'room-3', session: three.session.sessionId, termYears: 1, approval: { id: 'x', proposer: OFFICER, approver: LEADER, approvedAt: new Date().toISOString() } })))).rejects.toThrow(/within its term of 1 year\(s\)/);
      await expect(remover((r) => r.record(attestedOrder(ca.dir, { request: randomUUID(), device: 'room-3', session: three.session.sessionId, termYears: 0, approval: { id: 'x', proposer: OFFICER, approver: LEADER, approvedAt: new Date().toISOString() } })))).rejects.toThrow(/shorter than the 1 year/);
      expect(readFileSync(join(store, 'log', 'checkpoint'), 'utf8')).toBe(logBefore);
      expect(existsSync(join(store, 'room-3', DELETIONS_FILE))).toBe(false);
    } finally {
      clock = at;
    }
  });

  it('a release approved by a leader puts the session back on the expiry list', async () => {
    await approve(await ask({ kind: 'release', sessions: ref2(), reason: '案件已结，解除证据标记' }));
    const list = JSON.parse((await run('retention', 'list', '--desk-config', desk.configFile, '--json')).out) as { expired: { device: string }[] };
    expect(list.expired.map((s) => s.device)).toEqual(['room-2']);
    const audit = await run('desk', 'audit-check', '--config', desk.configFile);
    expect(audit.code).toBe(0);
  });

  it('a logged deletion whose removal fails stays logged, is named, and is finished once the store lets it', async () => {
    const dir = copyOfStore();
    const [first, ...rest] = sealedManifests(two).map((m) => join(dir, 'room-2', m.file));
    await withRemover(ca.dir, dir, () => clock, (r) =>
      r.record(attestedOrder(ca.dir, { request: randomUUID(), device: 'room-2', session: two.session.sessionId, termYears: 1, approval: { id: 'x', proposer: OFFICER, approver: LEADER, approvedAt: new Date(clock).toISOString() } })),
    );
    // Something the store cannot unlink where the first file was.
    rmSync(first!);
    mkdirSync(join(first!, 'x'), { recursive: true });
    const stuck = await withRemover(ca.dir, dir, () => clock, (r) => r.finishAll());
    expect(stuck.finished).toBe(0);
    expect(stuck.failed).toHaveLength(1);
    expect(stuck.failed[0]!.why).toMatch(/EISDIR|EPERM|directory/i);
    expect(rest.every((f) => existsSync(f))).toBe(true);
    expect(kinds(await verifyDir(dir))).toEqual(['missing-segment']);
    rmSync(first!, { recursive: true });
    const done = await withRemover(ca.dir, dir, () => clock, (r) => r.finishAll());
    expect(done).toEqual({ finished: 1, failed: [] });
    expect(rest.every((f) => !existsSync(f))).toBe(true);
    expect((await verifyDir(dir)).findings).toEqual([]);
  });

  it('apply killed (SIGKILL) as soon as its event is in the store: the event came before any removal, and the next run finishes', async () => {
    // room-2 was released: past its term by the test clock. The officer asks, the leader approves.
    await approve(await ask({ kind: 'delete', sessions: ref2(), reason: '解除后保存期满删除' }));
    const files = sealedFiles(two);
    const order: string[] = [];
    const device = join(store, 'room-2');
    // The child's clock a year and three days on (libfaketime); the machine's is not touched.
    const child = spawn(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'recgw.js'), 'retention', 'apply', '--config', receiverConfig, '--desk-config', desk.configFile], {
      env: { ...process.env, LD_PRELOAD: libfaketime(), FAKETIME: '+368d', FAKETIME_DONT_FAKE_MONOTONIC: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (b: Buffer) => void (err += b.toString()));
    const segWatch = watch(join(device, 'segments'), (_e, name) => void order.push(`seg ${String(name)}`));
    const dirWatch = watch(device, (_e, name) => {
      if (name !== DELETIONS_FILE) return;
      order.push('event');
      child.kill('SIGKILL');
    });
    const exit = await new Promise<NodeJS.Signals | number | null>((res) => child.on('exit', (code, signal) => res(signal ?? code)));
    segWatch.close();
    dirWatch.close();
    expect(exit, err).toBe('SIGKILL');
    expect(order[0]).toBe('event');
    const left = files.filter((f) => existsSync(f)).length;
    console.info('[retention] after the kill:', order.join(', '), left, 'of', files.length, 'files left');
    // Killed with every file there, the published log may not have the event's leaf yet (the next start publishes
    // it); once a file is gone, the event is in the store and in the published log, and the store is valid.
    const after = await verifyDir(store);
    if (left < files.length) expect(after.findings).toEqual([]);
    else for (const f of after.findings) expect([f.kind, f.detail]).toEqual(['bad-deletion', expect.stringContaining('the agency log does not hold it')]);
    const again = await run('retention', 'apply', '--config', receiverConfig, '--desk-config', desk.configFile);
    expect(again.out).toContain(`deleted ${ref2()}`);
    expect(files.every((f) => !existsSync(f))).toBe(true);
    expect(readFileSync(join(device, DELETIONS_FILE), 'utf8').split('\n').filter(Boolean)).toHaveLength(1);
    const v = await verifyDir(store);
    expect(v.findings).toEqual([]);
    expect(v.devices.find((d) => d.deviceId === 'room-2')!.retentionDeleted).toBe(files.length);
  });
});
