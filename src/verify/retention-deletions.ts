/**
 * Retention deletions in a receiver store (evidence-format.md §18): each line of `<device>/deletions.jsonl` must be
 * an event the agency signed (receipt certificate), held by the agency log, carrying the desk's signed approval, for a closed non-evidence session of this
 * ledger whose term had run out when the event was made, naming files exactly as their manifests describe them.
 * Only the files of such events may be absent; a logged event the file no longer holds is a finding too.
 * The events are read before the ledger, so only the manifests and closings they name are kept while it is read.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DELETIONS_FILE, attestationProblem, deletionHash, openDeletion, termEnds, termProblem, type DeletionEvent } from '../evidence/deletion-event.js';
import { hashHex } from '../evidence/segment-scheme.js';
import type { SegmentManifest } from '../evidence/types.js';
import { describe, isErrno } from '../util/errors.js';
import type { FindingKind } from './findings.js';

type Report = (kind: FindingKind, detail: string) => void;

export class RetentionDeletionCheck {
  private readonly events: { line: number; e: DeletionEvent; hash: string }[] = [];
  private readonly segments = new Map<string, SegmentManifest | undefined>();
  private readonly sessionEnds = new Map<string, number | undefined>();

  constructor(
    dir: string,
    private readonly caPems: string[],
    private readonly report: Report,
  ) {
    let text: string;
    try {
      text = readFileSync(join(dir, DELETIONS_FILE), 'utf8');
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) report('malformed', `${DELETIONS_FILE} cannot be read (${describe(err)}): the deletions it records cannot be checked`);
      return;
    }
    text.split('\n').forEach((line, i) => {
      if (line === '') return;
      const e = openDeletion(line, caPems);
      if ('why' in e) return report('bad-deletion', `${DELETIONS_FILE} line ${i + 1} is not a deletion event the agency signed: ${e.why}`);
      this.events.push({ line: i + 1, e, hash: deletionHash(line) });
      for (const f of e.files) this.segments.set(f.segment, undefined);
      this.sessionEnds.set(e.session, undefined);
    });
  }

  /** A well-formed manifest of the ledger (the first of its name counts). */
  manifest(m: SegmentManifest): void {
    if (this.segments.has(m.segment) && this.segments.get(m.segment) === undefined) this.segments.set(m.segment, m);
  }

  /** A well-formed session.closed body (the first closing counts). */
  closed(sessionId: string, end: string): void {
    if (this.sessionEnds.has(sessionId) && this.sessionEnds.get(sessionId) === undefined) this.sessionEnds.set(sessionId, Date.parse(end));
  }

  /**
   * After the ledger: each event judged; returns the segments whose absence a genuine, logged event explains.
   * `logged`: the events the agency log holds for this device (undefined: the store has no log).
   */
  finish(deviceId: string, logged: ReadonlyMap<string, string> | undefined): Set<string> {
    const covered = new Set<string>();
    const inFile = new Set<string>();
    for (const { line, e, hash } of this.events) {
      inFile.add(hash);
      const where = `${DELETIONS_FILE} line ${line} (session ${e.session})`;
      const bad = this.genuineProblem(e, deviceId, hash, logged);
      if (bad) {
        this.report('bad-deletion', `${where}: ${bad}`);
        continue;
      }
      if (e.class !== 'non-evidence') this.report('deletion-of-evidence', `${where}: the session's retention class is ${JSON.stringify(e.class)}; only recordings not used as evidence may ever be deleted`);
      const end = this.sessionEnds.get(e.session)!;
      const accepted = Date.parse(logged!.get(hash)!);
      const term = termProblem(e, end) ?? termProblem({ termYears: e.termYears, time: new Date(Math.min(accepted, Date.parse(e.time))).toISOString() }, end);
      if (term) this.report('deletion-within-term', `${where}: ${term}`);
      for (const f of e.files) covered.add(f.segment);
    }
    for (const hash of logged?.keys() ?? []) {
      if (!inFile.has(hash)) this.report('bad-deletion', `the agency log holds deletion event ${hash}, which ${DELETIONS_FILE} no longer holds as signed: it was removed or altered`);
    }
    return covered;
  }

  /** Why the event does not stand as the agency's deletion of exactly these files of this ledger, or undefined. */
  private genuineProblem(e: DeletionEvent, deviceId: string, hash: string, logged: ReadonlyMap<string, string> | undefined): string | undefined {
    if (e.device !== deviceId) return `it is for device ${e.device}, not ${deviceId}`;
    if (!logged) return 'the store has no agency log to hold it: nothing shows the agency made it before the files went';
    if (!logged.has(hash)) return 'the agency log does not hold it: it was not made by the agency, or was altered after';
    const end = this.sessionEnds.get(e.session);
    if (end === undefined) return 'the ledger never closes that session: its term never began';
    if (Date.parse(e.sessionEnd) !== end) return `it says the session ended at ${e.sessionEnd}; the ledger says ${new Date(end).toISOString()}`;
    if (Date.parse(e.expired) !== termEnds(end, e.termYears)) return `it says the term ran out at ${e.expired}, not ${e.termYears} year(s) after the session's end`;
    // The rules ask for somebody else's approval: a deletion approved by the one who asked for it is none.
    if (e.approval.approver === e.approval.proposer) return `it was approved by its own proposer (${e.approval.proposer})`;
    const unattested = attestationProblem(e, this.caPems);
    if (unattested) return unattested;
    for (const f of e.files) {
      const m = this.segments.get(f.segment);
      if (!m) return `no manifest of the ledger describes ${f.segment}`;
      if (m.sessionId !== e.session || m.file !== f.file || m.stored.size !== f.size || hashHex(m.stored) !== f.hash) return `${f.file} is not the file of session ${e.session} its manifest describes (file, size or hash differ)`;
    }
    return undefined;
  }
}
