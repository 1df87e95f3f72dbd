/** The shell recipes of docs/recipes/ and the copies docs/evidence-format.md shows of them. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
export const DOC = join(ROOT, 'docs', 'evidence-format.md');
export const recipe = (name: string): string => join(ROOT, 'docs', 'recipes', name);

export interface Run {
  code: number | null;
  out: string;
  err: string;
}

export function sh(script: string, args: string[]): Run {
  const r = spawnSync('sh', [script, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The script text the document shows between its BEGIN/END markers. */
export function embedded(name: string): string {
  const doc = readFileSync(DOC, 'utf8');
  const esc = name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const m = new RegExp(`<!-- BEGIN docs/recipes/${esc}[^>]*-->\\n\`\`\`sh\\n([\\s\\S]*?)\`\`\`\\n<!-- END docs/recipes/${esc} -->`).exec(doc);
  if (!m) throw new Error(`docs/evidence-format.md does not embed docs/recipes/${name} between BEGIN/END markers`);
  return m[1]!;
}
