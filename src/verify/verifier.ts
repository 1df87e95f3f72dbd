/**
 * `recgw verify`: proves from the files alone and the agency CA certificate that nothing in a store was
 * deleted, altered, inserted or reordered, and that every gap in a session's time is explained.
 * Bad input of any kind becomes a finding; the verifier itself never throws on content.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { ENTRY } from '../evidence/types.js';
import { isSm2Key } from '../crypto/gm/sm2-keys.js';
import { HEAD_FILE, LEDGER_FILE, encodeHead, headSignedBytes, type Head } from '../evidence/head.js';
import { decodeBase64Strict, parseLine } from '../evidence/entry.js';
import { verifySignature } from '../evidence/signer.js';
import { checkCertificate, parseCertificate } from '../pki/certs.js';
import { ROLE_DEVICE, ROLE_RECEIPT } from '../pki/roles.js';
import { RecgwError, describe } from '../util/errors.js';
import { readLedger, readLines } from './ledger-reader.js';
import { CheckPool } from './check-pool.js';
import { SegmentFileChecks, type SegmentSource } from './file-checks.js';
import { DeletionCheck } from './deletions.js';
import { RetentionDeletionCheck } from './retention-deletions.js';
import { LineReader } from './line-index.js';
import { SessionTracker } from './session-tracker.js';
import { OfficerConfirmations } from './officer-confirmations.js';
import * as B from './bodies.js';
import { DEFAULT_GAP_OPTIONS, type GapOptions } from './sessions.js';
import type { DeviceReport, Finding, FindingKind, SessionReport, VerifyReport } from './findings.js';
import { EncryptionKeyCheck } from './encryption-key.js';
import { AgencyEvidence } from './agency-evidence.js';
import { KeyLifecycle } from './key-lifecycle.js';
import { LedgerConsistency } from './consistency.js';
import { Revocations } from '../pki/crl.js';
import type { WitnessKey } from '../tlog/checkpoint.js';

export interface VerifyOptions {
  caPems: string[];
  /** The agency's private decryption keys: each manifest's file is decrypted with the one it names (a store may hold
   * devices of both suites during a migration, intl for an RSA key and gm for an SM2 one). */
  agencyKeys?: KeyObject[];
  /** Witnesses whose cosignatures on the agency log's checkpoint are checked and reported. */
  witnesses?: WitnessKey[];
  /** A checkpoint of the agency log obtained elsewhere (a witness, a gateway): the store's log must agree with it. */
  trustedCheckpoint?: string;
  /** The agency CA's revocations (its CRLs): what a revoked key signed after its revocation is reported. */
  revocations?: Revocations;
  gaps?: GapOptions;
  /** Called as each device is done, and every ~2 s during a long one, for progress output. */
  progress?: (msg: string) => void;
  /** Worker threads for signature and file checks (default: the available parallelism). */
  jobs?: number;
  /**
   * Where a device folder's sealed segments are looked at, when not in the folder: a store's (store/store-segments.ts),
   * so that a bucket's segments are hashed as they stream and never copied. Not with agencyKeys (those decrypt files).
   */
  segmentsOf?: (deviceDir: string) => SegmentSource;
}

/** How often a long device run says where it is. */
const PROGRESS_MS = 2000;

/**
 * The device folders under `dir`: `dir` itself if it holds a ledger, else each subfolder that does (a symbolic
 * link to a folder counts as one). Throws a usage error when `dir` is not a folder.
 */
export function findDeviceDirs(dir: string): string[] {
  let st;
  try {
    st = statSync(dir);
  } catch (err) {
    throw new RecgwError('usage', `${dir} cannot be read as a folder (${describe(err)}): give the store or device folder to verify`);
  }
  if (!st.isDirectory()) throw new RecgwError('usage', `${dir} is not a folder: give the store or device folder to verify`);
  if (existsSync(join(dir, LEDGER_FILE))) return [dir];
  return readdirSync(dir)
    .filter((name) => isDirectory(join(dir, name)) && existsSync(join(dir, name, LEDGER_FILE)))
    .map((name) => join(dir, name))
    .sort();
}

const isDirectory = (path: string): boolean => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

export async function verifyStore(dir: string, opts: VerifyOptions): Promise<VerifyReport> {
  if (opts.segmentsOf && (opts.agencyKeys ?? []).length > 0) throw new RecgwError('internal', 'verifyStore: segments elsewhere (segmentsOf) are not decrypted; give no agencyKeys with it');
  const findings: Finding[] = [];
  const devices: DeviceReport[] = [];
  const dirs = findDeviceDirs(dir);
  if (dirs.length === 0) {
    findings.push({ kind: 'malformed', deviceId: basename(dir), detail: `no ${LEDGER_FILE} in ${dir} or its subfolders` });
  }
  const agency = AgencyEvidence.load(
    dir,
    dirs,
    { caPems: opts.caPems, ...(opts.witnesses ? { witnesses: opts.witnesses } : {}), ...(opts.trustedCheckpoint ? { trustedCheckpoint: opts.trustedCheckpoint } : {}) },
    (deviceId, kind, detail) => findings.push({ kind, deviceId, detail }),
  );
  const pool = new CheckPool(opts.jobs ?? availableParallelism());
  try {
    for (const d of dirs) {
      devices.push(await verifyDevice(d, opts, findings, pool, agency));
      opts.progress?.(`checked ${basename(d)}`);
    }
  } finally {
    await pool.stop();
  }
  // A device the agency logged must still have its folder, and a ledger in it: removing one whole, or emptying
  // its ledger (whose device is then known only by the folder's name), is a rollback too. (Only when the whole store
  // is checked: a device folder checked on its own stands for itself.)
  const present = new Set(devices.filter((d) => d.entries > 0).map((d) => d.deviceId));
  const emptied = new Set(devices.filter((d) => d.entries === 0).map((d) => d.deviceId));
  const wholeStore = !existsSync(join(dir, LEDGER_FILE));
  for (const id of wholeStore ? agency.loggedDevices() : []) {
    if (present.has(id)) continue;
    const detail = emptied.has(id)
      ? `the agency log holds entries of device ${id}, but its folder's ledger has none: they were removed`
      : `the agency log holds entries of device ${id}, but the store has no folder with its ledger: it was removed`;
    findings.push({ kind: 'rollback', deviceId: id, detail });
  }
  return { ok: findings.length === 0, devices, findings, ...(agency.summary ? { log: agency.summary } : {}) };
}

async function verifyDevice(dir: string, opts: VerifyOptions, findings: Finding[], pool: CheckPool, agency: AgencyEvidence): Promise<DeviceReport> {
  const local: { kind: FindingKind; detail: string }[] = [];
  const report = (kind: FindingKind, detail: string): void => void local.push({ kind, detail });
  const agencyCheck = agency.forDevice(dir, report);
  const keys = new KeyLifecycle(opts.revocations ?? Revocations.none(), opts.caPems, report);
  const consistency = new LedgerConsistency(report);
  const encryption = new EncryptionKeyCheck(opts.caPems, opts.agencyKeys ?? [], report);
  const gapOptions = opts.gaps ?? DEFAULT_GAP_OPTIONS;
  const confirmations = new OfficerConfirmations(opts.caPems, report);
  const sessions = new SessionTracker(report, gapOptions, undefined, confirmations);
  const ledgerPath = join(dir, LEDGER_FILE);
  const lines = new LineReader(ledgerPath);
  const deletions = new DeletionCheck(opts.caPems, report, lines);
  const files = new SegmentFileChecks(dir, pool, (opts.agencyKeys ?? []).length > 0, deletions, report, opts.segmentsOf?.(dir));
  const retention = new RetentionDeletionCheck(dir, opts.caPems, report);
  let segments = 0;

  const head = readHead(dir, report);
  let hashAtHeadSeq: string | undefined;
  const progress = opts.progress ? progressLine(basename(dir), ledgerPath, opts.progress) : undefined;

  try {
    const read = await readLedger(
      ledgerPath,
      basename(dir),
      opts.caPems,
      ({ lineNo, entry: e, hash, offset, length }) => {
        if (head && e.seq === head.seq) hashAtHeadSeq = hash;
        agencyCheck.entry(lineNo, e, hash);
        keys.entry(lineNo, e);
        consistency.entry(lineNo, e);
        const b = e.body;
        const at = { offset, length };
        sessions.settle(lineNo);
        const malformed = (err: string | undefined): boolean => {
          if (err) report('malformed', `line ${lineNo}: ${err}`);
          return err !== undefined;
        };
        switch (e.type) {
          case ENTRY.segmentSealed: {
            if (malformed(B.checkManifest(b, e.suite))) return undefined;
            const m = B.asManifest(b);
            segments++;
            const usualFile = deletions.manifest(m, at);
            retention.manifest(m);
            encryption.manifest(lineNo, m);
            sessions.segment(lineNo, m);
            return files.add(m, usualFile, encryption.keyFor(m));
          }
          case ENTRY.receiptReceived:
            if (!malformed(B.checkReceiptReceived(b))) deletions.receipt(lineNo, e, at);
            return undefined;
          case ENTRY.segmentDeleted: {
            if (malformed(B.checkSegmentDeleted(b))) return undefined;
            const covered = deletions.deleted(lineNo, e);
            if (covered !== undefined) files.covered(covered);
            return undefined;
          }
          case ENTRY.encryptionInstalled:
            encryption.installed(lineNo, e);
            return undefined;
          case ENTRY.rosterInstalled:
            confirmations.installed(lineNo, e);
            return undefined;
          default:
            if (e.type === ENTRY.sessionClosed && !B.checkSessionClosed(b)) retention.closed(String(b.sessionId), typeof b.end === 'string' ? b.end : e.time);
            sessions.entry(lineNo, e);
            return undefined;
        }
      },
      report,
      { pool, ...(progress ? { onProgress: progress } : {}) },
    );
    const deviceId = read.deviceId;
    agencyCheck.finish();
    keys.finish();

    // Head: proves the ledger was not cut short at a line boundary. Where the agency vouches for the folder, only its
    // head counts: a device key can sign a head for any ledger it rewrote.
    if (head) checkHead(head, read, hashAtHeadSeq, opts.caPems, report);
    if (head && agencyCheck.isReceiverStore && head.signer !== 'agency') {
      report('untrusted-certificate', `${HEAD_FILE} is signed by the device, but in a receiver store (agency receipts or log present) only the agency's head counts: it was replaced`);
    }

    await files.settle(() => retention.finish(deviceId, agencyCheck.loggedDeletions));
    await files.finish();
    const replayed = sessions.reopened.size > 0 ? await replaySessions(ledgerPath, sessions.reopened, gapOptions) : undefined;
    const sessionReports = sessions.finish(replayed);

    for (const f of local) findings.push({ kind: f.kind, deviceId, detail: f.detail });
    return {
      deviceId,
      agency: agencyCheck.isReceiverStore,
      ...(agencyCheck.supersededReport.length > 0 ? { superseded: agencyCheck.supersededReport } : {}),
      entries: read.entries,
      segments,
      ...(files.deleted > 0 ? { deletedSegments: files.deleted } : {}),
      ...(files.retained > 0 ? { retentionDeleted: files.retained } : {}),
      sessions: sessionReports,
    };
  } finally {
    lines.close();
  }
}

/**
 * The sessions a late segment or interruption reopened, gathered again from the whole ledger (findings were
 * reported in the first pass, so none are here) and analysed.
 */
async function replaySessions(ledgerPath: string, ids: Set<string>, gaps: GapOptions): Promise<Map<string, SessionReport>> {
  const again = new SessionTracker(() => undefined, gaps, ids);
  let lineNo = 0;
  for await (const { text } of readLines(ledgerPath)) {
    lineNo++;
    const p = parseLine(text);
    if (!p.ok) continue;
    if (p.entry.type !== ENTRY.segmentSealed) again.entry(lineNo, p.entry);
    else if (!B.checkManifest(p.entry.body, p.entry.suite)) again.segment(lineNo, B.asManifest(p.entry.body));
  }
  return again.reports();
}

/** Every PROGRESS_MS: the line reached, how far into the file, and the rate since the last message. */
function progressLine(device: string, ledgerPath: string, say: (msg: string) => void): (lineNo: number, bytes: number) => void {
  let size = 0;
  try {
    size = statSync(ledgerPath).size;
  } catch {
    // No size, no percentage.
  }
  let lastT = Date.now();
  let lastLine = 0;
  return (lineNo, bytes) => {
    const now = Date.now();
    if (now - lastT < PROGRESS_MS) return;
    const rate = ((lineNo - lastLine) * 1000) / (now - lastT);
    const pct = size > 0 ? ` (${((100 * bytes) / size).toFixed(0)}% of ${LEDGER_FILE})` : '';
    say(`${device}: line ${lineNo}${pct}, ${Math.round(rate)} entries/s`);
    lastT = now;
    lastLine = lineNo;
  };
}

const HEAD_MEMBERS = 'cert,device,hash,seq,sig,signer,time,v';

function readHead(dir: string, report: (kind: FindingKind, detail: string) => void): Head | undefined {
  const path = join(dir, HEAD_FILE);
  if (!existsSync(path)) {
    report('broken-chain', `${HEAD_FILE} is missing, so nothing proves the ledger is complete (it may have been cut short)`);
    return undefined;
  }
  try {
    const text = readFileSync(path, 'utf8');
    const h = JSON.parse(text) as Head;
    const valid =
      typeof h === 'object' && h !== null && Number.isSafeInteger(h.seq) && typeof h.hash === 'string' &&
      typeof h.sig === 'string' && typeof h.cert === 'string' && typeof h.device === 'string' && typeof h.time === 'string' &&
      Object.keys(h).filter((k) => k !== 'suite').sort().join() === HEAD_MEMBERS;
    if (!valid) throw new Error('a member is missing or has the wrong type');
    if (h.suite !== undefined && h.suite !== 'gm') throw new Error(`its suite ${JSON.stringify(h.suite)} is not "gm" (an intl head names none)`);
    // As with ledger lines, only the exact bytes that were written count: no second spelling of one statement.
    if (encodeHead(h) !== text) throw new Error('it is not in canonical form (spacing, key order or line end differs from what was signed)');
    return h;
  } catch (err) {
    report('malformed', `${HEAD_FILE} is not a valid head statement (${(err as Error).message})`);
    return undefined;
  }
}

function checkHead(
  h: Head,
  read: Awaited<ReturnType<typeof readLedger>>,
  hashAtHeadSeq: string | undefined,
  caPems: string[],
  report: (kind: FindingKind, detail: string) => void,
): void {
  const role = h.signer === 'agency' ? ROLE_RECEIPT : ROLE_DEVICE;
  const at = new Date(h.time);
  const expect = role === ROLE_DEVICE ? { at, role, commonName: read.deviceId } : { at, role };
  for (const p of checkCertificate(h.cert, caPems, expect)) report('untrusted-certificate', `${HEAD_FILE}: ${p.detail}`);
  const x = parseCertificate(h.cert);
  const { sig, ...unsigned } = h;
  const sigBytes = decodeBase64Strict(sig);
  if (x && h.suite === 'gm' && !isSm2Key(x.publicKey)) {
    report('bad-signature', `${HEAD_FILE}: it says suite gm but its certificate's key is not SM2`);
    return;
  }
  if (!x || !sigBytes || !verifySignature(headSignedBytes(unsigned), sigBytes, x.publicKey)) {
    report('bad-signature', `${HEAD_FILE}: its signature does not verify`);
    return;
  }
  if (h.device !== read.deviceId) report('broken-chain', `${HEAD_FILE} is for device ${h.device}, not ${read.deviceId}`);
  if (!read.last) return;
  if (h.seq > read.last.seq) {
    report('broken-chain', `the ledger ends at seq ${read.last.seq} but ${HEAD_FILE} says it has entries up to seq ${h.seq}: the ledger was cut short`);
  } else if (hashAtHeadSeq !== h.hash) {
    report('broken-chain', `entry seq ${h.seq} is not the one ${HEAD_FILE} names (its hash differs)`);
  }
  // Entries after the head's seq were appended later; the chain itself vouches for them.
}
