/**
 * A witness of agency logs (c2sp.org/tlog-witness, add-checkpoint): an outside supervisor (司法行政) keeps its own
 * Ed25519 key and, per log it follows, the last checkpoint it cosigned. It cosigns a new checkpoint only when the
 * log's signature verifies and a consistency proof shows it extends that one; a fork (same size, other root) or a
 * log that shrank is refused and the conflicting, log-signed checkpoint kept as evidence of the log's misbehaviour.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { EMPTY_ROOT, HASH_SIZE, verifyConsistency } from '../tlog/merkle.js';
import { cosign, openCheckpoint } from '../tlog/checkpoint.js';
import { SIG_COSIGNATURE_V1, SIG_ED25519, formatVkey, isKeyName, parseVkey, sigLine, type Vkey } from '../tlog/note.js';
import { writeFileAtomicSync } from '../util/fsx.js';
import { RecgwError } from '../util/errors.js';

export const WITNESS_FILES = { key: 'witness-key.pem', vkey: 'witness.vkey', name: 'name', logs: 'logs', state: 'state', evidence: 'evidence' } as const;

export interface WitnessAnswer {
  status: number;
  body: string;
  contentType: string;
}

interface LogState {
  size: number;
  root: string;
  checkpoint: string;
}

const text = (status: number, body: string): WitnessAnswer => ({ status, body: body.endsWith('\n') ? body : `${body}\n`, contentType: 'text/plain; charset=utf-8' });
/** A file name for an origin (origins contain slashes). */
const fileOf = (origin: string): string => Buffer.from(origin, 'utf8').toString('base64url');

/** Create a witness state folder: its key, its verifier key, and the logs it follows. */
export function initWitness(dir: string, name: string, logVkeys: string[]): { vkey: string } {
  if (!isKeyName(name)) throw new RecgwError('usage', `witness name ${JSON.stringify(name)} is not a key name: no spaces or +, e.g. sfj.example.gov.cn/witness1`);
  if (existsSync(join(dir, WITNESS_FILES.key))) throw new RecgwError('usage', `${dir} already holds a witness key: a witness keeps one key for life (its cosignatures are checked against it)`);
  mkdirSync(join(dir, WITNESS_FILES.logs), { recursive: true, mode: 0o700 });
  mkdirSync(join(dir, WITNESS_FILES.state), { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ed25519');
  writeFileAtomicSync(join(dir, WITNESS_FILES.key), privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, 0o600);
  writeFileAtomicSync(join(dir, WITNESS_FILES.name), `${name}\n`);
  const vkey = formatVkey(name, SIG_COSIGNATURE_V1, privateKey);
  writeFileAtomicSync(join(dir, WITNESS_FILES.vkey), `${vkey}\n`);
  for (const v of logVkeys) trustLog(dir, v);
  return { vkey };
}

/** Follow one more log, given its verifier key (the log.vkey the agency publishes). */
export function trustLog(dir: string, vkeyText: string): Vkey {
  const v = parseVkey(vkeyText);
  if ('why' in v) throw new RecgwError('usage', `${JSON.stringify(vkeyText.slice(0, 80))} is not a log verifier key: ${v.why}`);
  if (v.type !== SIG_ED25519) throw new RecgwError('usage', 'a log verifier key has signature type 0x01 (Ed25519); this one is a witness key');
  writeFileAtomicSync(join(dir, WITNESS_FILES.logs, `${fileOf(v.name)}.vkey`), `${vkeyText.trim()}\n`);
  return v;
}

export class Witness {
  readonly name: string;
  private readonly key: KeyObject;
  private readonly logs = new Map<string, Vkey>();

  constructor(
    private readonly dir: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    if (!existsSync(join(dir, WITNESS_FILES.key))) throw new RecgwError('config', `${dir} is not a witness folder: create one with \`recgw witness init --out ${dir} --name NAME --log LOG.vkey\``);
    this.key = createPrivateKey(readFileSync(join(dir, WITNESS_FILES.key), 'utf8'));
    this.name = readFileSync(join(dir, WITNESS_FILES.name), 'utf8').trim();
    for (const f of readdirSync(join(dir, WITNESS_FILES.logs))) {
      const v = parseVkey(readFileSync(join(dir, WITNESS_FILES.logs, f), 'utf8'));
      if (!('why' in v)) this.logs.set(v.name, v);
    }
  }

  get vkey(): string {
    return formatVkey(this.name, SIG_COSIGNATURE_V1, this.key);
  }

  /** The last checkpoint cosigned for a log, if any. */
  latest(origin: string): LogState | undefined {
    const p = join(this.dir, WITNESS_FILES.state, `${fileOf(origin)}.json`);
    return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as LogState) : undefined;
  }

  /**
   * The add-checkpoint call: `body` is "old <size>\n", proof lines, a blank line, then the checkpoint. Callers run
   * these one at a time (checking the old size and storing the new checkpoint must be atomic).
   */
  addCheckpoint(body: string): WitnessAnswer {
    const m = /^old (0|[1-9][0-9]{0,15})\n/.exec(body);
    if (!m) return text(400, 'the request does not begin with "old <size>"');
    const old = Number(m[1]);
    const split = body.indexOf('\n\n', m[0].length - 1);
    if (split < 0) return text(400, 'no blank line between the proof and the checkpoint');
    const proofLines = body.slice(m[0].length, split + 1).split('\n').filter((l) => l !== '');
    if (proofLines.length > 63) return text(400, 'more than 63 proof lines');
    const proof: Buffer[] = [];
    for (const l of proofLines) {
      const h = Buffer.from(l, 'base64');
      if (h.length !== HASH_SIZE || h.toString('base64') !== l) return text(400, `proof line ${JSON.stringify(l)} is not base64 of 32 bytes`);
      proof.push(h);
    }
    const cpText = body.slice(split + 2);
    const origin = cpText.slice(0, cpText.indexOf('\n'));
    const log = this.logs.get(origin);
    if (!log) return text(404, `this witness does not follow log ${JSON.stringify(origin)}`);
    const cp = openCheckpoint(cpText, log.name, log.key);
    if ('why' in cp) return text(403, `the checkpoint is not signed by log ${origin}: ${cp.why}`);
    const prev = this.latest(origin);
    if (old > cp.size) {
      if (prev && old === prev.size) this.keepEvidence(origin, 'shrank', cpText, prev);
      return text(400, `old size ${old} is larger than the checkpoint's ${cp.size}`);
    }
    const mine = prev?.size ?? 0;
    if (old !== mine) {
      // A smaller checkpoint than the one cosigned is a log that shrank: keep it, it is the log's own signed word.
      if (cp.size < mine) this.keepEvidence(origin, 'shrank', cpText, prev!);
      return { status: 409, body: `${mine}\n`, contentType: 'text/x.tlog.size' };
    }
    if (cp.size === 0 && !cp.root.equals(EMPTY_ROOT)) return text(422, 'a checkpoint of size 0 must have the root of the empty tree');
    const prevRoot = prev ? Buffer.from(prev.root, 'base64') : EMPTY_ROOT;
    if (old === 0 ? proof.length !== 0 : !verifyConsistency(old, cp.size, proof, prevRoot, cp.root)) {
      if (prev && cp.size === prev.size) this.keepEvidence(origin, 'forked', cpText, prev);
      else if (prev) this.keepEvidence(origin, 'inconsistent', cpText, prev);
      return text(422, old === 0 ? 'a proof from size 0 must be empty' : `the consistency proof from ${old} to ${cp.size} does not verify: the log is not an extension of the checkpoint this witness cosigned`);
    }
    const state: LogState = { size: cp.size, root: cp.root.toString('base64'), checkpoint: cpText };
    writeFileAtomicSync(join(this.dir, WITNESS_FILES.state, `${fileOf(origin)}.json`), JSON.stringify(state) + '\n', 0o600);
    const time = Math.floor(this.now().getTime() / 1000);
    return text(200, sigLine(cosign(cp.note.text, this.name, this.key, time)));
  }

  private keepEvidence(origin: string, what: string, offered: string, cosigned: LogState): void {
    const dir = join(this.dir, WITNESS_FILES.evidence);
    mkdirSync(dir, { recursive: true });
    const at = this.now().toISOString();
    writeFileAtomicSync(
      join(dir, `${fileOf(origin)}-${at.replace(/[:.]/g, '')}-${what}.txt`),
      `log ${origin} ${what} at ${at}\n\ncosigned earlier by this witness:\n${cosigned.checkpoint}\noffered now, signed by the log:\n${offered}`,
    );
  }
}
