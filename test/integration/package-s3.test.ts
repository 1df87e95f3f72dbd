/**
 * The evidence disc from a bucket (issue 20 item 5, docs/evidence-package.md): a receiver store put into a bucket on
 * a real radosgw and its folder removed; `recgw package build --store s3://… --s3-endpoint …` (keys from
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) under the desk's export approval, in a process of its own with a fresh
 * TMPDIR. The image, extracted, is checked by the disc's own verify.sh (docs/recipes/check-disc.sh) with bash and
 * openssl alone; its media are the recorded bytes. Nothing is left in --out but the two images, nothing in TMPDIR.
 * The disc's verification report reads the segments in the bucket (a local copy of the rest): a planted or removed
 * segment there is found. Attacks: a sealed segment replaced in the bucket by someone with its keys ends the build with the reason, no image
 * and no plaintext left; the command refuses an s3:// store without its endpoint or keys, and --s3-* for a folder.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { DESK_PASSWORD, exportApproval } from '../helpers/desk.js';
import { filesHolding } from '../helpers/leaks.js';
import { s3Client, withRadosgw } from '../helpers/radosgw.js';
import { bucketStore, type BucketStore } from '../helpers/bucket-store.js';
import { ensureBuilt } from '../helpers/store-fixture.js';
import { closeSealWorker } from '../../src/evidence/seal-worker.js';
import { manifestsIn } from '../../src/evidence/find-manifest.js';
import type { SegmentManifest } from '../../src/evidence/types.js';
import { caPaths } from '../../src/pki/ca.js';
import { readCaBundle } from '../../src/cli/args.js';
import { withVerifiableCopy } from '../../src/store/local-copy.js';
import { verifyStore } from '../../src/verify/verifier.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'recgw.js');
const PREFIX = 'pkg';
/** The SDK's own switch for its notice that its 2027 releases need Node 22 (this machine runs 20): stderr is the command's. */
const QUIET_SDK = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

describe('recgw package build from a bucket', () => {
  const rgw = withRadosgw();
  let bs: BucketStore;
  let approval: { configFile: string; request: string; as: string };
  let manifests: SegmentManifest[];

  beforeAll(async () => {
    ensureBuilt();
    bs = await bucketStore(rgw.server(), PREFIX, {
      seconds: 3,
      segmentSeconds: 1,
      before: async ({ folder, caDir, built }) => {
        approval = await exportApproval(caDir, folder, [`${built.deviceId}/${built.session.sessionId}`]);
      },
    });
    const store = bs.open();
    try {
      manifests = [...(await manifestsIn(store, bs.built.deviceId, () => true)).values()];
    } finally {
      await store.close();
    }
  }, 300_000);

  afterAll(async () => {
    await closeSealWorker();
    cleanupTmp();
  });

  const build = (args: string[], env: Record<string, string> = { AWS_ACCESS_KEY_ID: bs.s3.accessKeyId, AWS_SECRET_ACCESS_KEY: bs.s3.secretAccessKey }) => {
    const outDir = tmp('recgw-pkg-s3-out-');
    const tmpDir = tmp('recgw-pkg-s3-tmpdir-');
    const p = caPaths(bs.caDir);
    const r = spawnSync(
      process.execPath,
      [BIN, 'package', 'build', ...args, '--session', bs.built.session.sessionId, '--extractor', '王五（证据保管员）', '--reason', '（2026）第002号案件移送法院，提取对象存储中的录像',
        '--agency-key', p.agencyKey, '--ca', p.caCert, '--out', outDir, '--at', '2026-12-07T09:30:00Z',
        '--desk-config', approval.configFile, '--approval', approval.request, '--as', approval.as],
      { encoding: 'utf8', env: { ...withoutAwsKeys(), ...env, ...QUIET_SDK, TMPDIR: tmpDir }, timeout: 180_000, input: DESK_PASSWORD },
    );
    return { code: r.status, out: r.stdout, err: r.stderr, outDir, tmpDir };
  };
  const fromBucket = (): string[] => ['--store', bs.location, '--s3-endpoint', bs.s3.endpoint];
  const plainOf = (m: SegmentManifest): Buffer => readFileSync(bs.samples[m.source.id as 'cam1' | 'mic1'][m.seq]!.path);

  it('writes a disc whose own verify.sh passes, its media the recorded bytes; nothing else in --out or TMPDIR', () => {
    const started = Date.now();
    const r = build(fromBucket());
    // Only the build's steps on standard error: no warning, no error.
    expect(r.err.trim().split('\n').map((l) => l.split(' ')[0])).toEqual(['chose', 'decrypted', 'writing']);
    expect(r.code).toBe(0);
    expect(readdirSync(r.outDir).sort()).toEqual(['evidence-A.iso', 'evidence-B.iso']);
    expect(readdirSync(r.tmpDir)).toEqual([]);
    const sums = /^SHA256SUMS ([0-9a-f]{64})$/m.exec(r.out)![1]!;
    const disc = join(tmp('recgw-pkg-s3-disc-'), 'disc');
    mkdirSync(disc);
    const x = spawnSync('xorriso', ['-osirrox', 'on', '-indev', join(r.outDir, 'evidence-A.iso'), '-extract', '/', disc], { encoding: 'utf8' });
    expect(x.status, x.stderr).toBe(0);
    const v = spawnSync('bash', ['verify.sh', '.', sums], { cwd: disc, encoding: 'utf8', env: { PATH: '/usr/bin:/bin', TMPDIR: tmp('recgw-pkg-s3-verify-') }, timeout: 120_000 });
    expect(v.stderr).toBe('');
    expect(v.status).toBe(0);
    expect(v.stdout).toContain('ALL CHECKS PASSED');
    // verify.sh is check-disc.sh, as the recipes have it.
    expect(readFileSync(join(disc, 'verify.sh'), 'utf8')).toBe(readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'recipes', 'check-disc.sh'), 'utf8'));
    const media = readdirSync(join(disc, 'media', bs.built.deviceId)).sort();
    expect(media).toEqual(manifests.map((m) => `${m.segment}.ts`).sort());
    for (const m of manifests) expect(readFileSync(join(disc, 'media', bs.built.deviceId, `${m.segment}.ts`)).equals(plainOf(m)), m.segment).toBe(true);
    expect(readFileSync(join(disc, 'report', 'verify.txt'), 'utf8')).toContain(bs.built.deviceId);
    // The plaintext only on the disc: none in the build's TMPDIR or --out outside the images.
    const plain = plainOf(manifests[0]!);
    const needle = plain.subarray(Math.floor(plain.length / 2), Math.floor(plain.length / 2) + 64);
    expect(filesHolding(r.tmpDir, needle, started)).toEqual([]);
    expect(filesHolding(r.outDir, needle, started).sort()).toEqual([join(r.outDir, 'evidence-A.iso'), join(r.outDir, 'evidence-B.iso')]);
  }, 240_000);

  it('a sealed segment replaced in the bucket by someone with its keys ends the build with the reason: no image, no plaintext left', async () => {
    const m = manifests[1]!;
    const key = `${PREFIX}/${bs.built.deviceId}/${m.file}`;
    const store = bs.open();
    const orig = (await store.read(`${bs.built.deviceId}/${m.file}`))!;
    await store.close();
    const bad = Buffer.from(orig);
    bad[Math.floor(bad.length / 2)]! ^= 0x01;
    const c = s3Client(rgw.server());
    try {
      await c.send(new PutObjectCommand({ Bucket: rgw.server().bucket, Key: key, Body: bad }));
      const started = Date.now();
      const r = build(fromBucket());
      expect(r.code).not.toBe(0);
      expect(r.err).toContain(`${bs.built.deviceId}/${m.file}: the GCM authentication tag does not match: the sealed file was altered`);
      expect(readdirSync(r.outDir)).toEqual([]);
      expect(readdirSync(r.tmpDir)).toEqual([]);
      const plain = plainOf(manifests[0]!);
      expect(filesHolding(r.outDir, plain.subarray(100, 164), started)).toEqual([]);
    } finally {
      await c.send(new PutObjectCommand({ Bucket: rgw.server().bucket, Key: key, Body: orig }));
      c.destroy();
    }
  }, 240_000);

  it('the disc\'s verification reads the segments in the bucket: the local copy holds none, and the bucket\'s own are checked', async () => {
    const store = bs.open();
    const device = bs.built.deviceId;
    const ca = readCaBundle(caPaths(bs.caDir).caCert);
    const run = () =>
      withVerifiableCopy(store, [device], tmp('recgw-pkg-s3-copy-'), async (root, segmentsOf) => {
        const files = readdirSync(root, { recursive: true }).map(String);
        expect(files).toContain(join(device, 'ledger.jsonl'));
        expect(files).toContain(join('log', 'checkpoint'));
        expect(files.filter((f) => f.includes('segments'))).toEqual([]);
        expect(segmentsOf).toBeDefined();
        return verifyStore(join(root, device), { caPems: ca, jobs: 1, segmentsOf: segmentsOf! });
      });
    try {
      const good = await run();
      expect(good.findings).toEqual([]);
      expect(good.ok).toBe(true);
      // A sealed file no ledger entry describes, put in the bucket's segments/: the verifier sees it there.
      await store.putOnce(`${device}/segments/planted.seg`, Buffer.from('not a segment'));
      const planted = await run();
      expect(planted.findings.map((f) => [f.kind, f.detail])).toEqual([['broken-chain', 'segments/planted.seg is in the folder but no ledger entry describes it (entries removed or the ledger cut short)']]);
      await store.remove(`${device}/segments/planted.seg`);
      // A segment gone from the bucket: missing.
      const m = manifests[0]!;
      const sealed = (await store.read(`${device}/${m.file}`))!;
      await store.remove(`${device}/${m.file}`);
      try {
        expect((await run()).findings.map((f) => f.kind)).toContain('missing-segment');
      } finally {
        await store.putOnce(`${device}/${m.file}`, sealed);
      }
    } finally {
      await store.close();
    }
  }, 120_000);

  it('refuses an s3:// store without its endpoint or its keys, and --s3-endpoint for a folder', () => {
    const noEndpoint = build(['--store', bs.location]);
    expect(noEndpoint.code).toBe(2);
    expect(noEndpoint.err).toContain('an s3:// store needs --s3-endpoint http(s)://HOST:PORT');
    const noKeys = build(fromBucket(), {});
    expect(noKeys.code).toBe(2);
    expect(noKeys.err).toContain('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
    const folder = build(['--store', tmp('recgw-pkg-s3-folder-'), '--s3-endpoint', bs.s3.endpoint]);
    expect(folder.code).toBe(2);
    expect(folder.err).toContain('--s3-endpoint is for an s3:// store');
    for (const r of [noEndpoint, noKeys, folder]) expect(existsSync(join(r.outDir, 'evidence-A.iso'))).toBe(false);
  });
});

/** This process's environment without S3 keys of its own: the test says which the command gets. */
function withoutAwsKeys(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !e[0].startsWith('AWS_')));
}
