/**
 * A one-pass look at the text of a ledger line that JSON.parse has accepted: true only when JSON.stringify would
 * write the parsed value back as exactly this text, with the top-level members `topKeys` in that order and every
 * nested object's keys in strictly increasing (UTF-16 code unit) order. That is parseLine's quick canonical test
 * (stringify and compare) without building a second 2 KB string for every line of a ledger.
 *
 * It answers false whenever it cannot tell (a \u escape, a surrogate, a key with an escape or one JSON.parse would
 * reorder, a number spelled in any way but the shortest) as well as when the text is not canonical: false means
 * "ask the full test", never "not canonical". So it need only be right when it says true:
 *   - outside strings only structure, numbers and literals, no whitespace (JSON.stringify writes none);
 *   - in strings only the escapes JSON.stringify writes for what they stand for (\" \\ \b \f \n \r \t), and no
 *     lone UTF-16 surrogate (JSON.stringify writes those escaped; a pair it writes as it is);
 *   - each number as String(Number(text)) spells it, which is how JSON.stringify writes a finite number;
 *   - keys as written are the keys JSON.parse gives, in that order: no duplicates (strictly increasing, or the
 *     fixed top-level list), and none integer-like, which JSON.parse would move to the front.
 */

const QUOTE = 0x22;
/** The escapes JSON.stringify writes: for `"`, `\`, and backspace, form feed, newline, return, tab. */
const isShortEscape = (c: number): boolean => c === 0x22 || c === 0x5c || c === 0x62 || c === 0x66 || c === 0x6e || c === 0x72 || c === 0x74;

/** ES2024's String.prototype.isWellFormed (in Node since 20), not yet in this project's TypeScript lib. */
type WellFormed = string & { isWellFormed(): boolean };

export function writtenCanonically(text: string, topKeys: readonly string[]): boolean {
  if (!(text as WellFormed).isWellFormed()) return false;
  const n = text.length;
  // Per open object or array: where the last key seen begins and ends (objects; -1 before the first), or -2 for
  // an array.
  const keyStart: number[] = [];
  const keyEnd: number[] = [];
  let expectKey = false;
  let topKey = 0;
  let nextBackslash = text.indexOf('\\');
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // A string: find its closing quote, checking every escape on the way.
      let j = i + 1;
      let escaped = false;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) return false;
        if (nextBackslash < 0 || nextBackslash > q) {
          j = q;
          break;
        }
        if (nextBackslash < j) {
          nextBackslash = text.indexOf('\\', j);
          continue;
        }
        if (!isShortEscape(text.charCodeAt(nextBackslash + 1))) return false;
        escaped = true;
        j = nextBackslash + 2;
        nextBackslash = text.indexOf('\\', j);
      }
      if (expectKey) {
        const depth = keyStart.length;
        if (depth === 1) {
          const want = topKeys[topKey++];
          if (want === undefined || j - i - 1 !== want.length || !text.startsWith(want, i + 1)) return false;
        } else {
          const first = text.charCodeAt(i + 1);
          if (escaped || (first >= 0x30 && first <= 0x39)) return false;
          const prev = keyStart[depth - 1]!;
          if (prev >= 0 && !before(text, prev, keyEnd[depth - 1]!, i + 1, j)) return false;
          keyStart[depth - 1] = i + 1;
          keyEnd[depth - 1] = j;
        }
        expectKey = false;
      }
      i = j + 1;
      continue;
    }
    switch (c) {
      case 0x7b: // {
        keyStart.push(-1);
        keyEnd.push(-1);
        expectKey = true;
        i++;
        break;
      case 0x5b: // [
        keyStart.push(-2);
        keyEnd.push(-2);
        i++;
        break;
      case 0x7d: // }
      case 0x5d: // ]
        keyStart.pop();
        keyEnd.pop();
        i++;
        break;
      case 0x2c: // ,
        expectKey = keyStart[keyStart.length - 1] !== -2;
        i++;
        break;
      case 0x3a: // :
        i++;
        break;
      case 0x74: // true
      case 0x6e: // null
        i += 4;
        break;
      case 0x66: // false
        i += 5;
        break;
      default: {
        // A number (JSON.parse accepted the text), or whitespace, which canonical text has none of.
        if (c !== 0x2d && (c < 0x30 || c > 0x39)) return false;
        // Digits alone, without a leading zero, up to 15 of them: an exact integer, spelled as JSON.stringify does.
        // Anything else is compared with its shortest spelling.
        const digitsFrom = c === 0x2d ? i + 1 : i;
        let j = i + 1;
        let digitsOnly = true;
        for (; j < n; j++) {
          const d = text.charCodeAt(j);
          if (d >= 0x30 && d <= 0x39) continue;
          if (!(d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d)) break;
          digitsOnly = false;
        }
        const digits = j - digitsFrom;
        const plainInt = digitsOnly && digits >= 1 && digits <= 15 && (text.charCodeAt(digitsFrom) !== 0x30 || (digits === 1 && c !== 0x2d));
        if (!plainInt) {
          const num = text.slice(i, j);
          if (String(Number(num)) !== num) return false;
        }
        i = j;
      }
    }
  }
  return topKey === topKeys.length && keyStart.length === 0;
}

/** Whether text[a, aEnd) comes strictly before text[b, bEnd) in UTF-16 code unit order (as `<` on strings). */
function before(text: string, a: number, aEnd: number, b: number, bEnd: number): boolean {
  for (; a < aEnd && b < bEnd; a++, b++) {
    const x = text.charCodeAt(a);
    const y = text.charCodeAt(b);
    if (x !== y) return x < y;
  }
  return a === aEnd && b < bEnd;
}
