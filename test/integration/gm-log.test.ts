/**
 * A gm agency log's SM2 checkpoint line (evidence-format.md §17.9) through `recgw demo --suite gm`: the store's
 * checkpoint, the receipts' checkpoints and the one the gateway keeps carry both lines; openssl (the recipe)
 * checks the SM2 one; the verifier names it. Attacks on copies of the store: the SM2 line stripped, the text
 * changed and re-signed with the Ed25519 key only, the line signed by the device's SM2 key (with and without its
 * certificate put in place of the log's), the certificate removed; receipts from before the line are accepted,
 * one whose line fails is not. The receiver refuses to start without the SM2 key or with one that does not fit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { RECGW_BIN, runGmDemo, type DemoRun } from '../helpers/gm-demo.js';
import { embedded, recipe, sh } from '../helpers/doc-recipes.js';
import { receiptSigner } from '../helpers/report-store.js';
import { verifyStore } from '../../src/verify/verifier.js';
import type { VerifyReport } from '../../src/verify/findings.js';
import { parseNote, formatNote, type Note } from '../../src/tlog/note.js';
import { checkpointText } from '../../src/tlog/checkpoint.js';
import { NoteSigner } from '../../src/tlog/note.js';
import { Sm2NoteSigner, checkSm2Signature } from '../../src/tlog/sm2-note.js';
import { parseProof, formatProof } from '../../src/tlog/proof-text.js';
import { makeReceipt, type Receipt } from '../../src/evidence/receipt.js';
import { canonicalJson } from '../../src/util/canonical.js';
import { identityPaths } from '../../src/pki/identity.js';
import { loadReceiverConfig, type ReceiverConfig } from '../../src/receiver/config.js';
import { openAgencyLog } from '../../src/receiver/log-key.js';
import { openReceiverDb } from '../../src/receiver/store-db.js';
import { SqliteReceiverSql } from '../../src/receiver/sqlite-receiver-sql.js';
import { kvGet, openStateDb } from '../../src/state/db.js';
import { splitPemBundle } from '../../src/pki/certs.js';

const BIN = RECGW_BIN;
const DEVICE = 'demo-room-1';
const CHECK = recipe('check-gm-checkpoint.sh');

let out: string;
let demo: DemoRun;

beforeAll(() => {
  demo = runGmDemo('recgw-gm-log-', 2);
  out = demo.out;
}, 160_000);
afterAll(cleanupTmp);

const caDir = (): string => join(out, 'ca');
const caPem = (): string => readFileSync(join(caDir(), 'ca.pem'), 'utf8');
const store = (): string => join(out, 'receiver');
const logFile = (s: string, name: string): string => join(s, 'log', name);
const note = (text: string): Note => {
  const n = parseNote(text);
  if ('why' in n) throw new Error(n.why);
  return n;
};
const origin = (): string => readFileSync(logFile(store(), 'checkpoint'), 'utf8').split('\n')[0]!;
const sm2PublicKey = () => createPrivateKey(readFileSync(join(caDir(), 'log-sm2-key.pem'), 'utf8'));
const edSigner = (): NoteSigner => NoteSigner.fromPem(origin(), readFileSync(join(caDir(), 'log-key.pem'), 'utf8'));

/** A copy of the demo's store to attack. */
function copyStore(): string {
  const s = join(tmp('recgw-gm-log-attack-'), 'receiver');
  cpSync(store(), s, { recursive: true });
  return s;
}

const verify = (s: string): Promise<VerifyReport> => verifyStore(s, { caPems: [caPem()], jobs: 1 });
const sm2Findings = (r: VerifyReport): string[] => r.findings.filter((f) => f.kind === 'bad-log-sm2').map((f) => `${f.deviceId}: ${f.detail}`);

describe('recgw demo --suite gm: the log checkpoints carry an SM2 line', () => {
  it('runs, and the store publishes the SM2 certificate beside the log certificate', () => {
    expect(demo.status, demo.stdout + demo.stderr).toBe(0);
    expect(demo.stdout).toMatch(/its checkpoint SM2-signed by CN=recgw-log\/[0-9a-f]{16}, OU=recgw-log \(serial [0-9A-F]+, SHA-256 [0-9A-F:]+\) \(key ID [0-9a-f]{8}\)/);
    expect(readFileSync(logFile(store(), 'log-sm2-cert.pem'), 'utf8')).toBe(readFileSync(join(caDir(), 'log-sm2.pem'), 'utf8'));
  });

  it('log/checkpoint has the Ed25519 line and the SM2 line, both valid', () => {
    const n = note(readFileSync(logFile(store(), 'checkpoint'), 'utf8'));
    expect(n.sigs.map((s) => s.name)).toEqual([origin(), origin()]);
    expect(n.sigs[0]!.keyId).toBe(edSigner().keyId);
    expect(checkSm2Signature(n, origin(), sm2PublicKey()).state).toBe('valid');
  });

  it('openssl checks the SM2 line by the recipe; the document shows the recipe verbatim', () => {
    const r = sh(CHECK, [logFile(store(), 'checkpoint'), logFile(store(), 'log-sm2-cert.pem'), join(caDir(), 'ca.pem')]);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/ok .*SM2 signature by the log's SM2 key \(key ID [0-9a-f]{8}, SM3, ID 1234567812345678\)/);
    expect(embedded('check-gm-checkpoint.sh')).toBe(readFileSync(CHECK, 'utf8'));
    expect(sh(CHECK, [logFile(store(), 'checkpoint'), logFile(store(), 'log-sm2-cert.pem')]).code).toBe(2);
  });

  it("every receipt's checkpoint carries a valid SM2 line, which openssl checks too", () => {
    const receipts = readFileSync(join(store(), DEVICE, 'receipts.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Receipt);
    expect(receipts.length).toBeGreaterThan(0);
    for (const r of receipts) {
      const p = parseProof(r.log!);
      if ('why' in p) throw new Error(p.why);
      expect(checkSm2Signature(note(p.checkpoint), origin(), sm2PublicKey()).state).toBe('valid');
    }
    const last = parseProof(receipts[receipts.length - 1]!.log!) as { checkpoint: string };
    const file = join(tmp('recgw-gm-log-cp-'), 'cp');
    writeFileSync(file, last.checkpoint);
    expect(sh(CHECK, [file, logFile(store(), 'log-sm2-cert.pem'), join(caDir(), 'ca.pem')]).code).toBe(0);
  });

  it('the gateway accepted the checkpoints (its log watch keeps the newest, with both lines, and the SM2 certificate)', () => {
    const db = openStateDb(join(out, 'gateway', 'state', 'state.db'));
    try {
      const seen = JSON.parse(kvGet(db, 'uplink.log.checkpoint')!) as { size: number; note: string };
      expect(seen.size).toBeGreaterThan(0);
      expect(checkSm2Signature(note(seen.note), origin(), sm2PublicKey()).state).toBe('valid');
      // The receiver sent the log's SM2 certificate with its state: the gateway checks the SM2 line from then on.
      expect(kvGet(db, 'uplink.log.sm2cert')).toBe(readFileSync(logFile(store(), 'log-sm2-cert.pem'), 'utf8'));
      expect(kvGet(db, 'uplink.log.alarms') ?? '[]').toBe('[]');
    } finally {
      db.close();
    }
  });

  it('the verifier reports the SM2 signature it checked', async () => {
    const r = await verify(store());
    expect(r.ok, JSON.stringify(r.findings)).toBe(true);
    expect(r.log?.sm2).toEqual({ keyId: expect.stringMatching(/^[0-9a-f]{8}$/), certificate: expect.stringContaining(`CN=${origin()}`) });
    const j = spawnSync(process.execPath, [BIN, 'verify', store(), '--ca', join(caDir(), 'ca.pem'), '--json'], { encoding: 'utf8', timeout: 60_000 });
    expect(j.status, j.stderr).toBe(0);
    expect((JSON.parse(j.stdout) as VerifyReport).log?.sm2?.keyId).toBe(r.log?.sm2?.keyId);
  });
});

describe('attacks on the SM2 line', () => {
  it('the SM2 line stripped from log/checkpoint: bad-log-sm2, and the recipe fails', async () => {
    const s = copyStore();
    const n = note(readFileSync(logFile(s, 'checkpoint'), 'utf8'));
    writeFileSync(logFile(s, 'checkpoint'), formatNote({ text: n.text, sigs: [n.sigs[0]!] }));
    const r = await verify(s);
    expect(r.findings.filter((f) => f.kind === 'bad-log')).toEqual([]);
    expect(sm2Findings(r).join('\n')).toMatch(/^\(agency log\): log\/checkpoint carries no SM2 signature by the log's SM2 certificate/);
    expect(r.log?.sm2).toBeUndefined();
    const c = sh(CHECK, [logFile(s, 'checkpoint'), logFile(s, 'log-sm2-cert.pem'), join(caDir(), 'ca.pem')]);
    expect(c.code).toBe(1);
    expect(c.err).toMatch(/carries no SM2 signature/);
  });

  it('the text changed and re-signed by whoever holds the Ed25519 key, the SM2 line kept: the Ed25519 line passes, the SM2 one fails', async () => {
    const s = copyStore();
    const n = note(readFileSync(logFile(s, 'checkpoint'), 'utf8'));
    const lines = n.text.split('\n');
    const text = checkpointText({ origin: lines[0]!, size: Number(lines[1]), root: Buffer.alloc(32, 0xab) });
    writeFileSync(logFile(s, 'checkpoint'), formatNote({ text, sigs: [edSigner().sign(text), n.sigs[1]!] }));
    const r = await verify(s);
    // The Ed25519 signature is genuine: the checkpoint opens, and only its root disagrees with the leaves.
    expect(r.findings.map((f) => f.detail).join('\n')).not.toMatch(/is not a valid checkpoint/);
    expect(sm2Findings(r).join('\n')).toMatch(/log\/checkpoint: its SM2 signature \(key ID [0-9a-f]{8}\) does not verify with the log's SM2 certificate/);
    const c = sh(CHECK, [logFile(s, 'checkpoint'), logFile(s, 'log-sm2-cert.pem'), join(caDir(), 'ca.pem')]);
    expect(c.code).toBe(1);
    expect(c.err).toMatch(/does not verify/);
  });

  it("an SM2 line signed by the device's SM2 key: not the log's, so the log's line is missing", async () => {
    const s = copyStore();
    const ids = identityPaths(join(out, 'gateway', 'state'));
    const device = createPrivateKey(readFileSync(ids.key, 'utf8'));
    const n = note(readFileSync(logFile(s, 'checkpoint'), 'utf8'));
    writeFileSync(logFile(s, 'checkpoint'), formatNote({ text: n.text, sigs: [n.sigs[0]!, new Sm2NoteSigner(origin(), device).sign(n.text)] }));
    expect(sm2Findings(await verify(s)).join('\n')).toMatch(/carries no SM2 signature by the log's SM2 certificate/);
    // And with the device's certificate put in place of the log's SM2 certificate: not a log certificate.
    writeFileSync(logFile(s, 'log-sm2-cert.pem'), splitPemBundle(readFileSync(ids.cert, 'utf8'))[0]!);
    const r = await verify(s);
    expect(sm2Findings(r).join('\n')).toMatch(/log\/log-sm2-cert\.pem is not a log certificate from the agency CA/);
    expect(r.log?.sm2).toBeUndefined();
    const c = sh(CHECK, [logFile(s, 'checkpoint'), logFile(s, 'log-sm2-cert.pem'), join(caDir(), 'ca.pem')]);
    expect(c.code).toBe(1);
    expect(c.err).toMatch(/not for role recgw-log/);
  });

  it('a checkpoint given to anchor the check (--checkpoint): its SM2 line is checked; one from before the line anchors too', async () => {
    const cp = readFileSync(logFile(store(), 'checkpoint'), 'utf8');
    const anchored = (trustedCheckpoint: string) => verifyStore(store(), { caPems: [caPem()], jobs: 1, trustedCheckpoint });
    const good = await anchored(cp);
    expect(good.ok, JSON.stringify(good.findings)).toBe(true);
    expect(good.log?.anchoredTo?.size).toBe(Number(cp.split('\n')[1]));
    const n = note(cp);
    const old = await anchored(formatNote({ text: n.text, sigs: [n.sigs[0]!] }));
    expect(old.ok, JSON.stringify(old.findings)).toBe(true);
    const spoilt = await anchored(formatNote({ text: n.text, sigs: [n.sigs[0]!, { ...n.sigs[1]!, sig: Buffer.from(n.sigs[1]!.sig).fill(7, 10, 20) }] }));
    expect(sm2Findings(spoilt).join('\n')).toMatch(/^\(agency log\): the checkpoint given to check the store against: its SM2 signature \(key ID [0-9a-f]{8}\) does not verify/);
  });

  it('the SM2 certificate removed from the store: bad-log-sm2', async () => {
    const s = copyStore();
    rmSync(logFile(s, 'log-sm2-cert.pem'));
    expect(sm2Findings(await verify(s)).join('\n')).toMatch(/log\/log-sm2-cert\.pem is missing/);
  });

  it('receipts from before the SM2 line are accepted; a receipt whose SM2 line fails is bad-log-sm2', async () => {
    const resign = (s: string, edit: (n: Note) => Note): void => {
      const file = join(s, DEVICE, 'receipts.jsonl');
      const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => {
        const { sig: _s, cert: _c, v: _v, type: _t, suite: _u, ...fields } = JSON.parse(l) as Receipt & Record<string, unknown>;
        const p = parseProof(fields.log!);
        if ('why' in p) throw new Error(p.why);
        const log = formatProof({ ...p, checkpoint: formatNote(edit(note(p.checkpoint))) });
        // Re-signed with the agency's receipt key: what the receiver wrote before checkpoints had an SM2 line.
        return canonicalJson(makeReceipt({ ...fields, log } as Parameters<typeof makeReceipt>[0], receiptSigner(caDir())));
      });
      writeFileSync(file, lines.join('\n') + '\n');
    };
    const old = copyStore();
    resign(old, (n) => ({ text: n.text, sigs: [n.sigs[0]!] }));
    const r = await verify(old);
    expect(r.ok, JSON.stringify(r.findings)).toBe(true);
    const bad = copyStore();
    resign(bad, (n) => ({ text: n.text, sigs: [n.sigs[0]!, { ...n.sigs[1]!, sig: Buffer.from(n.sigs[1]!.sig).fill(7, 10, 20) }] }));
    const r2 = await verify(bad);
    expect(r2.findings.filter((f) => f.kind === 'bad-receipt')).toEqual([]);
    expect(r2.findings.filter((f) => f.kind === 'bad-log-sm2').map((f) => f.detail).join('\n')).toMatch(/receipts\.jsonl line 1: the checkpoint in its log proof: its SM2 signature .* does not verify/);
  });
});

describe('the receiver under a gm CA', () => {
  const cfg = (): ReceiverConfig => loadReceiverConfig(join(out, 'receiver-config', 'receiver-demo.json'));
  const open = (c: ReceiverConfig) => {
    const sql = new SqliteReceiverSql(openReceiverDb(tmp('recgw-gm-log-rx-')));
    return openAgencyLog(c, [caPem()], sql, new Date());
  };

  it('signs its checkpoints with both keys and hands out the SM2 certificate to publish', async () => {
    const o = open(cfg());
    expect(o.sm2CertPem).toBe(readFileSync(join(caDir(), 'log-sm2.pem'), 'utf8'));
    const head = await o.log.head();
    expect(checkSm2Signature(note(head.checkpoint), o.log.origin, sm2PublicKey()).state).toBe('valid');
  });

  it('refuses to start without the SM2 key, naming the keys and recgw ca init', () => {
    const { logSm2Key: _k, logSm2Cert: _c, ...agency } = cfg().agency;
    expect(() => open({ ...cfg(), agency })).toThrow(/agency\.logSm2Key and agency\.logSm2Cert .*`recgw ca init --suite gm`/);
  });

  it("refuses an SM2 key that is not its certificate's, and a certificate that is not a log certificate", () => {
    const other = join(tmp('recgw-gm-log-key-'), 'k.pem');
    writeFileSync(other, readFileSync(join(caDir(), 'receipt-key.pem')), { mode: 0o600 });
    expect(() => open({ ...cfg(), agency: { ...cfg().agency, logSm2Key: other } })).toThrow(/does not belong to the SM2 key/);
    expect(() => open({ ...cfg(), agency: { ...cfg().agency, logSm2Cert: join(caDir(), 'receipt.pem'), logSm2Key: join(caDir(), 'receipt-key.pem') } })).toThrow(/is not usable: not a log certificate/);
  });
});
