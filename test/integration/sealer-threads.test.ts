/**
 * Where the Sealer does its work: a segment it gets to at once is sealed on the main thread (no worker thread
 * starts: each holds a V8 isolate of its own, ~12 MB of a gateway's RSS), one that has waited in the queue for
 * `spreadAfterMs` (a backlog) on the sealing workers. Either way the manifest matches openssl's hashes and the
 * agency key decrypts the sealed file back to the plaintext.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, makeCa, makeGateway } from '../helpers/fixtures.js';
import { startEvidenceCore, type EvidenceCore } from '../../src/app/evidence-core.js';
import { Sealer, type SealedSegment } from '../../src/evidence/sealer.js';
import { closeSealWorker, sealWorkersRunning } from '../../src/evidence/seal-worker.js';
import { openSealedFile } from '../../src/evidence/open-sealed.js';
import { ENTRY, type SessionContext } from '../../src/evidence/types.js';
import { loadPrivateKey } from '../../src/pki/keys.js';
import { silentLogger } from '../../src/util/log.js';
import { hashHex } from '../../src/evidence/segment-scheme.js';

const MiB = 1 << 20;
const iso = (t: number): string => new Date(t).toISOString();
const session: SessionContext = { sessionId: 'S-threads', matter: 'hearing', caseRef: 'T-1', officers: [{ name: '王五', badge: '13010003' }] };

let ca: ReturnType<typeof makeCa>;
let core: EvidenceCore;
let t0: number;

beforeAll(async () => {
  ca = makeCa();
  const gw = makeGateway(ca.dir, { deviceId: 'threads-1' });
  core = await startEvidenceCore(gw.config, silentLogger);
  t0 = Date.now() - 600_000;
  core.ledger.append(ENTRY.sessionOpened, { ...session, start: iso(t0), sources: ['cam1'] });
  mkdirSync(join(core.dirs.spool, 'cam1'), { recursive: true });
});

afterEach(closeSealWorker);

afterAll(async () => {
  await core.stop();
  cleanupTmp();
});

/** Queue a segment of `size` random bytes (then call `afterEnqueue`); resolves with its manifest once sealed. */
async function sealOne(sealer: Sealer, seq: number, size: number, afterEnqueue: () => void = () => undefined): Promise<{ sealed: SealedSegment; plain: Buffer }> {
  const name = `${session.sessionId}_cam1_${String(seq).padStart(6, '0')}`;
  const plainPath = join(core.dirs.spool, 'cam1', `${name}.ts`);
  const plain = randomFillSync(Buffer.alloc(size));
  writeFileSync(plainPath, plain);
  const sealed = new Promise<SealedSegment>((resolve) => {
    const off = sealer.onSealed((s) => {
      off();
      resolve(s);
    });
  });
  sealer.enqueue({ name, plainPath, session, source: { id: 'cam1', kind: 'camera' }, seq, start: iso(t0 + seq * 4000), end: iso(t0 + seq * 4000 + 4000), clock: { source: 'system', synced: false }, gps: null });
  afterEnqueue();
  await sealer.drain();
  return { sealed: await sealed, plain };
}

async function checkSealed({ sealed, plain }: { sealed: SealedSegment; plain: Buffer }): Promise<void> {
  const file = join(core.dirs.sealed, `${sealed.name}.seg`);
  expect(hashHex(sealed.manifest.stored)).toBe(execFileSync('openssl', ['dgst', '-sha256', '-r', file], { encoding: 'utf8' }).split(' ')[0]);
  const parts: Buffer[] = [];
  const key = loadPrivateKey(ca.paths.agencyKey, 'agency key', '');
  const r = await openSealedFile(file, sealed.manifest.enc, key, async (c) => {
    parts.push(Buffer.from(c));
  });
  expect(r).toMatchObject({ ok: true });
  expect(Buffer.concat(parts).equals(plain)).toBe(true);
  expect(readFileSync(file).length).toBe(plain.length + 16);
}

describe('Sealer: main thread or workers', () => {
  it.each([
    ['sealed at once', 0, 0],
    ['just under spreadAfterMs', 29_000, 0],
    ['a backlog', 30_000, 2],
  ])('%s: a segment that waited %i ms is sealed with %i worker threads running', async (_when, waitedMs, workers) => {
    await closeSealWorker();
    const clock = { now: Date.now() };
    const sealer = new Sealer({ db: core.db, ledger: core.ledger, agencyPublicKey: core.encryption.publicKey, sealedDir: core.dirs.sealed, log: silentLogger, spreadAfterMs: 30_000, now: () => clock.now });
    // enqueue() starts sealing on a later tick: by then the segment has waited `waitedMs`.
    const r = await sealOne(sealer, waitedMs + 1, 6 * MiB + 1, () => (clock.now += waitedMs));
    expect(sealWorkersRunning()).toBe(workers);
    await checkSealed(r);
  });

  it('uses 30 s when not told otherwise, and its own clock: a fresh segment on the main thread', async () => {
    await closeSealWorker();
    const sealer = new Sealer({ db: core.db, ledger: core.ledger, agencyPublicKey: core.encryption.publicKey, sealedDir: core.dirs.sealed, log: silentLogger });
    const r = await sealOne(sealer, 99, 6 * MiB + 1);
    expect(sealWorkersRunning()).toBe(0);
    await checkSealed(r);
  });
});
