/**
 * The panel line protocol (docs/panel-protocol.md) as pure functions: the CRC against its published check value and
 * Python's binascii.crc_hqx, framing, every command and message both ways, Chinese text, and garbage that must be
 * refused with a reason rather than throw.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { crc16, frameLine, lineText, splitFields, unframeLine } from '../../src/hal/serial/frame.js';
import {
  decodeGatewayLine,
  decodePanelLine,
  encodeGatewayMessage,
  encodePanelCommand,
  MAX_TEXT_BYTES,
  type GatewayMessage,
  type PanelCommand,
} from '../../src/panel/protocol.js';

describe('CRC-16/CCITT-FALSE framing', () => {
  it('has the published check value and matches the documented examples', () => {
    expect(crc16(Buffer.from('123456789'))).toBe(0x29b1);
    // Computed independently with Python's binascii.crc_hqx(body, 0xFFFF).
    expect(frameLine('HB')).toBe('HB*F1EC');
    expect(frameLine('MAT 1 现场检查')).toBe('MAT 1 现场检查*1A34');
    expect(frameLine('PRM state-reason 请口述中断原因')).toBe('PRM state-reason 请口述中断原因*D2E7');
  });

  it('checks the CRC over the UTF-8 bytes and accepts lower-case hex', () => {
    expect(unframeLine('MAT 1 现场检查*1a34')).toEqual({ ok: true, body: 'MAT 1 现场检查', checked: true });
    expect(unframeLine('MAT 1 现场检察*1A34')).toMatchObject({ ok: false, reason: expect.stringContaining('checksum mismatch') });
  });

  it('refuses missing, malformed and wrong checksums, control characters and overlong lines', () => {
    expect(unframeLine('HB')).toEqual({ ok: false, reason: 'no checksum' });
    expect(unframeLine('HB*F1E')).toEqual({ ok: false, reason: 'malformed checksum' });
    expect(unframeLine('HB*F1EG')).toEqual({ ok: false, reason: 'malformed checksum' });
    expect(unframeLine('HB*F1ED').ok).toBe(false);
    expect(unframeLine(frameLine('HB\u0007'))).toEqual({ ok: false, reason: 'control characters' });
    expect(unframeLine(frameLine(''))).toEqual({ ok: false, reason: 'empty body' });
    expect(unframeLine(frameLine('DSP 1 ' + '长'.repeat(200)))).toEqual({ ok: false, reason: 'line too long' });
  });

  it('makes the checksum optional where asked (the UPS protocol), but checks it when present', () => {
    expect(unframeLine('BATT 87 ONLINE', { required: false })).toEqual({ ok: true, body: 'BATT 87 ONLINE', checked: false });
    expect(unframeLine(frameLine('BATT 87 ONLINE'), { required: false })).toEqual({ ok: true, body: 'BATT 87 ONLINE', checked: true });
    expect(unframeLine('BATT 87 ONLINE*0000', { required: false }).ok).toBe(false);
    expect(unframeLine('BATT \uFFFD ONLINE', { required: false }).ok).toBe(false);
  });

  it('never accepts a line with a corrupted byte as another message', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 60 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (text, pos, flip) => {
        const line = Buffer.from(encodeGatewayMessage({ verb: 'DSP', row: 2, text }), 'utf8');
        const i = pos % line.length;
        const bad = Buffer.from(line);
        bad[i] = bad[i]! ^ flip;
        const d = decodeGatewayLine(bad.toString('utf8'));
        // Only the case of a hex digit of the checksum may change harmlessly (either case is accepted).
        if (d.ok) expect(d).toEqual(decodeGatewayLine(line.toString('utf8')));
        if (i < line.length - 4) expect(d.ok).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses a byte flipped into invalid UTF-8 even when the CRC-16 happens to match (a found counterexample)', () => {
    const line = Buffer.from(encodeGatewayMessage({ verb: 'DSP', row: 2, text: '}l~!' }), 'utf8');
    const bad = Buffer.from(line);
    bad[8] = bad[8]! ^ 0x80;
    expect(decodeGatewayLine(bad.toString('utf8'))).toMatchObject({ ok: false });
  });

  it('splits fields with the last one taking the rest, spaces included', () => {
    expect(splitFields('3 1 13010001 李 四', 4)).toEqual(['3', '1', '13010001', '李 四']);
    expect(splitFields('7', 3)).toEqual(['7']);
    expect(splitFields('', 2)).toEqual([]);
  });

  it('keeps display text on one line and within its byte budget, cutting at whole characters', () => {
    expect(lineText('a\r\nb\tc')).toBe('a b c');
    const long = lineText('请口述中断原因'.repeat(20), MAX_TEXT_BYTES);
    expect(Buffer.byteLength(long, 'utf8')).toBeLessThanOrEqual(MAX_TEXT_BYTES);
    expect(long.endsWith('…')).toBe(true);
    expect(long).not.toContain('\uFFFD');
  });
});

describe('panel commands', () => {
  const commands: PanelCommand[] = [
    { verb: 'HB' },
    { verb: 'HELLO', proto: 1, model: 'RP-200', firmware: '1.4.2' },
    { verb: 'MAT', id: 1, matter: '现场检查' },
    { verb: 'MAT', id: 2, matter: '留置/公告送达' },
    { verb: 'CASE', id: 3, caseRef: '京市监罚〔2025〕18号' },
    { verb: 'CASE', id: 4, caseRef: '' },
    { verb: 'OFC', id: 5, slot: 1, badge: '13010001', name: '张三' },
    { verb: 'OFC', id: 6, slot: 4, badge: 'A-77', name: 'Li Si *二*' },
    { verb: 'OFC', id: 7, slot: 2, badge: null, name: '' },
    { verb: 'CLR', id: 8 },
    { verb: 'START', id: 9, force: false },
    { verb: 'START', id: 10, force: true },
    { verb: 'PAUSE', id: 11, reason: 'device-fault' },
    { verb: 'PAUSE', id: 12, reason: '设备故障' },
    { verb: 'PAUSE', id: 13, reason: 'other', text: '当事人要求休息 10 分钟' },
    { verb: 'RESUME', id: 14 },
    { verb: 'CRED', id: 15 },
    { verb: 'STOP', id: 65535 },
  ];

  it.each(commands.map((c) => [encodePanelCommand(c), c] as const))('%s decodes back', (line, cmd) => {
    expect(decodePanelLine(line)).toEqual({ ok: true, msg: cmd });
  });

  it('decodes the documented example lines', () => {
    expect(decodePanelLine('OFC 2 1 13010001 张三*2C1E')).toEqual({ ok: true, msg: { verb: 'OFC', id: 2, slot: 1, badge: '13010001', name: '张三' } });
    expect(decodePanelLine('PAUSE 6 device-fault*263F')).toEqual({ ok: true, msg: { verb: 'PAUSE', id: 6, reason: 'device-fault' } });
  });

  it('refuses malformed commands, naming the id when the line was intact', () => {
    const f = (body: string): ReturnType<typeof decodePanelLine> => decodePanelLine(frameLine(body));
    expect(f('FOO 12 x')).toEqual({ ok: false, reason: 'unknown verb "FOO"', id: 12 });
    expect(f('FOO')).toEqual({ ok: false, reason: 'unknown verb "FOO"' });
    expect(f('START')).toMatchObject({ ok: false, reason: expect.stringContaining('command id') });
    expect(f('START 70000')).toMatchObject({ ok: false });
    expect(f('START 012')).toMatchObject({ ok: false });
    expect(f('START 3 NOW')).toMatchObject({ ok: false, id: 3 });
    expect(f('OFC 4 5 13010001 张三')).toMatchObject({ ok: false, id: 4, reason: expect.stringContaining('slot') });
    expect(f('OFC 4 1 13010001')).toMatchObject({ ok: false, id: 4, reason: expect.stringContaining('name') });
    expect(f('OFC 4 1 1301/0001 张三')).toMatchObject({ ok: false, id: 4 });
    expect(f('MAT 5')).toMatchObject({ ok: false, id: 5 });
    expect(f('STOP 6 now')).toMatchObject({ ok: false, id: 6 });
    expect(f('CRED 7 all')).toMatchObject({ ok: false, id: 7 });
    expect(f('HELLO')).toMatchObject({ ok: false });
    expect(decodePanelLine('\u0000\u00ff garbage')).toMatchObject({ ok: false });
  });
});

describe('gateway messages', () => {
  const messages: GatewayMessage[] = [
    { verb: 'HELLO', proto: 1, name: 'recgw', version: '0.1.0', device: 'room-1' },
    { verb: 'HB', state: 'PAUSED' },
    { verb: 'ACK', id: 0 },
    { verb: 'OK', id: 42 },
    { verb: 'ERR', id: 8, code: 'REFUSED', text: '无法开始：电池电量不足、时钟未同步。确认后可强制开始' },
    { verb: 'ERR', id: null, code: 'BADCMD', text: 'unknown verb' },
    { verb: 'ST', state: 'REC', session: '20250301T090000Z-a1b2c3' },
    { verb: 'ST', state: 'IDLE', session: null },
    { verb: 'DSP', row: 3, text: '执法人员：张三(13010001) 李四(13010002)' },
    { verb: 'DSP', row: 4, text: '' },
    { verb: 'PRM', code: 'state-reason', text: '请口述中断原因' },
    { verb: 'ALM', code: 'battery', text: '电池供电，电量 28%，约 6 分钟后降至下限 20%' },
  ];

  it.each(messages.map((m) => [encodeGatewayMessage(m), m] as const))('%s decodes back', (line, m) => {
    expect(decodeGatewayLine(line)).toEqual({ ok: true, msg: m });
  });

  it('matches the documented example lines', () => {
    expect(encodeGatewayMessage({ verb: 'DSP', row: 4, text: '请口述中断原因' })).toBe('DSP 4 请口述中断原因*83FC');
    expect(encodeGatewayMessage({ verb: 'ST', state: 'IDLE', session: null })).toBe('ST IDLE -*0DA8');
  });

  it('flattens line breaks in text and never exceeds a line', () => {
    const line = encodeGatewayMessage({ verb: 'DSP', row: 1, text: 'a\r\nb' + '长'.repeat(300) });
    expect(line).not.toMatch(/[\r\n]/);
    expect(unframeLine(line).ok).toBe(true);
  });

  it('round-trips any text (as lineText leaves it)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 100, unit: 'grapheme' }), (text) => {
        const d = decodeGatewayLine(encodeGatewayMessage({ verb: 'PRM', code: 'x', text }));
        expect(d).toEqual({ ok: true, msg: { verb: 'PRM', code: 'x', text: lineText(text, MAX_TEXT_BYTES) } });
      }),
    );
  });
});
