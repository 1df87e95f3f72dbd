/**
 * Receipts and local deletions (docs/evidence-format.md §6, §10). A gateway may delete its copy of a sealed
 * segment only after the agency's receiver signed a receipt for exactly that file and the gateway recorded it
 * (receipt.received) before the deletion (segment.deleted). A deletion so covered explains the file's absence;
 * any other deletion breaks the rule that nobody may delete evidence (`deleted-without-receipt`).
 *
 * Years of ledger hold millions of manifests and receipts, so they are not kept: a LineIndex remembers where each
 * manifest (by segment name) and each genuine receipt (by its entry's seq) is, and a deletion reads those two
 * lines again. Receipts that are not genuine are rare and kept with why.
 */
import { parseLine, type LedgerEntry } from '../evidence/entry.js';
import { receiptProblem, type Receipt } from '../evidence/receipt.js';
import { ENTRY, type SegmentManifest } from '../evidence/types.js';
import { manifestFilePath } from '../evidence/sealer.js';
import type { FindingKind } from './findings.js';
import { LineIndex, type LineReader, type LineRef } from './line-index.js';
import { hashHex, hashName } from '../evidence/segment-scheme.js';

type Report = (kind: FindingKind, detail: string) => void;

interface DeletedBody {
  segment: string;
  file: string;
  receiptSeq: number;
}

/** Marks on a manifest's slot: a covered deletion names its segment; it names the usual file. */
const COVERED = 2;
const USUAL_FILE = 4;
const SEALED_SUFFIX = '.seg';

export class DeletionCheck {
  /** Genuine receipts, by the seq of the receipt.received entry that records each. */
  private readonly receipts = new LineIndex();
  /** receipt.received entries whose receipt is not genuine, with why: they cover no deletion. */
  private readonly badReceipts = new Map<number, string>();
  /** The first well-formed manifest of each segment name (section 14). */
  private readonly manifests = new LineIndex();
  private covered = 0;

  constructor(
    private readonly caPems: string[],
    private readonly report: Report,
    private readonly lines: LineReader,
  ) {}

  /**
   * A well-formed segment.sealed entry. The first manifest of a name counts (section 14). Returns true when this
   * is the first and names the usual file (segments/<segment>.seg): the index then also stands for the set of
   * described file names (see describesUsualFile), which a year of manifests would otherwise double.
   */
  manifest(m: SegmentManifest, at: LineRef): boolean {
    if (this.firstManifest(m.segment)) return false;
    const usual = m.file === manifestFilePath(m.segment);
    this.manifests.add(m.segment, at, usual ? USUAL_FILE : 0);
    return usual;
  }

  /** Whether a manifest returned true above for the segment whose usual file is `fileName` (by digest, section 14). */
  describesUsualFile(fileName: string): boolean {
    if (!fileName.endsWith(SEALED_SUFFIX)) return false;
    for (const c of this.manifests.candidates(fileName.slice(0, -SEALED_SUFFIX.length))) if ((c.marks & USUAL_FILE) !== 0) return true;
    return false;
  }

  /** A receipt.received entry whose body has the right shape. */
  receipt(lineNo: number, e: LedgerEntry, at: LineRef): void {
    const r = e.body.receipt as Receipt;
    const problem = receiptProblem(r, this.caPems) ?? (r.device === e.device ? undefined : `it is for device ${r.device}, not ${e.device}`);
    if (!problem) {
      this.receipts.add(String(e.seq), at);
      // The ledger must agree with what the agency receipted: the manifest it names, as it was sealed.
      if (r.kind === 'segment') {
        const sealed = this.firstManifest(r.name);
        const differs = sealed ? mismatch(r, sealed.m, sealed.seq) : `no segment.sealed entry before it describes ${r.name}`;
        if (differs) this.report('receipt-contradicted', `line ${lineNo}: the agency's receipt recorded in entry seq ${e.seq} does not fit this ledger: ${differs}`);
      }
      return;
    }
    this.badReceipts.set(e.seq, problem);
    this.report('bad-receipt', `line ${lineNo}: the receipt recorded in entry seq ${e.seq} is not genuine: ${problem}`);
  }

  /** A segment.deleted entry whose body has the right shape. Returns the segment when the deletion is covered. */
  deleted(lineNo: number, e: LedgerEntry): string | undefined {
    const b = e.body as unknown as DeletedBody;
    const sealed = this.firstManifest(b.segment);
    const why = this.uncovered(b, sealed);
    if (!why) {
      if ((sealed!.marks & COVERED) === 0) this.covered++;
      this.manifests.mark(sealed!.slot, COVERED);
      return b.segment;
    }
    this.report('deleted-without-receipt', `line ${lineNo}: segment ${b.segment} was deleted without the agency's receipt for it: ${why}`);
    return undefined;
  }

  /** Whether a deletion of the segment is covered by a genuine receipt recorded before it (so far). */
  isCovered(segment: string): boolean {
    for (const c of this.manifests.candidates(segment)) {
      if ((c.marks & COVERED) !== 0 && this.entryAt(c)?.body.segment === segment) return true;
    }
    return false;
  }

  get coveredCount(): number {
    return this.covered;
  }

  /** The first manifest of this segment name: where it is, its entry's seq and body. */
  private firstManifest(segment: string): (LineRef & { slot: number; marks: number; seq: number; m: SegmentManifest }) | undefined {
    for (const c of this.manifests.candidates(segment)) {
      const e = this.entryAt(c);
      if (e?.body.segment === segment) return { ...c, seq: e.seq, m: e.body as unknown as SegmentManifest };
    }
    return undefined;
  }

  /** The last genuine receipt recorded in an entry with this seq. */
  private receiptAt(seq: number): Receipt | undefined {
    let found: Receipt | undefined;
    for (const c of this.receipts.candidates(String(seq))) {
      const e = this.entryAt(c);
      if (e?.seq === seq && e.type === ENTRY.receiptReceived) found = e.body.receipt as Receipt;
    }
    return found;
  }

  private entryAt(at: LineRef): LedgerEntry | undefined {
    const p = parseLine(this.lines.read(at));
    return p.ok ? p.entry : undefined;
  }

  /** Why no earlier, genuine receipt covers this deletion, or undefined when one does. */
  private uncovered(b: DeletedBody, sealed: { seq: number; m: SegmentManifest } | undefined): string | undefined {
    if (!sealed) return 'no segment.sealed entry before it describes that segment';
    if (b.file !== sealed.m.file) return `it names file ${b.file}, but the segment's manifest names ${sealed.m.file}`;
    const bad = this.badReceipts.get(b.receiptSeq);
    if (bad !== undefined) return `the receipt in entry seq ${b.receiptSeq} is not genuine (${bad})`;
    // Only entries already read are in the index, so a receipt recorded after the deletion is not found.
    const r = this.receiptAt(b.receiptSeq);
    if (!r) return `no receipt.received entry with seq ${b.receiptSeq} comes before it`;
    return mismatch(r, sealed.m, sealed.seq);
  }
}

/** How a receipt differs from the sealed segment it should confirm, or undefined when it confirms exactly it. */
function mismatch(r: Receipt, m: SegmentManifest, manifestSeq: number): string | undefined {
  if (r.kind !== 'segment') return `the receipt it names is an entries receipt, not one for a segment file`;
  const said = `${r.name}, ${r.size} bytes, SHA-256 ${r.sha256}, manifest seq ${r.manifestSeq}`;
  const is = `${m.segment}, ${m.stored.size} bytes, ${hashName(m.stored)} ${hashHex(m.stored)}, manifest seq ${manifestSeq}`;
  const same = r.name === m.segment && r.size === m.stored.size && r.sha256 === hashHex(m.stored) && r.manifestSeq === manifestSeq;
  return same ? undefined : `the receipt it names confirms ${said}, but the segment as sealed is ${is}`;
}
