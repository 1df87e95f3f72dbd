/** Where to go after signing in: the `next` a login form carries, kept only when it is a plain path on this server. */

/** A local path to go back to after login; anything else (another host, `//x`, `/\x`) becomes `/`. */
export function safeNext(next: string | null | undefined): string {
  if (!next || next.length > 2000 || !next.startsWith('/') || next.startsWith('//')) return '/';
  // Browsers drop tabs and line breaks from a URL and read a backslash as "/": "/\t/evil.example" (next=/%09/evil.example)
  // would go off-site. Only a plain path on this server, as the URL parser reads it.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f\\]/.test(next)) return '/';
  let u: URL;
  try {
    u = new URL(next, 'https://local.invalid');
  } catch {
    return '/';
  }
  return u.origin === 'https://local.invalid' ? u.pathname + u.search + u.hash : '/';
}
