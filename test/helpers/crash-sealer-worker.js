// A gateway process for the crash test (test/integration/crash-sealing.test.ts): starts the evidence core from the
// compiled code in dist/, then copies sample segments into the spool and enqueues them for sealing, one after the
// other, until the test kills it with SIGKILL. It prints one line per step on stdout, which is a pipe and so is
// written synchronously: a printed "enqueued X" means X's queue row was committed before the kill.
//
// Usage: node crash-sealer-worker.js '<json>' with
//   { config, samples: [paths], session, sourceId, prefix, first, count, t0, dieAfterSealed? }
// dieAfterSealed = K: the process kills itself right after the K-th segment.sealed entry commits (before the
// sealer removes the plaintext): a crash at a precise step instead of a random one.
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import process from 'node:process';
import { loadConfig } from '../../dist/config/load.js';
import { startEvidenceCore } from '../../dist/app/evidence-core.js';
import { silentLogger } from '../../dist/util/log.js';

const a = JSON.parse(process.argv[2]);
const say = (line) => process.stdout.write(line + '\n');

const core = await startEvidenceCore(loadConfig(a.config), silentLogger);
const spool = join(core.dirs.spool, a.sourceId);
await mkdir(spool, { recursive: true });
core.sealer.onSealed((s) => say(`sealed ${s.name}`));
if (a.dieAfterSealed) {
  let n = 0;
  core.ledger.onAppend((e) => {
    if (e.type === 'segment.sealed' && ++n === a.dieAfterSealed) process.kill(process.pid, 'SIGKILL');
  });
}
say('ready');

const iso = (t) => new Date(t).toISOString();
for (let i = a.first; i < a.first + a.count; i++) {
  const name = `${a.prefix}_${String(i).padStart(6, '0')}`;
  const plainPath = join(spool, `${name}.ts`);
  await copyFile(a.samples[i % a.samples.length], plainPath);
  core.sealer.enqueue({
    name,
    plainPath,
    session: a.session,
    source: { id: a.sourceId, kind: 'camera' },
    seq: i,
    start: iso(a.t0 + i * 1000),
    end: iso(a.t0 + (i + 1) * 1000),
    clock: { source: 'system', synced: false },
    gps: null,
  });
  say(`enqueued ${name}`);
  // Now and then wait for the queue to empty, so kills find it both full and idle.
  if (i % 5 === 4) await core.sealer.drain();
}
await core.stop();
say('done');
