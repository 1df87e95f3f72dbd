// The receiver for receiver-log-cost.bench.js: what `recgw receiver --config` runs (src/cli/receiver.ts), with the
// agency log or with a stand-in that does none of the log's work, so that the two differ in the log alone.
//   node bench/receiver-launch.js CONFIG with|without
// "without" gives the Receiver a log that appends nothing, proves nothing (receipts without `log`, as from a
// receiver before the log) and publishes nothing: the receiver as it was before the log. Only a bench does this; a
// receiver's config cannot.
// On SIGUSR2 it logs 'counters' (cumulative since start): its stats; wall and CPU time in the ingests' steps
// (ledger ingest, chunk, finalize), in publishing the log's files and in taking a witness's cosignature; and, with the log, the CPU time while appending
// and proving (per entries message, per segment). CPU is the whole process's (all threads) while in a step: an
// upper bound of the step's own, and unaffected by waiting for a core on a shared machine.
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { loadReceiverConfig } from '../dist/receiver/config.js';
import { Receiver } from '../dist/receiver/receiver.js';
import { openReceiverLog } from '../dist/receiver/receiver-log.js';
import { LogFiles } from '../dist/receiver/log-files.js';
import { FileIngest } from '../dist/receiver/file-ingest.js';
import { LedgerIngest } from '../dist/receiver/ledger-ingest.js';
import { WitnessClient } from '../dist/receiver/witness-client.js';
import { tuneHeapForBursts } from '../dist/app/service-env.js';
import { untilSignal } from '../dist/cli/run.js';
import { createLogger } from '../dist/util/log.js';

const [configPath, mode] = process.argv.slice(2);
if (!configPath || !['with', 'without'].includes(mode)) {
  process.stderr.write('usage: node bench/receiver-launch.js CONFIG with|without\n');
  process.exit(2);
}

const noLog = () => ({
  append: async () => ({ first: 0, size: 0, checkpoint: '', proof: undefined }),
  grew: () => {},
  state: async () => undefined,
  close: async () => {},
});

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
/** CPU in the log's steps (with the log): per kind of append (entry leaves: an entries message; a segment leaf). */
const cpu = { entries: { n: 0, leaves: 0, ms: 0 }, segment: { n: 0, leaves: 0, ms: 0 }, publish: { n: 0, ms: 0 } };
// (publish.n counts its two steps: planNext and finish.)
/** Wall and CPU time in the receiver's steps, in both modes. */
const wall = {};

const timedLog = async (ctx) => {
  const real = await openReceiverLog(ctx);
  return {
    ...real,
    // The append and its receipt's proof (made together): CPU while in it, including waiting for its statements,
    // which on receiver.db run on this thread.
    async append(tx, leaves) {
      const t0 = cpuMs();
      const out = await real.append(tx, leaves);
      const c = cpu[leaves[0]?.kind === 'segment' ? 'segment' : 'entries'];
      c.n++;
      c.leaves += leaves.length;
      c.ms += cpuMs() - t0;
      return out;
    },
  };
};

/** Wrap methods of a prototype to add their wall and CPU time to the counters (and to `cpuOf`). */
function timeSteps(proto, names, cpuOf) {
  for (const name of names) {
    const fn = proto[name];
    proto[name] = function (...args) {
      const t0 = performance.now();
      const c0 = cpuMs();
      const done = () => {
        const s = (wall[name] ??= { n: 0, ms: 0, cpu: 0 });
        s.n++;
        s.ms += performance.now() - t0;
        s.cpu += cpuMs() - c0;
        if (cpuOf) {
          cpuOf.n++;
          cpuOf.ms += cpuMs() - c0;
        }
      };
      const out = fn.apply(this, args);
      if (out && typeof out.then === 'function') return out.finally(done);
      done();
      return out;
    };
  }
}
timeSteps(FileIngest.prototype, ['chunk', 'finalize']);
timeSteps(LedgerIngest.prototype, ['ingest']);
// Publishing runs in the background (log-files.ts): wall time from start to end (the files are written on the thread
// pool meanwhile), and the CPU of its two steps on the receiver's thread (reading the plan, renaming the checkpoint).
timeSteps(LogFiles.prototype, ['publishInBackground']);
timeSteps(LogFiles.prototype, ['planNext', 'finish'], cpu.publish);
// Checking a witness's cosignature and writing log/witnessed (the synchronous part of a witness round).
timeSteps(WitnessClient.prototype, ['cosigned']);

const config = loadReceiverConfig(configPath);
tuneHeapForBursts();
const log = createLogger('recgw-receiver');
const signalled = untilSignal(log);
const r = new Receiver(config, log, undefined, mode === 'with' ? timedLog : noLog);
const counters = () => log.info('counters', { stats: { ...r.stats }, wall, ...(mode === 'with' ? { cpu } : {}) });
process.on('SIGUSR2', counters);
await r.start();
process.stderr.write(`receiver-launch: ${config.name} ${mode} the agency log, storing into ${config.store}\n`);
await signalled;
await r.stop();
counters();
log.info('stopped cleanly', { ...r.stats });
