/**
 * The register's pure parts (src/desk/register.ts, approvals.ts, pages/access.ts): what a typed reason can do to the
 * CSV and the page (nothing: a formula is made inert, markup is escaped), how sessions are read from the form, and
 * how an entry reads.
 */
import { describe, expect, it } from 'vitest';
import { registerCsv, whatText, type RegisterEntry } from '../../src/desk/register.js';
import { sessionRefs, type ViewRequest } from '../../src/desk/approvals.js';
import { accessPage } from '../../src/desk/pages/access.js';
import { deskTranslator } from '../../src/desk/i18n.js';
import type { View } from '../../src/desk/view.js';

const t = deskTranslator('zh-CN');
const at = Date.UTC(2026, 11, 7, 2, 0, 0);
const entry = (o: Partial<RegisterEntry>): RegisterEntry => ({
  seq: 1, at, who: 'officer1', act: 'decrypt', sessions: ['car-2/S-C'], target: 'car-2/S-C_cam1_000000 segments/x.seg', playback: false, scope: '', window: undefined, note: '', refused: undefined,
  why: '复议', request: 'r1', approver: 'leader1', ip: '127.0.0.1', via: 'desk', ...o,
});

describe('the register', () => {
  it('exports a reason typed as a spreadsheet formula inert, and quotes commas and quotes', () => {
    const csv = registerCsv(t, 'Asia/Shanghai', [entry({ why: '=HYPERLINK("http://x","看")' }), entry({ why: '+1,2' })]);
    const lines = csv.replace(/^\uFEFF/, '').trimEnd().split('\r\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toContain(`"'=HYPERLINK(""http://x"",""看"")"`);
    expect(lines[2]).toContain(`"'+1,2"`);
    expect(lines[1]).toContain(',officer1,解密,car-2/S-C,');
  });

  it('says what an entry was about in the reader\'s language', () => {
    expect(whatText(t, 'Asia/Shanghai', entry({ act: 'view-approve', target: '', scope: 'export', window: { from: at, until: at + 3600_000 }, note: '同意' }))).toBe(
      '查看并导出；2026-12-07 10:00:00 – 2026-12-07 11:00:00；同意',
    );
    expect(whatText(t, 'Asia/Shanghai', entry({ act: 'denied:export', refused: { key: 'access.viewOnly', vars: {} } }))).toBe('car-2/S-C_cam1_000000 segments/x.seg；批准的范围是“仅查看”，不能导出。');
    expect(whatText(t, 'Asia/Shanghai', entry({ act: 'view', target: '', playback: true }))).toBe('播放');
  });

  it('reads the sessions from lines, spaces or commas, each once', () => {
    expect(sessionRefs(' car-2/S-C\nroom-1/S-A, car-2/S-C，room-1/S-B ')).toEqual(['car-2/S-C', 'room-1/S-A', 'room-1/S-B']);
    expect(sessionRefs('')).toEqual([]);
  });

  it('shows a reason with markup in it as text', () => {
    const r: ViewRequest = {
      id: '00000000-0000-4000-8000-000000000001', requestedMs: at, requester: 'officer1', reason: '<img src=x onerror=alert(1)>', sessions: ['car-2/S-C'], scopeAsked: 'view',
      state: 'pending', decidedMs: null, decider: null, decisionNote: null, scope: null, validFromMs: null, validUntilMs: null,
    };
    const v: View = { lang: 'zh-CN', t, zone: 'Asia/Shanghai', user: { name: 'leader1', role: 'leader' }, csrf: 'c', path: '/access/x', now: at };
    const html = accessPage(v, r, { mayDecide: true, segments: undefined, canDecrypt: true });
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('id="decide"');
  });
});
