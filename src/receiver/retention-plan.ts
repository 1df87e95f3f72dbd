/**
 * What an approved retention deletion of one session would remove, read from the store itself (the device's ledger
 * and the files present), and the last refusal before anything is written: the session must be closed and its term
 * run out by the agency's clock now, whatever the approval says. The caller answers for the class (the desk's
 * evidence marks); this answers for the term.
 */
import { DELETIONS_FILE, MIN_TERM_YEARS, termEnds, type Attestation, type DeletedFile, type UnsignedDeletion } from '../evidence/deletion-event.js';
import { parseLine } from '../evidence/entry.js';
import { LEDGER_FILE } from '../evidence/head.js';
import { hashHex } from '../evidence/segment-scheme.js';
import { ENTRY, type SegmentManifest } from '../evidence/types.js';
import type { EvidenceStore } from '../store/store.js';
import { checkName } from '../store/store.js';
import { RecgwError } from '../util/errors.js';

/** One session's deletion as the desk approved it. */
export interface DeletionOrder {
  /** The approved request's id. */
  request: string;
  device: string;
  session: string;
  termYears: number;
  approval: { id: string; proposer: string; approver: string; approvedAt: string };
  /** The desk's signed approval row (deletion-event.ts). */
  attestation: Attestation;
}

export class RetentionRefused extends RecgwError {
  constructor(o: DeletionOrder, why: string) {
    super('invalid', `retention deletion of ${o.device}/${o.session} refused: ${why}`);
  }
}

export async function planDeletion(store: EvidenceStore, o: DeletionOrder, nowMs: number, receiver: string): Promise<UnsignedDeletion> {
  if (!Number.isInteger(o.termYears) || o.termYears < MIN_TERM_YEARS) throw new RetentionRefused(o, `a term of ${o.termYears} year(s) is shorter than the ${MIN_TERM_YEARS} year(s) the rules require`);
  const device = checkName(o.device, 'device');
  const ledger = await store.read(`${device}/${LEDGER_FILE}`);
  if (!ledger) throw new RetentionRefused(o, `the store has no ledger for device ${device}`);
  let endMs: number | undefined;
  const manifests: SegmentManifest[] = [];
  for (const line of ledger.toString('utf8').split('\n')) {
    if (line === '') continue;
    const p = parseLine(line);
    if (!p.ok || p.entry.device !== device) continue;
    const b = p.entry.body;
    if (p.entry.type === ENTRY.sessionClosed && b.sessionId === o.session && endMs === undefined) endMs = Date.parse(typeof b.end === 'string' ? b.end : p.entry.time);
    if (p.entry.type === ENTRY.segmentSealed && b.sessionId === o.session) manifests.push(b as unknown as SegmentManifest);
  }
  if (endMs === undefined || Number.isNaN(endMs)) throw new RetentionRefused(o, 'the ledger never closes the session: its term has not begun');
  const expires = termEnds(endMs, o.termYears);
  if (nowMs < expires) throw new RetentionRefused(o, `it is within its term of ${o.termYears} year(s) until ${new Date(expires).toISOString()}`);
  const files: DeletedFile[] = [];
  const seen = new Set<string>();
  for (const m of manifests) {
    if (seen.has(m.segment)) continue;
    seen.add(m.segment);
    if ((await store.size(`${device}/${checkName(m.file, 'segment file')}`)) === undefined) continue;
    files.push({ file: m.file, segment: m.segment, size: m.stored.size, hash: hashHex(m.stored), alg: 'sm3' in m.stored ? 'sm3' : 'sha256' });
  }
  if (files.length === 0) throw new RetentionRefused(o, `none of its sealed files is in the store any more (see ${device}/${DELETIONS_FILE})`);
  return {
    id: o.request,
    device,
    session: o.session,
    class: 'non-evidence',
    sessionEnd: new Date(endMs).toISOString(),
    termYears: o.termYears,
    expired: new Date(expires).toISOString(),
    approval: o.approval,
    attestation: o.attestation,
    files,
    time: new Date(nowMs).toISOString(),
    receiver,
  };
}
