/**
 * The gateway's watch on the agency's transparency log (docs/uplink-protocol.md §4.1). It keeps the newest
 * checkpoint it has seen and accepts a newer one only with a consistency proof from it; receipts must prove their
 * item in a checkpoint of that log. A log that forks (same size, other root; or a proof that fails) or shrinks is
 * said loudly: an `alarm.raised` entry in the ledger (once per conflict), an error in the log, and a standing alarm
 * in the status. The conflicting checkpoints are kept in the alarm entry, signed by the log itself.
 *
 * A gm agency's log signs each checkpoint with SM2 too (evidence-format.md §17.9) and its receivers send the SM2
 * certificate with the state. Once the gateway has it, a checkpoint offered in a state must carry a valid SM2 line
 * and a receipt's checkpoint may not carry a failing one (older receipts have none): a checkpoint signed with the
 * Ed25519 key alone is what someone holding that key but not the SM2 key would make, so it is refused and raises
 * `bad-signature`. A state without the SM2 certificate does not make the gateway forget the one it has.
 */
import type { KeyObject } from 'node:crypto';
import { kvGet, kvSet, type Db } from '../state/db.js';
import type { Ledger } from '../evidence/ledger.js';
import { ENTRY } from '../evidence/types.js';
import { encodeLeaf, leafOfReceipt } from '../evidence/log-leaf.js';
import type { Receipt } from '../evidence/receipt.js';
import { parseCertificate } from '../pki/certs.js';
import { checkLogCertificate } from '../pki/log-cert.js';
import { checkSm2Signature, keyIdHex } from '../tlog/sm2-note.js';
import { leafHash, verifyConsistency, verifyInclusion } from '../tlog/merkle.js';
import { openCheckpoint, type SignedCheckpoint } from '../tlog/checkpoint.js';
import { parseProof } from '../tlog/proof-text.js';
import { formatNote } from '../tlog/note.js';
import type { Logger } from '../util/log.js';

const SEEN = 'uplink.log.checkpoint';
const json = <T>(db: Db, key: string): T | undefined => {
  const v = kvGet(db, key);
  return v === undefined ? undefined : (JSON.parse(v) as T);
};
const CERT = 'uplink.log.cert';
const SM2_CERT = 'uplink.log.sm2cert';
const ALARMS = 'uplink.log.alarms';

export type LogAlarmLevel = 'forked' | 'shrank' | 'bad-proof' | 'bad-signature';

export interface LogAlarm {
  level: LogAlarmLevel;
  origin: string;
  at: string;
  detail: string;
}

/** What a state message says of the log: its newest checkpoint, a consistency proof from ours, its certificates. */
export interface LogState {
  checkpoint: string;
  consistency: string[];
  cert: string;
  sm2Cert?: string;
}

interface WatchedKey {
  origin: string;
  key: KeyObject;
  /** The log certificate is a gm CA's. */
  gm: boolean;
  /** A gm log's SM2 key, once a state gave its certificate. */
  sm2?: KeyObject;
}

export class LogWatch {
  private key: WatchedKey | undefined;
  private warnedNoSm2 = false;

  constructor(
    private readonly db: Db,
    private readonly ledger: Ledger,
    private readonly caPems: string[],
    private readonly now: () => number,
    private readonly log: Logger,
  ) {
    const cert = kvGet(db, CERT);
    if (cert) this.key = this.keyOf(cert);
    const sm2 = kvGet(db, SM2_CERT);
    if (this.key && sm2) this.learnSm2(this.key, sm2);
  }

  /** The size of the newest checkpoint seen, for the hello (the receiver proves consistency from it). */
  size(): number {
    return json<{ size: number }>(this.db, SEEN)?.size ?? 0;
  }

  standing(): LogAlarm[] {
    return json<LogAlarm[]>(this.db, ALARMS) ?? [];
  }

  /** A state message's word on the log. */
  state(s: LogState): void {
    if (!this.key || !parseCertificate(s.cert)?.publicKey.equals(this.key.key)) {
      const k = this.keyOf(s.cert);
      if (!k) return;
      if (this.key && this.key.origin !== k.origin) this.log.warn('the agency log has a new key and origin', { was: this.key.origin, now: k.origin });
      this.key = k;
      kvSet(this.db, CERT, s.cert);
      kvSet(this.db, SM2_CERT, '');
    }
    const key = this.key;
    if (s.sm2Cert !== undefined && key.gm && this.learnSm2(key, s.sm2Cert)) kvSet(this.db, SM2_CERT, s.sm2Cert);
    if (key.gm && !key.sm2 && !this.warnedNoSm2) {
      this.warnedNoSm2 = true;
      this.log.warn("the agency log is a gm log, but its receiver sent no usable SM2 log certificate: its checkpoints are checked by their Ed25519 line only until one does (update the receivers)", { origin: key.origin });
    }
    const cp = openCheckpoint(s.checkpoint, key.origin, key.key);
    if ('why' in cp) return void this.log.warn('ignored a log checkpoint from the receiver', { why: cp.why });
    const sm2 = this.sm2Check(cp);
    if (sm2.state === 'missing' || sm2.state === 'bad') {
      return this.raise('bad-signature', cp.origin, `the checkpoint of ${cp.size} leaves ${sm2.words}: it was signed with the log's Ed25519 key alone`, [s.checkpoint]);
    }
    const proof = s.consistency.map((h) => Buffer.from(h, 'base64'));
    this.advance(cp, proof);
  }

  /**
   * A receipt's log proof: its item is in a checkpoint of the agency log, and that checkpoint does not contradict
   * the newest one seen. Returns the problem, or undefined when it holds (or the log is not known yet).
   */
  receipt(r: Receipt): string | undefined {
    if (!this.key) return undefined;
    // Once the agency's log is known, a receipt must show its item in it: a receiver that does not log has no say.
    if (r.log === undefined) return 'it carries no proof that its item is in the agency log, which this agency keeps';
    const p = parseProof(r.log);
    if ('why' in p) return `its log proof is not a tlog-proof: ${p.why}`;
    const cp = openCheckpoint(p.checkpoint, this.key.origin, this.key.key);
    if ('why' in cp) return `the checkpoint in its log proof is not the agency log's: ${cp.why}`;
    // A receipt issued before the log signed with SM2 has no SM2 line; a failing one is never genuine.
    const sm2 = this.sm2Check(cp);
    if (sm2.state === 'bad') {
      this.raise('bad-signature', cp.origin, `the checkpoint of ${cp.size} leaves in a receipt's log proof ${sm2.words}`, [p.checkpoint]);
      return `the checkpoint in its log proof ${sm2.words}`;
    }
    if (!verifyInclusion(leafHash(encodeLeaf(leafOfReceipt(r))), p.index, cp.size, p.hashes, cp.root)) {
      this.raise('bad-proof', cp.origin, `a receipt's log proof does not include its item in the checkpoint of ${cp.size} leaves`, [p.checkpoint]);
      return 'its log proof does not show the item in the agency log';
    }
    const seen = this.seen();
    if (seen && seen.size === cp.size && seen.root !== cp.root.toString('base64')) {
      this.raise('forked', cp.origin, `two checkpoints of ${cp.size} leaves with different roots`, [seen.note, p.checkpoint]);
    }
    return undefined;
  }

  /**
   * A gm log's SM2 line on `cp`: `unchecked` when not a gm log or its SM2 key is not known yet; for `missing` and
   * `bad`, what is wrong in words that follow "the checkpoint …".
   */
  private sm2Check(cp: SignedCheckpoint): { state: 'valid' | 'unchecked' } | { state: 'missing' | 'bad'; words: string } {
    const sm2 = this.key?.sm2;
    if (!sm2) return { state: 'unchecked' };
    const r = checkSm2Signature(cp.note, cp.origin, sm2);
    const id = keyIdHex(r.keyId);
    if (r.state === 'valid') return { state: 'valid' };
    if (r.state === 'missing') return { state: 'missing', words: `carries no SM2 signature by the log's SM2 certificate (key ID ${id})` };
    return { state: 'bad', words: `has an SM2 signature (key ID ${id}) that does not verify with the log's SM2 certificate` };
  }

  /** Takes a gm log's SM2 certificate when the agency CA issued it for this log; says whether it did. */
  private learnSm2(key: WatchedKey, pem: string): boolean {
    if (pem === '') return false;
    const c = checkLogCertificate(pem, this.caPems, { at: new Date(this.now()), keyType: 'sm2' });
    if ('why' in c || c.origin !== key.origin) {
      this.log.warn("ignored an SM2 log certificate that is not the agency CA's for this log", { why: 'why' in c ? c.why : `it is for log ${c.origin}, not ${key.origin}` });
      return false;
    }
    if (key.sm2?.equals(c.key)) return false;
    key.sm2 = c.key;
    return true;
  }

  private seen(): { size: number; root: string; note: string } | undefined {
    return json<{ size: number; root: string; note: string }>(this.db, SEEN);
  }

  private advance(cp: SignedCheckpoint, proof: Buffer[]): void {
    const seen = this.seen();
    const note = formatNote(cp.note);
    const keep = (): void => kvSet(this.db, SEEN, JSON.stringify({ size: cp.size, root: cp.root.toString('base64'), note }));
    if (!seen) return keep();
    const root = cp.root.toString('base64');
    if (cp.size < seen.size) return this.raise('shrank', cp.origin, `the log had ${seen.size} leaves and now offers ${cp.size}`, [seen.note, note]);
    if (cp.size === seen.size) {
      if (root !== seen.root) this.raise('forked', cp.origin, `two checkpoints of ${cp.size} leaves with different roots`, [seen.note, note]);
      return;
    }
    if (!verifyConsistency(seen.size, cp.size, proof, Buffer.from(seen.root, 'base64'), cp.root)) {
      return this.raise('forked', cp.origin, `the checkpoint of ${cp.size} leaves does not extend the one of ${seen.size} leaves seen before`, [seen.note, note]);
    }
    keep();
  }

  private raise(level: LogAlarmLevel, origin: string, detail: string, checkpoints: string[]): void {
    const standing = this.standing();
    const key = `${level} ${detail}`;
    if (standing.some((a) => `${a.level} ${a.detail}` === key)) return;
    const alarm: LogAlarm = { level, origin, at: new Date(this.now()).toISOString(), detail };
    const what =
      level === 'bad-signature'
        ? "the agency log's checkpoint is not signed by both of its keys: someone holds its Ed25519 key without its SM2 key"
        : level === 'bad-proof'
          ? "a receipt's log proof does not hold"
          : 'the agency log is not append-only: it forked or shrank';
    this.log.error(`${what}. Report this to the supervisor (the signed checkpoints are in the ledger)`, { ...alarm });
    this.ledger.append(ENTRY.alarmRaised, { kind: 'agency-log', level, origin, detail, checkpoints }, () => kvSet(this.db, ALARMS, JSON.stringify([...standing, alarm])));
  }

  private keyOf(pem: string): WatchedKey | undefined {
    const c = checkLogCertificate(pem, this.caPems, { at: new Date(this.now()), keyType: 'ed25519' });
    if ('why' in c) {
      this.log.warn("ignored a log certificate that is not the agency CA's", { why: c.why });
      return undefined;
    }
    return c;
  }

}
