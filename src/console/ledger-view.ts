/**
 * The ledger's event list for the console: newest first, a page at a time, each entry's body without what does not
 * belong in an event list (event-sentences.ts makes the page's sentence of it). A segment manifest shows which
 * source and time span it describes, never where the file is; certificates, wrapped keys and signatures are left
 * out. Nothing here can read a segment.
 */
import type { Db } from '../state/db.js';
import type { Ledger } from '../evidence/ledger.js';
import type { EventRow, LedgerAccess } from './deps.js';
import { ENTRY } from '../evidence/types.js';

/** Members that are long, binary-ish or locate files: not for an event list. */
const HIDDEN = new Set(['cert', 'sig', 'wrappedKey', 'enc', 'file', 'plain', 'stored', 'iv', 'prev']);

function scrub(v: unknown, depth = 0): unknown {
  if (depth > 4) return '…';
  if (Array.isArray(v)) return v.slice(0, 10).map((x) => scrub(x, depth + 1));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (!HIDDEN.has(k)) out[k] = scrub(x, depth + 1);
    return out;
  }
  if (typeof v === 'string' && v.length > 120) return v.slice(0, 119) + '…';
  return v;
}

export function ledgerAccess(db: Db, ledger: Ledger): LedgerAccess {
  return {
    append: (type, body) => void ledger.append(type, body),
    events({ before, limit, segments }): EventRow[] {
      const rows = db
        .prepare(
          `SELECT seq, time, type, line FROM ledger WHERE seq < ? AND (? = 1 OR type != ?) ORDER BY seq DESC LIMIT ?`,
        )
        .all(before ?? Number.MAX_SAFE_INTEGER, segments ? 1 : 0, ENTRY.segmentSealed, Math.max(1, Math.min(limit, 200))) as {
        seq: number;
        time: string;
        type: string;
        line: string;
      }[];
      return rows.map((r) => {
        let body: Record<string, unknown> = {};
        try {
          body = (JSON.parse(r.line) as { body: Record<string, unknown> }).body;
        } catch {
          /* a stored line is always JSON; an unreadable one still lists */
        }
        return { seq: r.seq, time: r.time, type: r.type, body: scrub(body) as Record<string, unknown> };
      });
    },
  };
}
