/**
 * The gateway's watch on the agency's transparency log (docs/uplink-protocol.md §4.1). It keeps the newest
 * checkpoint it has seen and accepts a newer one only with a consistency proof from it; receipts must prove their
 * item in a checkpoint of that log. A log that forks (same size, other root; or a proof that fails) or shrinks is
 * said loudly: an `alarm.raised` entry in the ledger (once per conflict), an error in the log, and a standing alarm
 * in the status. The conflicting checkpoints are kept in the alarm entry, signed by the log itself.
 */
import type { KeyObject } from 'node:crypto';
import { kvGet, kvSet, type Db } from '../state/db.js';
import type { Ledger } from '../evidence/ledger.js';
import { ENTRY } from '../evidence/types.js';
import { encodeLeaf, leafOfReceipt } from '../evidence/log-leaf.js';
import type { Receipt } from '../evidence/receipt.js';
import { checkCertificate, parseCertificate, subjectField } from '../pki/certs.js';
import { ROLE_LOG } from '../pki/roles.js';
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
const ALARMS = 'uplink.log.alarms';

export type LogAlarmLevel = 'forked' | 'shrank' | 'bad-proof';

export interface LogAlarm {
  level: LogAlarmLevel;
  origin: string;
  at: string;
  detail: string;
}

/** What a state message says of the log: its newest checkpoint, a consistency proof from ours, its certificate. */
export interface LogState {
  checkpoint: string;
  consistency: string[];
  cert: string;
}

export class LogWatch {
  private key: { origin: string; key: KeyObject } | undefined;

  constructor(
    private readonly db: Db,
    private readonly ledger: Ledger,
    private readonly caPems: string[],
    private readonly now: () => number,
    private readonly log: Logger,
  ) {
    const cert = kvGet(db, CERT);
    if (cert) this.key = this.keyOf(cert);
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
    }
    const cp = openCheckpoint(s.checkpoint, this.key.origin, this.key.key);
    if ('why' in cp) return void this.log.warn('ignored a log checkpoint from the receiver', { why: cp.why });
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
    this.log.error('the agency log is not append-only: it forked or shrank. Report this to the supervisor (the signed checkpoints are in the ledger)', { ...alarm });
    this.ledger.append(ENTRY.alarmRaised, { kind: 'agency-log', level, origin, detail, checkpoints }, () => kvSet(this.db, ALARMS, JSON.stringify([...standing, alarm])));
  }

  private keyOf(pem: string): { origin: string; key: KeyObject } | undefined {
    const x = parseCertificate(pem);
    const problems = checkCertificate(pem, this.caPems, { at: new Date(this.now()), role: ROLE_LOG });
    if (!x || problems.length > 0) {
      this.log.warn('ignored a log certificate that is not the agency CA\'s', { problems: problems.map((p) => p.detail) });
      return undefined;
    }
    return { origin: subjectField(x, 'CN') ?? '', key: x.publicKey };
  }
}
