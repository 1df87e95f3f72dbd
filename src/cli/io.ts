/** Where a command writes: results to stdout, progress and problems to stderr. Tests pass their own. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** All of standard input (a password piped in); process standard input unless a test gives its own. */
  readIn?(): Promise<string>;
}

export const processIo: Io = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};
