/**
 * Inclusion proofs, from a store's agency log (`<store>/log`, evidence-format.md §15), of the ledger entries an
 * evidence disc carries: each entry's log leaf and a c2sp.org/tlog-proof against the log's current checkpoint. With
 * the log certificate and the CA, a court expert checks an entry offline without the rest of the ledger: the leaf
 * names the entry's hash, the proof puts the leaf in the tree whose root the log signed.
 */
import { LOG_CERT_FILE, LOG_DIR, LOG_SM2_CERT_FILE, parseLeaf } from '../evidence/log-leaf.js';
import { inclusionProof, leafHash, nodeHash, treeRoot, type HashSource } from '../tlog/merkle.js';
import { CHECKPOINT_FILE, TILE_WIDTH, decodeBundle, tilePath } from '../tlog/tiles.js';
import { openCheckpoint } from '../tlog/checkpoint.js';
import { formatProof } from '../tlog/proof-text.js';
import { logKeyOf } from '../verify/log-view.js';
import type { EvidenceStore } from '../store/store.js';
import { RecgwError, describe } from '../util/errors.js';

export interface EntryProof {
  /** The leaf exactly as logged (canonical JSON). */
  leaf: Buffer;
  /** c2sp.org/tlog-proof@v1 text, its checkpoint the log's current one. */
  proof: string;
}

/** The tree's leaf hashes in memory, with the full subtrees proofs ask for remembered. */
class LeafHashes implements HashSource {
  private readonly memo = new Map<string, Buffer>();

  constructor(private readonly leaves: Buffer[]) {}

  full(level: number, index: number): Buffer {
    if (level === 0) return this.leaves[index]!;
    const key = `${level}/${index}`;
    let h = this.memo.get(key);
    if (!h) this.memo.set(key, (h = nodeHash(this.full(level - 1, 2 * index), this.full(level - 1, 2 * index + 1))));
    return h;
  }
}

export class LogProofs {
  private constructor(
    readonly certPem: string,
    /** A gm log's SM2 certificate (its checkpoints' second signature, evidence-format.md §17.9), for the disc. */
    readonly sm2CertPem: string | undefined,
    /** The signed checkpoint every proof refers to, as the log published it. */
    readonly checkpoint: string,
    private readonly size: number,
    private readonly hashes: LeafHashes,
    /** `${device}/${seq}` to leaf index and leaf, for the current branch of each device. */
    private readonly entries: Map<string, { index: number; leaf: Buffer; hash: string }>,
  ) {}

  /** Read and check the log: its certificate against the CA, its checkpoint's signature, its leaves against the root. */
  static async load(store: EvidenceStore, caPems: string[]): Promise<LogProofs> {
    const read = async (rel: string): Promise<Buffer | undefined> => {
      try {
        return await store.read(`${LOG_DIR}/${rel}`);
      } catch (err) {
        throw new RecgwError('invalid', `cannot read the agency log's ${LOG_DIR}/${rel} in ${store.location}: ${describe(err)}`, { cause: err });
      }
    };
    const problems: string[] = [];
    const certPem = (await read(LOG_CERT_FILE))?.toString('utf8');
    // A gm log's SM2 certificate goes on the disc too (evidence-format.md §17.9); an intl store has none.
    const sm2Pem = (await read(LOG_SM2_CERT_FILE))?.toString('utf8');
    const key = logKeyOf(certPem, sm2Pem, caPems, (p) => problems.push(p));
    if (!key || certPem === undefined) throw new RecgwError('invalid', `${store.location} has no usable agency log: ${problems.join('; ')}; an evidence disc needs the log's proofs`);
    const sm2CertPem = key.gm ? sm2Pem : undefined;
    if (key.gm && sm2CertPem === undefined) throw new RecgwError('invalid', `${store.location} has no ${LOG_DIR}/${LOG_SM2_CERT_FILE}: a gm log's disc needs the certificate of its SM2 checkpoint key`);
    const checkpoint = (await read(CHECKPOINT_FILE))?.toString('utf8');
    if (checkpoint === undefined) throw new RecgwError('invalid', `${store.location} has no ${LOG_DIR}/${CHECKPOINT_FILE}: an evidence disc needs the log's proofs`);
    const cp = openCheckpoint(checkpoint, key.origin, key.key);
    if ('why' in cp) throw new RecgwError('invalid', `${LOG_DIR}/${CHECKPOINT_FILE} of ${store.location} is not a checkpoint of log ${key.origin}: ${cp.why}`);
    const leaves: Buffer[] = [];
    const entries = new Map<string, { index: number; leaf: Buffer; hash: string }>();
    for (let b = 0; b * TILE_WIDTH < cp.size; b++) {
      const width = Math.min(TILE_WIDTH, cp.size - b * TILE_WIDTH);
      const rel = tilePath('entries', b, width);
      let bundle: Buffer[] | { why: string };
      try {
        const data = await read(rel);
        bundle = data ? decodeBundle(data) : { why: 'it is missing' };
      } catch (err) {
        bundle = { why: describe(err) };
      }
      if ('why' in bundle || bundle.length !== width) throw new RecgwError('invalid', `${LOG_DIR}/${rel} cannot be read as ${width} log entries (${'why' in bundle ? bundle.why : `it holds ${bundle.length}`}): run recgw verify on the store`);
      for (const data of bundle) {
        const l = parseLeaf(data);
        // A superseded branch's entries are logged again by the branch that won: the later leaf is the current one.
        if (!('why' in l) && l.kind === 'entry') entries.set(`${l.device}/${l.seq}`, { index: leaves.length, leaf: Buffer.from(data), hash: l.hash });
        leaves.push(leafHash(data));
      }
    }
    const hashes = new LeafHashes(leaves);
    if (!treeRoot(hashes, cp.size).equals(cp.root)) throw new RecgwError('invalid', `the agency log's ${cp.size} leaves do not hash to its checkpoint's root: run recgw verify on the store`);
    return new LogProofs(certPem, sm2CertPem, checkpoint, cp.size, hashes, entries);
  }

  /** The leaf and proof of entry `seq` of `device`, which must be logged with `hash`. */
  proveEntry(device: string, seq: number, hash: string): EntryProof {
    const e = this.entries.get(`${device}/${seq}`);
    if (!e) throw new RecgwError('invalid', `entry ${seq} of ${device} is not in the agency log: the agency never accepted it, so it cannot go on an evidence disc`);
    if (e.hash !== hash) throw new RecgwError('invalid', `the agency log holds a different entry ${seq} of ${device} than its ledger.jsonl: run recgw verify on the store`);
    return { leaf: e.leaf, proof: formatProof({ index: e.index, hashes: inclusionProof(this.hashes, e.index, this.size), checkpoint: this.checkpoint }) };
  }
}
