/**
 * Reads one device's ledger.jsonl line by line and checks what each line alone and the chain can tell:
 * form, sequence, hash links, certificates and signatures. Streams, so a year of ledger is not held in memory.
 */
import { createReadStream } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { GENESIS_PREV, lineHash, parseLine, splitSignature, type LedgerEntry } from '../evidence/entry.js';
import { verifySignature } from '../evidence/signer.js';
import { ENTRY } from '../evidence/types.js';
import { checkCertificate, parseCertificate } from '../pki/certs.js';
import { ROLE_DEVICE } from '../pki/ca.js';
import { checkCertBody } from './bodies.js';
import type { FindingKind } from './findings.js';
import { describe } from '../util/errors.js';

export interface ReadEntry {
  lineNo: number;
  entry: LedgerEntry;
  hash: string;
}

export interface LedgerReadResult {
  deviceId: string;
  entries: number;
  last?: { seq: number; hash: string; time: string };
  /** The certificate in force at the end of the ledger (for head.json signed by the device). */
  currentCert?: string;
}

export async function readLedger(
  path: string,
  folderName: string,
  caPems: string[],
  onEntry: (e: ReadEntry) => void,
  report: (kind: FindingKind, detail: string) => void,
): Promise<LedgerReadResult> {
  let lineNo = 0;
  let expectedSeq = 0;
  let prevHash: string | null = null;
  let deviceId: string | undefined;
  let key: KeyObject | undefined;
  let cert: string | undefined;
  let entries = 0;
  let last: LedgerReadResult['last'];
  const seenHashes = new Set<string>();

  let unreadable = false;
  const cannotRead = (err: unknown): void => {
    unreadable = true;
    report('malformed', `ledger.jsonl cannot be read (${describe(err)}): nothing after line ${lineNo} can be checked`);
  };
  for await (const { text: raw, terminated } of readLines(path, cannotRead)) {
    lineNo++;
    if (raw === '') {
      report('malformed', `line ${lineNo}: empty line`);
      continue;
    }
    // A line that parses but lacks its newline was cut exactly there; one that does not parse says so below.
    if (!terminated && parseLine(raw).ok) report('malformed', `line ${lineNo}: the last line does not end in a newline (the file was cut short or edited)`);
    const hash = lineHash(raw);
    const prevForThis = prevHash;
    prevHash = hash;
    const parsed = parseLine(raw);
    if (!parsed.ok) {
      report('malformed', `line ${lineNo}: ${parsed.error}`);
      expectedSeq++;
      continue;
    }
    const e = parsed.entry;
    entries++;

    // Chain: sequence numbers and hash links.
    if (seenHashes.has(hash)) report('broken-chain', `line ${lineNo}: entry seq ${e.seq} is a duplicate of an earlier line`);
    seenHashes.add(hash);
    if (e.seq !== expectedSeq) {
      report('broken-chain', `line ${lineNo}: entry has seq ${e.seq} where ${expectedSeq} was expected (entries missing, reordered or duplicated)`);
    }
    expectedSeq = e.seq + 1;
    if (prevForThis === null) {
      if (e.prev !== GENESIS_PREV || e.type !== ENTRY.ledgerOpened) {
        report('broken-chain', `line ${lineNo}: the ledger does not begin with its genesis entry (ledger.opened with an all-zero prev)`);
      }
    } else if (e.prev !== prevForThis) {
      report('broken-chain', `line ${lineNo}: entry seq ${e.seq} does not link to the line before it (prev hash differs)`);
    }

    // Identity: the device named by the genesis entry signs everything after it.
    if (deviceId === undefined) deviceId = e.device;
    else if (e.device !== deviceId) report('broken-chain', `line ${lineNo}: entry names device ${JSON.stringify(e.device)} inside the ledger of ${JSON.stringify(deviceId)}`);

    if (e.type === ENTRY.ledgerOpened || e.type === ENTRY.certificateInstalled) {
      const bad = checkCertBody(e.body);
      if (bad) {
        report('malformed', `line ${lineNo}: ${bad}`);
      } else {
        const newCert = e.body.cert as string;
        const chain = Array.isArray(e.body.chain) ? (e.body.chain as unknown[]).filter((c): c is string => typeof c === 'string') : [];
        const problems = checkCertificate(newCert, caPems, { at: new Date(e.time), commonName: deviceId, role: ROLE_DEVICE }, chain);
        for (const p of problems) report('untrusted-certificate', `line ${lineNo}: ${p.detail}`);
        const x = parseCertificate(newCert);
        if (x) {
          // An entry carrying a certificate is signed with that certificate's key; the CA vouches for it.
          checkSig(raw, e, x.publicKey, lineNo, report);
          key = x.publicKey;
          cert = newCert;
        }
      }
    } else {
      checkSig(raw, e, key, lineNo, report);
    }
    last = { seq: e.seq, hash, time: e.time };
    onEntry({ lineNo, entry: e, hash });
  }
  if (lineNo === 0 && !unreadable) report('malformed', 'ledger.jsonl is empty');
  return { deviceId: deviceId ?? folderName, entries, ...(last ? { last } : {}), ...(cert ? { currentCert: cert } : {}) };
}

/**
 * The file's lines, split on "\n" only: a "\r" is not a line end here (readline would take one as such, so a
 * changed byte would go unnoticed) but part of the line, which then fails the canonical-form check.
 */
async function* readLines(path: string, cannotRead: (err: unknown) => void): AsyncGenerator<{ text: string; terminated: boolean }> {
  let rest = '';
  try {
    for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
      const buf = rest + (chunk as string);
      let start = 0;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n', start)) {
        yield { text: buf.slice(start, i), terminated: true };
        start = i + 1;
      }
      rest = buf.slice(start);
    }
  } catch (err) {
    // A directory, or a read error, where the ledger belongs: a finding, never an exception out of the verifier.
    return cannotRead(err);
  }
  if (rest !== '') yield { text: rest, terminated: false };
}

function checkSig(
  raw: string,
  e: LedgerEntry,
  key: KeyObject | undefined,
  lineNo: number,
  report: (kind: FindingKind, detail: string) => void,
): void {
  if (!key) {
    report('untrusted-certificate', `line ${lineNo}: entry seq ${e.seq} comes before any certificate, so nothing vouches for its signature`);
    return;
  }
  const parts = splitSignature(raw);
  if (!parts || !verifySignature(Buffer.from(parts.signed, 'utf8'), parts.sig, key)) {
    report('bad-signature', `line ${lineNo}: the signature of entry seq ${e.seq} (${e.type}) does not verify with the device certificate`);
  }
}
