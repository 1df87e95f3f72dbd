/**
 * Request and response plumbing for the console: bounded body reading, form/JSON parsing, cookies, and the
 * headers every response carries. Nothing here reads files: the console never serves anything from disk.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Html } from './html.js';

/** Config files and certificates are a few KiB; anything far larger is not a console request. */
export const MAX_BODY = 512 * 1024;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export type Reply =
  | { kind: 'html'; status?: number; body: Html; cookies?: string[] }
  | { kind: 'json'; status?: number; body: unknown; cookies?: string[] }
  | { kind: 'redirect'; to: string; cookies?: string[] }
  /** A generated download (the CSR) or a built-in asset, never a file from disk. */
  | { kind: 'bytes'; status?: number; type: string; body: string | Buffer; filename?: string; cache?: boolean; cookies?: string[] };

export async function readBody(req: IncomingMessage, limit = MAX_BODY): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new HttpError(413, `request body larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw new HttpError(413, `request body larger than ${limit} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

export type Fields = Record<string, string>;

/** A POST body as fields: urlencoded forms and JSON objects (string values kept, others as JSON text). */
export function parseFields(contentType: string | undefined, body: Buffer): { fields: Fields; json: unknown } {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const text = body.toString('utf8');
  if (type === 'application/x-www-form-urlencoded') {
    const fields: Fields = {};
    for (const [k, v] of new URLSearchParams(text)) if (!(k in fields)) fields[k] = v;
    return { fields, json: undefined };
  }
  if (type === 'application/json') {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new HttpError(400, 'the request body is not valid JSON');
    }
    const fields: Fields = {};
    if (json && typeof json === 'object' && !Array.isArray(json)) {
      for (const [k, v] of Object.entries(json)) fields[k] = typeof v === 'string' ? v : JSON.stringify(v) ?? '';
    }
    return { fields, json };
  }
  if (body.length === 0) return { fields: {}, json: undefined };
  throw new HttpError(415, 'send a form (application/x-www-form-urlencoded) or JSON');
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const k = part.slice(0, i).trim();
    if (!out.has(k)) out.set(k, part.slice(i + 1).trim());
  }
  return out;
}

/**
 * A cookie only this origin sees, only over HTTPS and never from script: the `__Host-` prefix makes the browser
 * refuse it unless it is Secure, has Path=/ and no Domain.
 */
export function cookie(name: string, value: string, opts: { maxAgeSeconds?: number; httpOnly?: boolean } = {}): string {
  const parts = [`${name}=${value}`, 'Path=/', 'Secure', 'SameSite=Strict'];
  if (opts.httpOnly !== false) parts.push('HttpOnly');
  if (opts.maxAgeSeconds !== undefined) parts.push(`Max-Age=${opts.maxAgeSeconds}`);
  return parts.join('; ');
}

/** Headers on every response: no caching of anything, no framing, no script or style from anywhere else. */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

export function send(res: ServerResponse, reply: Reply): void {
  if (res.headersSent) return;
  const headers: Record<string, string | string[]> = { ...SECURITY_HEADERS };
  if (reply.cookies?.length) headers['set-cookie'] = reply.cookies;
  let status = 200;
  let body: string | Buffer = '';
  switch (reply.kind) {
    case 'html':
      status = reply.status ?? 200;
      headers['content-type'] = 'text/html; charset=utf-8';
      headers['cache-control'] = 'no-store';
      body = '<!doctype html>\n' + reply.body.text;
      break;
    case 'json':
      status = reply.status ?? 200;
      headers['content-type'] = 'application/json; charset=utf-8';
      headers['cache-control'] = 'no-store';
      body = JSON.stringify(reply.body);
      break;
    case 'redirect':
      status = 303;
      headers.location = reply.to;
      headers['cache-control'] = 'no-store';
      break;
    case 'bytes':
      status = reply.status ?? 200;
      headers['content-type'] = reply.type;
      headers['cache-control'] = reply.cache ? 'private, max-age=3600' : 'no-store';
      if (reply.filename) headers['content-disposition'] = `attachment; filename="${reply.filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`;
      body = reply.body;
      break;
  }
  headers['content-length'] = String(Buffer.byteLength(body));
  res.writeHead(status, headers);
  res.end(body);
}

export { safeNext } from '../web/next.js';
