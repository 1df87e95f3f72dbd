/**
 * Reads one device's ledger.jsonl line by line and checks what each line alone and the chain can tell:
 * form, sequence, hash links, certificates and signatures. Streams: what it keeps does not grow with the ledger
 * (signatures are checked in batches on the check pool's worker threads while it reads on; a duplicated line is
 * found without remembering every line, see findDuplicates).
 */
import { createReadStream } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { KeyObject } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { GENESIS_PREV, decodeBase64Strict, lineHash, parseLine, signatureMember, type LedgerEntry } from '../evidence/entry.js';
import { isSm2Key, sm2PublicHex } from '../crypto/gm/sm2-keys.js';
import { sm2CheckInput } from '../crypto/gm/sm2-sign.js';
import { ENTRY } from '../evidence/types.js';
import { checkCertificate, parseCertificate } from '../pki/certs.js';
import { ROLE_DEVICE } from '../pki/roles.js';
import { checkCertBody } from './bodies.js';
import { CheckPool } from './check-pool.js';
import { SignatureChecks, type SignedLine } from './signature-checks.js';
import type { FindingKind } from './findings.js';
import { describe } from '../util/errors.js';

export interface ReadEntry {
  lineNo: number;
  entry: LedgerEntry;
  hash: string;
  /** Where the line is in the file (bytes, without its newline), to read it again later instead of keeping it. */
  offset: number;
  length: number;
}

export interface LedgerReadResult {
  deviceId: string;
  entries: number;
  last?: { seq: number; hash: string; time: string };
  /** The certificate in force at the end of the ledger (for head.json signed by the device). */
  currentCert?: string;
}

export interface ReadOptions {
  /** Worker threads for the signature checks; without one, readLedger runs a pool of its own for the call. */
  pool?: CheckPool;
  /** Called every 4096 lines with the line number and the bytes read so far. */
  onProgress?: (lineNo: number, bytes: number) => void;
}

/** A line whose seq is not above every earlier one: only such a line can repeat an earlier line. */
interface Suspect {
  lineNo: number;
  seq: number;
  hash: string;
}

export async function readLedger(
  path: ByteSource,
  folderName: string,
  caPems: string[],
  onEntry: (e: ReadEntry) => void | Promise<void>,
  report: (kind: FindingKind, detail: string) => void,
  opts: ReadOptions = {},
): Promise<LedgerReadResult> {
  const ownPool = opts.pool ? undefined : new CheckPool(availableParallelism());
  try {
    return await read(path, folderName, caPems, onEntry, report, opts.pool ?? ownPool!, opts.onProgress);
  } finally {
    await ownPool?.stop();
  }
}

async function read(
  path: ByteSource,
  folderName: string,
  caPems: string[],
  onEntry: (e: ReadEntry) => void | Promise<void>,
  report: (kind: FindingKind, detail: string) => void,
  pool: CheckPool,
  onProgress: ReadOptions['onProgress'],
): Promise<LedgerReadResult> {
  let lineNo = 0;
  let expectedSeq = 0;
  let prevHash: string | null = null;
  let deviceId: string | undefined;
  let key: KeyObject | undefined;
  let cert: string | undefined;
  /** The suite of the last entry read (evidence-format.md §17.6). */
  let suite: 'intl' | 'gm' | undefined;
  let entries = 0;
  let last: LedgerReadResult['last'];
  let maxSeq = -1;
  const suspects: Suspect[] = [];
  const sigs = new SignatureChecks(pool, (l) => report('bad-signature', badSignature(l)));

  let unreadable = false;
  const cannotRead = (err: unknown): void => {
    unreadable = true;
    report('malformed', `ledger.jsonl cannot be read (${describe(err)}): nothing after line ${lineNo} can be checked`);
  };
  for await (const batch of readLineBatches(path, cannotRead)) for (const line of batch) {
    const { text: raw, terminated, offset, length } = line;
    lineNo++;
    if ((lineNo & 4095) === 0) onProgress?.(lineNo, offset);
    if (raw === '') {
      report('malformed', `line ${lineNo}: empty line`);
      continue;
    }
    const parsed = parseLine(raw);
    // A line that parses but lacks its newline was cut exactly there; one that does not parse says so below.
    if (!terminated && parsed.ok) report('malformed', `line ${lineNo}: the last line does not end in a newline (the file was cut short or edited)`);
    // The chain hash is of the line's bytes; for valid UTF-8 those are the text's, without encoding it again.
    const utf8 = isUtf8(line.bytes);
    // SHA-256, or SM3 for a gm line.
    const hash = utf8 ? lineHash(line.bytes) : lineHash(raw);
    const prevForThis = prevHash;
    prevHash = hash;
    if (!parsed.ok) {
      report('malformed', `line ${lineNo}: ${parsed.error}`);
      expectedSeq++;
      continue;
    }
    const e = parsed.entry;
    entries++;

    // Chain: sequence numbers and hash links. A repeat of an earlier line repeats its seq, so only a line whose
    // seq is not above all earlier ones can be one; those few are compared with the earlier lines at the end.
    if (e.seq <= maxSeq) suspects.push({ lineNo, seq: e.seq, hash });
    else maxSeq = e.seq;
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

    // Suites: a ledger stays in the suite of its genesis entry but for a rotation, a certificate.installed entry in
    // the new suite that names the one it leaves (suiteFrom) and carries a certificate for a key of the new suite.
    const entrySuite = e.suite ?? 'intl';
    const from = e.type === ENTRY.certificateInstalled ? e.body.suiteFrom : undefined;
    if (suite !== undefined && entrySuite !== suite && from !== suite) {
      report('suite-switch', `line ${lineNo}: entry seq ${e.seq} (${e.type}) is in the ${entrySuite} suite after an entry in the ${suite} suite, without a rotation (a certificate.installed entry with suiteFrom ${JSON.stringify(suite)})`);
    } else if (from !== undefined && (from === entrySuite || from !== suite)) {
      report('suite-switch', `line ${lineNo}: entry seq ${e.seq} names suiteFrom ${JSON.stringify(from)}, but it is in the ${entrySuite} suite and follows an entry in the ${suite ?? 'no'} suite`);
    }
    suite = entrySuite;

    let wait: Promise<void> | undefined;
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
          wait = checkSig(line, utf8, e, x.publicKey, lineNo, sigs, report);
          key = x.publicKey;
          cert = newCert;
        }
      }
    } else {
      wait = checkSig(line, utf8, e, key, lineNo, sigs, report);
    }
    if (wait) await wait;
    last = { seq: e.seq, hash, time: e.time };
    const more = onEntry({ lineNo, entry: e, hash, offset, length });
    if (more) await more;
  }
  await sigs.drain();
  if (lineNo === 0 && !unreadable) report('malformed', 'ledger.jsonl is empty');
  if (suspects.length > 0) await findDuplicates(path, suspects, report);
  return { deviceId: deviceId ?? folderName, entries, ...(last ? { last } : {}), ...(cert ? { currentCert: cert } : {}) };
}

/**
 * "The same line appearing twice" (docs/evidence-format.md §10), without a set of every line's hash: a second
 * pass over the file, as far as the last suspect, finds for each suspect whether an earlier line has its hash.
 * An honest ledger has no suspects, so this pass does not run.
 */
async function findDuplicates(path: ByteSource, suspects: Suspect[], report: (kind: FindingKind, detail: string) => void): Promise<void> {
  const first = new Map<string, number>(suspects.map((s) => [s.hash, Infinity]));
  const end = suspects[suspects.length - 1]!.lineNo;
  let lineNo = 0;
  for await (const { text } of readLines(path)) {
    if (++lineNo >= end) break;
    if (text === '') continue;
    const h = lineHash(text);
    if (first.get(h) === Infinity) first.set(h, lineNo);
  }
  for (const s of suspects) {
    if (first.get(s.hash)! < s.lineNo) report('broken-chain', `line ${s.lineNo}: entry seq ${s.seq} is a duplicate of an earlier line`);
  }
}

/** One line of the file: its text, its bytes (a view valid until the next batch is asked for) and where it is. */
export interface FileLine {
  text: string;
  bytes: Buffer;
  terminated: boolean;
  offset: number;
  length: number;
}

/**
 * The file's lines, split on "\n" only: a "\r" is not a line end here (readline would take one as such, so a
 * changed byte would go unnoticed) but part of the line, which then fails the canonical-form check. Each line is
 * decoded on its own (a "\n" byte is never inside a UTF-8 sequence), with its byte offset and length.
 */
export async function* readLines(path: ByteSource, cannotRead?: (err: unknown) => void): AsyncGenerator<FileLine> {
  for await (const lines of readLineBatches(path, cannotRead)) yield* lines;
}

/**
 * A file's bytes: its path, or something that opens it afresh each time it is called (an object of a store,
 * store.stream); read twice when a ledger has suspected duplicates.
 */
export type ByteSource = string | (() => AsyncIterable<Buffer>);

/** readLines a chunk at a time: one await per 256 KiB instead of one per line. */
export async function* readLineBatches(path: ByteSource, cannotRead?: (err: unknown) => void): AsyncGenerator<FileLine[]> {
  // Only a line cut by a chunk's end is copied (not the chunk): fewer fresh buffers for the collector to catch up with.
  let rest: Buffer[] = [];
  let restLen = 0;
  let base = 0; // file offset of the chunk's first byte
  try {
    for await (const chunk of typeof path === 'string' ? (createReadStream(path, { highWaterMark: 1 << 18 }) as AsyncIterable<Buffer>) : path()) {
      const out: FileLine[] = [];
      let start = 0;
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, start)) {
        if (restLen > 0) {
          const line = Buffer.concat([...rest, chunk.subarray(0, i)]);
          out.push({ text: line.toString('utf8'), bytes: line, terminated: true, offset: base - restLen, length: line.length });
          rest = [];
          restLen = 0;
        } else {
          const line = chunk.subarray(start, i);
          out.push({ text: line.toString('utf8'), bytes: line, terminated: true, offset: base + start, length: i - start });
        }
        start = i + 1;
      }
      if (start < chunk.length) {
        rest.push(Buffer.from(chunk.subarray(start)));
        restLen += chunk.length - start;
      }
      base += chunk.length;
      if (out.length > 0) yield out;
    }
  } catch (err) {
    // A directory, or a read error, where the ledger belongs: a finding, never an exception out of the verifier.
    if (!cannotRead) throw err;
    return cannotRead(err);
  }
  if (restLen > 0) {
    const line = Buffer.concat(rest);
    yield [{ text: line.toString('utf8'), bytes: line, terminated: false, offset: base - restLen, length: line.length }];
  }
}

function checkSig(
  line: FileLine,
  utf8: boolean,
  e: LedgerEntry,
  key: KeyObject | undefined,
  lineNo: number,
  sigs: SignatureChecks,
  report: (kind: FindingKind, detail: string) => void,
): Promise<void> | undefined {
  if (!key) {
    report('untrusted-certificate', `line ${lineNo}: entry seq ${e.seq} comes before any certificate, so nothing vouches for its signature`);
    return undefined;
  }
  const m = signatureMember(line.text);
  const what = { lineNo, seq: e.seq, type: e.type };
  if (!m) return void report('bad-signature', badSignature(what));
  // The signed bytes are the line's own up to the member (the member is ASCII when its base64 is valid, so its
  // length in bytes is its length in the text); a line that is not valid UTF-8 is signed as its decoded text.
  const bytes = utf8 ? line.bytes : Buffer.from(line.text, 'utf8');
  const cut = bytes.length - (line.text.length - m.at);
  // An SM2 key signs gm entries only, and those only SM2 over SM3 (node:crypto's verify would take plain ECDSA on
  // the SM2 curve): e = SM3(Z_A || M) and r || s are made here, the curve check goes to the pool's workers.
  const gmKey = isSm2Key(key);
  if (e.suite === 'gm' || gmKey) {
    const sig = decodeBase64Strict(m.text);
    const pub = gmKey ? sm2PublicHex(key) : undefined;
    const input = e.suite === 'gm' && pub !== undefined && sig !== undefined ? sm2CheckInput(Buffer.concat([bytes.subarray(0, cut), CLOSE]), sig, pub) : null;
    if (!input) return void report('bad-signature', badSignature(what));
    return sigs.addSm2(input.e, input.rs, pub!, what);
  }
  return sigs.add(bytes, cut, m.text, key, what);
}

const CLOSE = Buffer.from('}');
const badSignature = (l: SignedLine): string => `line ${l.lineNo}: the signature of entry seq ${l.seq} (${l.type}) does not verify with the device certificate`;
