/**
 * A diagnostic: with RECGW_S3_TRACE=<file>, every S3 request a client makes is appended to that file as one JSON
 * line when it ends: its command, key, start and end (ms, performance.now of this process), status, and the
 * receiver's code frames the request was awaited from (Node keeps the awaiting async frames in the stack). The
 * bench (bench/README.md, s3-ingest) reads it to tell which await each request waited behind. Off by default; a
 * failure to write the file never fails a request.
 */
import { appendFileSync } from 'node:fs';
import type { S3Client } from '@aws-sdk/client-s3';

/** Our own frames of a stack, shortest form: `file.ts:line fn`. */
function callers(stack: string | undefined): string[] {
  const out: string[] = [];
  for (const line of (stack ?? '').split('\n').slice(1)) {
    const m = /at (?:async )?(?:(\S+) \()?.*\/(?:dist|src)\/([^():]+):(\d+)/.exec(line);
    if (m && !/s3-trace\.[jt]s$/.test(m[2]!)) out.push(`${m[2]}:${m[3]}${m[1] ? ` ${m[1]}` : ''}`);
  }
  return out;
}

export function traceS3(client: S3Client, file = process.env.RECGW_S3_TRACE): S3Client {
  if (!file) return client;
  const send = client.send.bind(client) as (c: unknown) => Promise<unknown>;
  (client as { send: unknown }).send = async (command: { constructor: { name: string }; input?: { Key?: string; Prefix?: string } }): Promise<unknown> => {
    const start = performance.now();
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 40;
    const by = callers(new Error().stack);
    Error.stackTraceLimit = limit;
    let code: number | string = 200;
    try {
      return await send(command);
    } catch (err) {
      code = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 'error';
      throw err;
    } finally {
      const line = { pid: process.pid, cmd: command.constructor.name.replace(/Command$/, ''), key: command.input?.Key ?? command.input?.Prefix, start, end: performance.now(), code, by };
      try {
        appendFileSync(file, JSON.stringify(line) + '\n');
      } catch {
        /* a diagnostic only */
      }
    }
  };
  return client;
}
