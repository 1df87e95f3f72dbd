/**
 * The folder lock on its own (state/folder-lock.ts): flock(2) locks belong to an open file, so two acquisitions in one
 * process conflict as two processes do. The refusal names the holder and writes nothing; a holder that has not yet
 * said who it is (or whose note is garbage) is reported as such, never as some other pid.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { acquireFolderLock, type LockRefusal } from '../../src/state/folder-lock.js';

const refusal: LockRefusal = { inUse: 'the folder is in use', fix: (pid) => `Stop ${pid ?? 'it'} first.` };

describe('acquireFolderLock', () => {
  afterAll(cleanupTmp);

  it('refuses a second holder with exit 2, naming the first, and changes nothing; free again after release', () => {
    const file = join(tmp('recgw-lock-'), 'sub', 'x.lock');
    const a = acquireFolderLock(file, refusal);
    const note = readFileSync(file, 'utf8');
    expect(JSON.parse(note)).toMatchObject({ pid: process.pid, since: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    expect(() => acquireFolderLock(file, refusal)).toThrow(
      expect.objectContaining({
        code: 'locked',
        exitCode: 2,
        message: expect.stringMatching(new RegExp(`^the folder is in use: held by pid ${process.pid} since .* \\(lock file ${file}\\)\\. Stop ${process.pid} first\\. Nothing was changed\\.$`)),
      }),
    );
    expect(readFileSync(file, 'utf8')).toBe(note);
    a.release();
    a.release();
    expect(readFileSync(file, 'utf8')).toBe('');
    const b = acquireFolderLock(file, refusal);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ pid: process.pid });
    b.release();
  });

  it('a folder that does not exist is made, or is the caller\'s error when it says so (a gateway\'s state folder)', () => {
    const gone = join(tmp('recgw-lock-'), 'state');
    expect(() => acquireFolderLock(join(gone, 'x.lock'), { ...refusal, missing: `${gone} does not exist` })).toThrow(
      expect.objectContaining({ code: 'config', exitCode: 2, message: `${gone} does not exist` }),
    );
    expect(existsSync(gone)).toBe(false);
    acquireFolderLock(join(gone, 'x.lock'), refusal).release();
    expect(existsSync(join(gone, 'x.lock'))).toBe(true);
  });

  it('a holder whose note is missing or names a dead process is "just starting", not a wrong pid', () => {
    const file = join(tmp('recgw-lock-'), 'x.lock');
    const a = acquireFolderLock(file, refusal);
    try {
      for (const note of ['', 'garbage', JSON.stringify({ pid: 2 ** 22 + 1, since: '2026-01-01T00:00:00Z', command: 'old' })]) {
        writeFileSync(file, note);
        expect(() => acquireFolderLock(file, refusal)).toThrow(/in use: held by a process that is just starting .*Stop it first\./);
      }
    } finally {
      a.release();
    }
  });
});
