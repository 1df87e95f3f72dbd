/**
 * A receiver's store made by the receiver's own code, without a broker: a device folder (from buildStore) is fed
 * through LedgerIngest and FileIngest as its uploads would be (a few lines per entries message, each sealed file
 * as one chunk), with the agency log and its published files. And the attacker's tool: rewriting a ledger with the
 * device key, re-signing every line from the first change and a head.json signed by the device.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { openReceiverDb } from '../../src/receiver/store-db.js';
import { SqliteReceiverSql } from '../../src/receiver/sqlite-receiver-sql.js';
import type { ReceiverSql } from '../../src/receiver/receiver-sql.js';
import { AgencyLog } from '../../src/receiver/agency-log.js';
import { CurrentEncryptionKeys } from '../../src/receiver/encryption-keys.js';
import { LogFiles } from '../../src/receiver/log-files.js';
import { LedgerIngest } from '../../src/receiver/ledger-ingest.js';
import { FileIngest } from '../../src/receiver/file-ingest.js';
import { GENESIS_PREV, attachSignature, encodeUnsigned, lineHash, parseLine, type LedgerEntry } from '../../src/evidence/entry.js';
import { KeySigner } from '../../src/evidence/signer.js';
import { encodeHead, makeHead } from '../../src/evidence/head.js';
import { ENTRY, type SegmentManifest } from '../../src/evidence/types.js';
import { caPaths, logOrigin } from '../../src/pki/ca.js';
import { identityPaths } from '../../src/pki/identity.js';
import { silentLogger } from '../../src/util/log.js';
import { sha256Hex } from '../../src/evidence/entry.js';
import { receiptSigner } from './report-store.js';
import type { BuiltStore } from './store-fixture.js';
import { hashHex } from '../../src/evidence/segment-scheme.js';

const DEADLINE = '2099-01-01T00:00:00.000Z';

/**
 * Upload the device folder `deviceDir` into the receiver store `store` through the receiver's code. `published` is
 * called after each publication of the log, when the store is as a copy taken at that moment would have it.
 */
export async function receiveDevice(deviceDir: string, store: string, caDir: string, now: () => Date = () => new Date(), published?: () => void): Promise<void> {
  const db = openReceiverDb(store);
  try {
    await receiveDeviceVia(new SqliteReceiverSql(db), deviceDir, store, caDir, now, published);
  } finally {
    db.close();
  }
}

/** receiveDevice with the receivers' database `sql` (receiver.db, or PostgreSQL). */
export async function receiveDeviceVia(sql: ReceiverSql, deviceDir: string, store: string, caDir: string, now: () => Date = () => new Date(), published?: () => void): Promise<void> {
  const p = caPaths(caDir);
  const caPems = [readFileSync(p.caCert, 'utf8')];
  const { log, certPem, sm2CertPem } = caAgencyLog(sql, caDir);
  const files = new LogFiles(store, log);
  await files.republish(certPem, sm2CertPem);
  const signer = receiptSigner(caDir);
  const ledger = new LedgerIngest(store, sql, caPems, signer, 'receiver:1', silentLogger, log, agencyEncryption(caDir));
  const ingest = new FileIngest(store, sql, signer, 'receiver:1', log);
  const lines = readFileSync(join(deviceDir, 'ledger.jsonl'), 'utf8').trimEnd().split('\n');
  const device = (JSON.parse(lines[0]!) as LedgerEntry).device;
  for (let i = 0; i < lines.length; i += 3) {
    const out = await ledger.ingest(device, lines.slice(i, i + 3), DEADLINE, now());
    if (out.refused) throw new Error(`the receiver refused the upload: ${out.refused}`);
    await files.publish();
    published?.();
  }
  for (const l of lines) {
    const e = (parseLine(l) as { entry: LedgerEntry }).entry;
    if (e.type !== ENTRY.segmentSealed) continue;
    const m = e.body as unknown as SegmentManifest;
    const data = readFileSync(join(deviceDir, m.file));
    await ingest.chunk({ v: 1, device, name: m.segment, offset: 0, size: m.stored.size, sha256: hashHex(m.stored), deadline: DEADLINE }, data);
    const r = await ingest.finalize(device, m.segment, now);
    if (!r || 'refused' in r) throw new Error(`the receiver did not store ${m.segment}`);
    await files.publish();
    published?.();
  }
}

/** A fresh receiver store holding the built device (its folder is `<store>/<deviceId>`). */
export async function receivedStore(s: BuiltStore, caDir: string, store: string): Promise<string> {
  await receiveDevice(s.deviceDir, store, caDir);
  return join(store, s.deviceId);
}

/**
 * The agency log with the CA folder's log keys, as a receiver configured with them signs it: a gm CA's SM2 log key
 * too (evidence-format.md §17.9), whose certificate goes beside the log's when its files are published.
 */
export function caAgencyLog(sql: ReceiverSql, caDir: string): { log: AgencyLog; certPem: string; sm2CertPem?: string } {
  const p = caPaths(caDir);
  const gm = existsSync(p.logSm2Key);
  const log = new AgencyLog(sql, createPrivateKey(readFileSync(p.logKey, 'utf8')), logOrigin(readFileSync(p.caCert, 'utf8')), gm ? createPrivateKey(readFileSync(p.logSm2Key, 'utf8')) : undefined);
  return { log, certPem: readFileSync(p.logCert, 'utf8'), ...(gm ? { sm2CertPem: readFileSync(p.logSm2Cert, 'utf8') } : {}) };
}

/** The agency's current encryption keys as a receiver configured with the CA folder's agency-enc.pem has them. */
export const agencyEncryption = (caDir: string): CurrentEncryptionKeys => {
  const p = caPaths(caDir);
  return CurrentEncryptionKeys.load([p.agencyEncCert], [readFileSync(p.caCert, 'utf8')], new Date());
};

const testLogKey = generateKeyPairSync('ed25519').privateKey;
/** An agency log on a receiver.db, with a key of its own, for tests of the ingests that do not look at the log. */
export const testAgencyLog = (sql: ReceiverSql): AgencyLog => new AgencyLog(sql, testLogKey, 'test.example/log');

/**
 * What someone holding the device key can do to a device folder: change the entries (`edit` gets them parsed and
 * returns the new list, bodies may be changed), re-sign the whole chain with the device key, and replace head.json
 * with one the device signs (or, when no entry is left, remove it: there is nothing to name). Returns the new lines.
 */
export function rewriteWithDeviceKey(deviceDir: string, s: BuiltStore, edit: (entries: LedgerEntry[]) => LedgerEntry[]): string[] {
  const key = createPrivateKey(readFileSync(identityPaths(s.gateway.config.stateDir).key, 'utf8'));
  const cert = readFileSync(identityPaths(s.gateway.config.stateDir).cert, 'utf8');
  const signer = new KeySigner(key, cert);
  const entries = edit(
    readFileSync(join(deviceDir, 'ledger.jsonl'), 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => (parseLine(l) as { entry: LedgerEntry }).entry),
  );
  const lines: string[] = [];
  let prev = GENESIS_PREV;
  entries.forEach((e, seq) => {
    const unsigned = encodeUnsigned({ v: 1, device: e.device, seq, prev, time: e.time, type: e.type, body: e.body });
    const line = attachSignature(unsigned, signer.sign(Buffer.from(unsigned, 'utf8')).toString('base64'));
    lines.push(line);
    prev = lineHash(line);
  });
  writeFileSync(join(deviceDir, 'ledger.jsonl'), lines.map((l) => l + '\n').join(''));
  if (lines.length === 0) {
    rmSync(join(deviceDir, 'head.json'), { force: true });
    return lines;
  }
  const last = lines.length - 1;
  const head = makeHead({ device: s.deviceId, seq: last, hash: sha256Hex(lines[last]!), time: new Date().toISOString(), signer: 'device' }, signer);
  writeFileSync(join(deviceDir, 'head.json'), encodeHead(head));
  return lines;
}
