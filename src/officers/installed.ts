/**
 * The ledger says which roster officers were confirmed against: a roster.installed entry carrying the signed roster
 * (never the PIN hashes), written at the first start with a roster and whenever the gateway starts with another one,
 * before any confirmation checked against it. A verifier then checks every confirmation against it (evidence-format.md §16).
 */
import { prepared, type Db } from '../state/db.js';
import type { AppendedEntry, Ledger } from '../evidence/ledger.js';
import { ENTRY } from '../evidence/types.js';
import { rosterSha256, type InstalledRoster, type SignedRoster } from './roster.js';

/** The SHA-256 of the roster of the ledger's last roster.installed entry ('' if unreadable), or undefined when there is none. */
export function lastInstalledRoster(db: Db): string | undefined {
  const row = prepared(db, 'SELECT line FROM ledger WHERE type = ? ORDER BY seq DESC LIMIT 1').get(ENTRY.rosterInstalled) as { line: string } | undefined;
  if (!row) return undefined;
  const roster = (JSON.parse(row.line) as { body: { roster?: SignedRoster } }).body.roster;
  return roster ? rosterSha256(roster) : '';
}

/** Append roster.installed unless the last one holds this very roster. */
export function recordRoster(ledger: Ledger, db: Db, r: InstalledRoster): AppendedEntry | undefined {
  return lastInstalledRoster(db) === r.sha256 ? undefined : ledger.append(ENTRY.rosterInstalled, { roster: r.roster });
}
