// A receiver for the crash test (test/integration/uplink-chaos.test.ts): `recgw receiver` from the compiled code
// in dist/, except that it kills itself (SIGKILL) right after it committed the last chunk of a file, before it
// stores that file and signs its receipt: a crash at a precise step instead of a random one.
//
// Usage: node crash-receiver.js <receiver config>
import process from 'node:process';
import { loadReceiverConfig } from '../../dist/receiver/config.js';
import { Receiver } from '../../dist/receiver/receiver.js';
import { FileIngest } from '../../dist/receiver/file-ingest.js';
import { createLogger } from '../../dist/util/log.js';

const chunk = FileIngest.prototype.chunk;
FileIngest.prototype.chunk = function (...args) {
  const out = chunk.apply(this, args);
  if (out.kind === 'written' && out.complete) process.kill(process.pid, 'SIGKILL');
  return out;
};

await new Receiver(loadReceiverConfig(process.argv[2]), createLogger('recgw-receiver')).start();
