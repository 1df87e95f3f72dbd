/**
 * Playback grants (src/desk/playback-grants.ts): a grant streams only for the account and the sign-in that opened it,
 * only until the approval's window ends, and an account holds at most MAX_PER_ACCOUNT of them (its oldest dropped).
 */
import { describe, expect, it } from 'vitest';
import { MAX_PER_ACCOUNT, PlaybackGrants } from '../../src/desk/playback-grants.js';

const open = (g: PlaybackGrants, account = 'officer1', cookie = 'cookie-a', untilMs = 10_000) =>
  g.open({ account, cookie, request: 'r1', device: 'room-1', session: 'S-A', untilMs });

describe('playback grants', () => {
  it('let the account and sign-in that opened one stream under it until the window ends', () => {
    let now = 1000;
    const g = new PlaybackGrants(() => now);
    const a = open(g);
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(a.login).not.toContain('cookie-a'); // only its hash is kept
    expect(g.check(a.id, 'officer1', 'cookie-a')).toEqual({ grant: a });
    now = 10_000;
    expect(g.check(a.id, 'officer1', 'cookie-a')).toEqual({ grant: a, problem: 'expired' });
  });

  it('refuse another account, another sign-in of the same account, no cookie, and an id never given', () => {
    const g = new PlaybackGrants(() => 0);
    const a = open(g);
    expect(g.check(a.id, 'super1', 'cookie-a').problem).toBe('notYours');
    expect(g.check(a.id, 'officer1', 'cookie-b').problem).toBe('notYours');
    expect(g.check(a.id, 'officer1', undefined).problem).toBe('notYours');
    expect(g.check('A'.repeat(24), 'officer1', 'cookie-a')).toEqual({ problem: 'gone' });
    expect(open(g).id).not.toBe(a.id);
  });

  it('drop expired grants and keep at most MAX_PER_ACCOUNT per account, the oldest going first', () => {
    let now = 0;
    const g = new PlaybackGrants(() => now);
    const early = open(g, 'officer1', 'c', 5);
    now = 5;
    open(g, 'other', 'c');
    expect(g.check(early.id, 'officer1', 'c').problem).toBe('gone');
    const mine = Array.from({ length: MAX_PER_ACCOUNT + 2 }, () => open(g));
    expect(mine.slice(0, 2).map((x) => g.check(x.id, 'officer1', 'cookie-a').problem)).toEqual(['gone', 'gone']);
    expect(mine.slice(2).every((x) => g.check(x.id, 'officer1', 'cookie-a').problem === undefined)).toBe(true);
  });
});
