// A receiver for the crash tests (test/integration/uplink-chaos.test.ts): `recgw receiver` from the compiled code
// in dist/, except that it kills itself (SIGKILL) at a precise step of storing the first file instead of a random
// one. Steps:
//   claimed     right after it claimed a chunk's bytes in receiver.db, before writing them
//   last-chunk  right after it committed the last chunk of a file, before storing it and signing its receipt
//   renamed     right after the file was renamed into segments/, before the commit that records it as stored
//   committed   right after the commit that records it stored, before its receipt is written to receipts.jsonl
//   filed       right after its receipt was written (fsynced) to receipts.jsonl, before that is recorded
//
// Usage: node crash-receiver.js <receiver config> <step>
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { sep } from 'node:path';
import process from 'node:process';
import { loadReceiverConfig } from '../../dist/receiver/config.js';
import { Receiver } from '../../dist/receiver/receiver.js';
import { FileIngest } from '../../dist/receiver/file-ingest.js';
import { ChunkWriter } from '../../dist/receiver/chunk-writer.js';
import { Filing } from '../../dist/receiver/filing.js';
import { createLogger } from '../../dist/util/log.js';

const die = () => process.kill(process.pid, 'SIGKILL');
const step = process.argv[3];
if (step === 'claimed') {
  ChunkWriter.prototype.write = async () => die();
} else if (step === 'last-chunk') {
  const chunk = FileIngest.prototype.chunk;
  FileIngest.prototype.chunk = async function (...args) {
    const out = await chunk.apply(this, args);
    if (out.kind === 'written' && out.complete) die();
    return out;
  };
} else if (step === 'renamed') {
  // The receiver imports renameSync by name: patch the builtin and update its ES module exports.
  const rename = fs.renameSync;
  fs.renameSync = (from, to) => {
    rename(from, to);
    if (String(to).includes(`${sep}segments${sep}`)) die();
  };
  syncBuiltinESMExports();
} else if (step === 'committed') {
  // Messages are handled one at a time: a filing while a file is being stored is that file's receipt.
  const finalize = FileIngest.prototype.finalize;
  let storing = false;
  FileIngest.prototype.finalize = async function (...args) {
    storing = true;
    try {
      return await finalize.apply(this, args);
    } finally {
      storing = false;
    }
  };
  const file = Filing.prototype.file;
  Filing.prototype.file = async function (...args) {
    if (storing) die();
    return file.apply(this, args);
  };
} else if (step === 'filed') {
  // Watch which descriptor is receipts.jsonl, and die once a segment receipt written to it is on disk.
  const open = fs.openSync;
  const fsync = fs.fsyncSync;
  const writeSync = fs.writeSync;
  const receiptFds = new Set();
  let segmentWritten = false;
  fs.openSync = (path, ...rest) => {
    const fd = open(path, ...rest);
    if (String(path).endsWith(`${sep}receipts.jsonl`)) receiptFds.add(fd);
    return fd;
  };
  fs.writeSync = (fd, data, ...rest) => {
    if (receiptFds.has(fd) && String(data).includes('"kind":"segment"')) segmentWritten = true;
    return writeSync(fd, data, ...rest);
  };
  fs.fsyncSync = (fd) => {
    fsync(fd);
    if (receiptFds.has(fd) && segmentWritten) die();
  };
  syncBuiltinESMExports();
} else {
  throw new Error(`unknown crash step ${step}`);
}

await new Receiver(loadReceiverConfig(process.argv[2]), createLogger('recgw-receiver')).start();
