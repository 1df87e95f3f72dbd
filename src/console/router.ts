/**
 * The console's route table: exact paths, one handler each, and who may call it. The table is the whole surface
 * of the console: the server refuses anything not in it, and the security tests walk it entry by entry.
 */
import type { Fields, Reply } from './http.js';
import type { Lang, Translate } from './i18n.js';
import type { Role } from './accounts.js';

/**
 * public: built-in assets only; anon: the login and first-run pages (CSRF-protected by a pre-login token);
 * user: any logged-in account; admin: admin accounts only.
 */
export type Access = 'public' | 'anon' | 'user' | 'admin';

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
  /** The pre-login id (login and setup pages), dropped when a login starts. */
  preId: string | undefined;
  /** The CSRF token forms on this page must send back (the login's, or the pre-login one on anon pages). */
  csrf: string;
  /** POST fields (form or JSON object members). */
  fields: Fields;
  /** The parsed JSON body of an API POST. */
  json: unknown;
  /** Cookies this reply must set besides its own (a language choice, a fresh pre-login token). */
  cookies: string[];
}

export interface Route {
  method: 'GET' | 'POST';
  path: string;
  access: Access;
  /** JSON API routes answer refusals with a status and JSON, pages with a redirect or an HTML page. */
  api: boolean;
  handle(ctx: Ctx): Promise<Reply> | Reply;
}

export class Router {
  private readonly routes: Route[] = [];

  add(...routes: Route[]): this {
    for (const r of routes) {
      if (this.routes.some((x) => x.method === r.method && x.path === r.path)) throw new Error(`duplicate route ${r.method} ${r.path}`);
      this.routes.push(r);
    }
    return this;
  }

  /** The route for a request; 'method' when the path exists under another method only. */
  match(method: string, path: string): Route | 'method' | undefined {
    const same = this.routes.filter((r) => r.path === path);
    if (same.length === 0) return undefined;
    return same.find((r) => r.method === method) ?? 'method';
  }

  /** Every route (for the walk in the security tests). */
  get table(): readonly Route[] {
    return this.routes;
  }
}
