/**
 * What a ledger must not say against itself (evidence-format.md §10, item 15): a second genesis entry, two
 * manifests for one sealed file, a manifest that contradicts its session (matter, case, officers), a segment that
 * ends after the entry that sealed it. Fed entry by entry; keeps a few bytes per session and per sealed file (a
 * name's 64-bit digest: two names whose digests collide, odds about n/2^64, would be reported as one, §14).
 */
import type { LedgerEntry } from '../evidence/entry.js';
import { ENTRY } from '../evidence/types.js';
import { TIME_TOLERANCE_MS } from './key-lifecycle.js';
import { LineIndex } from './line-index.js';
import type { FindingKind } from './findings.js';

type Report = (kind: FindingKind, detail: string) => void;

type Officer = { name?: unknown; badge?: unknown } | null | undefined;

const officersKey = (v: unknown): string =>
  Array.isArray(v) ? JSON.stringify(v.map((o: Officer) => [o?.badge, o?.name]).sort()) : '';

/** The same officers in the same order: then their keys are equal too, without building them (a manifest per line). */
const sameOfficers = (a: unknown, b: unknown): boolean =>
  Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((o: Officer, i) => o?.badge === (b[i] as Officer)?.badge && o?.name === (b[i] as Officer)?.name);

export class LedgerConsistency {
  /** Per session, what it opened with (`list`: its officers as written, for the quick comparison). */
  private readonly sessions = new Map<string, { matter: unknown; caseRef: unknown; officers: string; list: unknown }>();
  /** Sealed files by name (as 64-bit digests: memory stays flat), with the line of the manifest that first named each. */
  private readonly files = new LineIndex('line-numbers');

  constructor(private readonly report: Report) {}

  entry(lineNo: number, e: LedgerEntry): void {
    const b = e.body;
    if (e.type === ENTRY.ledgerOpened && e.seq > 0) {
      this.report('broken-chain', `line ${lineNo}: a second ledger.opened entry (seq ${e.seq}): a ledger has one genesis entry; a new certificate is a certificate.installed entry`);
    } else if (e.type === ENTRY.sessionOpened && typeof b.sessionId === 'string' && !this.sessions.has(b.sessionId)) {
      this.sessions.set(b.sessionId, { matter: b.matter, caseRef: b.caseRef, officers: officersKey(b.officers), list: b.officers });
    } else if (e.type === ENTRY.segmentSealed && typeof b.file === 'string') {
      const first = this.files.candidates(b.file).next();
      if (!first.done) this.report('broken-chain', `line ${lineNo}: the manifest names ${b.file}, which the manifest on line ${first.value.offset} already names: one sealed file, one manifest`);
      else this.files.add(b.file, { offset: lineNo, length: 0 });
      const s = typeof b.sessionId === 'string' ? this.sessions.get(b.sessionId) : undefined;
      const officersDiffer = s !== undefined && !sameOfficers(s.list, b.officers) && s.officers !== officersKey(b.officers);
      if (s && (s.matter !== b.matter || s.caseRef !== b.caseRef || officersDiffer)) {
        const differs = [s.matter !== b.matter && 'matter', s.caseRef !== b.caseRef && 'case reference', officersDiffer && 'officers'].filter(Boolean);
        this.report('malformed', `line ${lineNo}: the manifest of ${String(b.segment)} gives another ${differs.join(', ')} than its session ${String(b.sessionId)} opened with`);
      }
      const end = typeof b.end === 'string' ? Date.parse(b.end) : NaN;
      if (end > Date.parse(e.time) + TIME_TOLERANCE_MS) {
        this.report('time-reversed', `line ${lineNo}: segment ${String(b.segment)} ends at ${String(b.end)}, after the entry that sealed it (${e.time})`);
      }
    }
  }
}
