// What the SM2 line of a gm agency log's checkpoints (evidence-format.md §17.9) costs the receiver:
//   gm-log-checkpoint   checkpoints signed per second with the Ed25519 and the SM2 line (a gm log), baseline the
//                       Ed25519 line alone (an intl log), the same checkpoints in the same run.
//   gm-log-append       AgencyLog.append of one entry leaf in its own transaction on a receiver.db (SQLite, as a
//                       receiver without PostgreSQL keeps it), per second: leaf, tiles, head and checkpoint; gm log
//                       against intl log, both on a log of LOG_LEAVES leaves.
// Each contender runs REPS times, alternating; the best run of each is reported (other work on this shared machine
// only ever slows a run down).
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import process from 'node:process';
import { join } from 'node:path';
import { NoteSigner } from '../dist/tlog/note.js';
import { Sm2NoteSigner } from '../dist/tlog/sm2-note.js';
import { signCheckpoint, formatCheckpoint } from '../dist/tlog/checkpoint.js';
import { generateSm2KeyPair, sm2PrivateKeyToPem } from '../dist/crypto/gm/sm2-keys.js';
import { AgencyLog } from '../dist/receiver/agency-log.js';
import { openReceiverDb } from '../dist/receiver/store-db.js';
import { SqliteReceiverSql } from '../dist/receiver/sqlite-receiver-sql.js';
import { progress, report, tempDir } from './lib.js';

const REPS = Number(process.env.RECGW_BENCH_REPS ?? 5);
const SIGN_SECONDS = 1;
const APPENDS = Number(process.env.RECGW_BENCH_APPENDS ?? 300);
const LOG_LEAVES = Number(process.env.RECGW_BENCH_LOG_LEAVES ?? 5000);
const ORIGIN = 'recgw-log/0123456789abcdef';

export default async function gmLogBench() {
  const tmp = tempDir('recgw-bench-gmlog-');
  try {
    const ed = generateKeyPairSync('ed25519').privateKey;
    const sm2 = createPrivateKey(sm2PrivateKeyToPem(generateSm2KeyPair()));
    const edSigner = new NoteSigner(ORIGIN, ed);
    const sm2Signer = new Sm2NoteSigner(ORIGIN, sm2);

    const signRate = (more) => {
      let n = 0;
      const t0 = process.hrtime.bigint();
      let s = 0;
      while (s < SIGN_SECONDS) {
        for (let i = 0; i < 20; i++) formatCheckpoint(signCheckpoint({ origin: ORIGIN, size: n++, root: randomBytes(32) }, edSigner, ...more));
        s = Number(process.hrtime.bigint() - t0) / 1e9;
      }
      return n / s;
    };
    const best = { gm: 0, intl: 0 };
    for (let r = 0; r < REPS; r++) {
      best.gm = Math.max(best.gm, signRate([sm2Signer]));
      best.intl = Math.max(best.intl, signRate([]));
      progress(`checkpoint signing run ${r + 1}: best gm ${best.gm.toFixed(0)}/s, intl ${best.intl.toFixed(0)}/s`);
    }
    report('gm-log-checkpoint', best.gm, 'checkpoints/s', best.intl);

    const logs = {};
    for (const mode of ['gm', 'intl']) {
      const db = openReceiverDb(join(tmp.dir, mode));
      const sql = new SqliteReceiverSql(db);
      const log = new AgencyLog(sql, ed, ORIGIN, mode === 'gm' ? sm2 : undefined);
      // A log of some size first, in big appends (its cost grows with the tiles, not with the signing).
      for (let at = 0; at < LOG_LEAVES; at += 500) await sql.transaction((tx) => log.append(tx, leaves(mode, at, Math.min(500, LOG_LEAVES - at))));
      logs[mode] = { db, sql, log, next: LOG_LEAVES };
    }
    const appendRate = async (mode) => {
      const l = logs[mode];
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < APPENDS; i++) await l.sql.transaction((tx) => l.log.append(tx, leaves(mode, l.next++, 1)));
      return APPENDS / (Number(process.hrtime.bigint() - t0) / 1e9);
    };
    const bestAppend = { gm: 0, intl: 0 };
    for (let r = 0; r < REPS; r++) {
      for (const mode of r % 2 ? ['intl', 'gm'] : ['gm', 'intl']) bestAppend[mode] = Math.max(bestAppend[mode], await appendRate(mode));
      progress(`append run ${r + 1}: best gm ${bestAppend.gm.toFixed(0)}/s, intl ${bestAppend.intl.toFixed(0)}/s`);
    }
    report('gm-log-append', bestAppend.gm, 'appends/s', bestAppend.intl);
    for (const l of Object.values(logs)) l.db.close();
  } finally {
    tmp.remove();
  }
}

function leaves(device, from, n) {
  const out = [];
  for (let seq = from; seq < from + n; seq++) out.push({ v: 1, kind: 'entry', device, seq, hash: randomBytes(32).toString('hex'), accepted: new Date().toISOString() });
  return out;
}
