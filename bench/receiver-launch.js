// The receiver for receiver-log-cost.bench.js: what `recgw receiver --config` runs (src/cli/receiver.ts), with the
// agency log or with a stand-in that does none of the log's work, so that the two differ in the log alone.
//   node bench/receiver-launch.js CONFIG with|without
// "with" runs the receiver's own log (openReceiverLog), timed: at stop it logs 'log costs' (CPU milliseconds of the
// process spent appending and proving, per entries message and per segment, and publishing the files; CPU rather
// than wall time, so that other work on a shared machine does not count).
// "without" gives the Receiver a log that appends nothing, proves nothing (receipts without `log`, as from a
// receiver before the log) and publishes nothing: the receiver as it was before the log. Only a bench does this; a
// receiver's config cannot.
import process from 'node:process';
import { loadReceiverConfig } from '../dist/receiver/config.js';
import { Receiver } from '../dist/receiver/receiver.js';
import { openReceiverLog } from '../dist/receiver/receiver-log.js';
import { LogFiles } from '../dist/receiver/log-files.js';
import { tuneHeapForBursts } from '../dist/app/service-env.js';
import { untilSignal } from '../dist/cli/run.js';
import { createLogger } from '../dist/util/log.js';

const [configPath, mode] = process.argv.slice(2);
if (!configPath || !['with', 'without'].includes(mode)) {
  process.stderr.write('usage: node bench/receiver-launch.js CONFIG with|without\n');
  process.exit(2);
}

const noLog = () => ({
  append: () => ({ first: 0, size: 0, checkpoint: '' }),
  proof: () => undefined,
  grew: () => {},
  state: () => undefined,
  close: async () => {},
});

/** Per kind of append (entry leaves: an entries message; a segment leaf: a stored file) and for publishing. */
const costs = { entries: { n: 0, leaves: 0, ms: 0 }, segment: { n: 0, leaves: 0, ms: 0 }, publish: { n: 0, ms: 0 } };
/** CPU time of this process in ms (all threads; the log's steps run on the main thread while the others idle). */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const timedLog = (ctx) => {
  const real = openReceiverLog(ctx);
  // The append whose receipt's proof comes next (the ingests ask for it right after, in the same transaction).
  let open;
  return {
    ...real,
    append(leaves) {
      const t0 = cpuMs();
      const out = real.append(leaves);
      open = { kind: leaves[0]?.kind === 'segment' ? 'segment' : 'entries', leaves: leaves.length, ms: cpuMs() - t0 };
      return out;
    },
    proof(index, size, checkpoint) {
      const t0 = cpuMs();
      const out = real.proof(index, size, checkpoint);
      if (open) {
        const c = costs[open.kind];
        c.n++;
        c.leaves += open.leaves;
        c.ms += open.ms + cpuMs() - t0;
        open = undefined;
      }
      return out;
    },
  };
};
// Publishing the files after commits: timed where it happens, whenever the receiver does it.
const publish = LogFiles.prototype.publish;
LogFiles.prototype.publish = function () {
  const t0 = cpuMs();
  publish.call(this);
  costs.publish.n++;
  costs.publish.ms += cpuMs() - t0;
};

const config = loadReceiverConfig(configPath);
tuneHeapForBursts();
const log = createLogger('recgw-receiver');
const signalled = untilSignal(log);
const r = new Receiver(config, log, undefined, mode === 'with' ? timedLog : noLog);
await r.start();
process.stderr.write(`receiver-launch: ${config.name} ${mode} the agency log, storing into ${config.store}\n`);
await signalled;
await r.stop();
if (mode === 'with') log.info('log costs', costs);
log.info('stopped cleanly', { ...r.stats });
