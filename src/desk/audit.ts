/**
 * The desk's audit trail (table desk_audit): every sign-in, failed sign-in, sign-out, verifier run and export, with
 * who, what, when and from which address. Appended only; nothing of the desk deletes or changes a row. A name typed
 * at the sign-in form is kept short and printable; passwords never come here.
 */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../index/database.js';
import { typed } from '../util/typed.js';

export type AuditAction = 'sign-in' | 'sign-in-failed' | 'sign-out' | 'verify' | 'export-csv' | 'ack-alert' | 'sample-draw' | 'sample-check' | 'sample-sign' | 'sample-download';

export interface AuditRow {
  at: number;
  name: string;
  action: AuditAction;
  ip: string;
  detail: Record<string, unknown>;
}


export class DeskAudit {
  constructor(
    private readonly db: Queryable,
    private readonly now: () => number = Date.now,
  ) {}

  async record(name: string, action: AuditAction, ip: string, detail: Record<string, unknown> = {}): Promise<void> {
    await this.db.query('INSERT INTO desk_audit (id, at_ms, name, action, ip, detail) VALUES ($1, $2, $3, $4, $5, $6)', [
      randomUUID(),
      this.now(),
      typed(name),
      action,
      ip,
      JSON.stringify(detail),
    ]);
  }

  /** The newest rows first. */
  async latest(limit = 200): Promise<AuditRow[]> {
    const rows = await this.db.query<{ at_ms: number; name: string; action: AuditAction; ip: string; detail: string }>(
      'SELECT at_ms, name, action, ip, detail FROM desk_audit ORDER BY at_ms DESC, id LIMIT $1',
      [limit],
    );
    return rows.map((r) => ({ at: Number(r.at_ms), name: r.name, action: r.action, ip: r.ip, detail: JSON.parse(r.detail) as Record<string, unknown> }));
  }
}
