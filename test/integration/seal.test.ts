/**
 * sealFile against independent computation: openssl hashes the input and the sealed output, the agency side
 * (openSealedFile with the agency private key) gives the input back byte for byte. Sizes around the chunk size
 * and both sides of the worker threshold, so the main-thread and worker paths are both checked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomFillSync, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { open } from 'node:fs/promises';
import { sealFile, WORKER_MIN_BYTES } from '../../src/evidence/seal.js';
import { hashHex } from '../../src/evidence/segment-scheme.js';
import { closeSealWorker, sealWorkerJobs, sealWorkersRunning, setSealWorkerIdleMs, workerSource } from '../../src/evidence/seal-worker.js';
import { openSealedFile } from '../../src/evidence/open-sealed.js';
import { publicKeyId } from '../../src/pki/keys.js';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';

const MiB = 1 << 20;
const GCM_TAG_BYTES = 16;
let dir: string;
let publicKey: KeyObject;
let privateKey: KeyObject;

function opensslSha256(path: string): string {
  return execFileSync('openssl', ['dgst', '-sha256', '-r', path], { encoding: 'utf8' }).split(' ')[0]!;
}

function randomFile(name: string, size: number): string {
  const p = join(dir, name);
  writeFileSync(p, randomFillSync(Buffer.allocUnsafe(size)));
  return p;
}

/** Decrypt with the agency key and return the plaintext, failing the test if the file does not open. */
async function decrypt(sealedPath: string, enc: Parameters<typeof openSealedFile>[1]): Promise<Buffer> {
  const parts: Buffer[] = [];
  const r = await openSealedFile(sealedPath, enc, privateKey, async (c) => {
    parts.push(Buffer.from(c));
  });
  expect(r).toMatchObject({ ok: true });
  return Buffer.concat(parts);
}

beforeAll(() => {
  dir = tmp('recgw-seal-');
  ({ publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 }));
});

afterAll(async () => {
  await closeSealWorker();
  cleanupTmp();
});

describe('sealFile', () => {
  const sizes: [string, number][] = [
    ['empty', 0],
    ['1 byte', 1],
    ['exactly 1 MiB', MiB],
    ['1 MiB + 1', MiB + 1],
    ['4 MiB (whole chunks)', 4 * MiB],
    // The writer writes whole pages around the page cache and the rest the ordinary way: a tail of whole pages,
    // and one a byte short of a page.
    ['1 MiB + 8 KiB', MiB + 8192],
    ['3 MiB + 4095', 3 * MiB + 4095],
    ['20 MB', 20_000_000],
  ];

  it('covers both plaintext hashing paths (this thread and the worker) with these sizes', () => {
    expect(sizes.some(([, n]) => n < WORKER_MIN_BYTES && n > 0)).toBe(true);
    expect(sizes.filter(([, n]) => n >= WORKER_MIN_BYTES).length).toBeGreaterThanOrEqual(2);
  });

  it.each(sizes)('%s: hashes match openssl, the agency key decrypts it back exactly', async (_label, size) => {
    const input = randomFile(`in-${size}.ts`, size);
    const sealed = join(dir, `out-${size}.seg`);
    const r = await sealFile(input, sealed, publicKey);

    expect(r.plain).toEqual({ size, sha256: opensslSha256(input) });
    expect(r.stored).toEqual({ size: size + GCM_TAG_BYTES, sha256: opensslSha256(sealed) });
    expect(statSync(sealed).size).toBe(size + GCM_TAG_BYTES);
    expect(existsSync(`${sealed}.tmp`)).toBe(false);
    expect(r.enc).toMatchObject({ alg: 'A256GCM', keyWrap: 'RSA-OAEP-256', agencyKeyId: publicKeyId(publicKey) });
    expect(Buffer.from(r.enc.iv, 'base64')).toHaveLength(12);

    const plain = await decrypt(sealed, r.enc);
    expect(plain.length).toBe(size);
    expect(plain.equals(readFileSync(input))).toBe(true);
    expect(sealWorkerJobs()).toBe(0);
  });

  it('gives each seal a fresh data key and IV, and the ciphertext is not the plaintext', async () => {
    const input = randomFile('twice.ts', 3 * MiB);
    const a = await sealFile(input, join(dir, 'twice-a.seg'), publicKey);
    const b = await sealFile(input, join(dir, 'twice-b.seg'), publicKey);
    expect(a.plain).toEqual(b.plain);
    expect(a.enc.iv).not.toBe(b.enc.iv);
    expect(a.enc.wrappedKey).not.toBe(b.enc.wrappedKey);
    expect(hashHex(a.stored)).not.toBe(hashHex(b.stored));
    expect(readFileSync(join(dir, 'twice-a.seg')).subarray(0, 4096).equals(readFileSync(input).subarray(0, 4096))).toBe(false);
  });

  it('keeps concurrent seals on the shared worker apart', async () => {
    const inputs = [randomFile('c1.ts', 9 * MiB + 7), randomFile('c2.ts', 6 * MiB), randomFile('c3.ts', 12 * MiB - 1)];
    const results = await Promise.all(inputs.map((f, i) => sealFile(f, join(dir, `c${i}.seg`), publicKey)));
    for (const [i, f] of inputs.entries()) {
      expect(hashHex(results[i]!.plain)).toBe(opensslSha256(f));
      expect(hashHex(results[i]!.stored)).toBe(opensslSha256(join(dir, `c${i}.seg`)));
      expect((await decrypt(join(dir, `c${i}.seg`), results[i]!.enc)).equals(readFileSync(f))).toBe(true);
    }
  });

  it('workers: false seals a file of several chunks on this thread alone, with the same result', async () => {
    await closeSealWorker();
    const size = 5 * MiB + 12_345;
    const input = randomFile('here.ts', size);
    const sealed = join(dir, 'here.seg');
    const r = await sealFile(input, sealed, publicKey, { workers: false });
    expect(sealWorkersRunning()).toBe(0);
    expect(r.plain).toEqual({ size, sha256: opensslSha256(input) });
    expect(r.stored).toEqual({ size: size + GCM_TAG_BYTES, sha256: opensslSha256(sealed) });
    expect((await decrypt(sealed, r.enc)).equals(readFileSync(input))).toBe(true);
  });

  it('stops the workers once they have been idle for a while, and starts them again for the next seal', async () => {
    await closeSealWorker();
    setSealWorkerIdleMs(100);
    /** Seal `input`, noting the most workers running at once meanwhile (a worker with a seal never stops). */
    const sealWatching = async (input: string, out: string): Promise<{ most: number; sha256: string }> => {
      let most = 0;
      let done = false;
      const p = sealFile(input, out, publicKey).finally(() => (done = true));
      while (!done) {
        most = Math.max(most, sealWorkersRunning());
        await new Promise((r) => setImmediate(r));
      }
      return { most, sha256: hashHex((await p).plain) };
    };
    try {
      const input = randomFile('idle.ts', 24 * MiB);
      expect((await sealWatching(input, join(dir, 'idle-1.seg'))).most).toBe(2);
      const deadline = Date.now() + 5000;
      while (sealWorkersRunning() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(sealWorkersRunning()).toBe(0);
      const again = await sealWatching(input, join(dir, 'idle-2.seg'));
      expect(again.most).toBe(2);
      expect(again.sha256).toBe(opensslSha256(input));
    } finally {
      setSealWorkerIdleMs(30_000);
    }
  });

  it('rejects and leaves no temp file when the output cannot be written', async () => {
    const input = randomFile('nowhere.ts', 5 * MiB);
    const sealed = join(dir, 'no-such-dir', 'x.seg');
    await expect(sealFile(input, sealed, publicKey)).rejects.toThrow(/ENOENT/);
    expect(sealWorkerJobs()).toBe(0);
    expect(existsSync(input)).toBe(true);
  });

  it('rejects for a missing input', async () => {
    await expect(sealFile(join(dir, 'missing.ts'), join(dir, 'missing.seg'), publicKey)).rejects.toThrow(/ENOENT/);
    expect(existsSync(join(dir, 'missing.seg.tmp'))).toBe(false);
  });

  it('rejects (does not hang) when the worker dies mid-seal, and the next seal starts a new one', async () => {
    const input = randomFile('dies.ts', 48 * MiB);
    const sealed = join(dir, 'dies.seg');
    const p = sealFile(input, sealed, publicKey);
    const deadline = Date.now() + 5000;
    while (sealWorkerJobs() === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    expect(sealWorkerJobs()).toBe(1);
    await closeSealWorker();
    await expect(p).rejects.toThrow(/worker/);
    expect(existsSync(sealed)).toBe(false);
    expect(existsSync(`${sealed}.tmp`)).toBe(false);

    const r = await sealFile(input, sealed, publicKey);
    expect(hashHex(r.plain)).toBe(opensslSha256(input));
  });

  it('turns a read error inside the worker into a rejection with its code', async () => {
    const fh = await open(dir, 'r'); // a directory: reading it fails with EISDIR
    try {
      const src = workerSource(fh.fd, MiB, 2);
      expect(sealWorkerJobs()).toBe(1);
      await expect(src.next()).rejects.toMatchObject({ code: 'EISDIR', message: expect.stringMatching(/sealing worker/) });
      await src.close();
      expect(sealWorkerJobs()).toBe(0);
    } finally {
      await fh.close();
    }
  });

  it('lets a process exit by itself after sealing (the idle worker does not hold it)', () => {
    // Runs the built code (npm test builds first) in a fresh process that does nothing else.
    const input = randomFile('exit.ts', 8 * MiB);
    const seal = resolve('dist/evidence/seal.js');
    const script = `
      import { generateKeyPairSync } from 'node:crypto';
      import { sealFile } from ${JSON.stringify(seal)};
      const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const r = await sealFile(${JSON.stringify(input)}, ${JSON.stringify(join(dir, 'exit.seg'))}, publicKey);
      console.log(r.plain.sha256);`;
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(out.error).toBeUndefined();
    expect(out.status).toBe(0);
    expect(out.stdout.trim()).toBe(opensslSha256(input));
  });
});
