/**
 * "Verify this session": runs the verifier (src/verify) over the session's device folder in the store, and keeps each
 * result with its date and who asked in desk_verifications (schema step "desk verifier runs"). The verifier checks a
 * device's ledger as a whole (signatures, chain, files, receipts), so the result is the device's findings, with the
 * session's own part of the report (its coverage as the verifier finds it). One run per device at a time: a second
 * request while one runs waits for it and gets the same result. The verifier reads folders: from a bucket, the
 * device's folder without its segments and the log are copied into a private temporary folder for the run and
 * removed after it, the segments hashed as they stream from the bucket (store/local-copy.ts).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCaBundle } from '../cli/args.js';
import type { Queryable } from '../index/database.js';
import { withVerifiableCopy } from '../store/local-copy.js';
import type { DeskStore } from './desk-store.js';
import { RecgwError } from '../util/errors.js';
import { verifyStore } from '../verify/verifier.js';
import type { Finding, SessionReport } from '../verify/findings.js';

export interface VerifyRun {
  at: number;
  by: string;
  ok: boolean;
  tookMs: number;
  /** The device's findings (at most MAX_FINDINGS kept), and how many there were. */
  findings: Finding[];
  findingCount: number;
  /** The session as the verifier found it; null when the ledger the verifier read holds no such session. */
  session: Pick<SessionReport, 'recordedSeconds' | 'gaps' | 'closedBy' | 'statement' | 'segments'> | null;
}

const MAX_FINDINGS = 100;

export class VerifyRuns {
  private readonly running = new Map<string, Promise<VerifyRun>>();

  constructor(
    private readonly db: Queryable,
    private readonly o: { ca: string; store: DeskStore; now: () => number },
  ) {}

  run(deviceId: string, sessionId: string, by: string): Promise<VerifyRun> {
    const key = `${deviceId}\u0000${sessionId}`;
    const busy = this.running.get(key);
    if (busy) return busy;
    const p = this.runNow(deviceId, sessionId, by).finally(() => this.running.delete(key));
    this.running.set(key, p);
    return p;
  }

  private async runNow(deviceId: string, sessionId: string, by: string): Promise<VerifyRun> {
    const [dev] = await this.db.query<{ folder: string }>('SELECT folder FROM devices WHERE device_id = $1', [deviceId]);
    if (!dev) throw new RecgwError('usage', `the index holds no device ${deviceId}`);
    const caPems = readCaBundle(this.o.ca);
    const started = this.o.now();
    const store = await this.o.store.get();
    const report = await withVerifiableCopy(store, [dev.folder], tmpdir(), (root, segmentsOf) => verifyStore(join(root, dev.folder), { caPems, jobs: 1, ...(segmentsOf ? { segmentsOf } : {}) }));
    const s = report.devices.flatMap((d) => d.sessions).find((x) => x.sessionId === sessionId);
    const run: VerifyRun = {
      at: started,
      by,
      ok: report.ok,
      tookMs: this.o.now() - started,
      findings: report.findings.slice(0, MAX_FINDINGS),
      findingCount: report.findings.length,
      session: s ? { recordedSeconds: s.recordedSeconds, gaps: s.gaps, closedBy: s.closedBy, statement: s.statement, segments: s.segments } : null,
    };
    await this.db.query(
      'INSERT INTO desk_verifications (device_id, session_id, ran_ms, name, ok, took_ms, finding_count, result) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
      [deviceId, sessionId, run.at, by, run.ok ? 1 : 0, run.tookMs, run.findingCount, JSON.stringify({ findings: run.findings, session: run.session })],
    );
    return run;
  }

  /** The session's runs, newest first. */
  async history(deviceId: string, sessionId: string, limit = 5): Promise<VerifyRun[]> {
    const rows = await this.db.query<{ ran_ms: number; name: string; ok: number; took_ms: number; finding_count: number; result: string }>(
      'SELECT ran_ms, name, ok, took_ms, finding_count, result FROM desk_verifications WHERE device_id = $1 AND session_id = $2 ORDER BY ran_ms DESC LIMIT $3',
      [deviceId, sessionId, limit],
    );
    return rows.map((r) => {
      const res = JSON.parse(r.result) as Pick<VerifyRun, 'findings' | 'session'>;
      return { at: Number(r.ran_ms), by: r.name, ok: Number(r.ok) === 1, tookMs: Number(r.took_ms), findingCount: Number(r.finding_count), ...res };
    });
  }
}
