/**
 * The gateway takes the officer roster like the agency's certificates: `recgw config check` and the service's start
 * refuse a roster that expired, that a device key signed, or that is not a roster, naming the file and the fix; a
 * gateway that used a roster and is started without one refuses sessions until one is configured again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { makeRoster, writeRoster, ZHANG, LI } from '../helpers/roster.js';
import { Gateway } from '../../src/app/gateway.js';
import { loadConfig } from '../../src/config/load.js';
import { KeySigner } from '../../src/evidence/signer.js';
import { identityPaths } from '../../src/pki/identity.js';
import { loadPrivateKey } from '../../src/pki/keys.js';
import { silentLogger } from '../../src/util/log.js';

const BIN = join(import.meta.dirname, '../../bin/recgw.js');
const ca = makeCa();
let dir: string;
let good: string;
let expired: string;
let forged: string;

beforeAll(async () => {
  dir = tmp('recgw-roster-config-');
  good = writeRoster(dir, await makeRoster(ca.dir), 'good.json');
  expired = writeRoster(dir, await makeRoster(ca.dir, { from: new Date(Date.now() - 40 * 86_400_000), days: 30 }), 'expired.json');
  const gw = makeGateway(ca.dir, { deviceId: 'signer-1' });
  const id = identityPaths(gw.config.stateDir);
  forged = writeRoster(dir, await makeRoster(ca.dir, { signer: new KeySigner(loadPrivateKey(id.key, 'device key', ''), readFileSync(id.cert, 'utf8')) }), 'forged.json');
}, 120_000);
afterAll(cleanupTmp);

/** A provisioned gateway whose config names `roster` (or none). */
function gatewayWith(roster: string | undefined, deviceId = 'room-r') {
  return makeGateway(ca.dir, { deviceId, config: { agency: { caCert: ca.paths.caCert, encryptionCert: ca.paths.agencyEncCert, ...(roster ? { roster } : {}) } } });
}
const check = (configPath: string) => spawnSync(process.execPath, [BIN, 'config', 'check', '--config', configPath], { encoding: 'utf8' });

describe('agency.roster', () => {
  it('config check passes a roster the agency signed', () => {
    const r = check(gatewayWith(good).configPath);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.each([
    ['an expired roster', () => expired, /agency\.roster: .*expired\.json is refused: the roster expired on .*: ask the agency for its current roster \(recgw ca roster\) and install it/],
    ['a roster signed with a device key', () => forged, /agency\.roster: .*forged\.json is refused: the roster is not signed with the agency's roster certificate \(the certificate is for role "recgw-device", not "recgw-roster"\)/],
    ['a file that is not a roster', () => join(dir, 'cut.json'), /agency\.roster: .*cut\.json is refused: it is not JSON: ask the agency for a roster made with `recgw ca roster`/],
    ['a missing file', () => join(dir, 'none.json'), /agency\.roster: .*none\.json does not exist: give the agency's signed officer roster \(recgw ca roster\)/],
  ])('config check and the service refuse %s, naming the file and the fix', async (_what, file, message) => {
    writeFileSync(join(dir, 'cut.json'), readFileSync(good, 'utf8').slice(0, 200));
    const p = gatewayWith(file());
    const r = check(p.configPath);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    const gw = new Gateway(loadConfig(p.configPath), silentLogger);
    await expect(gw.start()).rejects.toThrow(message);
  }, 60_000);

  it('a gateway that used a roster refuses sessions when started without one, and says how to fix it', async () => {
    const p = gatewayWith(good, 'room-was');
    let gw = new Gateway(p.config, silentLogger);
    await gw.start();
    expect((await gw.recorderInterface.status()).officers).toMatchObject({ required: true, roster: { officers: 3 } });
    await gw.stop();
    const without = loadConfig(p.configPath);
    delete without.agency.roster;
    gw = new Gateway(without, silentLogger);
    await gw.start();
    try {
      expect((await gw.recorderInterface.status()).officers).toEqual({ required: true, roster: null });
      await expect(gw.recorderInterface.startSession({ matter: 'sampling', caseRef: '', officers: [ZHANG, LI].map((o) => ({ name: o.name, badge: o.badge })) })).rejects.toThrow(
        /^starting the session: officers must confirm with their PINs \(this gateway used an officer roster before\), but no roster is installed: set agency\.roster/,
      );
      await expect(gw.officerAuthInterface!.confirm({ badge: ZHANG.badge, pin: ZHANG.pin, via: 'cli' })).rejects.toThrow(/set agency\.roster in the config to the agency's current roster/);
    } finally {
      await gw.stop();
    }
  }, 60_000);
});
