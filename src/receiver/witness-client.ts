/**
 * Asks the agency's witnesses to cosign the log's newest checkpoint (c2sp.org/tlog-witness add-checkpoint) after it
 * grows: at most one round in flight, the next one after it when the log grew meanwhile. Each witness gets a
 * consistency proof from the size it last cosigned (learnt from its 409 answer after a restart). Cosignatures that
 * verify are written with the checkpoint to `<store>/log/witnessed`, the newest checkpoint any witness cosigned, once
 * per round when all have answered (a file per answer was a third of a round's cost on the bench VM).
 */
import { checkCosignatures } from '../tlog/checkpoint.js';
import { formatNote, parseNote, type NoteSignature } from '../tlog/note.js';
import { offerCheckpoint, type WitnessTarget } from '../tlog/witness-submit.js';
import { describe } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { AgencyLog } from './agency-log.js';
import type { WitnessAlarms } from './receiver-status.js';
import { WITNESSED_FILE } from '../evidence/log-leaf.js';
import { logName, logOut, type LogOut } from './log-files.js';

export type { WitnessTarget } from '../tlog/witness-submit.js';

export class WitnessClient {
  /** Per witness URL: the size it last cosigned, as far as we know. */
  private readonly sizes = new Map<string, number>();
  private running: Promise<void> | undefined;
  private again = false;
  /** The newest checkpoint with cosignatures, and them. */
  private best: { size: number; checkpoint: string; sigs: Map<string, NoteSignature> } | undefined;
  /** `best` gained a cosignature that `witnessed` does not hold yet. */
  private unwritten = false;

  private readonly out: LogOut;

  constructor(
    logDir: string | LogOut,
    private readonly log: AgencyLog,
    private readonly witnesses: WitnessTarget[],
    private readonly logger: Logger,
    private readonly ca?: string,
    /** Where a fork or a shrink a witness reports goes, besides the log (the desk, through ReceiverStatus). */
    private readonly alarms?: WitnessAlarms,
  ) {
    this.out = logOut(logDir);
  }

  /** The log grew: ask the witnesses (now, or after the round in flight). */
  kick(): void {
    if (this.witnesses.length === 0) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.round().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** Wait for the round in flight (at stop, and in tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async round(): Promise<void> {
    const head = await this.log.head();
    // Witnesses that cosigned the same size get the same proof: made once.
    const proofs = new Map<number, Promise<string>>();
    const proofFrom = (old: number): Promise<string> => {
      let p = proofs.get(old);
      if (p === undefined) {
        proofs.set(old, (p = this.log.consistency(old, head.size).then((hs) => hs.map((h) => `${h.toString('base64')}\n`).join(''))));
      }
      return p;
    };
    await Promise.all(this.witnesses.map((w) => this.submit(w, head.size, head.checkpoint, proofFrom)));
    if (this.unwritten) await this.writeWitnessed();
  }

  private async submit(w: WitnessTarget, size: number, checkpoint: string, proofFrom: (old: number) => Promise<string>): Promise<void> {
    const { outcome: o, learnt } = await offerCheckpoint(w, { size, checkpoint, proofFrom }, this.sizes.get(w.url) ?? 0, this.ca);
    if (learnt !== undefined && learnt <= size) this.sizes.set(w.url, learnt);
    switch (o.kind) {
      case 'cosigned':
        return this.cosigned(w, size, checkpoint, o.body);
      case 'unreachable':
        return void this.logger.warn('a witness did not answer; the next checkpoint goes to it again', { witness: w.vkey.name, url: w.url, err: o.err });
      case 'shrank':
        this.logger.error('a witness has cosigned a larger checkpoint of this log than the log now has: the log lost entries (restored from an old copy?)', { witness: w.vkey.name, witnessSize: o.theirs, logSize: size });
        return this.alarm(w, 'shrank', `witness ${w.vkey.name} has cosigned ${o.theirs} leaves; this log has ${size}`);
      case 'forked':
        this.logger.error('a witness refused the checkpoint as inconsistent with what it cosigned before: the log forked', { witness: w.vkey.name, status: 422, why: o.why });
        return this.alarm(w, 'forked', `witness ${w.vkey.name} refused the checkpoint of ${size} leaves as inconsistent with what it cosigned: ${o.why}`);
      case 'refused':
        return void this.logger.warn('a witness refused the checkpoint', { witness: w.vkey.name, status: o.status, why: o.why });
    }
  }

  private alarm(w: WitnessTarget, level: 'forked' | 'shrank', detail: string): void {
    this.alarms?.raise(w.vkey.name, { level, origin: this.log.origin, at: new Date().toISOString(), detail });
  }

  private cosigned(w: WitnessTarget, size: number, checkpoint: string, body: string): void {
    const note = parseNote(checkpoint + body);
    if ('why' in note) return void this.logger.warn('a witness answered with something that is not a cosignature', { witness: w.vkey.name });
    const { ok } = checkCosignatures(note, [{ name: w.vkey.name, key: w.vkey.key }]);
    if (ok.length === 0) return void this.logger.warn('a witness cosignature does not verify with its key', { witness: w.vkey.name });
    this.sizes.set(w.url, size);
    if (!this.best || this.best.size < size) this.best = { size, checkpoint, sigs: new Map() };
    if (this.best.size !== size) return;
    const mine = note.sigs.filter((s) => s.name === w.vkey.name);
    for (const s of mine) this.best.sigs.set(`${s.name}/${s.keyId}`, s);
    this.unwritten = true;
  }

  /** `<store>/log/witnessed`: the newest cosigned checkpoint with every cosignature it has. */
  private async writeWitnessed(): Promise<void> {
    this.unwritten = false;
    const best = this.best;
    const own = best && parseNote(best.checkpoint);
    if (!best || !own || 'why' in own) return;
    const text = formatNote({ text: own.text, sigs: [...own.sigs, ...best.sigs.values()] });
    const name = logName(this.out, WITNESSED_FILE);
    await this.out.store.replace(name, Buffer.from(text)).catch((err: unknown) => {
      this.unwritten = true;
      this.logger.error('could not write the cosigned checkpoint; it is written again after the next round', { path: `${this.out.store.location}/${name}`, err: describe(err) });
    });
  }
}
