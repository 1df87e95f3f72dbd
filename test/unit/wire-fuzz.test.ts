/**
 * The uplink's decoders against what a compromised or broken peer can send (uplink-protocol.md): random bytes, JSON
 * of any shape, and genuine messages with one member removed or replaced by any JSON value, nested too. None may
 * throw; a refusal names its problem, in a few hundred characters whatever was sent (the log holds it); what is accepted has the types the receiver and the gateway rely on (names
 * that are safe file names, sizes and offsets that are counts, hashes that are 64 hex digits). receiptProblem, which
 * checks every receipt a gateway is handed, is held to the same.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeChunk, decodeEntries, decodeHello, decodeState, encodeChunk, type Decoded } from '../../src/uplink/wire.js';
import { receiptProblem } from '../../src/evidence/receipt.js';
import { hostilePayloads, mutated } from '../helpers/fuzz.js';

const DEVICE = 'room-1';
const HEX = 'ab'.repeat(32);
const DEADLINE = '2026-12-09T00:00:00.000Z';
const RUNS = 400;

const hello = { v: 1, type: 'hello', device: DEVICE, id: 'h-1', files: [{ name: 'cam1-0001', size: 1000, sha256: HEX, deadline: DEADLINE }], log: { size: 12 } };
const entries = { v: 1, type: 'entries', device: DEVICE, deadline: DEADLINE, lines: ['{"v":1,"device":"room-1","seq":0}'] };
const state = {
  v: 1,
  type: 'state',
  device: DEVICE,
  re: 'h-1',
  ledger: { seq: 3, hash: HEX },
  files: { 'cam1-0001': { have: 10 }, 'cam1-0002': { stored: true } },
  receipts: [],
  log: { checkpoint: 'x\n1\nAAAA\n', consistency: ['AAAA'], cert: 'PEM', sm2Cert: 'PEM' },
};
const header = { v: 1 as const, device: DEVICE, name: 'cam1-0001', offset: 0, size: 1000, sha256: HEX, deadline: DEADLINE };

const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isName = (v: unknown): boolean => typeof v === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/.test(v);
const isHex = (v: unknown): boolean => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);

function holds<T>(decode: (p: Buffer) => Decoded<T>, base: unknown, accepted: (v: T) => void): void {
  // The genuine message itself is accepted: the property below is not true of a decoder that refuses everything.
  const genuine = decode(Buffer.from(JSON.stringify(base)));
  expect(genuine.ok, genuine.ok ? '' : genuine.problem).toBe(true);
  fc.assert(
    fc.property(hostilePayloads(base), (payload) => {
      const d = decode(payload);
      if (d.ok) accepted(d.value);
      else expect(d.problem).toMatch(/^\S.{0,300}$/s);
    }),
    { numRuns: RUNS },
  );
}

describe('the uplink decoders against hostile input', () => {
  it('hello: never throws; accepted files have safe names, counts and hashes', () => {
    holds((p) => decodeHello(p, DEVICE), hello, (h) => {
      expect(typeof h.id).toBe('string');
      for (const f of h.files) expect(isName(f.name) && isCount(f.size) && isHex(f.sha256)).toBe(true);
      if (h.log !== undefined) expect(isCount(h.log.size)).toBe(true);
    });
  });

  it('entries: never throws; accepted lines are non-empty one-line strings', () => {
    holds((p) => decodeEntries(p, DEVICE), entries, (e) => {
      expect(e.lines.length).toBeGreaterThan(0);
      for (const l of e.lines) expect(typeof l === 'string' && l.length > 0 && !l.includes('\n')).toBe(true);
    });
  });

  it('state: never throws; an accepted one has a ledger, files and log of the types the gateway reads', () => {
    holds((p) => decodeState(p, DEVICE), state, (s) => {
      expect(typeof s.re).toBe('string');
      if (s.ledger !== null) expect(isCount(s.ledger.seq) && isHex(s.ledger.hash)).toBe(true);
      for (const f of Object.values(s.files)) expect('stored' in f ? f.stored === true : isCount(f.have)).toBe(true);
      expect(Array.isArray(s.receipts)).toBe(true);
      if (s.log) {
        expect(typeof s.log.checkpoint === 'string' && typeof s.log.cert === 'string').toBe(true);
        expect(s.log.consistency.every((h) => typeof h === 'string')).toBe(true);
        expect(s.log.sm2Cert === undefined || typeof s.log.sm2Cert === 'string').toBe(true);
      }
    });
  });

  it('chunk: never throws on any frame, header or length field; accepted data stays within the named file', () => {
    const frame = (h: unknown, data: Buffer): Buffer => {
      const head = Buffer.from(JSON.stringify(h) ?? 'null');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(head.length);
      return Buffer.concat([len, head, data]);
    };
    expect(decodeChunk(encodeChunk(header, Buffer.alloc(10)), DEVICE).ok).toBe(true);
    const payloads = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.tuple(mutated(header), fc.uint8Array({ maxLength: 64 })).map(([h, d]) => frame(h, Buffer.from(d))),
      // A header length that lies: anything up to 2^32 - 1 in front of a genuine header.
      fc.tuple(fc.nat({ max: 0xffffffff }), fc.uint8Array({ maxLength: 64 })).map(([n, d]) => {
        const f = frame(header, Buffer.from(d));
        f.writeUInt32BE(n, 0);
        return f;
      }),
    );
    fc.assert(
      fc.property(payloads, (p) => {
        const d = decodeChunk(p, DEVICE);
        if (!d.ok) return void expect(d.problem).toMatch(/^\S.{0,300}$/s);
        const h = d.value.header;
        expect(isName(h.name) && isCount(h.offset) && isCount(h.size) && isHex(h.sha256)).toBe(true);
        expect(h.offset + d.value.data.length).toBeLessThanOrEqual(h.size);
      }),
      { numRuns: RUNS },
    );
  });

  it('echoes at most 64 characters of what the peer sent: a megabyte device name makes a short refusal', () => {
    const huge = 'x'.repeat(1 << 20);
    for (const d of [decodeHello(Buffer.from(JSON.stringify({ ...hello, device: huge })), DEVICE), decodeState(Buffer.from(JSON.stringify({ ...state, v: { huge } })), DEVICE), decodeChunk(encodeChunk({ ...header, device: huge }, Buffer.alloc(1)), DEVICE)]) {
      expect(d.ok).toBe(false);
      if (!d.ok) expect(d.problem.length).toBeLessThan(200);
    }
  });

  it('receiptProblem: never throws on any JSON, and names a problem for each', () => {
    const receipt = { v: 1, type: 'receipt', kind: 'segment', device: DEVICE, name: 'cam1-0001', size: 1000, sha256: HEX, deadline: DEADLINE, storedAt: DEADLINE, receiver: 'receiver:1', cert: 'PEM', sig: 'AAAA' };
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), mutated(receipt)), (r) => {
        expect(receiptProblem(r, [])).toMatch(/\S/);
      }),
      { numRuns: RUNS },
    );
  });
});
