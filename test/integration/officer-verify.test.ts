/**
 * What the verifier makes of officers' confirmations (evidence-format.md §16.4), on ledgers the real evidence core
 * signs: a statement confirmed by two officers of its session passes; one confirmation, the same officer twice, an
 * officer not on the session, a wrong name, a roster never installed or one signed with a device key, a confirmation
 * outside the roster's validity each fail as unconfirmed-statement; an opening or an early end without its officers'
 * confirmations is unconfirmed-session. Before any roster, statements are checked as before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { cleanupTmp, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { exportDevice, verify } from '../helpers/evidence.js';
import { LI, makeRoster, WANG, ZHANG } from '../helpers/roster.js';
import { startEvidenceCore } from '../../src/app/evidence-core.js';
import { ENTRY } from '../../src/evidence/types.js';
import { KeySigner } from '../../src/evidence/signer.js';
import { identityPaths } from '../../src/pki/identity.js';
import { loadPrivateKey } from '../../src/pki/keys.js';
import { rosterSha256, type SignedRoster } from '../../src/officers/roster.js';
import type { Finding } from '../../src/verify/findings.js';
import { silentLogger } from '../../src/util/log.js';
import { main } from '../../src/cli/main.js';
import type { StoreReport } from '../../src/report/types.js';

const ca = makeCa();
let findings: Finding[];
let store: string;

type Who = { name: string; badge: string };
const SESSION: Who[] = [ZHANG, LI].map((o) => ({ name: o.name, badge: o.badge }));

beforeAll(async () => {
  const roster = (await makeRoster(ca.dir, { from: new Date(Date.now() - 3600_000) })).roster;
  const expired = (await makeRoster(ca.dir, { from: new Date(Date.now() - 40 * 86_400_000), days: 30 })).roster;
  const gw = makeGateway(ca.dir, { deviceId: 'verify-1' });
  const id = identityPaths(gw.config.stateDir);
  const device = new KeySigner(loadPrivateKey(id.key, 'device key', ''), readFileSync(id.cert, 'utf8'));
  const forged = (await makeRoster(ca.dir, { signer: device })).roster;
  const core = await startEvidenceCore(gw.config, silentLogger);
  try {
    const L = core.ledger;
    const now = (): string => new Date().toISOString();
    const conf = (o: Who, r: SignedRoster = roster, extra: Record<string, unknown> = {}) => ({ name: o.name, badge: o.badge, via: 'cli', at: now(), roster: rosterSha256(r), ...extra });
    /** A session of 张三 and 李四, opened and ended early with their confirmations unless told otherwise, and a statement. */
    const session = (sid: string, o: { opened?: unknown[]; closed?: unknown[]; statement?: unknown[]; statementOfficers?: Who[] }) => {
      L.append(ENTRY.sessionOpened, { sessionId: sid, matter: 'sampling', caseRef: sid, officers: SESSION, start: now(), confirmations: o.opened ?? SESSION.map((x) => conf(x)) });
      L.append(ENTRY.interruptionStarted, { sessionId: sid, interruptionId: `${sid}-i`, reason: 'device-fault', origin: 'declared', start: now() });
      L.append(ENTRY.interruptionEnded, { sessionId: sid, interruptionId: `${sid}-i`, end: now(), endedBy: 'session-closed' });
      L.append(ENTRY.sessionClosed, { sessionId: sid, end: now(), reason: 'terminated', by: 'officer', confirmations: o.closed ?? SESSION.map((x) => conf(x)) });
      if (o.statement) L.append(ENTRY.sessionStatement, { sessionId: sid, text: '设备故障', officers: o.statementOfficers ?? SESSION, time: now(), confirmations: o.statement });
    };
    // Before any roster: a statement by two badges, unconfirmed, is what it always was.
    L.append(ENTRY.sessionOpened, { sessionId: 'L0', matter: 'sampling', caseRef: '', officers: SESSION, start: now() });
    L.append(ENTRY.interruptionStarted, { sessionId: 'L0', interruptionId: 'L0-i', reason: 'device-fault', origin: 'declared', start: now() });
    L.append(ENTRY.sessionClosed, { sessionId: 'L0', end: now(), reason: 'terminated', by: 'officer' });
    L.append(ENTRY.sessionStatement, { sessionId: 'L0', text: '设备故障', officers: SESSION, time: now() });

    L.append(ENTRY.rosterInstalled, { roster: forged });
    L.append(ENTRY.rosterInstalled, { roster });
    L.append(ENTRY.rosterInstalled, { roster: expired });
    session('S-good', { statement: SESSION.map((x) => conf(x)) });
    session('S-one', { statement: [conf(ZHANG)] });
    session('S-twice', { statement: [conf(ZHANG), conf(ZHANG)] });
    session('S-outsider', { statement: [conf(ZHANG), conf(WANG)], statementOfficers: [SESSION[0]!, { name: WANG.name, badge: WANG.badge }] });
    session('S-name', { statement: [conf(ZHANG), conf({ name: '赵六', badge: LI.badge })] });
    session('S-forged', { statement: [conf(ZHANG), conf(LI, forged)] });
    session('S-unknown', { statement: [conf(ZHANG), conf(LI, roster, { roster: 'ab'.repeat(32) })] });
    session('S-expired', { statement: [conf(ZHANG), conf(LI, expired)] });
    session('S-late', { statement: [conf(ZHANG), conf(LI, roster, { at: new Date(Date.now() - 10 * 60_000).toISOString() })] });
    session('S-open', { opened: [conf(ZHANG)], statement: SESSION.map((x) => conf(x)) });
    session('S-end', { closed: [conf(LI)], statement: SESSION.map((x) => conf(x)) });
  } finally {
    await core.stop();
  }
  store = tmp();
  exportDevice(gw.configPath, store);
  findings = (await verify(store, ca.paths.caCert)).findings;
}, 120_000);
afterAll(cleanupTmp);

const about = (sid: string): string[] => findings.filter((f) => f.detail.includes(` ${sid} `) || f.detail.endsWith(` ${sid}`)).map((f) => `${f.kind}: ${f.detail.replace(/^line \d+: /, '')}`);

describe('the verifier and officers\' confirmations', () => {
  it('passes a statement confirmed by two officers of the session, with its opening and early end confirmed', () => {
    expect(about('S-good')).toEqual([]);
  });

  it('accepts a statement made before any roster as before (two badges)', () => {
    expect(about('L0')).toEqual([]);
  });

  it('refuses a roster.installed signed with a device key', () => {
    expect(findings.filter((f) => f.detail.includes(': roster.installed:'))).toEqual([
      expect.objectContaining({ kind: 'untrusted-certificate', detail: expect.stringMatching(/roster.installed: the roster is not signed with the agency's roster certificate \(the certificate is for role "recgw-device"/) }),
    ]);
  });

  it.each([
    ['S-one', /carries 1 valid PIN confirmation\(s\) of distinct officers, where 2 are needed$/],
    ['S-twice', /carries 1 valid .*: confirmation 2 \(13010001\) is the same officer again$/],
    ['S-outsider', /carries 1 valid .*: confirmation 2 \(13010003\) is not an officer of the session$/],
    ['S-name', /confirmation 2 \(13010002\) is named 赵六, but the roster gives that 执法证号 to 李四$/],
    ['S-forged', /confirmation 2 \(13010002\) names roster [0-9a-f]{16}\.\.\., which no genuine roster.installed entry before it holds$/],
    ['S-unknown', /confirmation 2 \(13010002\) names roster abababababababab\.\.\., which no genuine/],
    ['S-expired', /confirmation 2 \(13010002\) was made at .*, outside the roster's validity/],
    ['S-late', /confirmation 2 \(13010002\) was made at .*, not within 180 s before its entry$/],
  ])('fails %s: unconfirmed-statement, and its terminated session is unexplained', (sid, detail) => {
    expect(about(sid)).toEqual([
      expect.stringMatching(new RegExp(`^unconfirmed-statement: the statement for session ${sid} .*${detail.source}`)),
      `unexplained-gap: session ${sid} ended with an interruption that never resumed, and lacks a written statement confirmed by two officers`,
    ]);
  });

  it('fails an opening without each officer\'s confirmation, and an early end with one of two', () => {
    expect(about('S-open')).toEqual([
      'unconfirmed-session: the opening of session S-open carries 1 valid PIN confirmation(s) of distinct officers, where 2 (every officer named) are needed',
    ]);
    expect(about('S-end')).toEqual(['unconfirmed-session: the early end of session S-end carries 1 valid PIN confirmation(s) of distinct officers, where 2 are needed']);
  });

  it('reports nothing else', () => {
    const sids = ['S-one', 'S-twice', 'S-outsider', 'S-name', 'S-forged', 'S-unknown', 'S-expired', 'S-late', 'S-open', 'S-end'];
    const expected = 1 + 2 * 8 + 2;
    expect(findings).toHaveLength(expected);
    expect(sids.flatMap(about).length + 1).toBe(expected);
  });

  it('are counted by `recgw report` as the verifier counts them: a statement without two valid PINs is missing', async () => {
    let out = '';
    const code = await main(['report', store, '--ca', ca.paths.caCert, '--json'], { out: (t) => void (out += t), err: () => undefined });
    expect(code).toBe(0);
    const r = JSON.parse(out) as StoreReport;
    // L0, S-good, the eight refused statements, S-open and S-end all ended terminated; the eight lack their statement.
    expect(r.total.terminated).toEqual({ sessions: 12, statementMissing: 8 });
  });
});
