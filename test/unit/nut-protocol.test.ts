/**
 * NUT's network protocol text (src/hal/power/nut-protocol.ts), pure: words quoted for commands and split from
 * answers as upsd writes them (backslash escapes inside double quotes), and a UPS's variables read as a reading -
 * or refused, naming what is wrong, for anything that is not a usable one.
 */
import { describe, expect, it } from 'vitest';
import { errHelp, quoteWord, readingFromVars, splitWords } from '../../src/hal/power/nut-protocol.js';

const vars = (o: Record<string, string>): Map<string, string> => new Map(Object.entries(o));

describe('NUT words', () => {
  it('quotes only what needs it, escaping quotes and backslashes', () => {
    expect(quoteWord('dummy')).toBe('dummy');
    expect(quoteWord('ups.status')).toBe('ups.status');
    expect(quoteWord('pa ss')).toBe('"pa ss"');
    expect(quoteWord('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(quoteWord('')).toBe('""');
  });

  it('splits answer lines into words, unescaping quoted values', () => {
    expect(splitWords('VAR dummy ups.status "OB LB"')).toEqual(['VAR', 'dummy', 'ups.status', 'OB LB']);
    expect(splitWords('VAR dummy ups.mfr "say \\"hi\\" \\\\ bye"')).toEqual(['VAR', 'dummy', 'ups.mfr', 'say "hi" \\ bye']);
    expect(splitWords('UPS dummy ""')).toEqual(['UPS', 'dummy', '']);
    expect(splitWords('  OK   Goodbye ')).toEqual(['OK', 'Goodbye']);
    // A round trip through quoteWord.
    for (const w of ['x', 'a b', 'q"q', 'b\\s', '']) expect(splitWords(`W ${quoteWord(w)}`)).toEqual(['W', w]);
  });

  it.each(['VAR dummy ups.status "OL', 'VAR dummy x "\\', 'VAR dummy x "a\u0000b"', 'VAR dummy\u0007 x "y"'])('refuses %j', (line) => {
    expect(splitWords(line)).toBeNull();
  });

  it('says what to do about the refusals a monitor meets', () => {
    expect(errHelp('UNKNOWN-UPS').en).toMatch(/power\.nut\.name.*upsc -l/);
    expect(errHelp('DATA-STALE').zh).toMatch(/UPS 驱动没有最新数据/);
    expect(errHelp('SOMETHING-NEW')).toEqual({ en: 'upsd answered ERR SOMETHING-NEW', zh: 'upsd 返回错误 SOMETHING-NEW' });
  });
});

describe('a reading from LIST VAR', () => {
  it('on line, on battery, low battery, forced shutdown', () => {
    expect(readingFromVars(vars({ 'ups.status': 'OL CHRG', 'battery.charge': '95', 'battery.runtime': '1800' }))).toEqual({
      ok: true,
      reading: { percent: 95, onMains: true, minutesLeft: 30, status: 'OL CHRG', lowBattery: false, forcedShutdown: false },
      notes: [],
    });
    expect(readingFromVars(vars({ 'ups.status': 'OB DISCHRG', 'battery.charge': '42.5' }))).toMatchObject({ ok: true, reading: { percent: 42.5, onMains: false, minutesLeft: null } });
    expect(readingFromVars(vars({ 'ups.status': 'OB LB', 'battery.charge': '8', 'battery.runtime': '90' }))).toMatchObject({ ok: true, reading: { onMains: false, lowBattery: true, minutesLeft: 1.5 } });
    expect(readingFromVars(vars({ 'ups.status': 'FSD OB LB', 'battery.charge': '5' }))).toMatchObject({ ok: true, reading: { forcedShutdown: true, lowBattery: true } });
  });

  it('drops a nonsensical runtime with a note, keeping the reading', () => {
    expect(readingFromVars(vars({ 'ups.status': 'OB', 'battery.charge': '50', 'battery.runtime': '-3' }))).toEqual({
      ok: true,
      reading: { percent: 50, onMains: false, minutesLeft: null, status: 'OB', lowBattery: false, forcedShutdown: false },
      notes: ['ignoring battery.runtime "-3": not a number of seconds'],
    });
  });

  it.each([
    [{ 'battery.charge': '50' }, 'the UPS reports no ups.status'],
    [{ 'ups.status': 'WAIT', 'battery.charge': '50' }, 'ups.status "WAIT" says neither OL (on line) nor OB (on battery)'],
    [{ 'ups.status': '', 'battery.charge': '50' }, 'ups.status "" says neither OL (on line) nor OB (on battery)'],
    [{ 'ups.status': 'OL' }, 'the UPS reports no battery.charge (recgw needs the charge; check the driver with upsc)'],
    [{ 'ups.status': 'OL', 'battery.charge': 'full' }, 'battery.charge "full" is not a percentage'],
    [{ 'ups.status': 'OL', 'battery.charge': '101' }, 'battery.charge "101" is not a percentage'],
    [{ 'ups.status': 'OL', 'battery.charge': '1e2' }, 'battery.charge "1e2" is not a percentage'],
  ])('refuses %j', (v, reason) => {
    expect(readingFromVars(vars(v as Record<string, string>))).toEqual({ ok: false, reason });
  });
});
