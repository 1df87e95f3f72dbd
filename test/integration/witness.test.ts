/**
 * Witnesses outside the agency cosign its growing log; a forked log (a second checkpoint of a size already
 * cosigned, with another root) and a shrunken one are refused by the witnesses (`recgw witness serve`, real
 * processes speaking c2sp.org/tlog-witness) and raise the alarm at a gateway. A witness cosignature is checked with
 * the openssl command line as well as by the verifier.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { ensureBuilt } from '../helpers/store-fixture.js';
import { initWitness, serveWitness, type TestWitness } from '../helpers/witness.js';
import { openReceiverDb } from '../../src/receiver/store-db.js';
import { AgencyLog, type LogHead } from '../../src/receiver/agency-log.js';
import { SqliteReceiverSql } from '../../src/receiver/sqlite-receiver-sql.js';
import type { ReceiverSql } from '../../src/receiver/receiver-sql.js';
import { LogFiles } from '../../src/receiver/log-files.js';
import { WitnessClient } from '../../src/receiver/witness-client.js';
import { caPaths, initCa, logOrigin } from '../../src/pki/ca.js';
import { checkSm2Signature } from '../../src/tlog/sm2-note.js';
import { caAgencyLog } from '../helpers/receiver-store.js';
import { recipe, sh } from '../helpers/doc-recipes.js';
import { formatNote, parseNote, type Note } from '../../src/tlog/note.js';
import { formatProof, parseProof } from '../../src/tlog/proof-text.js';
import { kvGet } from '../../src/state/db.js';
import { checkCosignatures } from '../../src/tlog/checkpoint.js';
import { startEvidenceCore, type EvidenceCore } from '../../src/app/evidence-core.js';
import { LogWatch } from '../../src/uplink/log-watch.js';
import { createLogger, silentLogger } from '../../src/util/log.js';
import type { EntryLeaf, LogLeaf } from '../../src/evidence/log-leaf.js';
import { makeReceipt } from '../../src/evidence/receipt.js';
import { receiptSigner } from '../helpers/report-store.js';

const DEADLINE = '2099-01-01T00:00:00.000Z';
const BIN = join(import.meta.dirname, '../../bin/recgw.js');
const recgw = (...args: string[]): string => execFileSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });

let ca: ReturnType<typeof makeCa>;
const witnesses: TestWitness[] = [];

const leaf = (i: number, salt = ''): LogLeaf => ({ v: 1, kind: 'entry', device: 'room-1', seq: i, hash: Buffer.alloc(32, i % 256).toString('hex').slice(0, 62) + (salt ? 'ff' : '00'), accepted: '2026-12-06T10:00:00.000Z' });

interface StoreLog {
  sql: ReceiverSql;
  log: AgencyLog;
  files: LogFiles;
  client: WitnessClient;
  append(from: number, to: number, salt?: string): Promise<void>;
  head(): Promise<LogHead>;
}

/** A receiver store's log (receiver.db + published files) with its own witness client, as a receiver keeps it. */
async function agencyLog(store: string): Promise<StoreLog> {
  const p = caPaths(ca.dir);
  const sql = new SqliteReceiverSql(openReceiverDb(store));
  const log = new AgencyLog(sql, createPrivateKey(readFileSync(p.logKey, 'utf8')), logOrigin(readFileSync(p.caCert, 'utf8')));
  const files = new LogFiles(store, log);
  await files.republish(readFileSync(p.logCert, 'utf8'));
  const logs = createLogger('witness-client', { level: 'debug', sink: (l) => seen.push(JSON.parse(l) as { msg: string }) });
  const client = new WitnessClient(files.dir, log, witnesses.map((w) => ({ url: w.url, vkey: w.vkey })), logs);
  return {
    sql,
    log,
    files,
    client,
    async append(from, to, salt = '') {
      const leaves: LogLeaf[] = [];
      for (let i = from; i < to; i++) leaves.push(leaf(i, salt));
      await sql.transaction((tx) => log.append(tx, leaves));
      await files.publish();
      client.kick();
    },
    head: () => log.head(),
  };
}
const seen: { msg: string }[] = [];

beforeAll(async () => {
  ensureBuilt();
  ca = makeCa();
  for (const name of ['sfj.example.gov.cn/witness1', 'procuratorate.example.gov.cn/w2']) {
    witnesses.push(await serveWitness(initWitness(name, [caPaths(ca.dir).logVkey])));
  }
}, 60_000);

afterAll(async () => {
  for (const w of witnesses) await w.stop();
  cleanupTmp();
});

const cosigners = (text: string): string[] => {
  const n = parseNote(text);
  if ('why' in n) throw new Error(n.why);
  return checkCosignatures(n, witnesses.map((w) => ({ name: w.vkey.name, key: w.vkey.key }))).ok.map((c) => c.name).sort();
};

describe('witnesses of the agency log', () => {
  const store = (): string => tmp('recgw-wstore-');
  let genuine: StoreLog;
  let gateway: EvidenceCore;
  let watch: LogWatch;
  const logState = async (l: AgencyLog, from: number) => {
    const head = await l.head();
    const consistency = await l.consistency(Math.min(from, head.size), head.size);
    return { checkpoint: head.checkpoint, consistency: consistency.map((h) => h.toString('base64')), cert: readFileSync(caPaths(ca.dir).logCert, 'utf8') };
  };

  beforeAll(async () => {
    genuine = await agencyLog(store());
    gateway = await startEvidenceCore(makeGateway(ca.dir, { deviceId: 'room-1' }).config, silentLogger);
    watch = new LogWatch(gateway.db, gateway.ledger, [readFileSync(caPaths(ca.dir).caCert, 'utf8')], Date.now, silentLogger);
  });
  afterAll(async () => {
    await gateway.stop();
    await genuine.sql.close();
  });

  it('two witnesses cosign a growing log, across tile boundaries, each step proved consistent with the last', async () => {
    for (const [from, to] of [
      [0, 3],
      [3, 300],
      [300, 70_000 / 100],
    ] as const) {
      await genuine.append(from, to);
      await genuine.client.idle();
      const witnessed = readFileSync(join(genuine.files.dir, 'witnessed'), 'utf8');
      expect(witnessed.split('\n')[1]).toBe(String(to));
      expect(cosigners(witnessed)).toEqual(witnesses.map((w) => w.vkey.name).sort());
      watch.state(await logState(genuine.log, watch.size()));
      expect(watch.size()).toBe(to);
    }
    expect(watch.standing()).toEqual([]);
    for (const w of witnesses) expect(recgw('witness', 'show', '--state', w.dir)).toContain(`${genuine.log.origin}: 700 leaves`);
    // Now that the gateway knows the log, a receipt that does not prove its item in it is refused.
    const one = leaf(1) as EntryLeaf;
    const bare = makeReceipt({ kind: 'entries', device: 'room-1', through: { seq: 1, hash: one.hash }, deadline: DEADLINE, storedAt: one.accepted, receiver: 'receiver:1' }, receiptSigner(ca.dir));
    expect(watch.receipt(bare)).toMatch(/no proof that its item is in the agency log/);
    const head = await genuine.head();
    const proved = { ...bare, log: await genuine.log.proof(1, 700, head.checkpoint) };
    expect(watch.receipt(proved)).toBeUndefined();
  }, 60_000);

  it("a witness's cosignature verifies with the openssl command line (cosignature/v1 message, Ed25519)", () => {
    const witnessed = readFileSync(join(genuine.files.dir, 'witnessed'), 'utf8');
    const n = parseNote(witnessed);
    if ('why' in n) throw new Error(n.why);
    const sig = n.sigs.find((s) => s.name === witnesses[0]!.vkey.name)!;
    const time = sig.sig.readBigUInt64BE(0);
    const dir = tmp('recgw-cosig-');
    writeFileSync(join(dir, 'msg'), `cosignature/v1\ntime ${time}\n${n.text}`);
    writeFileSync(join(dir, 'sig'), sig.sig.subarray(8));
    writeFileSync(join(dir, 'pub.pem'), witnesses[0]!.vkey.key.export({ format: 'pem', type: 'spki' }));
    expect(execFileSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', join(dir, 'pub.pem'), '-rawin', '-in', join(dir, 'msg'), '-sigfile', join(dir, 'sig')], { encoding: 'utf8' })).toMatch(/Signature Verified Successfully/);
    writeFileSync(join(dir, 'msg'), `cosignature/v1\ntime ${time + 1n}\n${n.text}`);
    expect(() => execFileSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', join(dir, 'pub.pem'), '-rawin', '-in', join(dir, 'msg'), '-sigfile', join(dir, 'sig')], { stdio: 'pipe' })).toThrow();
  });

  it('a forked log (same size, another root) is refused by both witnesses, kept as evidence, and alarms the gateway', async () => {
    const fork = await agencyLog(store());
    await fork.append(0, 3);
    await fork.append(3, 700, 'forged');
    await fork.client.idle();
    expect(existsSync(join(fork.files.dir, 'witnessed'))).toBe(false);
    for (const w of witnesses) {
      const evidence = readdirSync(join(w.dir, 'evidence'));
      expect(evidence.some((f) => /forked|inconsistent/.test(f))).toBe(true);
      // The witness still stands by the genuine log.
      expect(recgw('witness', 'show', '--state', w.dir)).toContain(`700 leaves, root ${(await genuine.head()).checkpoint.split('\n')[2]}`);
    }
    expect(seen.some((l) => /forked/.test(l.msg))).toBe(true);
    // The gateway has checked the genuine checkpoint of 700 leaves; the fork offers another of 700.
    const before = gateway.ledger.head()!.seq;
    watch.state(await logState(fork.log, watch.size()));
    expect(watch.standing().map((a) => a.level)).toEqual(['forked']);
    const alarm = gateway.ledger.entry(before + 1)!;
    expect(alarm.type).toBe('alarm.raised');
    await fork.sql.close();
  }, 60_000);

  it('a shrunken log is refused by the witnesses and alarms the gateway', async () => {
    const shrunk = await agencyLog(store());
    await shrunk.append(0, 100);
    await shrunk.client.idle();
    for (const w of witnesses) expect(readdirSync(join(w.dir, 'evidence')).some((f) => /shrank/.test(f))).toBe(true);
    expect(seen.some((l) => /larger checkpoint of this log than the log now has/.test(l.msg))).toBe(true);
    watch.state(await logState(shrunk.log, watch.size()));
    expect(watch.standing().map((a) => a.level)).toEqual(['forked', 'shrank']);
    await shrunk.sql.close();
  }, 60_000);
});

describe("a gm log's SM2 checkpoint line (evidence-format.md §17.9) through witnesses and a gateway", () => {
  it('a witness cosigns checkpoints that carry it, log/witnessed keeps it valid beside the cosignature, a gateway accepts them', async () => {
    const gmDir = join(tmp('recgw-wgm-'), 'ca');
    const gm = initCa({ out: gmDir, suite: 'gm' });
    const w = await serveWitness(initWitness('sfj.example.gov.cn/gm-witness', [gm.logVkey]));
    const store = tmp('recgw-wgm-store-');
    const sql = new SqliteReceiverSql(openReceiverDb(store));
    const gateway = await startEvidenceCore(makeGateway(ca.dir, { deviceId: 'room-9' }).config, silentLogger);
    try {
      const { log, certPem, sm2CertPem } = caAgencyLog(sql, gmDir);
      const files = new LogFiles(store, log);
      await files.republish(certPem, sm2CertPem);
      const client = new WitnessClient(files.dir, log, [{ url: w.url, vkey: w.vkey }], silentLogger);
      await sql.transaction((tx) => log.append(tx, [0, 1, 2, 3, 4].map((i) => leaf(i))));
      await files.publish();
      client.kick();
      await client.idle();
      const witnessedFile = join(files.dir, 'witnessed');
      const n = parseNote(readFileSync(witnessedFile, 'utf8'));
      if ('why' in n) throw new Error(n.why);
      expect(n.sigs.map((s) => s.name)).toEqual([log.origin, log.origin, w.vkey.name]);
      expect(checkSm2Signature(n, log.origin, new X509Certificate(readFileSync(gm.logSm2Cert)).publicKey).state).toBe('valid');
      expect(checkCosignatures(n, [{ name: w.vkey.name, key: w.vkey.key }]).ok).toHaveLength(1);
      const r = sh(recipe('check-gm-checkpoint.sh'), [witnessedFile, join(files.dir, 'log-sm2-cert.pem'), gm.caCert]);
      expect(r.code, r.err).toBe(0);
      // A gateway checks the Ed25519 line and keeps the checkpoint whole.
      const watch = new LogWatch(gateway.db, gateway.ledger, [readFileSync(gm.caCert, 'utf8')], Date.now, silentLogger);
      const head = await log.head();
      watch.state({ checkpoint: head.checkpoint, consistency: [], cert: certPem });
      expect(watch.size()).toBe(5);
      expect(watch.standing()).toEqual([]);
    } finally {
      await gateway.stop();
      await sql.close();
      await w.stop();
    }
  }, 60_000);

  it("a gateway given the SM2 log certificate refuses a checkpoint signed with the Ed25519 key alone, also after a restart, and a receipt whose checkpoint's SM2 line fails", async () => {
    const gmDir = join(tmp('recgw-wgm2-'), 'ca');
    const gm = initCa({ out: gmDir, suite: 'gm' });
    const sql = new SqliteReceiverSql(openReceiverDb(tmp('recgw-wgm2-store-')));
    const gateway = await startEvidenceCore(makeGateway(ca.dir, { deviceId: 'room-1' }).config, silentLogger);
    try {
      const { log, certPem, sm2CertPem } = caAgencyLog(sql, gmDir);
      const caPems = [readFileSync(gm.caCert, 'utf8')];
      const grow = (from: number, to: number) => sql.transaction((tx) => log.append(tx, Array.from({ length: to - from }, (_, i) => leaf(from + i))));
      const dropSm2 = (n: Note): Note => ({ text: n.text, sigs: [n.sigs[0]!] });
      const spoilSm2 = (n: Note): Note => ({ text: n.text, sigs: [n.sigs[0]!, { ...n.sigs[1]!, sig: Buffer.from(n.sigs[1]!.sig).fill(7, 10, 20) }] });
      const edited = (cp: string, edit: (n: Note) => Note): string => {
        const n = parseNote(cp);
        if ('why' in n) throw new Error(n.why);
        return formatNote(edit(n));
      };
      const state = async (from: number, edit?: (n: Note) => Note, withSm2Cert = true) => {
        const head = await log.head();
        const consistency = (await log.consistency(from, head.size)).map((h) => h.toString('base64'));
        return { checkpoint: edit ? edited(head.checkpoint, edit) : head.checkpoint, consistency, cert: certPem, ...(withSm2Cert ? { sm2Cert: sm2CertPem } : {}) };
      };
      let watch = new LogWatch(gateway.db, gateway.ledger, caPems, Date.now, silentLogger);
      await grow(0, 5);
      watch.state(await state(0));
      expect(watch.size()).toBe(5);
      expect(kvGet(gateway.db, 'uplink.log.sm2cert')).toBe(sm2CertPem);

      // Whoever holds the log's Ed25519 key but not its SM2 key: the SM2 line dropped, the SM2 certificate left out.
      await grow(5, 9);
      watch.state(await state(5, dropSm2, false));
      expect(watch.size()).toBe(5);
      expect(watch.standing().map((a) => a.level)).toEqual(['bad-signature']);
      expect(watch.standing()[0]!.detail).toMatch(/^the checkpoint of 9 leaves carries no SM2 signature by the log's SM2 certificate \(key ID [0-9a-f]{8}\): it was signed with the log's Ed25519 key alone$/);
      // After a restart the gateway still has the SM2 certificate: an SM2 line that does not verify is refused too.
      watch = new LogWatch(gateway.db, gateway.ledger, caPems, Date.now, silentLogger);
      watch.state(await state(5, spoilSm2, false));
      expect(watch.size()).toBe(5);
      expect(watch.standing().map((a) => a.level)).toEqual(['bad-signature', 'bad-signature']);
      expect(watch.standing()[1]!.detail).toMatch(/has an SM2 signature \(key ID [0-9a-f]{8}\) that does not verify with the log's SM2 certificate/);
      // The genuine checkpoint, both lines, moves it on.
      watch.state(await state(5));
      expect(watch.size()).toBe(9);

      const one = leaf(1) as EntryLeaf;
      const bare = makeReceipt({ kind: 'entries', device: 'room-1', through: { seq: 1, hash: one.hash }, deadline: DEADLINE, storedAt: one.accepted, receiver: 'receiver:1' }, receiptSigner(ca.dir));
      const proof = await log.proof(1, 9, (await log.head()).checkpoint);
      const withCheckpoint = (edit: (n: Note) => Note): string => {
        const p = parseProof(proof);
        if ('why' in p) throw new Error(p.why);
        return formatProof({ ...p, checkpoint: edited(p.checkpoint, edit) });
      };
      expect(watch.receipt({ ...bare, log: proof })).toBeUndefined();
      // A receipt from before the log signed with SM2 has no SM2 line: accepted. A failing SM2 line never is.
      expect(watch.receipt({ ...bare, log: withCheckpoint(dropSm2) })).toBeUndefined();
      expect(watch.receipt({ ...bare, log: withCheckpoint(spoilSm2) })).toMatch(/^the checkpoint in its log proof has an SM2 signature .* does not verify/);
      expect(watch.standing().map((a) => a.level)).toEqual(['bad-signature', 'bad-signature', 'bad-signature']);
    } finally {
      await gateway.stop();
      await sql.close();
    }
  }, 60_000);
});
