/**
 * Property-based acceptance: random tampering with a verified device folder is always detected, the findings
 * fit the kind of change, and no input - however broken - makes the verifier throw. One pristine store (made
 * through the real code) per file; every run tampers with a fresh copy of it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanupTmp, makeCa } from '../helpers/fixtures.js';
import { buildStore, kinds, makeSamples, readLines, verify, writeLines, type BuiltStore } from '../helpers/store-fixture.js';
import type { FindingKind, VerifyReport } from '../../src/verify/findings.js';

let pristine: BuiltStore;
let ledgerBytes: Buffer;
let lineCount: number;
let segFiles: string[];

beforeAll(async () => {
  const ca = makeCa();
  pristine = await buildStore({ caDir: ca.dir, samples: await makeSamples() });
  ledgerBytes = readFileSync(join(pristine.deviceDir, 'ledger.jsonl'));
  lineCount = readLines(pristine.deviceDir).length;
  segFiles = readdirSync(join(pristine.deviceDir, 'segments')).sort();
}, 120_000);
afterAll(cleanupTmp);

// Runs per property: enough to reach every file, line and kind of byte many times, while the file stays under ~30 s.
const RUNS = Number(process.env.RECGW_PROPERTY_RUNS ?? 60);

/** Tamper with a fresh copy (removed afterwards, so hundreds of runs do not fill the disk) and verify it. */
async function tamperAndVerify(mutate: (deviceDir: string) => void, withAgencyKey = false): Promise<VerifyReport> {
  const dir = mkdtempSync(join(tmpdir(), 'recgw-prop-'));
  try {
    cpSync(pristine.storeDir, dir, { recursive: true });
    const deviceDir = join(dir, pristine.deviceId);
    mutate(deviceDir);
    return await verify(dir, pristine, withAgencyKey);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ALL: FindingKind[] = ['bad-signature', 'untrusted-certificate', 'broken-chain', 'missing-segment', 'altered-segment', 'unexplained-gap', 'unclosed-session', 'malformed', 'wrong-encryption-key', 'time-reversed'];
/**
 * What reordering authentic lines can lead to: never a bad signature or a malformed line (a manifest moved before the
 * encryption.installed entry, or that entry removed, leaves the manifest without its encryption certificate), and
 * an earlier time after a later one is time-reversed.
 */
const REORDER: FindingKind[] = ['broken-chain', 'untrusted-certificate', 'unclosed-session', 'unexplained-gap', 'wrong-encryption-key', 'time-reversed'];
const HEAD: FindingKind[] = ['malformed', 'bad-signature', 'untrusted-certificate', 'broken-chain'];

function expectOnly(r: VerifyReport, allowed: FindingKind[], required: FindingKind[] = []): void {
  expect(r.ok).toBe(false);
  expect(r.findings.length).toBeGreaterThan(0);
  for (const k of kinds(r)) expect(allowed).toContain(k);
  for (const k of required) expect(kinds(r)).toContain(k);
}

/** 1-based number of the line holding byte `offset` of the pristine ledger. */
const lineAt = (offset: number): number => ledgerBytes.subarray(0, offset).filter((b) => b === 0x0a).length + 1;

/** Offsets worth aiming at beside uniform ones: line ends, the last bytes of signatures (base64 padding). */
function interestingOffsets(buf: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0x0a) out.push(i, i - 1, i - 2, i - 3, i - 4);
  }
  out.push(0, buf.length - 1);
  return out.filter((o) => o >= 0 && o < buf.length);
}

describe('random tampering is always detected', () => {
  it('the pristine store verifies', async () => {
    const r = await verify(pristine.storeDir, pristine, true);
    expect(r.findings).toEqual([]);
  });

  it('a random byte of ledger.jsonl flipped: the chain breaks, and a finding points at the line or the one after it', async () => {
    const special = interestingOffsets(ledgerBytes);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.nat({ max: ledgerBytes.length - 1 }), fc.constantFrom(...special)),
        fc.integer({ min: 1, max: 255 }),
        async (offset, mask) => {
          const r = await tamperAndVerify((d) => {
            const p = join(d, 'ledger.jsonl');
            const b = readFileSync(p);
            b[offset] = b[offset]! ^ mask;
            writeFileSync(p, b);
          });
          expectOnly(r, ALL, ['broken-chain']);
          const n = lineAt(offset);
          const here = r.findings.some((f) => f.detail.startsWith(`line ${n}: `) || f.detail.startsWith(`line ${n + 1}: `));
          expect(here, `no finding for line ${n} or ${n + 1}: ${JSON.stringify(r.findings)}`).toBe(true);
        },
      ),
      { numRuns: RUNS * 2 },
    );
  });

  it('a random byte of a sealed segment flipped is an altered segment and nothing else', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: segFiles.length - 1 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.integer({ min: 1, max: 255 }), fc.boolean(), async (i, where, mask, withKey) => {
        const name = segFiles[i]!;
        const r = await tamperAndVerify((d) => {
          const p = join(d, 'segments', name);
          const b = readFileSync(p);
          const off = Math.floor(where * b.length);
          b[off] = b[off]! ^ mask;
          writeFileSync(p, b);
        }, withKey);
        expectOnly(r, ['altered-segment'], ['altered-segment']);
        expect(r.findings).toHaveLength(1);
        expect(r.findings[0]!.detail).toContain(name);
      }),
      { numRuns: RUNS },
    );
  });

  it('a random byte of head.json flipped is detected', async () => {
    const head = readFileSync(join(pristine.deviceDir, 'head.json'));
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.nat({ max: head.length - 1 }), fc.constantFrom(...interestingOffsets(head))), fc.integer({ min: 1, max: 255 }), async (offset, mask) => {
        const r = await tamperAndVerify((d) => {
          const p = join(d, 'head.json');
          const b = readFileSync(p);
          b[offset] = b[offset]! ^ mask;
          writeFileSync(p, b);
        });
        expectOnly(r, HEAD);
        for (const f of r.findings) expect(f.detail).toMatch(/head\.json|cut short/);
      }),
      { numRuns: RUNS },
    );
  });

  it('a random line deleted breaks the chain; the remaining lines are still authentic', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: lineCount - 1 }), async (i) => {
        const r = await tamperAndVerify((d) => writeLines(d, readLines(d).filter((_, j) => j !== i)));
        expectOnly(r, REORDER, ['broken-chain']);
      }),
      { numRuns: RUNS },
    );
  });

  it('two random lines swapped break the chain', async () => {
    const pair = fc.tuple(fc.nat({ max: lineCount - 1 }), fc.nat({ max: lineCount - 1 })).filter(([a, b]) => a !== b);
    await fc.assert(
      fc.asyncProperty(pair, async ([a, b]) => {
        const r = await tamperAndVerify((d) => {
          const lines = readLines(d);
          [lines[a], lines[b]] = [lines[b]!, lines[a]!];
          writeLines(d, lines);
        });
        expectOnly(r, REORDER, ['broken-chain']);
      }),
      { numRuns: RUNS },
    );
  });

  it('a random line duplicated anywhere breaks the chain', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: lineCount - 1 }), fc.nat({ max: lineCount }), async (i, at) => {
        const r = await tamperAndVerify((d) => {
          const lines = readLines(d);
          lines.splice(at, 0, lines[i]!);
          writeLines(d, lines);
        });
        expectOnly(r, ['broken-chain', 'untrusted-certificate', 'wrong-encryption-key'], ['broken-chain']);
        expect(r.findings.some((f) => /is a duplicate of an earlier line/.test(f.detail))).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('any file truncated at a random offset is detected', async () => {
    const files = ['ledger.jsonl', 'head.json', ...segFiles.map((f) => `segments/${f}`)];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...files),
        fc.oneof(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.constant(-1)),
        async (file, where) => {
          const size = readFileSync(join(pristine.deviceDir, file)).length;
          // -1: cut exactly the last byte (the final newline of a text file).
          const keep = where < 0 ? size - 1 : Math.floor(where * size);
          const r = await tamperAndVerify((d) => truncateSync(join(d, file), keep));
          if (file === 'ledger.jsonl') {
            expectOnly(r, ['broken-chain', 'malformed', 'unclosed-session', 'untrusted-certificate', 'unexplained-gap']);
            expect(kinds(r).some((k) => k === 'broken-chain' || k === 'malformed')).toBe(true);
          } else if (file === 'head.json') {
            expectOnly(r, ['malformed'], ['malformed']);
          } else {
            expectOnly(r, ['altered-segment'], ['altered-segment']);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('malformed input never crashes the verifier', () => {
  const pristineLines = (): string[] => readLines(pristine.deviceDir);

  it('any single-line string replacing a line is malformed at that line number', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: 9 }),
        fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.json()).filter((s) => !s.includes('\n')),
        async (i, text) => {
          const line = i % lineCount;
          fc.pre(text !== pristineLines()[line]);
          const r = await tamperAndVerify((d) => {
            const lines = readLines(d);
            lines[line] = text;
            writeLines(d, lines);
          });
          expect(r.ok).toBe(false);
          const mine = r.findings.filter((f) => f.kind === 'malformed' && f.detail.startsWith(`line ${line + 1}: `));
          expect(mine, JSON.stringify(r.findings)).toHaveLength(1);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('a line shaped like an entry, with members of random types, is malformed or a bad signature at that line', async () => {
    const anyValue = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.nat(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }));
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: 9 }),
        fc.record({ v: anyValue, device: anyValue, seq: anyValue, prev: anyValue, time: anyValue, type: anyValue, body: anyValue, sig: anyValue }),
        fc.uniqueArray(fc.constantFrom('v', 'device', 'seq', 'prev', 'time', 'type', 'body', 'sig'), { maxLength: 8 }),
        async (i, random, keep) => {
          const line = i % lineCount;
          // Keep some members as they were, so the line gets past more of the checks before one fails.
          const orig = JSON.parse(pristineLines()[line]!) as Record<string, unknown>;
          const mixed = Object.fromEntries(Object.keys(orig).map((k) => [k, (keep as string[]).includes(k) ? orig[k] : (random as Record<string, unknown>)[k]]));
          const text = JSON.stringify(mixed);
          fc.pre(text !== pristineLines()[line]);
          const r = await tamperAndVerify((d) => {
            const lines = readLines(d);
            lines[line] = text;
            writeLines(d, lines);
          });
          expect(r.ok).toBe(false);
          const mine = r.findings.filter((f) => (f.kind === 'malformed' || f.kind === 'bad-signature' || f.kind === 'untrusted-certificate') && f.detail.startsWith(`line ${line + 1}: `));
          expect(mine.length, JSON.stringify(r.findings)).toBeGreaterThan(0);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('arbitrary text, newlines included, as the whole ledger or head.json never makes verifyStore throw', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 400 }), fc.constantFrom('ledger.jsonl', 'head.json'), async (text, file) => {
        const r = await tamperAndVerify((d) => writeFileSync(join(d, file), text));
        expect(r.ok).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  it('the pristine store still verifies after all of the above', async () => {
    const r = await verify(pristine.storeDir, pristine, true);
    expect(r.findings).toEqual([]);
  });
});
