/**
 * openSealed over a stream (src/evidence/open-sealed.ts): the sealed bytes as a bucket's GET delivers them, in pieces
 * of any size, the tag held back from the end whichever piece it is split across. Real sealing (sealFile, AES-256-GCM
 * with an RSA-OAEP-256 wrapped key) and the file form (openSealedFile) give the same result. Attacks: a byte
 * changed, the last byte cut, a stream shorter than the tag, another file's sealed bytes; a read error throws.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { sealFile } from '../../src/evidence/seal.js';
import { closeSealWorker } from '../../src/evidence/seal-worker.js';
import { openSealed, openSealedFile } from '../../src/evidence/open-sealed.js';
import { hashHex } from '../../src/evidence/segment-scheme.js';
import type { SegmentEncryption } from '../../src/evidence/types.js';

const dir = mkdtempSync(join(tmpdir(), 'recgw-open-sealed-'));
let key: KeyObject;
let plain: Buffer;
let sealed: Buffer;
let enc: SegmentEncryption;
let hash: string;
let other: Buffer;

/** `data` as a stream of pieces of the given sizes, cycled. */
const pieces = (data: Buffer, sizes: number[]): Readable => {
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    out.push(data.subarray(at, at + n));
    at += n;
  }
  return Readable.from(out);
};

beforeAll(async () => {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  key = pair.privateKey;
  plain = randomBytes(40_000);
  writeFileSync(join(dir, 'a.ts'), plain);
  const r = await sealFile(join(dir, 'a.ts'), join(dir, 'a.seg'), pair.publicKey, { workers: false });
  enc = r.enc;
  hash = hashHex(r.plain);
  sealed = readFileSync(join(dir, 'a.seg'));
  writeFileSync(join(dir, 'b.ts'), randomBytes(40_000));
  await sealFile(join(dir, 'b.ts'), join(dir, 'b.seg'), pair.publicKey, { workers: false });
  other = readFileSync(join(dir, 'b.seg'));
});

afterAll(async () => {
  await closeSealWorker();
  rmSync(dir, { recursive: true, force: true });
});

describe('openSealed over a stream', () => {
  it('decrypts and checks in pieces of any size, the tag split anywhere, as openSealedFile does', async () => {
    const fromFile = await openSealedFile(join(dir, 'a.seg'), enc, key);
    expect(fromFile).toEqual({ ok: true, size: plain.length, hash });
    // One piece; 1-byte pieces; pieces that split the 16-byte tag at every offset of the last 17 bytes.
    const shapes = [[sealed.length], [1], [7, 13, 4096], ...Array.from({ length: 17 }, (_, k) => [sealed.length - k, k || 1])];
    for (const sizes of shapes) {
      const got: Buffer[] = [];
      const r = await openSealed(pieces(sealed, sizes), enc, key, async (c) => void got.push(c));
      expect(r, `pieces ${sizes.join(',')}`).toEqual(fromFile);
      expect(Buffer.concat(got).equals(plain)).toBe(true);
    }
  });

  it('refuses a changed byte, a cut last byte, a stream shorter than the tag and another file’s bytes', async () => {
    const changed = Buffer.from(sealed);
    changed[100]! ^= 1;
    const tagChanged = Buffer.from(sealed);
    tagChanged[tagChanged.length - 1]! ^= 1;
    for (const bad of [changed, tagChanged, sealed.subarray(0, sealed.length - 1), other]) {
      const r = await openSealed(pieces(bad, [1000]), enc, key);
      expect(r).toEqual({ ok: false, reason: 'the GCM authentication tag does not match: the sealed file was altered' });
    }
    expect(await openSealed(pieces(sealed.subarray(0, 10), [3]), enc, key)).toEqual({ ok: false, reason: 'the sealed file is shorter than its authentication tag' });
  });

  it('a read error of the stream throws, and a sink failing (the client gone) stops the reading', async () => {
    const failing = new Readable({
      read() {
        this.push(sealed.subarray(0, 1000));
        this.destroy(new Error('the bucket went away'));
      },
    });
    await expect(openSealed(failing, enc, key)).rejects.toThrow('the bucket went away');
    const src = pieces(sealed, [1024]);
    await expect(openSealed(src, enc, key, async () => Promise.reject(new Error('the client went away')))).rejects.toThrow('the client went away');
    expect(src.destroyed).toBe(true);
  });
});
