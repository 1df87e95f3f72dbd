/**
 * What an officer's name and 执法证号 (badge) may be, on the roster, the panel and the control socket alike: a badge
 * is 1-32 ASCII letters, digits or "-" (what a panel keypad and every form can enter), a name 1-32 characters.
 */
export const BADGE = /^[A-Za-z0-9-]{1,32}$/;
export const MAX_NAME_CHARS = 32;

/** A name as it is compared: Unicode NFC, outer spaces removed (张三 typed on two keyboards is one name). */
export const normalName = (name: string): string => name.normalize('NFC').trim();

/** Why `name` cannot be an officer's name, or undefined. */
export function nameProblem(name: string): string | undefined {
  const n = normalName(name);
  if (n === '') return 'the name is empty';
  if ([...n].length > MAX_NAME_CHARS) return `the name ${JSON.stringify(n)} is longer than ${MAX_NAME_CHARS} characters`;
  if ([...n].some((c) => c.charCodeAt(0) < 0x20 || c === '\u007f')) return `the name ${JSON.stringify(n)} holds a control character`;
  return undefined;
}

export const badgeProblem = (badge: string): string | undefined =>
  BADGE.test(badge) ? undefined : `the 执法证号 ${JSON.stringify(badge.slice(0, 40))} is not 1-32 letters, digits or "-"`;
