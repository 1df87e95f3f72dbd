/** What somebody typed (a name at a sign-in form), for an audit trail: at most 64 characters, control characters shown as "?". */
export const typed = (s: string): string => [...s.slice(0, 64)].map((c) => (c.charCodeAt(0) < 0x20 || c === '\u007f' ? '?' : c)).join('');
