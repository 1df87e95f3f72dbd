// A receiver for the crash tests (test/integration/uplink-chaos.test.ts): `recgw receiver` from the compiled code
// in dist/, except that it kills itself (SIGKILL) at a precise step of storing the first file instead of a random
// one. Steps:
//   claimed     right after it claimed a chunk's bytes in receiver.db, before writing them
//   last-chunk  right after it committed the last chunk of a file, before storing it and signing its receipt
//   renamed     right after the file was written into the store's segments/, before the commit that records it as stored
//               (in a bucket: its multipart upload completed)
//   part        (a bucket) right after the first part of a multipart upload went up: mid-multipart
//   committed   right after the commit that records it stored, before its receipt is written to receipts.jsonl
//   filed       right after its receipt was appended (durably) to receipts.jsonl, before that is recorded
//   lingering   right after the commit of an entries receipt naming a manifest, whose filing waits for the segment's
//               receipt to join it (src/receiver/filing.ts): committed, neither filed nor sent
//
//   none        never: a receiver that only witnesses (below)
//
// With RECGW_TEST_WITNESS=<file>, each segment receipt is held back until the store is asked (HeadObject on a
// bucket) what it holds under the segment's name, and a line {device, name, size, held} is appended to <file>: the
// test then sees that no receipt went out before the store held the whole object.
//
// Usage: node crash-receiver.js <receiver config> <step>
import process from 'node:process';
import { appendFileSync } from 'node:fs';
import { setTimeout as wait } from 'node:timers/promises';
import { loadReceiverConfig } from '../../dist/receiver/config.js';
import { Receiver } from '../../dist/receiver/receiver.js';
import { FileIngest } from '../../dist/receiver/file-ingest.js';
import { ChunkWriter } from '../../dist/receiver/chunk-writer.js';
import { Filing } from '../../dist/receiver/filing.js';
import { FolderStore } from '../../dist/store/folder-store.js';
import { S3Store } from '../../dist/store/s3-store.js';
import { S3Partials } from '../../dist/receiver/s3-partials.js';
import { openStore } from '../../dist/store/open-store.js';
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
  // The store (a folder or a bucket, src/store) writes a segment once: die as soon as one is there.
  for (const Store of [FolderStore, S3Store]) {
    const putOnce = Store.prototype.putOnce;
    Store.prototype.putOnce = async function (name, ...rest) {
      const out = await putOnce.call(this, name, ...rest);
      if (name.includes('/segments/')) die();
      return out;
    };
  }
  // In a bucket a segment is completed from its parts under its name (s3-partials.ts).
  const ready = S3Partials.prototype.ready;
  S3Partials.prototype.ready = async function (...args) {
    await ready.apply(this, args);
    die();
  };
} else if (step === 'part') {
  const uploadPart = S3Partials.prototype.uploadPart;
  S3Partials.prototype.uploadPart = async function (...args) {
    await uploadPart.apply(this, args);
    die();
  };
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
  // Die once a segment receipt appended to receipts.jsonl is durable in the store.
  for (const Store of [FolderStore, S3Store]) {
    const append = Store.prototype.append;
    Store.prototype.append = async function (name, offset, data) {
      await append.call(this, name, offset, data);
      if (name.endsWith('/receipts.jsonl') && data.toString('utf8').includes('"kind":"segment"')) die();
    };
  }
} else if (step === 'lingering') {
  const file = Filing.prototype.file;
  Filing.prototype.file = async function (device, later, ...rest) {
    if (later === true) die();
    return file.call(this, device, later, ...rest);
  };
} else if (step !== 'none') {
  throw new Error(`unknown crash step ${step}`);
}

const witness = process.env.RECGW_TEST_WITNESS;
if (witness) {
  const cfg = loadReceiverConfig(process.argv[2]);
  const store = openStore(cfg.store, cfg.s3);
  const publish = Receiver.prototype.publish;
  // Receipts go out on their own (down/receipt) and in the answer to a hello (down/state).
  const segmentReceipts = (topic, payload) => {
    if (topic.endsWith('/down/receipt')) return [JSON.parse(payload)].filter((r) => r.kind === 'segment');
    if (topic.endsWith('/down/state')) return (JSON.parse(payload).receipts ?? []).filter((r) => r.kind === 'segment');
    return [];
  };
  Receiver.prototype.publish = function (topic, payload) {
    const receipts = segmentReceipts(topic, payload);
    if (receipts.length === 0) return publish.call(this, topic, payload);
    // The store away (a test stopping radosgw) delays the witness, as it would the receipt: ask until it answers.
    const ask = async (r) => {
      for (let i = 0; ; i++) {
        try {
          return await store.size(`${r.device}/segments/${r.name}.seg`);
        } catch (err) {
          if (i >= 120) return `error: ${err.message}`;
          await wait(500);
        }
      }
    };
    void Promise.all(receipts.map(async (r) => ({ device: r.device, name: r.name, size: r.size, held: await ask(r), receiver: cfg.name }))).then((seen) => {
      appendFileSync(witness, seen.map((w) => `${JSON.stringify(w)}\n`).join(''));
      publish.call(this, topic, payload);
    });
  };
}

const receiver = new Receiver(loadReceiverConfig(process.argv[2]), createLogger('recgw-receiver'));
// Stopped as `recgw receiver` stops (a receiver that did not crash): what it took is finished, exit 0.
const started = receiver.start();
process.once('SIGTERM', () => {
  void started
    .then(() => receiver.stop())
    .then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`stopping failed: ${err?.stack ?? err}\n`);
        process.exit(1);
      },
    );
});
await started;
