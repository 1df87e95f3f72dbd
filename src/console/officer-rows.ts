/**
 * The officers a session form names: rows `o1`..`o8`, each a name, a 执法证号 and the officer's PIN (or, without a
 * roster, a tick that they confirm). Checked as the panel and the control socket check officers (officers/names.ts),
 * naming the row. A PIN goes only to the PIN check: it is never put back into a page, logged or stored.
 */
import type { Fields } from './route.js';
import type { Key } from './i18n.js';
import type { OfficerPin } from '../officers/auth.js';
import { badgeProblem, nameProblem } from '../officers/names.js';

export const OFFICER_ROWS = 8;

export interface OfficerRow extends OfficerPin {
  /** The row's number (1-based), for messages. */
  n: number;
  /** The officer confirms: a PIN was typed, or (no roster) the row was ticked. */
  confirms: boolean;
}

/** A form that cannot be acted on: its problem in the console's words. */
export class FormProblem extends Error {
  constructor(
    readonly key: Key,
    readonly vars: Record<string, string | number> = {},
  ) {
    super(key);
  }
}

export const rowField = (n: number, part: 'name' | 'badge' | 'pin' | 'sign'): string => `o${n}-${part}`;

/** The rows filled in, in order; throws FormProblem for a row half filled in or with a name or 执法证号 the roster could not hold. */
export function officerRows(fields: Fields): OfficerRow[] {
  const out: OfficerRow[] = [];
  for (let n = 1; n <= OFFICER_ROWS; n++) {
    const name = (fields[rowField(n, 'name')] ?? '').trim();
    const badge = (fields[rowField(n, 'badge')] ?? '').trim();
    const pin = fields[rowField(n, 'pin')] ?? '';
    if (!name && !badge) {
      if (pin) throw new FormProblem('sess.officerIncomplete', { n });
      continue;
    }
    if (!name || !badge) throw new FormProblem('sess.officerIncomplete', { n });
    if (badgeProblem(badge)) throw new FormProblem('sess.badBadge', { n });
    if (nameProblem(name)) throw new FormProblem('sess.badName', { n });
    out.push({ n, officer: { name, badge }, ...(pin ? { pin } : {}), confirms: pin !== '' || fields[rowField(n, 'sign')] === '1' });
  }
  return out;
}
