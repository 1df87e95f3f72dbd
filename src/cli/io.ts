/** Where a command writes: results to stdout, progress and problems to stderr. Tests pass their own. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** All of standard input (a password piped in); process standard input unless a test gives its own. */
  readIn?(): Promise<string>;
  /** The clock (ms since the epoch); the machine's unless a test gives its own (never a command-line flag). */
  now?(): number;
}

export const processIo: Io = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

/** All of standard input, without its final line break. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}
