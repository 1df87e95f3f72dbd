/**
 * docs/recipes/check-roster.sh, run with the real `openssl` and `sh`: it passes a roster `recgw ca roster` signed (the
 * real CLI) and the roster.installed entry of a gateway's exported ledger, prints the roster's ID as recgw computes
 * it, fails on a roster altered after signing and on one signed with a device key, and is the text the document shows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { embedded, recipe, sh } from '../helpers/doc-recipes.js';
import { makeRoster, OFFICERS, writeRoster } from '../helpers/roster.js';
import { exportDevice } from '../helpers/evidence.js';
import { rosterSha256, type RosterFile } from '../../src/officers/roster.js';
import { recordRoster } from '../../src/officers/installed.js';
import { checkRosterFile, encodeRosterFile } from '../../src/officers/roster.js';
import { startEvidenceCore } from '../../src/app/evidence-core.js';
import { KeySigner } from '../../src/evidence/signer.js';
import { identityPaths } from '../../src/pki/identity.js';
import { loadPrivateKey } from '../../src/pki/keys.js';
import { silentLogger } from '../../src/util/log.js';

const CHECK = recipe('check-roster.sh');
const BIN = join(import.meta.dirname, '../../bin/recgw.js');
let ca: ReturnType<typeof makeCa>;
let dir: string;
let rosterPath: string;
let roster: RosterFile;

beforeAll(() => {
  ca = makeCa();
  dir = tmp('recgw-roster-recipe-');
  writeFileSync(join(dir, 'officers.json'), JSON.stringify(OFFICERS));
  rosterPath = join(dir, 'roster.json');
  const r = spawnSync(process.execPath, [BIN, 'ca', 'roster', '--ca', ca.dir, '--officers', join(dir, 'officers.json'), '--out', rosterPath, '--days', '30'], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  roster = JSON.parse(readFileSync(rosterPath, 'utf8')) as RosterFile;
}, 120_000);
afterAll(cleanupTmp);

describe('check-roster.sh', () => {
  it('is the very text docs/evidence-format.md shows', () => {
    expect(embedded('check-roster.sh')).toBe(readFileSync(CHECK, 'utf8'));
  });

  it('passes the roster recgw ca roster signed and prints its ID', () => {
    const r = sh(CHECK, [rosterPath, ca.paths.caCert]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toBe(`ok   roster ${rosterSha256(roster.roster)}: signed by OU=recgw-roster,CN=recgw demo agency rosters at ${roster.roster.issued}, 3 officer(s)\n`);
  });

  it('fails on a roster whose officer was renamed after signing', () => {
    const bad = join(dir, 'renamed.json');
    writeFileSync(bad, readFileSync(rosterPath, 'utf8').replace('"name":"张三"', '"name":"赵六"'));
    const r = sh(CHECK, [bad, ca.paths.caCert]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/FAIL roster: the roster's signature does not verify/);
  });

  it('fails on a roster signed with a device key (the attacker holds a gateway, not the agency\'s roster key)', async () => {
    const gw = makeGateway(ca.dir, { deviceId: 'recipe-9' });
    const id = identityPaths(gw.config.stateDir);
    const forged = await makeRoster(ca.dir, { signer: new KeySigner(loadPrivateKey(id.key, 'device key', ''), readFileSync(id.cert, 'utf8')) });
    const r = sh(CHECK, [writeRoster(dir, forged, 'forged.json'), ca.paths.caCert]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/FAIL roster: the roster is not signed with a roster certificate \(subject=.*OU=recgw-device/);
  });

  it('checks the roster.installed entry of a gateway\'s exported ledger, with the same ID', async () => {
    const gw = makeGateway(ca.dir, { deviceId: 'recipe-10' });
    const core = await startEvidenceCore(gw.config, silentLogger);
    try {
      const c = checkRosterFile(encodeRosterFile(roster), [readFileSync(ca.paths.caCert, 'utf8')], new Date());
      if (!c.ok) throw new Error(JSON.stringify(c.issues));
      expect(recordRoster(core.ledger, core.db, c.installed)).toBeDefined();
      expect(recordRoster(core.ledger, core.db, c.installed)).toBeUndefined();
    } finally {
      await core.stop();
    }
    const out = tmp();
    exportDevice(gw.configPath, out);
    const ledger = join(out, 'recipe-10', 'ledger.jsonl');
    const n = readFileSync(ledger, 'utf8').split('\n').findIndex((l) => l.includes('"type":"roster.installed"')) + 1;
    const r = sh(CHECK, [ledger, ca.paths.caCert, String(n)]);
    expect(r.err).toBe('');
    expect(r.out).toMatch(new RegExp(`^ok   roster ${rosterSha256(roster.roster)}: `));
    expect(readFileSync(ledger, 'utf8')).not.toMatch(/scrypt\$/);
    expect(sh(CHECK, [ledger, ca.paths.caCert, '1'])).toMatchObject({ code: 1, err: expect.stringMatching(/line 1 of .* is not a roster.installed entry/) });
  }, 60_000);
});
