/**
 * The gm suite against the real `openssl` command line (OpenSSL 3.0), both ways: SM2 keys (genpkey/pkey PEM),
 * SM2 signatures with distid, SM3, SM4-CTR with HMAC-SM3, SM2 encryption of a data key; and the recipe
 * docs/recipes/check-gm.sh, which docs/evidence-format.md shows verbatim, run on what recgw made.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { embedded, recipe, sh } from '../helpers/doc-recipes.js';
import {
  generateSm2KeyPair, sm2PrivateKeyFromPem, sm2PrivateKeyToPem, sm2PublicKeyFromPem, sm2PublicKeyToPem, type Sm2KeyPair,
} from '../../src/crypto/gm/sm2-keys.js';
import { sm2Sign, sm2Verify } from '../../src/crypto/gm/sm2-sign.js';
import { sm2Decrypt, sm2Encrypt } from '../../src/crypto/gm/sm2-encrypt.js';
import { sm3, hmacSm3 } from '../../src/crypto/gm/sm3.js';
import { GM_TAG_BYTES, SM4_IV_BYTES, Sm4CtrHmacSealer, sm4CtrHmacSeal } from '../../src/crypto/gm/sm4-ctr-hmac.js';
import { gmSuite } from '../../src/crypto/gm/gm-suite.js';

const CHECK_GM = recipe('check-gm.sh');
let dir: string;
/** A key openssl made (genpkey -algorithm SM2), as PEM files and as we read it. */
let osslKey: { keyPem: string; pubPem: string; pair: Sm2KeyPair };
/** A key we made, written as PEM for openssl. */
let ourKey: { keyPem: string; pubPem: string; pair: Sm2KeyPair };

function openssl(args: string[], input?: Buffer): { code: number | null; out: Buffer; err: string } {
  const r = spawnSync('openssl', args, { input, timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr.toString() };
}

function file(name: string, content: Buffer | string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

function flipped(b: Buffer, byte: number): Buffer {
  const c = Buffer.from(b);
  c[byte]! ^= 0x01;
  return c;
}

beforeAll(() => {
  dir = tmp('recgw-gm-openssl-');
  const keyPem = join(dir, 'ossl-key.pem');
  expect(openssl(['genpkey', '-algorithm', 'SM2', '-out', keyPem]).code).toBe(0);
  const pub = openssl(['pkey', '-in', keyPem, '-pubout']);
  expect(pub.code).toBe(0);
  osslKey = { keyPem, pubPem: file('ossl-pub.pem', pub.out), pair: sm2PrivateKeyFromPem(readFileSync(keyPem, 'utf8')) };
  const pair = generateSm2KeyPair();
  ourKey = { keyPem: file('our-key.pem', sm2PrivateKeyToPem(pair)), pubPem: file('our-pub.pem', sm2PublicKeyToPem(pair.publicKey)), pair };
});

afterAll(cleanupTmp);

describe('SM2 keys as PEM', () => {
  it('we read openssl\'s private key and public key, and they agree', () => {
    expect(sm2PublicKeyFromPem(readFileSync(osslKey.pubPem, 'utf8'))).toBe(osslKey.pair.publicKey);
  });

  it('openssl reads our private key and derives the public key we wrote, byte for byte', () => {
    const r = openssl(['pkey', '-in', ourKey.keyPem, '-pubout']);
    expect(r.code).toBe(0);
    expect(r.out.toString()).toBe(readFileSync(ourKey.pubPem, 'utf8'));
    expect(openssl(['pkey', '-in', ourKey.keyPem]).out.toString()).toBe(readFileSync(ourKey.keyPem, 'utf8'));
  });

  it('other forms openssl writes read through a KeyObject (SEC1 DER, encrypted PKCS#8); RSA and P-256 keys are refused', () => {
    const sec1 = openssl(['pkey', '-in', osslKey.keyPem, '-outform', 'DER']).out;
    expect(sm2PrivateKeyFromPem(createPrivateKey({ key: sec1, format: 'der', type: 'sec1' }))).toEqual(osslKey.pair);
    const encrypted = openssl(['pkey', '-in', osslKey.keyPem, '-aes256', '-passout', 'pass:secret']).out.toString();
    expect(encrypted).toContain('BEGIN ENCRYPTED PRIVATE KEY');
    expect(sm2PrivateKeyFromPem(createPrivateKey({ key: encrypted, passphrase: 'secret' }))).toEqual(osslKey.pair);
    expect(() => sm2PrivateKeyFromPem(encrypted)).toThrow(/cannot be read/);
    for (const alg of [['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'], ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']]) {
      const other = openssl(['genpkey', ...alg]).out.toString();
      expect(() => sm2PrivateKeyFromPem(other)).toThrow(/not an SM2 key/);
    }
  });
});

describe('SM2 signatures with distid', () => {
  const data = randomBytes(777);
  const ids = ['1234567812345678', 'recgw-room-1'];

  for (const id of ids) {
    it(`openssl signs (distid ${id}), we verify; not with another ID or other data`, () => {
      const dataPath = file('sig-data.bin', data);
      const r = openssl(['pkeyutl', '-sign', '-inkey', osslKey.keyPem, '-rawin', '-digest', 'sm3', '-pkeyopt', `distid:${id}`, '-in', dataPath]);
      expect(r.code, r.err).toBe(0);
      expect(sm2Verify(data, r.out, osslKey.pair.publicKey, { id })).toBe(true);
      expect(sm2Verify(data, r.out, osslKey.pair.publicKey, { id: `${id}0` })).toBe(false);
      expect(sm2Verify(flipped(data, 0), r.out, osslKey.pair.publicKey, { id })).toBe(false);
    });

    it(`we sign (ID ${id}), openssl verifies; a flipped bit or another distid fails there`, () => {
      const dataPath = file('sig-data.bin', data);
      const sig = sm2Sign(data, ourKey.pair, { id });
      const verify = (sigBytes: Buffer, distid: string): number | null =>
        openssl(['pkeyutl', '-verify', '-pubin', '-inkey', ourKey.pubPem, '-rawin', '-digest', 'sm3', '-pkeyopt', `distid:${distid}`,
          '-in', dataPath, '-sigfile', file('sig.der', sigBytes)]).code;
      expect(verify(sig, id)).toBe(0);
      expect(verify(sig, `${id}0`)).not.toBe(0);
      expect(verify(flipped(sig, sig.length - 1), id)).not.toBe(0);
    });
  }
});

describe('SM3 and SM4-CTR + HMAC-SM3', () => {
  it('SM3 equals `openssl dgst -sm3`', () => {
    for (const len of [0, 3, 64, 100_000]) {
      const data = randomBytes(len);
      const r = openssl(['dgst', '-sm3', '-r', file('sm3.bin', data)]);
      expect(r.out.toString().split(' ')[0]).toBe(sm3(data).toString('hex'));
    }
  });

  it('a sealed blob decrypts with `openssl enc -d -sm4-ctr` and its tag is `openssl dgst -sm3 -mac HMAC` and `openssl mac`', () => {
    const key = randomBytes(48);
    const plain = randomBytes(100_003);
    const sealed = sm4CtrHmacSeal(key, plain);
    const iv = sealed.subarray(0, SM4_IV_BYTES);
    const ivc = sealed.subarray(0, sealed.length - GM_TAG_BYTES);
    const tag = sealed.subarray(sealed.length - GM_TAG_BYTES).toString('hex');
    const kenc = key.subarray(0, 16).toString('hex');
    const kmac = key.subarray(16).toString('hex');
    const dec = openssl(['enc', '-d', '-sm4-ctr', '-K', kenc, '-iv', iv.toString('hex')], ivc.subarray(SM4_IV_BYTES));
    expect(dec.code, dec.err).toBe(0);
    expect(dec.out.equals(plain)).toBe(true);
    const ivcPath = file('ivc.bin', ivc);
    expect(openssl(['dgst', '-sm3', '-mac', 'HMAC', '-macopt', `hexkey:${kmac}`, '-r', ivcPath]).out.toString().split(' ')[0]).toBe(tag);
    expect(openssl(['mac', '-digest', 'SM3', '-macopt', `hexkey:${kmac}`, '-in', ivcPath, 'HMAC']).out.toString().trim().toLowerCase()).toBe(tag);
  });

  it('what `openssl enc -sm4-ctr` encrypts is what we encrypt, and its HMAC-SM3 opens with us', () => {
    const key = randomBytes(48);
    const iv = randomBytes(16);
    const plain = randomBytes(5000);
    const enc = openssl(['enc', '-sm4-ctr', '-K', key.subarray(0, 16).toString('hex'), '-iv', iv.toString('hex')], plain);
    const s = new Sm4CtrHmacSealer(key, iv);
    expect(s.update(plain).equals(enc.out)).toBe(true);
    const tag = s.final();
    expect(tag.equals(hmacSm3(key.subarray(16), iv, enc.out))).toBe(true);
    expect(gmSuite.open(key, Buffer.concat([iv, enc.out, tag])).equals(plain)).toBe(true);
  });
});

describe('SM2 encryption of a data key (GM/T 0009 DER)', () => {
  it('openssl encrypts (pkeyutl -encrypt), we decrypt', () => {
    for (let i = 0; i < 4; i++) {
      const dataKey = randomBytes(48);
      const r = openssl(['pkeyutl', '-encrypt', '-pubin', '-inkey', ourKey.pubPem], dataKey);
      expect(r.code, r.err).toBe(0);
      expect(sm2Decrypt(r.out, ourKey.pair).equals(dataKey)).toBe(true);
    }
  });

  it('we encrypt, openssl decrypts (pkeyutl -decrypt); a flipped byte is refused by openssl and by us', () => {
    const dataKey = randomBytes(48);
    const wrapped = sm2Encrypt(dataKey, osslKey.pair.publicKey);
    const r = openssl(['pkeyutl', '-decrypt', '-inkey', osslKey.keyPem, '-in', file('wrapped.der', wrapped)]);
    expect(r.code, r.err).toBe(0);
    expect(r.out.equals(dataKey)).toBe(true);
    const bad = flipped(wrapped, wrapped.length - 1); // the last byte of C2
    expect(openssl(['pkeyutl', '-decrypt', '-inkey', osslKey.keyPem, '-in', file('bad.der', bad)]).code).not.toBe(0);
    expect(() => sm2Decrypt(bad, osslKey.pair)).toThrow(/C3 does not match/);
  });
});

describe('the recipe of docs/evidence-format.md, "The gm suite"', () => {
  it('the document shows docs/recipes/check-gm.sh verbatim', () => {
    expect(embedded('check-gm.sh')).toBe(readFileSync(CHECK_GM, 'utf8'));
  });

  it('checks a signature and opens a sealed blob recgw made through the gm suite; refuses each thing altered', () => {
    const data = randomBytes(3000);
    const id = 'recgw-room-1';
    const sig = gmSuite.sign(data, sm2Key(ourKey.keyPem), { id });
    const dataKey = gmSuite.newDataKey();
    const plain = randomBytes(200_000);
    const sealed = gmSuite.seal(dataKey, plain);
    const wrapped = gmSuite.wrapKey(dataKey, sm2Key(osslKey.pubPem, true));
    const [dataPath, sigPath, sealedPath, wrappedPath] = [file('r-data', data), file('r-sig', sig), file('r-sealed', sealed), file('r-wrapped', wrapped)];
    const out = join(dir, 'r-out');

    const good = sh(CHECK_GM, ['sig', ourKey.pubPem, dataPath, sigPath, id]);
    expect(good.code, good.err).toBe(0);
    expect(good.out).toContain('ok   SM2 signature');
    expect(sh(CHECK_GM, ['sig', ourKey.pubPem, dataPath, sigPath]).code).toBe(1); // the default ID is not this one
    expect(sh(CHECK_GM, ['sig', ourKey.pubPem, dataPath, file('r-sig-bad', flipped(sig, 10)), id]).code).toBe(1);
    expect(sh(CHECK_GM, ['sig', ourKey.pubPem, file('r-data-bad', flipped(data, 0)), sigPath, id]).code).toBe(1);

    const opened = sh(CHECK_GM, ['open', osslKey.keyPem, wrappedPath, sealedPath, out]);
    expect(opened.code, opened.err).toBe(0);
    expect(opened.out).toContain('ok   HMAC-SM3 tag');
    expect(readFileSync(out).equals(plain)).toBe(true);
    for (const at of [0, SM4_IV_BYTES + 5, sealed.length - 1]) {
      const r = sh(CHECK_GM, ['open', osslKey.keyPem, wrappedPath, file('r-sealed-bad', flipped(sealed, at)), join(dir, 'r-out-bad')]);
      expect(r.code, `byte ${at}`).toBe(1);
      expect(r.err).toContain('HMAC-SM3 tag does not match');
    }
    expect(sh(CHECK_GM, ['open', ourKey.keyPem, wrappedPath, sealedPath, out]).code).toBe(1); // not wrapped for this key
    expect(sh(CHECK_GM, ['open', osslKey.keyPem, file('r-wrapped-bad', flipped(wrapped, wrapped.length - 1)), sealedPath, out]).code).toBe(1);
    expect(sh(CHECK_GM, ['nonsense']).code).toBe(2);
  });
});

function sm2Key(pemPath: string, publicOnly = false): KeyObject {
  const pem = readFileSync(pemPath, 'utf8');
  return publicOnly ? createPublicKey(pem) : createPrivateKey(pem);
}
