/**
 * Receipts and local deletions (docs/evidence-format.md §6, §10). A gateway may delete its copy of a sealed
 * segment only after the agency's receiver signed a receipt for exactly that file and the gateway recorded it
 * (receipt.received) before the deletion (segment.deleted). A deletion so covered explains the file's absence;
 * any other deletion breaks the rule that nobody may delete evidence (`deleted-without-receipt`).
 */
import type { LedgerEntry } from '../evidence/entry.js';
import { receiptProblem, type Receipt } from '../evidence/receipt.js';
import type { SegmentManifest } from '../evidence/types.js';
import type { FindingKind } from './findings.js';

type Report = (kind: FindingKind, detail: string) => void;

interface DeletedBody {
  segment: string;
  file: string;
  receiptSeq: number;
}

export class DeletionCheck {
  /** Genuine receipts, by the seq of the receipt.received entry that records each. */
  private readonly receipts = new Map<number, Receipt>();
  /** receipt.received entries whose receipt is not genuine, with why: they cover no deletion. */
  private readonly badReceipts = new Map<number, string>();
  private readonly manifests = new Map<string, { seq: number; m: SegmentManifest }>();
  private readonly covered = new Set<string>();

  constructor(
    private readonly caPems: string[],
    private readonly report: Report,
  ) {}

  /** A well-formed segment.sealed entry. The first manifest of a name counts (section 14). */
  manifest(seq: number, m: SegmentManifest): void {
    if (!this.manifests.has(m.segment)) this.manifests.set(m.segment, { seq, m });
  }

  /** A receipt.received entry whose body has the right shape. */
  receipt(lineNo: number, e: LedgerEntry): void {
    const r = e.body.receipt as Receipt;
    const problem = receiptProblem(r, this.caPems) ?? (r.device === e.device ? undefined : `it is for device ${r.device}, not ${e.device}`);
    if (!problem) return void this.receipts.set(e.seq, r);
    this.badReceipts.set(e.seq, problem);
    this.report('bad-receipt', `line ${lineNo}: the receipt recorded in entry seq ${e.seq} is not genuine: ${problem}`);
  }

  /** A segment.deleted entry whose body has the right shape. */
  deleted(lineNo: number, e: LedgerEntry): void {
    const b = e.body as unknown as DeletedBody;
    const why = this.uncovered(b);
    if (!why) return void this.covered.add(b.segment);
    this.report('deleted-without-receipt', `line ${lineNo}: segment ${b.segment} was deleted without the agency's receipt for it: ${why}`);
  }

  /** Whether a deletion of the segment is covered by a genuine receipt recorded before it. */
  isCovered(segment: string): boolean {
    return this.covered.has(segment);
  }

  get coveredCount(): number {
    return this.covered.size;
  }

  /** Why no earlier, genuine receipt covers this deletion, or undefined when one does. */
  private uncovered(b: DeletedBody): string | undefined {
    const sealed = this.manifests.get(b.segment);
    if (!sealed) return 'no segment.sealed entry before it describes that segment';
    if (b.file !== sealed.m.file) return `it names file ${b.file}, but the segment's manifest names ${sealed.m.file}`;
    const bad = this.badReceipts.get(b.receiptSeq);
    if (bad !== undefined) return `the receipt in entry seq ${b.receiptSeq} is not genuine (${bad})`;
    // Only entries already read are in the map, so a receipt recorded after the deletion is not found.
    const r = this.receipts.get(b.receiptSeq);
    if (!r) return `no receipt.received entry with seq ${b.receiptSeq} comes before it`;
    return mismatch(r, sealed.m, sealed.seq);
  }
}

/** How a receipt differs from the sealed segment it should confirm, or undefined when it confirms exactly it. */
function mismatch(r: Receipt, m: SegmentManifest, manifestSeq: number): string | undefined {
  if (r.kind !== 'segment') return `the receipt it names is an entries receipt, not one for a segment file`;
  const said = `${r.name}, ${r.size} bytes, SHA-256 ${r.sha256}, manifest seq ${r.manifestSeq}`;
  const is = `${m.segment}, ${m.stored.size} bytes, SHA-256 ${m.stored.sha256}, manifest seq ${manifestSeq}`;
  const same = r.name === m.segment && r.size === m.stored.size && r.sha256 === m.stored.sha256 && r.manifestSeq === manifestSeq;
  return same ? undefined : `the receipt it names confirms ${said}, but the segment as sealed is ${is}`;
}
