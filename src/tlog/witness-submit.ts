/**
 * One checkpoint offered to one witness (c2sp.org/tlog-witness add-checkpoint), for any log a witness follows: the
 * agency log (src/receiver/witness-client.ts) and the desk's audit chain (src/desk/audit-anchor.ts). The caller gives
 * the size it believes the witness last cosigned; a 409 answer with the witness's own size, when not larger than the
 * checkpoint, is taken and the offer made once more with a proof from there. What the witness said comes back as one
 * outcome: cosigned, the log forked (422: not consistent with what it cosigned), the log shrank (it has cosigned a
 * larger one), another refusal, or no answer.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Vkey } from './note.js';
import { describe } from '../util/errors.js';

export interface WitnessTarget {
  /** The witness's submission prefix (add-checkpoint is appended). */
  url: string;
  vkey: Vkey;
}

export type WitnessOutcome =
  | { kind: 'cosigned'; size: number; body: string }
  | { kind: 'forked'; size: number; why: string }
  | { kind: 'shrank'; size: number; theirs: number }
  | { kind: 'refused'; status: number; why: string }
  | { kind: 'unreachable'; err: string };

export interface Offer {
  size: number;
  checkpoint: string;
  /** The consistency proof from `old` to `size`, one base64 hash a line. */
  proofFrom(old: number): Promise<string>;
}

/**
 * Offer `o` to `w`, starting from `known` (the size it last cosigned as far as the caller knows; 0 when unknown).
 * `learnt` is the witness's size when a 409 told it.
 */
export async function offerCheckpoint(w: WitnessTarget, o: Offer, known: number, ca?: string): Promise<{ outcome: WitnessOutcome; learnt?: number }> {
  let learnt: number | undefined;
  let old = Math.min(known, o.size);
  for (let attempt = 0; attempt < 2; attempt++) {
    const proof = await o.proofFrom(old);
    let answer: { status: number; body: string };
    try {
      answer = await post(`${w.url.replace(/\/$/, '')}/add-checkpoint`, `old ${old}\n${proof}\n${o.checkpoint}`, ca);
    } catch (err) {
      return { outcome: { kind: 'unreachable', err: describe(err) }, ...(learnt !== undefined ? { learnt } : {}) };
    }
    if (answer.status === 409 && /^\d+\n?$/.test(answer.body)) {
      const theirs = Number(answer.body.trim());
      if (theirs > o.size) return { outcome: { kind: 'shrank', size: o.size, theirs }, learnt: theirs };
      learnt = old = theirs;
      continue;
    }
    const why = answer.body.trim().slice(0, 300);
    const outcome: WitnessOutcome =
      answer.status === 200 ? { kind: 'cosigned', size: o.size, body: answer.body } : answer.status === 422 ? { kind: 'forked', size: o.size, why } : { kind: 'refused', status: answer.status, why };
    return { outcome, ...(learnt !== undefined ? { learnt } : {}) };
  }
  return { outcome: { kind: 'refused', status: 409, why: 'the witness changed its size twice in a row' }, ...(learnt !== undefined ? { learnt } : {}) };
}

function post(url: string, body: string, ca?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(
      u,
      { method: 'POST', headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) }, timeout: 10_000, ...(ca ? { ca } : {}) },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end(body);
  });
}
