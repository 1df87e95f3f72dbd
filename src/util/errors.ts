/**
 * Errors a user or operator sees. Each carries a code from a closed set and the exit status the CLI maps it to:
 * 1 = the thing checked is not valid, 2 = usage or configuration error.
 */
export type ErrorCode =
  | 'usage'
  | 'config'
  | 'identity'
  | 'invalid'
  | 'io'
  | 'state'
  | 'locked'
  | 'storage'
  | 'recorder'
  | 'uplink'
  | 'hardware'
  | 'internal';

export class RecgwError extends Error {
  readonly code: ErrorCode;
  /** Exit status for the CLI: 2 for usage/config/identity problems and a folder in use, which the operator must fix; 1 otherwise. */
  readonly exitCode: 1 | 2;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; exitCode?: 1 | 2 }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RecgwError';
    this.code = code;
    this.exitCode = options?.exitCode ?? (code === 'usage' || code === 'config' || code === 'identity' || code === 'locked' ? 2 : 1);
  }
}

export function isErrno(err: unknown, code: string): err is NodeJS.ErrnoException {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}

export const isENOENT = (err: unknown): err is NodeJS.ErrnoException => isErrno(err, 'ENOENT');

/** A short, single-line description of any thrown value, for logs and user messages. */
export function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
