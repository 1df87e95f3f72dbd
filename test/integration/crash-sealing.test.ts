/**
 * Crash safety of sealing: a real gateway process (test/helpers/crash-sealer-worker.js, running dist/) enqueues
 * and seals segments until it is killed with SIGKILL - at random moments, and at one precise step. Starting the
 * evidence core again must finish the job: every committed segment sealed exactly once, no plaintext left for a
 * sealed segment, no half-written sealed file, and a ledger that verifies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { ensureBuilt, makeSamples } from '../helpers/store-fixture.js';
import { startEvidenceCore, stateDbPath } from '../../src/app/evidence-core.js';
import { exportDevice } from '../../src/evidence/export.js';
import { ENTRY, type SessionContext } from '../../src/evidence/types.js';
import { openStateDb } from '../../src/state/db.js';
import { loadPrivateKey } from '../../src/pki/keys.js';
import { silentLogger } from '../../src/util/log.js';
import { verifyStore } from '../../src/verify/verifier.js';
import type { Provisioned } from '../../src/demo/provision.js';

const WORKER = join(import.meta.dirname, '..', 'helpers', 'crash-sealer-worker.js');
const SOURCE = 'cam1';

let gw: Provisioned;
let samples: string[];
let session: SessionContext;
let t0: number;
/** Segments committed so far, across all runs: the next one gets this index (and start time t0 + index s). */
let next = 0;

beforeAll(async () => {
  ensureBuilt();
  const ca = makeCa();
  gw = makeGateway(ca.dir, { deviceId: 'crash-1' });
  // Real MPEG-TS: the three 1 s segments, and one of about 1 MB (TS concatenates) so that sealing takes a while.
  const cam = (await makeSamples()).cam1.map((s) => s.path);
  const big = join(tmp('recgw-big-'), 'big.ts');
  writeFileSync(big, Buffer.concat(Array.from({ length: 4 }, () => cam.map((p) => readFileSync(p))).flat()));
  samples = [...cam, big];
  t0 = Date.now() - 3_600_000;
  session = { sessionId: 'S-crash', matter: 'hearing', caseRef: 'CRASH-1', officers: [{ name: '王五', badge: '13010003' }] };
  const core = await startEvidenceCore(gw.config, silentLogger);
  core.ledger.append(ENTRY.sessionOpened, { ...session, start: new Date(t0).toISOString(), sources: [SOURCE] });
  await core.stop();
}, 120_000);
afterAll(cleanupTmp);

interface RunResult {
  enqueued: string[];
  sealed: string[];
  exit: string;
}

/** Run the worker; kill it after `killAfterMs` from its "ready", or let it die by itself (dieAfterSealed). */
async function runWorker(o: { prefix: string; count: number; killAfterMs?: number; dieAfterSealed?: number }): Promise<RunResult> {
  const arg = { config: gw.configPath, samples, session, sourceId: SOURCE, prefix: o.prefix, first: next, count: o.count, t0, dieAfterSealed: o.dieAfterSealed };
  const child = spawn(process.execPath, [WORKER, JSON.stringify(arg)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buf = '';
  let err = '';
  let timer: NodeJS.Timeout | undefined;
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    for (const l of parts) {
      lines.push(l);
      if (l === 'ready' && o.killAfterMs !== undefined) timer = setTimeout(() => child.kill('SIGKILL'), o.killAfterMs);
    }
  });
  const exit = await new Promise<string>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? `code ${code}`)));
  clearTimeout(timer);
  if (!lines.includes('ready')) throw new Error(`the worker did not start (${exit}): ${err}`);
  return {
    enqueued: lines.filter((l) => l.startsWith('enqueued ')).map((l) => l.slice(9)),
    sealed: lines.filter((l) => l.startsWith('sealed ')).map((l) => l.slice(7)),
    exit,
  };
}

interface Snapshot {
  pending: string[];
  indexed: string[];
  tmpFiles: string[];
}

/** The state a crash left, read without changing it. */
function snapshot(): Snapshot {
  const db = openStateDb(stateDbPath(gw.config.stateDir), { readonly: true, check: false });
  try {
    const names = (sql: string): string[] => (db.prepare(sql).all() as { name: string }[]).map((r) => r.name);
    return {
      pending: names('SELECT name FROM pending_segments'),
      indexed: names('SELECT name FROM segments'),
      tmpFiles: existsSync(sealedDir()) ? readdirSync(sealedDir()).filter((f) => f.endsWith('.tmp')) : [],
    };
  } finally {
    db.close();
  }
}

const sealedDir = (): string => join(gw.config.stateDir, 'sealed');
const spoolDir = (): string => join(gw.config.stateDir, 'spool', SOURCE);

/**
 * Start the evidence core again (its Sealer.start finishes the queue) and check everything a crash may have
 * left half done. Returns the names this run's worker got committed, in order.
 */
async function recoverAndCheck(prefix: string, run: RunResult): Promise<string[]> {
  const core = await startEvidenceCore(gw.config, silentLogger);
  try {
    expect(core.sealer.pendingCount()).toBe(0);
    const indexed = (core.db.prepare('SELECT name, file FROM segments ORDER BY ledger_seq').all() as { name: string; file: string }[]);
    const indexedNames = new Set(indexed.map((r) => r.name));
    // Every segment the worker said it enqueued is sealed now.
    for (const n of run.enqueued) expect(indexedNames.has(n), `${n} was enqueued but is not sealed after recovery`).toBe(true);
    // Sealed exactly once: one manifest per name in the whole ledger, and the index agrees with the ledger.
    const manifests = new Map<string, number>();
    for (const { line } of core.ledger.lines(0)) {
      const e = JSON.parse(line) as { type: string; body: { segment: string } };
      if (e.type === ENTRY.segmentSealed) manifests.set(e.body.segment, (manifests.get(e.body.segment) ?? 0) + 1);
    }
    for (const [name, n] of manifests) expect(n, `${name} has ${n} manifests`).toBe(1);
    expect([...manifests.keys()].sort()).toEqual([...indexedNames].sort());
    // No plaintext left for a sealed segment, no half-written sealed file, no sealed file without a manifest.
    const spool = existsSync(spoolDir()) ? readdirSync(spoolDir()) : [];
    for (const n of indexedNames) expect(spool, `plaintext of sealed segment ${n} is still in the spool`).not.toContain(`${n}.ts`);
    const files = readdirSync(sealedDir());
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(files.sort()).toEqual(indexed.map((r) => r.file.split('/').at(-1)!).sort());
    // The committed segments of this run are a prefix of what the worker tried: no holes in the numbering.
    const mine = indexed.map((r) => r.name).filter((n) => n.startsWith(`${prefix}_`));
    expect(mine).toEqual(mine.map((_, i) => `${prefix}_${String(next + i).padStart(6, '0')}`));
    // Whatever the worker printed, it had committed.
    expect(run.enqueued).toEqual(mine.slice(0, run.enqueued.length));
    return mine;
  } finally {
    await core.stop();
  }
}

describe('sealing survives SIGKILL', () => {
  const stats = { runs: 0, pendingAtKill: 0, sealedBeforeKill: 0, tmpAtKill: 0, committedNotPrinted: 0, strayPlaintext: 0 };

  it('at a precise step: after the manifest commits and before the plaintext is removed', async () => {
    for (const k of [1, 3]) {
      const prefix = `step${k}`;
      const run = await runWorker({ prefix, count: 6, dieAfterSealed: k });
      expect(run.exit).toBe('SIGKILL');
      const before = snapshot();
      expect(before.indexed.filter((n) => n.startsWith(prefix))).toHaveLength(k);
      // The k-th segment is sealed and indexed, and its plaintext has not been removed yet.
      const kth = `${prefix}_${String(next + k - 1).padStart(6, '0')}`;
      expect(existsSync(join(spoolDir(), `${kth}.ts`))).toBe(true);
      const mine = await recoverAndCheck(prefix, run);
      expect(mine.length).toBeGreaterThanOrEqual(k);
      next += mine.length;
    }
  });

  it('at random moments, many times over', async () => {
    const iterations = 8;
    for (let it = 0; it < iterations; it++) {
      const prefix = `run${it}`;
      const run = await runWorker({ prefix, count: 400, killAfterMs: 20 + Math.floor(Math.random() * 500) });
      const before = snapshot();
      stats.runs++;
      stats.pendingAtKill += before.pending.filter((n) => n.startsWith(prefix)).length;
      stats.sealedBeforeKill += before.indexed.filter((n) => n.startsWith(prefix)).length;
      stats.tmpAtKill += before.tmpFiles.length;
      // Segments copied to the spool but killed before their queue row committed: the recorder's to re-find.
      const committed = new Set([...before.pending, ...before.indexed]);
      stats.strayPlaintext += (existsSync(spoolDir()) ? readdirSync(spoolDir()) : []).filter((f) => f.startsWith(prefix) && !committed.has(f.slice(0, -3))).length;
      const mine = await recoverAndCheck(prefix, run);
      stats.committedNotPrinted += mine.length - run.enqueued.length;
      expect(run.exit === 'SIGKILL' || run.exit === 'code 0').toBe(true);
      next += mine.length;
    }
    console.log(`crash-sealing: ${JSON.stringify({ ...stats, segmentsSealed: next })}`);
    expect(stats.sealedBeforeKill + stats.pendingAtKill).toBeGreaterThan(0);
  });

  it('and the ledger afterwards is a valid chain that verifies, segments decrypting to their manifests', async () => {
    const core = await startEvidenceCore(gw.config, silentLogger);
    const out = join(tmp('recgw-crash-export-'), gw.config.deviceId);
    try {
      core.ledger.append(ENTRY.sessionClosed, { sessionId: session.sessionId, reason: 'stopped', end: new Date(t0 + next * 1000).toISOString() });
      await exportDevice({ db: core.db, ledger: core.ledger, signer: core.identity.signer, deviceId: gw.config.deviceId, outDir: out });
    } finally {
      await core.stop();
    }
    const r = await verifyStore(out, { caPems: [readFileSync(gw.ca.caCert, 'utf8')], agencyKeys: [loadPrivateKey(gw.ca.agencyKey, 'agency key', '')] });
    expect(r.findings).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.devices[0]!.segments).toBe(next);
    // Contiguous numbering across every crash: one second of footage per segment, no gap.
    expect(r.devices[0]!.sessions[0]!.recordedSeconds).toBe(next);
  });
});
