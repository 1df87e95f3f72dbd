// `recgw verify` of a 国密 (gm) store (issue 19): a device ledger of N entries signed SM2 over SM3, made by the
// gateway's own Ledger with a key from a gm CA, verified by `recgw verify --json` as a child process (wall time).
//   gm-verify-<n>   entries/s, baseline `openssl speed -elapsed -multi <cores> sm2` verifies/s (all cores, wall time),
//                   the same rate the verifier could reach if each entry cost one libcrypto SM2 verify and nothing else.
// Each contender runs REPS times, alternating; the best run of each is reported. N: RECGW_BENCH_GM_ENTRIES (4000).
import { availableParallelism, loadavg } from 'node:os';
import { spawnSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { initCa, signDeviceCsr } from '../dist/pki/ca.js';
import { identityPaths } from '../dist/pki/identity.js';
import { prepareEnrolment } from '../dist/pki/enrol.js';
import { KeySigner } from '../dist/evidence/signer.js';
import { openStateDb } from '../dist/state/db.js';
import { Ledger } from '../dist/evidence/ledger.js';
import { exportDevice } from '../dist/evidence/export.js';
import { ENTRY } from '../dist/evidence/types.js';
import { progress, report, tempDir } from './lib.js';

const REPS = Number(process.env.RECGW_BENCH_REPS ?? 3);
const N = Number(process.env.RECGW_BENCH_GM_ENTRIES ?? 4000);
const BIN = join(import.meta.dirname, '..', 'bin', 'recgw.js');
const DEVICE = 'gm-room-1';

export default async function gmVerifyBench() {
  const tmp = tempDir();
  try {
    const { store, caCert } = await gmStore(tmp.dir);
    const cores = availableParallelism();
    const runs = { recgw: [], openssl: [] };
    for (let rep = 0; rep < REPS; rep++) {
      runs.openssl.push(opensslSm2Verifies(cores));
      runs.recgw.push(N / verifySeconds(store, caCert));
      progress(`gm-verify rep ${rep + 1}/${REPS}: recgw ${runs.recgw.at(-1).toFixed(0)} entries/s, openssl ${runs.openssl.at(-1).toFixed(0)} SM2 verifies/s on ${cores} cores (load ${loadavg()[0].toFixed(1)})`);
    }
    report(`gm-verify-${N}`, Math.max(...runs.recgw), 'entries/s', Math.max(...runs.openssl));
  } finally {
    tmp.remove();
  }
}

/** A store holding one gm device whose ledger has N entries, exported as the gateway exports. */
async function gmStore(dir) {
  const ca = initCa({ out: join(dir, 'ca'), suite: 'gm' });
  const paths = identityPaths(join(dir, 'id'));
  const { csrPem } = prepareEnrolment(DEVICE, paths, 'gm');
  const { certPem } = signDeviceCsr({ caDir: join(dir, 'ca'), csrPem });
  const signer = new KeySigner(createPrivateKey(readFileSync(paths.key, 'utf8')), certPem);
  const db = openStateDb(join(dir, 'state.db'));
  const ledger = new Ledger({ db, deviceId: DEVICE, signer });
  ledger.start();
  progress(`gm-verify: signing ${N} gm entries`);
  for (let i = 0; i < N; i++) ledger.append(ENTRY.eventMarked, { note: `entry ${i} 记录`, sessionId: null });
  const store = join(dir, 'store');
  mkdirSync(join(store, DEVICE), { recursive: true });
  await exportDevice({ db, ledger, signer, deviceId: DEVICE, outDir: join(store, DEVICE) });
  db.close();
  return { store, caCert: ca.caCert };
}

function verifySeconds(store, caCert) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [BIN, 'verify', store, '--ca', caCert, '--json'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`recgw verify of the gm store failed (exit ${r.status}): ${r.stdout.slice(0, 2000)}${r.stderr}`);
  return s;
}

/** openssl's SM2 verifies/s over every core (-multi, wall time), summed. */
function opensslSm2Verifies(cores) {
  const r = spawnSync('openssl', ['speed', '-elapsed', '-seconds', '3', '-multi', String(cores), 'sm2'], { encoding: 'utf8' });
  // "256 bits SM2 (CurveSM2)  <sign s> <verify s> <sign/s> <verify/s>", summed over the processes.
  const m = /SM2 \(CurveSM2\)\s+\S+\s+\S+\s+[\d.]+\s+([\d.]+)/.exec(r.stdout ?? '');
  if (!m) throw new Error(`cannot read openssl speed's SM2 line:\n${r.stdout}\n${r.stderr}`);
  return Number(m[1]);
}
