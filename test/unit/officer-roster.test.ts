/**
 * The officer roster: made and signed by the agency's roster key, taken by a gateway only when the agency CA's
 * recgw-roster certificate signed it, it is in date, and each PIN hash is the one signed. Each refusal is an attack
 * performed here: a name changed, a PIN hash swapped, a roster signed with a device key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { cleanupTmp, makeCa, makeGateway } from '../helpers/fixtures.js';
import { LI, makeRoster, OFFICERS, ZHANG } from '../helpers/roster.js';
import { checkRosterFile, checkSignedRoster, encodeRosterFile, rosterSha256, signRoster, type RosterFile } from '../../src/officers/roster.js';
import { makeRosterFile, parseOfficersFile, pinProblem } from '../../src/officers/make-roster.js';
import { KeySigner } from '../../src/evidence/signer.js';
import { identityPaths } from '../../src/pki/identity.js';
import { loadPrivateKey } from '../../src/pki/keys.js';
import { ensureRosterKey } from '../../src/pki/ca.js';
import { verifySecret } from '../../src/util/scrypt-hash.js';

let caDir: string;
let caPem: string;
let good: RosterFile;

beforeAll(async () => {
  const ca = makeCa();
  caDir = ca.dir;
  caPem = readFileSync(ca.paths.caCert, 'utf8');
  good = await makeRoster(caDir);
}, 60_000);
afterAll(cleanupTmp);

const check = (f: RosterFile | string, at = new Date()) => checkRosterFile(typeof f === 'string' ? f : encodeRosterFile(f), [caPem], at);
const kinds = (f: RosterFile | string, at?: Date): string[] => {
  const r = check(f, at);
  return r.ok ? [] : r.issues.map((i) => i.kind);
};
const copy = (f: RosterFile): RosterFile => JSON.parse(JSON.stringify(f)) as RosterFile;

describe('a roster the agency signed', () => {
  it('is taken: every officer with a PIN hash that checks the officer\'s PIN, and nothing of the PIN in the signed part', async () => {
    const r = check(good);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.installed.sha256).toBe(rosterSha256(good.roster));
    expect(r.installed.roster.officers.map((o) => [o.name, o.badge])).toEqual(OFFICERS.map((o) => [o.name, o.badge]));
    expect(await verifySecret(ZHANG.pin, r.installed.pins.get(ZHANG.badge)!)).toBe(true);
    expect(await verifySecret(LI.pin, r.installed.pins.get(ZHANG.badge)!)).toBe(false);
    const signed = JSON.stringify(good.roster);
    for (const o of OFFICERS) expect(signed).not.toContain(o.pin);
    expect(signed).not.toContain('scrypt$');
    expect(encodeRosterFile(good)).not.toContain(ZHANG.pin);
  });

  it('is refused when a name is changed after signing (bad-signature)', () => {
    const f = copy(good);
    f.roster.officers[0]!.name = '赵六';
    expect(kinds(f)).toEqual(['bad-signature']);
  });

  it('is refused when one officer\'s PIN hash is swapped for another\'s (the commitment does not match)', () => {
    const f = copy(good);
    f.pins[0]!.hash = f.pins[1]!.hash;
    const r = check(f);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues[0]!.en).toMatch(/PIN hash for 执法证号 13010001 is not the one the roster was signed with/);
  });

  it('is refused when an officer has no PIN hash', () => {
    const f = copy(good);
    f.pins.pop();
    expect(kinds(f)).toEqual(['pins']);
  });

  it('is refused once expired, and before it is valid, with the date and the fix', () => {
    const later = new Date(Date.parse(good.roster.notAfter) + 1000);
    const r = check(good, later);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues[0]).toMatchObject({ kind: 'expired', en: expect.stringMatching(/^the roster expired on .*: ask the agency for its current roster/) });
    expect(kinds(good, new Date(Date.parse(good.roster.notBefore) - 1000))).toEqual(['not-yet-valid']);
  });

  it('is refused when malformed: not JSON, no officers, a badge twice', () => {
    expect(kinds('{"pins":')).toEqual(['malformed']);
    expect(kinds('{"pins":[],"roster":{"v":1,"type":"roster"}}')).toEqual(['malformed']);
    const f = copy(good);
    f.roster.officers[1]!.badge = f.roster.officers[0]!.badge;
    const r = check(f);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues[0]!.en).toMatch(/the 执法证号 13010001 is on the roster twice/);
  });
});

describe('attacks on the signer', () => {
  it('refuses a roster signed with a device key (a certificate of the agency CA, but for role recgw-device)', async () => {
    const gw = makeGateway(caDir, { deviceId: 'room-9' });
    const id = identityPaths(gw.config.stateDir);
    const device = new KeySigner(loadPrivateKey(id.key, 'device key', ''), readFileSync(id.cert, 'utf8'));
    const forged = await makeRoster(caDir, { signer: device });
    const r = check(forged);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.issues.map((i) => i.kind)).toEqual(['untrusted-certificate']);
      expect(r.issues[0]!.en).toMatch(/not signed with the agency's roster certificate \(the certificate is for role "recgw-device", not "recgw-roster"\)/);
    }
  });

  it('refuses a genuine roster whose officers were re-signed with a device key (the signature over the new list is the device\'s)', () => {
    const gw = makeGateway(caDir, { deviceId: 'room-8' });
    const id = identityPaths(gw.config.stateDir);
    const device = new KeySigner(loadPrivateKey(id.key, 'device key', ''), readFileSync(id.cert, 'utf8'));
    const { v: _v, type: _t, cert: _c, sig: _s, ...fields } = good.roster;
    expect(checkSignedRoster(signRoster(fields, device), [caPem])).toMatchObject({ ok: false, issues: [{ kind: 'untrusted-certificate' }] });
    expect(checkSignedRoster(signRoster(fields, ensureRosterKey(caDir)), [caPem]).ok).toBe(true);
  });
});

describe('making a roster (recgw ca roster)', () => {
  const signer = () => ensureRosterKey(caDir);
  const base = () => ({ agency: 'a', notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2026-04-01T00:00:00Z'), now: new Date('2026-01-01T00:00:00Z'), hashParams: { logN: 10, r: 8, p: 1 } });

  it('refuses PINs that are not 6-12 digits or are the first guessed', () => {
    expect(pinProblem('48091')).toMatch(/6 to 12 digits/);
    expect(pinProblem('48a913')).toMatch(/6 to 12 digits/);
    expect(pinProblem('111111')).toMatch(/first one guessed/);
    expect(pinProblem('123456')).toMatch(/first one guessed/);
    expect(pinProblem('987654')).toMatch(/first one guessed/);
    expect(pinProblem('480913')).toBeUndefined();
  });

  it('refuses the same 执法证号 twice, naming both officers', async () => {
    await expect(makeRosterFile({ ...base(), signer: signer(), officers: [ZHANG, { ...LI, badge: ZHANG.badge }] })).rejects.toThrow(/officer 2 .*the 执法证号 13010001 is already officer 1/);
  });

  it('refuses an officer validity outside the roster\'s', async () => {
    await expect(makeRosterFile({ ...base(), signer: signer(), officers: [{ ...ZHANG, notAfter: '2027-01-01T00:00:00Z' }] })).rejects.toThrow(/not a span within the roster's/);
  });

  it('reads the officers file as a list or {"officers": [...]}, and a numeric PIN as its digits', () => {
    expect(parseOfficersFile(JSON.stringify([{ name: '张三', badge: '1', pin: 480913 }]), 'f')).toEqual([{ name: '张三', badge: '1', pin: '480913' }]);
    expect(parseOfficersFile(JSON.stringify({ officers: [ZHANG] }), 'f')).toEqual([ZHANG]);
    expect(() => parseOfficersFile('[{"name":"x"}]', 'f')).toThrow(/needs "name", "badge" \(执法证号\) and "pin"/);
  });
});
