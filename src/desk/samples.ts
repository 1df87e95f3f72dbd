/**
 * The supervisor's sample check (004 制度 §22, docs/desk.md): draw a seeded random N % of a period's sessions, walk a
 * checklist per sampled session (required matter recorded; uninterrupted or every gap and stop explained; handed over
 * in time by the rule), prefilled from the index's facts and confirmed or noted by the supervisor, and a report in
 * canonical JSON signed with the agency key the desk config names (sampleSigning), which openssl verifies.
 *
 * The draw: every session that started in [from, to), ranked by SHA-256(seed, device, session), the first
 * ceil(N % of them) taken. It depends on the seed and the set of sessions only, never on their order or the database,
 * so the same seed over the same sessions gives the same sample, and anybody can draw it again.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Queryable } from '../index/database.js';
import type { Signer } from '../evidence/signer.js';
import { canonicalJson } from '../util/canonical.js';
import { RecgwError } from '../util/errors.js';

export interface SampleFacts {
  /** The matter is one the session names, and footage was recorded. */
  matterRecorded: boolean;
  /** No gap nothing explains, no resume nobody explained, and a terminated session has a statement by two officers. */
  uninterruptedOrExplained: boolean;
  /** Every segment received by its deadline by the rule. */
  handedOverInTime: boolean;
}
export const CHECKS = ['matterRecorded', 'uninterruptedOrExplained', 'handedOverInTime'] as const satisfies readonly (keyof SampleFacts)[];

export interface SampleItem {
  device: string;
  session: string;
  startMs: number;
  matter: string;
  caseRef: string;
  facts: SampleFacts;
  /** The supervisor's finding: each check confirmed (true) or not, and a note. */
  check?: SampleFacts & { note: string; by: string; atMs: number };
}

export interface Sample {
  id: string;
  drawnMs: number;
  name: string;
  fromMs: number;
  toMs: number;
  percent: number;
  seed: string;
  population: number;
  items: SampleItem[];
  signedMs: number | null;
  signedBy: string | null;
  report: string | null;
  signature: string | null;
}

type SessionRow = {
  device_id: string; session_id: string; start_ms: number | string; matter: string; case_ref: string; recorded_ms: number | string; closed_by: string | null;
  unexplained_gaps: number | string; unexplained_resumes: number | string; statement_badges: number | string; late_segments: number | string; unreceipted: number | string;
};

const rank = (seed: string, device: string, session: string): string => createHash('sha256').update(`${seed}\n${device}\n${session}`).digest('hex');

/** The sample of a period's sessions a seed draws (not stored). */
export async function drawSessions(db: Queryable, fromMs: number, toMs: number, percent: number, seed: string): Promise<{ population: number; items: SampleItem[] }> {
  if (!Number.isInteger(percent) || percent < 1 || percent > 100) throw new RecgwError('usage', 'the percentage must be a whole number from 1 to 100');
  if (!(toMs > fromMs)) throw new RecgwError('usage', 'the period must end after it starts');
  const rows = await db.query<SessionRow>(
    `SELECT device_id, session_id, start_ms, matter, case_ref, recorded_ms, closed_by, unexplained_gaps, unexplained_resumes, statement_badges, late_segments, unreceipted
       FROM sessions WHERE start_ms >= $1 AND start_ms < $2`,
    [fromMs, toMs],
  );
  const n = Math.ceil((rows.length * percent) / 100);
  const picked = rows
    .map((r) => ({ r, k: rank(seed, r.device_id, r.session_id) }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
    .slice(0, n)
    .map(({ r }) => r)
    .sort((a, b) => Number(a.start_ms) - Number(b.start_ms) || (a.device_id < b.device_id ? -1 : 1) || (a.session_id < b.session_id ? -1 : 1));
  return {
    population: rows.length,
    items: picked.map((r) => ({
      device: r.device_id,
      session: r.session_id,
      startMs: Number(r.start_ms),
      matter: r.matter,
      caseRef: r.case_ref,
      facts: {
        matterRecorded: r.matter !== '' && Number(r.recorded_ms) > 0,
        uninterruptedOrExplained: Number(r.unexplained_gaps) === 0 && Number(r.unexplained_resumes) === 0 && (r.closed_by !== 'terminated' || Number(r.statement_badges) >= 2),
        handedOverInTime: Number(r.late_segments) === 0 && Number(r.unreceipted) === 0,
      },
    })),
  };
}

export class Samples {
  constructor(private readonly db: Queryable) {}

  /** Draw and keep a sample; without a seed a random one is made (and kept). */
  async draw(o: { name: string; fromMs: number; toMs: number; percent: number; seed?: string; now: number }): Promise<Sample> {
    const seed = o.seed && o.seed.trim() !== '' ? o.seed.trim() : randomBytes(16).toString('hex');
    if (seed.length > 128) throw new RecgwError('usage', 'the seed is longer than 128 characters');
    const { population, items } = await drawSessions(this.db, o.fromMs, o.toMs, o.percent, seed);
    const id = randomUUID();
    await this.db.query('INSERT INTO desk_samples (id, drawn_ms, name, from_ms, to_ms, percent, seed, population, items) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)', [
      id, o.now, o.name, o.fromMs, o.toMs, o.percent, seed, population, JSON.stringify(items),
    ]);
    return (await this.get(id))!;
  }

  async get(id: string): Promise<Sample | undefined> {
    const [r] = await this.db.query<Record<string, unknown>>('SELECT * FROM desk_samples WHERE id = $1', [id]);
    return r ? fromRow(r) : undefined;
  }

  async list(limit = 100): Promise<Sample[]> {
    return (await this.db.query<Record<string, unknown>>('SELECT * FROM desk_samples ORDER BY drawn_ms DESC, id LIMIT $1', [limit])).map(fromRow);
  }

  /** The supervisor's finding for item `index`; refused once the report is signed. */
  async check(id: string, index: number, finding: SampleFacts & { note: string }, by: string, now: number): Promise<Sample> {
    const s = await this.get(id);
    if (!s) throw new RecgwError('usage', 'no such sample');
    if (s.signedMs !== null) throw new RecgwError('usage', 'the sample is signed: its checklist cannot change');
    const item = s.items[index];
    if (!item) throw new RecgwError('usage', 'no such item in the sample');
    item.check = { ...finding, by, atMs: now };
    await this.db.query('UPDATE desk_samples SET items = $1 WHERE id = $2 AND signed_ms IS NULL', [JSON.stringify(s.items), id]);
    return s;
  }

  /** Sign the report once every item is checked: its canonical JSON and the signature (base64) are kept. */
  async sign(id: string, signer: Signer, by: string, now: number): Promise<Sample> {
    const s = await this.get(id);
    if (!s) throw new RecgwError('usage', 'no such sample');
    if (s.signedMs !== null) return s;
    if (s.items.some((i) => !i.check)) throw new RecgwError('usage', 'every sampled session must be checked before the report is signed');
    const report = canonicalJson(reportOf(s, by, now, signer.certificatePem));
    const signature = signer.sign(Buffer.from(report, 'utf8')).toString('base64');
    await this.db.query('UPDATE desk_samples SET signed_ms = $1, signed_by = $2, report = $3, signature = $4 WHERE id = $5 AND signed_ms IS NULL', [now, by, report, signature, id]);
    return (await this.get(id))!;
  }
}

/** What the signed report says (docs/desk.md): the draw, so anybody can draw it again, and every finding. */
function reportOf(s: Sample, by: string, now: number, certPem: string): Record<string, unknown> {
  const iso = (ms: number): string => new Date(ms).toISOString();
  return {
    type: 'recgw.sample-check',
    v: 1,
    id: s.id,
    period: { from: iso(s.fromMs), to: iso(s.toMs) },
    percent: s.percent,
    seed: s.seed,
    draw: 'sessions with start in [from, to) ranked by SHA-256("<seed>\\n<device>\\n<session>") in hex, the first ceil(percent % of them)',
    population: s.population,
    drawn: { by: s.name, at: iso(s.drawnMs) },
    signed: { by, at: iso(now), certSha256: createHash('sha256').update(certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64').digest('hex') },
    items: s.items.map((i) => ({
      device: i.device,
      session: i.session,
      start: iso(i.startMs),
      matter: i.matter,
      caseRef: i.caseRef,
      facts: i.facts,
      finding: { matterRecorded: i.check!.matterRecorded, uninterruptedOrExplained: i.check!.uninterruptedOrExplained, handedOverInTime: i.check!.handedOverInTime, note: i.check!.note, by: i.check!.by, at: iso(i.check!.atMs) },
    })),
  };
}

function fromRow(r: Record<string, unknown>): Sample {
  const n = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
  return {
    id: String(r.id),
    drawnMs: Number(r.drawn_ms),
    name: String(r.name),
    fromMs: Number(r.from_ms),
    toMs: Number(r.to_ms),
    percent: Number(r.percent),
    seed: String(r.seed),
    population: Number(r.population),
    items: JSON.parse(String(r.items)) as SampleItem[],
    signedMs: n(r.signed_ms),
    signedBy: (r.signed_by as string | null) ?? null,
    report: (r.report as string | null) ?? null,
    signature: (r.signature as string | null) ?? null,
  };
}
