/**
 * The desk's audit chain (audit.ts) anchored outside the database: whoever holds the desk's signing key and the
 * database could make the whole chain again, hashes and signatures, and audit-check.ts alone would find it whole. So
 * the chain is also a Merkle log (RFC 6962: leaf i is row seq i+1's SHA-256, as 32 bytes) whose checkpoints, signed
 * with an Ed25519 key of the desk's own (`auditAnchor.key`, under the name `auditAnchor.origin`), the agency's
 * witnesses (src/witness, c2sp.org/tlog-witness) cosign only when a consistency proof shows each extends the last
 * one they cosigned. The desk offers its head every `auditAnchor.minutes`; `recgw desk audit-check` offers it once
 * more and fails when a witness refuses it: a chain rewritten below the size a witness cosigned is a fork (422), one
 * cut short is smaller than what it cosigned. Rows after the last anchor are protected only from then on.
 *
 * The tree is made from every row each round (32 bytes a row in memory): at 10^6 rows about 7 s of hashing for the
 * root on this 2-core VM under load (on the desk's event loop: its pages wait meanwhile), the proofs then nearly free
 * (subtrees kept); 10^4 rows take ~70 ms. A desk's trail grows at the rate
 * people act (thousands of rows a day), so that is years away; a tiled tree like the agency log's would be the step
 * beyond.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Queryable } from '../index/database.js';
import { signCheckpoint, formatCheckpoint } from '../tlog/checkpoint.js';
import { consistencyProof, leafHash, nodeHash, treeRoot, type HashSource } from '../tlog/merkle.js';
import { NoteSigner, parseVkey, SIG_COSIGNATURE_V1 } from '../tlog/note.js';
import { offerCheckpoint, type WitnessOutcome, type WitnessTarget } from '../tlog/witness-submit.js';
import { RecgwError, describe } from '../util/errors.js';
import type { Logger } from '../util/log.js';

export interface AuditAnchorConfig {
  /** PEM file of the desk's Ed25519 key for the chain's checkpoints (not the agency log's key). */
  key: string;
  /** The chain's log name, e.g. "sfj.example.gov.cn/desk-audit": what the witnesses know its key by. */
  origin: string;
  witnesses: { url: string; vkey: string }[];
  minutes: number;
}

export interface LoadedAnchor {
  signer: NoteSigner;
  witnesses: WitnessTarget[];
  minutes: number;
}

/** The anchor's key and witnesses, read and checked; each problem names the config key. */
export function loadAnchor(c: AuditAnchorConfig): LoadedAnchor {
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(c.key, 'utf8'));
  } catch (err) {
    throw new RecgwError('config', `auditAnchor.key: cannot read an Ed25519 private key from ${c.key} (${describe(err)}): make one with openssl genpkey -algorithm ed25519 -out desk-audit-key.pem`, { cause: err });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new RecgwError('config', `auditAnchor.key: ${c.key} holds a ${key.asymmetricKeyType} key; the chain's checkpoints are signed with Ed25519 (openssl genpkey -algorithm ed25519)`);
  const witnesses = c.witnesses.map((w, i) => {
    const v = parseVkey(w.vkey);
    if ('why' in v) throw new RecgwError('config', `auditAnchor.witnesses[${i}].vkey is not a verifier key: ${v.why}`);
    if (v.type !== SIG_COSIGNATURE_V1) throw new RecgwError('config', `auditAnchor.witnesses[${i}].vkey is not a witness key (cosignature type 0x04): give the witness.vkey that recgw witness init printed`);
    return { url: w.url, vkey: v };
  });
  return { signer: new NoteSigner(c.origin, key), witnesses, minutes: c.minutes };
}

/**
 * The chain's leaves in memory; a full subtree is hashed from them when asked, and those of 256 leaves or more are
 * kept, so the consistency proofs after the root cost almost nothing.
 */
class Leaves implements HashSource {
  private readonly kept = new Map<string, Buffer>();
  constructor(readonly hashes: Buffer[]) {}
  full(level: number, index: number): Buffer {
    if (level === 0) return this.hashes[index]!;
    const key = `${level}/${index}`;
    let h = level >= 8 ? this.kept.get(key) : undefined;
    if (h === undefined) {
      h = nodeHash(this.full(level - 1, 2 * index), this.full(level - 1, 2 * index + 1));
      if (level >= 8) this.kept.set(key, h);
    }
    return h;
  }
}

const PAGE = 5000;

/** Leaf hashes of the chained rows, seq 1 up, as far as seq runs without a gap (audit-check.ts reports gaps). */
async function chainLeaves(db: Queryable): Promise<Leaves> {
  const out: Buffer[] = [];
  for (;;) {
    const rows = await db.query<{ seq: number | string; sha256: string }>('SELECT seq, sha256 FROM desk_audit WHERE seq > $1 ORDER BY seq LIMIT $2', [out.length, PAGE]);
    for (const r of rows) {
      if (Number(r.seq) !== out.length + 1) return new Leaves(out);
      out.push(leafHash(Buffer.from(r.sha256, 'hex')));
    }
    if (rows.length < PAGE) return new Leaves(out);
  }
}

export interface AnchorResult {
  witness: string;
  /** Rows in the checkpoint offered. */
  size: number;
  outcome: WitnessOutcome;
}

/**
 * Offer the chain's head now to every witness. `known`: per witness URL, the size it last cosigned (kept by the
 * caller between offers; updated here).
 */
export async function anchorAudit(db: Queryable, a: LoadedAnchor, known: Map<string, number> = new Map(), ca?: string): Promise<AnchorResult[]> {
  const leaves = await chainLeaves(db);
  const size = leaves.hashes.length;
  const checkpoint = formatCheckpoint(signCheckpoint({ origin: a.signer.name, size, root: treeRoot(leaves, size) }, a.signer));
  const proofFrom = async (old: number): Promise<string> => consistencyProof(leaves, old, size).map((h) => `${h.toString('base64')}\n`).join('');
  return Promise.all(
    a.witnesses.map(async (w) => {
      const { outcome, learnt } = await offerCheckpoint(w, { size, checkpoint, proofFrom }, known.get(w.url) ?? 0, ca);
      if (outcome.kind === 'cosigned') known.set(w.url, size);
      else if (learnt !== undefined && learnt <= size) known.set(w.url, learnt);
      return { witness: w.vkey.name, size, outcome };
    }),
  );
}

/** What a refusal means for the chain, in words for audit-check; undefined when the witness cosigned. */
export function anchorProblem(r: AnchorResult): string | undefined {
  const o = r.outcome;
  switch (o.kind) {
    case 'cosigned':
      return undefined;
    case 'forked':
      return `witness ${r.witness} refused the chain's ${r.size} rows as inconsistent with the rows it cosigned before: rows were rewritten (${o.why})`;
    case 'shrank':
      return `witness ${r.witness} has cosigned ${o.theirs} rows of the chain, which now has ${r.size}: rows were cut off`;
    case 'refused':
      return `witness ${r.witness} refused the chain's head (HTTP ${o.status}: ${o.why}): the anchor could not be checked`;
    case 'unreachable':
      return `witness ${r.witness} did not answer (${o.err}): the anchor could not be checked`;
  }
}

/** The desk's anchoring: at start, every `minutes`, and when the /audit page is viewed. */
export class AuditAnchor {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<AnchorResult[] | undefined> | undefined;
  private readonly known = new Map<string, number>();

  constructor(
    private readonly db: Queryable,
    private readonly anchor: LoadedAnchor,
    private readonly log: Logger,
    private readonly ca?: string,
  ) {}

  start(): void {
    // tick() never rejects: a failed round is logged and the next one tries again.
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.anchor.minutes * 60_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One round now (or the one in flight): what each witness answered; undefined when the round itself failed. */
  tick(): Promise<AnchorResult[] | undefined> {
    this.running ??= anchorAudit(this.db, this.anchor, this.known, this.ca)
      .then((results) => {
        for (const r of results) {
          const problem = anchorProblem(r);
          if (problem === undefined) continue;
          const serious = r.outcome.kind === 'forked' || r.outcome.kind === 'shrank';
          this.log[serious ? 'error' : 'warn'](serious ? 'a witness refused the audit chain: it was rewritten or cut' : 'could not anchor the audit chain; the next round tries again', { witness: r.witness, problem });
        }
        return results;
      })
      .catch((err: unknown) => {
        this.log.error('could not anchor the audit chain; the next round tries again', { err: describe(err) });
        return undefined;
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }
}
