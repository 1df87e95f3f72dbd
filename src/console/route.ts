/**
 * The console's routes as its route modules declare them (src/console/routes/*.ts): a path, one handler, who may call
 * it, and what the handler answers. server.ts registers each one on the web stack (src/web/app.ts, fastify), whose
 * route table is the whole surface of the console: anything not in it is a 404 (405 for a known path under another
 * method), and the security tests walk it entry by entry. Nothing here reads files: the console never serves
 * anything from disk.
 */
import type { Html } from './html.js';
import type { Lang, Translate } from './i18n.js';
import type { Role } from './accounts.js';

/** Config files and certificates are a few KiB; anything far larger is not a console request. */
export const MAX_BODY = 512 * 1024;

/**
 * public: built-in assets only; anon: the login and first-run pages (CSRF-protected all the same);
 * user: any logged-in account; admin: admin accounts only.
 */
export type Access = 'public' | 'anon' | 'user' | 'admin';

/** A refusal with its status; its message is shown (in a page, or as `{ error }` from the JSON API). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export type Fields = Record<string, string>;

/** A cookie a reply sets (always with the web stack's flags: __Host-, Secure, HttpOnly, SameSite=Strict); Max-Age 0 ends it. */
export interface SetCookie {
  name: string;
  value: string;
  maxAgeSeconds?: number;
}

export type Reply =
  | { kind: 'html'; status?: number; body: Html; cookies?: SetCookie[] }
  | { kind: 'json'; status?: number; body: unknown; cookies?: SetCookie[] }
  | { kind: 'redirect'; to: string; cookies?: SetCookie[] }
  /** A generated download (the CSR) or a built-in asset, never a file from disk. */
  | { kind: 'bytes'; status?: number; type: string; body: string | Buffer; filename?: string; cache?: boolean; cookies?: SetCookie[] };

export interface User {
  name: string;
  role: Role;
}

export interface Ctx {
  method: 'GET' | 'POST';
  url: URL;
  ip: string;
  lang: Lang;
  t: Translate;
  /** The installation's time zone (time.zone): every time on a page is shown in it (src/console/times.ts). */
  zone: string;
  /** The logged-in account (routes with access user/admin always have one). */
  user: User | undefined;
  /** The id of that login (to end it, or every other login of the account). */
  loginId: string | undefined;
  /** The CSRF token forms on this page must send back (bound to the login, or to none on anon pages). */
  csrf: string;
  /** POST fields (form fields, first value of each; or JSON object members, non-strings as JSON text). */
  fields: Fields;
  /** The parsed JSON body of an API POST. */
  json: unknown;
}

export interface Route {
  method: 'GET' | 'POST';
  path: string;
  access: Access;
  /** JSON API routes answer refusals with a status and JSON, pages with a redirect or an HTML page. */
  api: boolean;
  handle(ctx: Ctx): Promise<Reply> | Reply;
}
