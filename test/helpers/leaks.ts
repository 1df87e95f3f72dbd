/** Looking for what must never be written: plaintext media or a private key, in files a test's run touched. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every file under `dir` modified since `sinceMs` (less a second) whose bytes contain `needle` (files up to 64 MiB). */
export function filesHolding(dir: string, needle: Buffer, sinceMs: number): string[] {
  const found: string[] = [];
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return; // another user's folder, or gone meanwhile
    }
    for (const n of names) {
      const p = join(d, n);
      try {
        const st = statSync(p);
        if (st.isDirectory()) walk(p);
        else if (st.isFile() && st.mtimeMs >= sinceMs - 1000 && st.size <= 64 << 20 && readFileSync(p).includes(needle)) found.push(p);
      } catch {
        /* gone meanwhile or unreadable */
      }
    }
  };
  walk(dir);
  return found;
}
