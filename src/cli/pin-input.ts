/**
 * Reading officers' PINs for `recgw session`: typed at the terminal without echo, one prompt per officer, or, when
 * standard input is not a terminal (a script, a test), one PIN per line of it. Never from the command line, where
 * every user's `ps` and the shell's history would show them.
 */
import { createInterface } from 'node:readline';
import type { Officer } from '../evidence/types.js';
import { RecgwError } from '../util/errors.js';

/** One line typed without echo; Ctrl-C aborts. */
function readHidden(prompt: string): Promise<string> {
  const input = process.stdin;
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let text = '';
    input.setRawMode(true);
    input.resume();
    input.setEncoding('utf8');
    const done = (err?: Error): void => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(text);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new RecgwError('usage', 'cancelled'));
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else text += ch;
      }
    };
    input.on('data', onData);
  });
}

/** The lines of standard input, as many as are needed. */
async function readLines(n: number): Promise<string[]> {
  const out: string[] = [];
  const rl = createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    out.push(line.trim());
    if (out.length === n) break;
  }
  rl.close();
  return out;
}

/** Each officer's PIN, in order. */
export async function readPins(officers: Officer[]): Promise<string[]> {
  if (process.stdin.isTTY) {
    const pins: string[] = [];
    for (const o of officers) pins.push(await readHidden(`PIN of ${o.name} (${o.badge}) / 请 ${o.name} 输入 PIN: `));
    return pins;
  }
  const pins = await readLines(officers.length);
  if (pins.length < officers.length) {
    throw new RecgwError('usage', `officers confirm with their PINs: give ${officers.length} PIN(s), one per line on standard input in the order of --officer, or run it at a terminal to be asked`);
  }
  return pins;
}
