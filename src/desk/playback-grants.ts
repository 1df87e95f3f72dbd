/**
 * Playback grants (docs/desk.md §6, playback): opening a session's playback under an approval is registered once
 * (requireApproval) and yields a grant, an unguessable id the page's segment streams are fetched under. A grant is
 * bound to the account and to its signed-in session (the SHA-256 of the session cookie, never the cookie itself), to
 * the approval, the device and the session, and ends with the approval's window; so a stream URL copied into another
 * browser, another account or after the window is refused without a second register row per segment.
 *
 * Kept in memory only: a restart of the desk forgets every grant, and the viewer opens the playback again (a new,
 * registered opening). Expired grants are dropped whenever a new one is opened, and an account keeps at most
 * MAX_PER_ACCOUNT (its oldest go first: a page opened long ago stops, and is opened again), so memory stays bounded.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface PlaybackGrant {
  id: string;
  account: string;
  /** SHA-256 (hex) of the session cookie the playback was opened with. */
  login: string;
  request: string;
  device: string;
  session: string;
  /** The approval's window end, ms since epoch. */
  untilMs: number;
}

/** Why a grant does not let a stream through. */
export type GrantProblem = 'gone' | 'notYours' | 'expired';

export const MAX_PER_ACCOUNT = 20;

export const loginHash = (cookie: string): string => createHash('sha256').update(cookie).digest('hex');

export class PlaybackGrants {
  private readonly grants = new Map<string, PlaybackGrant>();

  constructor(private readonly now: () => number) {}

  open(g: Omit<PlaybackGrant, 'id' | 'login'> & { cookie: string }): PlaybackGrant {
    const at = this.now();
    for (const [id, old] of this.grants) if (old.untilMs <= at) this.grants.delete(id);
    // A Map iterates in insertion order: the account's oldest grants come first.
    const mine = [...this.grants.values()].filter((x) => x.account === g.account);
    for (const old of mine.slice(0, Math.max(0, mine.length - MAX_PER_ACCOUNT + 1))) this.grants.delete(old.id);
    const grant: PlaybackGrant = { id: randomBytes(18).toString('base64url'), account: g.account, login: loginHash(g.cookie), request: g.request, device: g.device, session: g.session, untilMs: g.untilMs };
    this.grants.set(grant.id, grant);
    return grant;
  }

  /** The grant `id` if this account and session cookie may stream under it now; else why not (with the grant, if there is one). */
  check(id: string, account: string, cookie: string | undefined): { grant: PlaybackGrant; problem?: undefined } | { grant?: PlaybackGrant; problem: GrantProblem } {
    const grant = this.grants.get(id);
    if (!grant) return { problem: 'gone' };
    if (grant.account !== account || cookie === undefined || loginHash(cookie) !== grant.login) return { grant, problem: 'notYours' };
    if (this.now() >= grant.untilMs) return { grant, problem: 'expired' };
    return { grant };
  }
}
