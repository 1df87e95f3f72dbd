/** The desk's CSV exports: UTF-8 with a BOM (spreadsheets in China open it right), CRLF lines. */

/** A CSV field: quoted when needed, and a leading = + - @ made inert so a spreadsheet does not run it as a formula. */
function field(v: string | number): string {
  let s = String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvTable(head: string[], rows: (string | number)[][]): string {
  return `\uFEFF${[head.join(','), ...rows.map((r) => r.map(field).join(','))].join('\r\n')}\r\n`;
}
