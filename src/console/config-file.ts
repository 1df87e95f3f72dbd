/**
 * Reading and replacing the installation's config file for the editor. A change is checked against the text the
 * technician started from (its hash travels with the form): if somebody else changed the file meanwhile, the
 * change is refused instead of silently undoing theirs. The file is replaced atomically with its mode kept.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../util/fsx.js';
import { RecgwError } from '../util/errors.js';

export const textHash = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** Textareas send CRLF; the file keeps LF and ends with one newline. */
export function normaliseConfigText(text: string): string {
  const t = text.replace(/\r\n?/g, '\n');
  return t.endsWith('\n') ? t : t + '\n';
}

export async function readConfigText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new RecgwError('config', `cannot read the config file ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** Replace the file if it still has hash `base`; returns false (and writes nothing) when it changed meanwhile. */
export async function replaceConfigText(file: string, base: string, text: string): Promise<boolean> {
  const current = await readConfigText(file);
  if (textHash(current) !== base) return false;
  const mode = (await stat(file)).mode & 0o777;
  await writeFileAtomic(file, text, mode);
  return true;
}
