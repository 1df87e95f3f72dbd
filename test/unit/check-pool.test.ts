/**
 * The check pool's look at segment files, in a worker and in this thread: the SHA-256 (intl) or SM3 (gm) of exactly
 * the file's bytes whatever its size against the 1 MiB read buffer (empty, smaller, equal, larger, several buffers), and no hash
 * when the size is not the expected one. Its signature checks: SM2 signatures the openssl command line made, checked
 * from e and r || s beside RSA ones in the same batches, in workers and in this thread.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { CheckPool } from '../../src/verify/check-pool.js';
import { SignatureChecks } from '../../src/verify/signature-checks.js';
import { sm2PublicHex } from '../../src/crypto/gm/sm2-keys.js';
import { sm2CheckInput } from '../../src/crypto/gm/sm2-sign.js';

afterAll(cleanupTmp);

const MiB = 1 << 20;
const SIZES = [0, 768, MiB - 1, MiB, MiB + 1, 3 * MiB + 5];

function files(alg: 'sha256' | 'sm3'): { paths: string[]; sha: string[] } {
  const dir = tmp();
  const paths = SIZES.map((n) => join(dir, `${n}.seg`));
  const sha = SIZES.map((n, i) => {
    const bytes = randomBytes(n);
    writeFileSync(paths[i]!, bytes);
    return createHash(alg).update(bytes).digest('hex');
  });
  return { paths, sha };
}

describe('CheckPool.inspectFiles', () => {
  it.each([
    ['a worker', false, 'sha256'],
    ['this thread', true, 'sha256'],
    ['a worker', false, 'sm3'],
    ['this thread', true, 'sm3'],
  ] as const)('hashes exactly the bytes of files of any size (%s, %s)', async (_, last, alg) => {
    const { paths, sha } = files(alg);
    const pool = new CheckPool(1);
    const algs = SIZES.map(() => alg);
    try {
      const found = await pool.inspectFiles(paths, SIZES, algs, last);
      expect(found).toEqual(SIZES.map((size, i) => ({ state: 'file', size, hash: sha[i] })));
      const wrongSize = await pool.inspectFiles(paths, SIZES.map((n) => n + 1), algs, last);
      expect(wrongSize).toEqual(SIZES.map((size) => ({ state: 'file', size })));
    } finally {
      await pool.stop();
    }
  });
});

describe('SignatureChecks with SM2 (gm) beside RSA', () => {
  // SM2 signatures made by the openssl command line (GB/T 32918 with the default ID), checked by the pool's
  // workers from e and r || s, mixed in one batch with RSA ones; a changed message or another key is bad.
  const dir = tmp('recgw-pool-sm2-');
  const openssl = (...args: string[]) => {
    const r = spawnSync('openssl', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  const sm2Key = (name: string): { pem: string; pub: string } => {
    openssl('genpkey', '-algorithm', 'SM2', '-out', join(dir, `${name}.pem`));
    const pem = readFileSync(join(dir, `${name}.pem`), 'utf8');
    return { pem, pub: sm2PublicHex(createPrivateKey(pem)) };
  };
  const osslSign = (key: string, msg: Buffer, i: number): Buffer => {
    writeFileSync(join(dir, `m${i}`), msg);
    openssl('pkeyutl', '-sign', '-inkey', join(dir, `${key}.pem`), '-rawin', '-digest', 'sm3', '-pkeyopt', 'distid:1234567812345678', '-in', join(dir, `m${i}`), '-out', join(dir, `s${i}`));
    return readFileSync(join(dir, `s${i}`));
  };

  it.each([
    ['workers', false],
    ['this thread', true],
  ] as const)('checks openssl SM2 signatures and RSA ones in one batch (%s)', async (_, last) => {
    const a = sm2Key('a');
    const b = sm2Key('b');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pool = new CheckPool(2);
    const bad: number[] = [];
    const checks = new SignatureChecks(pool, (l) => bad.push(l.lineNo));
    try {
      for (let i = 0; i < 6; i++) {
        const msg = Buffer.from(`{"v":1,"suite":"gm","seq":${i},"note":"记录 ${i}"`);
        const sig = osslSign('a', Buffer.concat([msg, Buffer.from('}')]), i);
        // 2: the message changed after signing; 4: checked with another key.
        const signed = Buffer.concat([i === 2 ? Buffer.from(msg.toString().replace('记录', '改过')) : msg, Buffer.from('}')]);
        const pub = i === 4 ? b.pub : a.pub;
        const input = sm2CheckInput(signed, sig, pub)!;
        await checks.addSm2(input.e, input.rs, pub, { lineNo: 100 + i, seq: i, type: 'event.marked' });
        const line = Buffer.from(`{"seq":${i},"sig":"`);
        const rsaSig = sign('sha256', Buffer.concat([line.subarray(0, 8), Buffer.from('}')]), rsa.privateKey).toString('base64');
        await checks.add(line, 8, i === 3 ? rsaSig.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) : rsaSig, rsa.publicKey, { lineNo: 200 + i, seq: i, type: 'event.marked' });
      }
      if (last) await checks.drain();
      else {
        await checks.flush();
        await checks.drain();
      }
      expect(bad.sort()).toEqual([102, 104, 203]);
    } finally {
      await pool.stop();
    }
  });
});
