/**
 * checkSegmentFile never throws: whatever is at a manifest's path (nothing, a directory, a pipe, a path that
 * cannot be resolved, a file that does not decrypt) is a finding with a detail that says what is there.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { constants, createHash, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { checkSegmentFile } from '../../src/verify/segment-files.js';
import type { SegmentManifest } from '../../src/evidence/types.js';

afterAll(cleanupTmp);

const CONTENT = Buffer.from('not really sealed, but the hashes say it is');

function manifest(over: Partial<SegmentManifest> = {}): SegmentManifest {
  return {
    segment: 'S1_cam1_000000',
    file: 'segments/S1_cam1_000000.seg',
    sessionId: 'S1',
    matter: 'hearing',
    caseRef: 'C-1',
    officers: [{ name: '张三', badge: '1' }],
    source: { id: 'cam1', kind: 'camera' },
    seq: 0,
    start: '2026-03-01T08:00:00.000Z',
    end: '2026-03-01T08:00:01.000Z',
    clock: { source: 'system', synced: true },
    gps: null,
    container: 'mpegts',
    plain: { sha256: '0'.repeat(64), size: 1 },
    stored: { sha256: createHash('sha256').update(CONTENT).digest('hex'), size: CONTENT.length },
    // An IV that decodes to no bytes: AES-GCM refuses it with an exception rather than a result.
    enc: { alg: 'A256GCM', iv: 'A', keyWrap: 'RSA-OAEP-256', wrappedKey: 'AAAA', agencyKeyId: '0'.repeat(64) },
    ...over,
  } as SegmentManifest;
}

function deviceDir(): string {
  const d = tmp('recgw-segfiles-');
  mkdirSync(join(d, 'segments'));
  return d;
}

describe('checkSegmentFile', () => {
  it('a file that is not there is missing, and says it is absent', async () => {
    const d = deviceDir();
    const m = manifest();
    expect(await checkSegmentFile(join(d, m.file), m)).toEqual({
      ok: false,
      kind: 'missing-segment',
      absent: true,
      detail: 'segments/S1_cam1_000000.seg (cam1 #0 of session S1) is missing',
    });
    // A segments "folder" that is a file: nothing can be at the path either.
    const f = tmp('recgw-segfiles-');
    writeFileSync(join(f, 'segments'), 'a file, not a folder');
    expect(await checkSegmentFile(join(f, m.file), m)).toMatchObject({ kind: 'missing-segment', absent: true });
  });

  it('a directory in place of the file is missing (not absent), without reading it', async () => {
    const d = deviceDir();
    const m = manifest();
    mkdirSync(join(d, m.file));
    expect(await checkSegmentFile(join(d, m.file), m)).toEqual({
      ok: false,
      kind: 'missing-segment',
      absent: false,
      detail: 'segments/S1_cam1_000000.seg (cam1 #0 of session S1) is a directory, not the sealed file',
    });
  });

  it('a named pipe in place of the file is missing, and the check does not block on it', async () => {
    const d = deviceDir();
    const m = manifest();
    expect(spawnSync('mkfifo', [join(d, m.file)]).status).toBe(0);
    const r = await checkSegmentFile(join(d, m.file), m);
    expect(r).toMatchObject({ kind: 'missing-segment', absent: false, detail: expect.stringMatching(/is not a regular file/) });
  });

  it('a path that cannot be resolved (a symbolic link loop) is an unreadable, so altered, segment', async () => {
    const d = deviceDir();
    const m = manifest();
    symlinkSync(join(d, m.file), join(d, m.file));
    const r = await checkSegmentFile(join(d, m.file), m);
    expect(r).toMatchObject({ ok: false, kind: 'altered-segment', detail: expect.stringMatching(/^segments\/S1_cam1_000000\.seg cannot be read \(.*ELOOP/) });
  });

  it('a file whose manifest cannot drive the decryption is altered, not an exception', async () => {
    const d = deviceDir();
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    // The data key unwraps; the IV is what fails.
    const wrappedKey = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, randomBytes(32)).toString('base64');
    const m = manifest();
    m.enc.wrappedKey = wrappedKey;
    writeFileSync(join(d, m.file), CONTENT);
    expect(await checkSegmentFile(join(d, m.file), m)).toEqual({ ok: true });
    const r = await checkSegmentFile(join(d, m.file), m, privateKey);
    expect(r).toMatchObject({ ok: false, kind: 'altered-segment', detail: expect.stringMatching(/^segments\/S1_cam1_000000\.seg: the manifest's IV is 0 bytes where A256GCM takes 12/) });
  });
});
