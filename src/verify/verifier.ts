/**
 * `recgw verify`: proves from the files alone and the agency CA certificate that nothing in a store was
 * deleted, altered, inserted or reordered, and that every gap in a session's time is explained.
 * Bad input of any kind becomes a finding; the verifier itself never throws on content.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { ENTRY, type SegmentManifest } from '../evidence/types.js';
import { HEAD_FILE, LEDGER_FILE, SEGMENTS_DIR, encodeHead, headSignedBytes, type Head } from '../evidence/head.js';
import { decodeBase64Strict } from '../evidence/entry.js';
import { verifySignature } from '../evidence/signer.js';
import { checkCertificate, parseCertificate } from '../pki/certs.js';
import { ROLE_DEVICE, ROLE_RECEIPT } from '../pki/ca.js';
import { readLedger } from './ledger-reader.js';
import { checkSegmentFile } from './segment-files.js';
import { DeletionCheck } from './deletions.js';
import { EncryptionKeyCheck } from './encryption-key.js';
import * as B from './bodies.js';
import { analyseSession, DEFAULT_GAP_OPTIONS, type GapOptions, type SessionFacts } from './sessions.js';
import type { DeviceReport, Finding, FindingKind, VerifyReport } from './findings.js';
import { AgencyEvidence } from './agency-evidence.js';
import { KeyLifecycle } from './key-lifecycle.js';
import { LedgerConsistency } from './consistency.js';
import { Revocations } from '../pki/crl.js';
import type { WitnessKey } from '../tlog/checkpoint.js';

export interface VerifyOptions {
  caPems: string[];
  agencyKey?: KeyObject;
  /** Witnesses whose cosignatures on the agency log's checkpoint are checked and reported. */
  witnesses?: WitnessKey[];
  /** A checkpoint of the agency log obtained elsewhere (a witness, a gateway): the store's log must agree with it. */
  trustedCheckpoint?: string;
  /** The agency CA's revocations (its CRLs): what a revoked key signed after its revocation is reported. */
  revocations?: Revocations;
  gaps?: GapOptions;
  /** Called as each device is done, for progress output. */
  progress?: (msg: string) => void;
}

/** The device folders under `dir`: `dir` itself if it holds a ledger, else each subfolder that does. */
export function findDeviceDirs(dir: string): string[] {
  if (existsSync(join(dir, LEDGER_FILE))) return [dir];
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, LEDGER_FILE)))
    .map((d) => join(dir, d.name))
    .sort();
}

export async function verifyStore(dir: string, opts: VerifyOptions): Promise<VerifyReport> {
  const findings: Finding[] = [];
  const devices: DeviceReport[] = [];
  const dirs = findDeviceDirs(dir);
  if (dirs.length === 0) {
    findings.push({ kind: 'malformed', deviceId: basename(dir), detail: `no ${LEDGER_FILE} in ${dir} or its subfolders` });
  }
  const agency = AgencyEvidence.load(dir, dirs, { caPems: opts.caPems, ...(opts.witnesses ? { witnesses: opts.witnesses } : {}), ...(opts.trustedCheckpoint ? { trustedCheckpoint: opts.trustedCheckpoint } : {}) }, (deviceId, kind, detail) =>
    findings.push({ kind, deviceId, detail }),
  );
  for (const d of dirs) {
    devices.push(await verifyDevice(d, opts, findings, agency));
    opts.progress?.(`checked ${basename(d)}`);
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

const ms = (iso: string): number => Date.parse(iso);

async function verifyDevice(dir: string, opts: VerifyOptions, findings: Finding[], agency: AgencyEvidence): Promise<DeviceReport> {
  const local: { kind: FindingKind; detail: string }[] = [];
  const report = (kind: FindingKind, detail: string): void => void local.push({ kind, detail });
  const agencyCheck = agency.forDevice(dir, report);
  const keys = new KeyLifecycle(opts.revocations ?? Revocations.none(), opts.caPems, report);
  const consistency = new LedgerConsistency(report);
  const sessions = new Map<string, SessionFacts>();
  const manifests: { lineNo: number; m: SegmentManifest }[] = [];
  const statements = new Map<string, Set<string>>();
  const deletions = new DeletionCheck(opts.caPems, report);
  const encryption = new EncryptionKeyCheck(opts.caPems, opts.agencyKey, report);

  const needSession = (id: string, lineNo: number, what: string): SessionFacts | undefined => {
    const s = sessions.get(id);
    if (!s) report('broken-chain', `line ${lineNo}: ${what} refers to session ${id}, which was never opened in this ledger`);
    return s;
  };

  const head = readHead(dir, report);
  let hashAtHeadSeq: string | undefined;

  const read = await readLedger(join(dir, LEDGER_FILE), basename(dir), opts.caPems, ({ lineNo, entry: e, hash }) => {
    if (head && e.seq === head.seq) hashAtHeadSeq = hash;
    agencyCheck.entry(lineNo, e, hash);
    keys.entry(lineNo, e);
    consistency.entry(lineNo, e);
    const b = e.body;
    const malformed = (err: string | undefined): boolean => {
      if (err) report('malformed', `line ${lineNo}: ${err}`);
      return err !== undefined;
    };
    switch (e.type) {
      case ENTRY.sessionOpened: {
        if (malformed(B.checkSessionOpened(b))) return;
        const id = b.sessionId as string;
        if (sessions.has(id)) return report('broken-chain', `line ${lineNo}: session ${id} is opened a second time`);
        sessions.set(id, {
          sessionId: id,
          matter: b.matter as string,
          caseRef: b.caseRef as string,
          officers: b.officers as { name: string; badge: string }[],
          start: ms((b.start as string | undefined) ?? e.time),
          end: null,
          closedBy: null,
          statementBadges: new Set(),
          statement: false,
          segments: [],
          interruptions: [],
          declaredSources: Array.isArray(b.sources) ? (b.sources as unknown[]).filter((x): x is string => typeof x === 'string') : [],
        });
        return;
      }
      case ENTRY.sessionClosed: {
        if (malformed(B.checkSessionClosed(b))) return;
        const s = needSession(b.sessionId as string, lineNo, 'session.closed');
        if (!s) return;
        if (s.end !== null) return report('broken-chain', `line ${lineNo}: session ${s.sessionId} is closed a second time`);
        s.end = ms((b.end as string | undefined) ?? e.time);
        s.closedBy = b.reason as 'stopped' | 'terminated';
        return;
      }
      case ENTRY.sessionStatement: {
        if (malformed(B.checkStatement(b))) return;
        const set = statements.get(b.sessionId as string) ?? new Set<string>();
        for (const o of b.officers as { badge: string }[]) set.add(o.badge);
        statements.set(b.sessionId as string, set);
        return;
      }
      case ENTRY.segmentSealed: {
        if (malformed(B.checkManifest(b))) return;
        const m = B.asManifest(b);
        manifests.push({ lineNo, m });
        deletions.manifest(e.seq, m);
        encryption.manifest(lineNo, m);
        const s = needSession(m.sessionId, lineNo, `segment ${m.segment}`);
        s?.segments.push({ sourceId: m.source.id, seq: m.seq, start: ms(m.start), end: ms(m.end), preEvent: m.preEvent === true });
        return;
      }
      case ENTRY.interruptionStarted: {
        if (malformed(B.checkInterruptionStarted(b))) return;
        const s = needSession(b.sessionId as string, lineNo, 'interruption.started');
        s?.interruptions.push({
          id: b.interruptionId as string,
          reason: b.reason as string,
          origin: b.origin as string,
          start: ms(b.start as string),
          end: null,
          ...(Array.isArray(b.sources) ? { sources: b.sources as string[] } : {}),
        });
        return;
      }
      case ENTRY.interruptionEnded: {
        if (malformed(B.checkInterruptionEnded(b))) return;
        const s = needSession(b.sessionId as string, lineNo, 'interruption.ended');
        const i = s?.interruptions.find((x) => x.id === b.interruptionId);
        if (s && !i) report('broken-chain', `line ${lineNo}: interruption ${String(b.interruptionId)} ends but never started`);
        if (i) i.end = ms(b.end as string);
        return;
      }
      case ENTRY.receiptReceived:
        if (!malformed(B.checkReceiptReceived(b))) deletions.receipt(lineNo, e);
        return;
      case ENTRY.segmentDeleted:
        if (!malformed(B.checkSegmentDeleted(b))) deletions.deleted(lineNo, e);
        return;
      case ENTRY.encryptionInstalled:
        return encryption.installed(lineNo, e);
      default:
        return;
    }
  }, report);
  const deviceId = read.deviceId;
  agencyCheck.finish();
  keys.finish();

  // Head: proves the ledger was not cut short at a line boundary. Where the agency vouches for the folder, only its
  // head counts: a device key can sign a head for any ledger it rewrote.
  if (head) checkHead(head, read, hashAtHeadSeq, opts.caPems, report);
  if (head && agencyCheck.isReceiverStore && head.signer !== 'agency') {
    report('untrusted-certificate', `${HEAD_FILE} is signed by the device, but in a receiver store (agency receipts or log present) only the agency's head counts: it was replaced`);
  }

  const deletedSegments = await checkSegmentFiles(dir, manifests.map((x) => x.m), deletions, (m) => encryption.keyFor(m), report);

  // Sessions: closed, statements, gaps.
  const sessionReports = [...sessions.values()].map((s) => {
    const badges = statements.get(s.sessionId);
    s.statementBadges = badges ?? new Set();
    s.statement = s.statementBadges.size >= 2;
    const r = analyseSession(s, opts.gaps ?? DEFAULT_GAP_OPTIONS);
    if (s.end === null) report('unclosed-session', `session ${s.sessionId} (${s.matter}, case ${s.caseRef}) was opened and never closed`);
    if (s.closedBy === 'terminated' && !s.statement) {
      report(
        'unexplained-gap',
        `session ${s.sessionId} ended with an interruption that never resumed, and lacks a written statement confirmed by two officers`,
      );
    }
    for (const g of r.gaps) {
      if (!g.explained) report('unexplained-gap', `session ${s.sessionId}: ${g.source} has no footage from ${g.start} to ${g.end} and no interruption explains it`);
    }
    return r;
  });

  for (const f of local) findings.push({ kind: f.kind, deviceId, detail: f.detail });
  return {
    deviceId,
    agency: agencyCheck.isReceiverStore,
    ...(agencyCheck.supersededReport.length > 0 ? { superseded: agencyCheck.supersededReport } : {}),
    entries: read.entries,
    segments: manifests.length,
    ...(deletedSegments > 0 ? { deletedSegments } : {}),
    sessions: sessionReports,
  };
}

/**
 * Segment files against their manifests, and files no manifest describes. A file that is absent because a
 * receipted deletion removed it is no finding. Returns how many files are absent that way.
 */
async function checkSegmentFiles(
  dir: string,
  manifests: SegmentManifest[],
  deletions: DeletionCheck,
  agencyKey: (m: SegmentManifest) => KeyObject | undefined,
  report: (kind: FindingKind, detail: string) => void,
): Promise<number> {
  let deleted = 0;
  for (const m of manifests) {
    const r = await checkSegmentFile(join(dir, m.file), m, agencyKey(m));
    if (r.ok) continue;
    if (r.kind === 'missing-segment' && r.absent && deletions.isCovered(m.segment)) deleted++;
    else report(r.kind, r.detail);
  }
  checkUndescribed(dir, new Set(manifests.map((m) => basename(m.file))), report);
  return deleted;
}

function checkUndescribed(dir: string, described: Set<string>, report: (kind: FindingKind, detail: string) => void): void {
  let names: string[];
  try {
    names = readdirSync(join(dir, SEGMENTS_DIR));
  } catch {
    // No segments folder (or not a folder): each manifest's file is then reported missing on its own.
    return;
  }
  for (const f of names.sort()) {
    if (f.endsWith('.seg') && !described.has(f)) {
      report('broken-chain', `${SEGMENTS_DIR}/${f} is in the folder but no ledger entry describes it (entries removed or the ledger cut short)`);
    }
  }
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
      Object.keys(h).sort().join() === HEAD_MEMBERS;
    if (!valid) throw new Error('a member is missing or has the wrong type');
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
