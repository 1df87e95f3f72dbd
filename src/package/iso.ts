/**
 * A folder written as an ISO 9660 image (Rock Ridge and Joliet, so long names survive) with Debian's xorriso, made
 * reproducible: every date in the image (volume dates, the UUID date, all files' times, "now") is the one given, and
 * owners are root, so the same folder at the same time gives the same bytes wherever it is staged. That is what
 * lets two images burnt for 双刻 share one published hash.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { RecgwError } from '../util/errors.js';

const run = promisify(execFile);

/** YYYYMMDDhhmmsscc in UTC, as -volume_date uuid takes it. */
const uuidDate = (ms: number): string => new Date(ms).toISOString().replace(/[-T:Z]/g, '').replace('.', '').slice(0, 16);

/** ISO 9660 volume IDs are at most 32 d-characters: upper case letters, digits and underscore. */
export function volumeId(label: string): string {
  const v = label.toUpperCase().replace(/[^A-Z0-9_]/g, '_').slice(0, 32);
  return v === '' ? 'EVIDENCE' : v;
}

export async function writeIso(o: { dir: string; out: string; volume: string; at: number }): Promise<void> {
  const secs = Math.floor(o.at / 1000);
  const epoch = `=${secs}`;
  const args = [
    '-no_rc',
    '-report_about', 'SORRY',
    '-outdev', o.out,
    '-volid', volumeId(o.volume),
    '-joliet', 'on',
    '-rockridge', 'on',
    '-compliance', 'long_paths:long_names',
    '-volume_date', 'uuid', uuidDate(secs * 1000),
    '-volume_date', 'c', epoch,
    '-volume_date', 'm', epoch,
    '-volume_date', 'all_file_dates', epoch,
    '-iso_nowtime', epoch,
    '-map', o.dir, '/',
    '-chown_r', '0', '/', '--',
    '-chgrp_r', '0', '/', '--',
    '-chmod_r', 'go-w,a+r', '/', '--',
    '-commit',
  ];
  try {
    // SOURCE_DATE_EPOCH as well, so nothing xorriso dates on its own escapes the fixed time.
    await run('xorriso', args, { env: { ...process.env, SOURCE_DATE_EPOCH: String(secs) }, maxBuffer: 16 << 20 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new RecgwError('config', 'xorriso is not installed: apt-get install xorriso', { cause: err });
    throw new RecgwError('io', `xorriso could not write ${o.out}: ${(e.stderr ?? e.message).trim().split('\n').slice(-3).join(' ')}`, { cause: err });
  }
}
