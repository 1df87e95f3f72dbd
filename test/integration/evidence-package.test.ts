/**
 * The evidence disc (证据光盘) end to end: a receiver store made by the receiver's own code from two gateways'
 * sessions, `recgw package build` (real xorriso) for one of them, the image extracted with `xorriso -osirrox on
 * -indev` into a fresh folder and checked there by the disc's own verify.sh with bash and openssl alone. Beside it,
 * the attacks: a byte changed in media, entries, proofs, or the unsigned files; two builds compared byte for byte;
 * the approval hook refusing before anything is decrypted; the command line refused without the desk's approval of
 * an export, and the act registered; temp folders searched for plaintext.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { buildStore, ensureBuilt, flipByte, makeSamples, type BuiltStore, type Samples } from '../helpers/store-fixture.js';
import { receiveDevice } from '../helpers/receiver-store.js';
import { manifests } from '../helpers/evidence.js';
import { buildDevice } from '../helpers/report-store.js';
import { caPaths, initCa } from '../../src/pki/ca.js';
import { closeSealWorker } from '../../src/evidence/seal-worker.js';
import { FolderStore } from '../../src/store/folder-store.js';
import { buildPackage, type ExtractionRequest, type PackageOptions } from '../../src/package/build.js';
import { loadPrivateKey } from '../../src/pki/keys.js';
import { localClock, localTime } from '../../src/util/local-time.js';
import { DESK_PASSWORD, exportApproval } from '../helpers/desk.js';
import { openIndexDb } from '../../src/index/database.js';
import { loadDeskConfig } from '../../src/desk/config.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'recgw.js');
const AT = '2026-12-07T09:30:00Z';
const EXTRACTOR = '王五（证据保管员）';
const REASON = '（2026）第001号案件移送法院，提取现场检查录像作为证据';

let ca: ReturnType<typeof makeCa>;
let samples: Samples;
let one: BuiltStore;
let two: BuiltStore;
let store: string;
/** A desk whose index holds the store, and an evidence officer's export approval of room-1's session. */
let approval: { configFile: string; request: string; as: string };

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

interface Built {
  code: number | null;
  out: string;
  err: string;
  outDir: string;
  tmpDir: string;
}

/**
 * `recgw package build` in a process of its own, its TMPDIR a fresh folder the test looks into afterwards, under the
 * officer's approval (the password on standard input) unless `args` name another.
 */
function build(args: string[] = [], password = DESK_PASSWORD): Built {
  const outDir = tmp('recgw-pkg-out-');
  const tmpDir = tmp('recgw-pkg-tmpdir-');
  const r = spawnSync(
    process.execPath,
    [BIN, 'package', 'build', '--store', store, '--session', one.session.sessionId, '--extractor', EXTRACTOR, '--reason', REASON,
      '--agency-key', ca.paths.agencyKey, '--ca', ca.paths.caCert, '--out', outDir, '--at', AT,
      '--desk-config', approval.configFile, '--approval', approval.request, '--as', approval.as, ...args],
    { encoding: 'utf8', env: { ...process.env, TMPDIR: tmpDir }, timeout: 120_000, input: password },
  );
  return { code: r.status, out: r.stdout, err: r.stderr, outDir, tmpDir };
}

function extract(iso: string): string {
  const dir = join(tmp('recgw-pkg-disc-'), 'disc');
  mkdirSync(dir);
  const r = spawnSync('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`xorriso -extract failed: ${r.stderr}`);
  return dir;
}

/** The disc's own verifier, run with bash from the disc folder, with PATH holding only the system's tools. */
function verifyDisc(dir: string, published?: string): { code: number | null; out: string; err: string } {
  const r = spawnSync('bash', ['verify.sh', '.', ...(published ? [published] : [])], {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin', TMPDIR: tmp('recgw-pkg-verify-tmp-') },
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A copy of an extracted disc to spoil. */
function copyDisc(dir: string): string {
  const d = join(tmp('recgw-pkg-bad-'), 'disc');
  cpSync(dir, d, { recursive: true });
  return d;
}

/** SHA256SUMS made true again after a change: what a forger with a text editor does. */
function resum(dir: string): void {
  const lines = readFileSync(join(dir, 'SHA256SUMS'), 'utf8').trimEnd().split('\n');
  writeFileSync(join(dir, 'SHA256SUMS'), lines.map((l) => { const f = l.slice(66); return `${sha(readFileSync(join(dir, f)))}  ${f}\n`; }).join(''));
}

/** Every file under a folder with its size and modification time. */
function listTree(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => {
      const st = statSync(join(d.parentPath, d.name));
      return `${join(d.parentPath, d.name)} ${st.size} ${st.mtimeMs}`;
    })
    .sort();
}

let first: Built;
let disc: string;
let sumsHash: string;
let isoHash: string;

beforeAll(async () => {
  ensureBuilt();
  ca = makeCa();
  samples = await makeSamples();
  one = await buildStore({ caDir: ca.dir, samples, deviceId: 'room-1' });
  two = await buildStore({ caDir: ca.dir, samples, deviceId: 'room-2', interruption: { beforeIndex: 1, startMs: 1000, endMs: 1500, reason: 'site-change' } });
  store = tmp('recgw-pkg-store-');
  await receiveDevice(one.deviceDir, store, ca.dir);
  await receiveDevice(two.deviceDir, store, ca.dir);
  approval = await exportApproval(ca.dir, store, [`room-1/${one.session.sessionId}`]);
  first = build();
  if (first.code !== 0) throw new Error(`package build failed: ${first.err}`);
  const lines = first.out.trimEnd().split('\n');
  isoHash = lines[lines.length - 1]!;
  sumsHash = /^SHA256SUMS ([0-9a-f]{64})$/m.exec(first.out)![1]!;
  disc = extract(join(first.outDir, 'evidence-A.iso'));
}, 300_000);
afterAll(async () => {
  await closeSealWorker();
  cleanupTmp();
});

describe('recgw package build', () => {
  it('writes two images with the one hash it prints, and nothing else in --out', () => {
    expect(isoHash).toMatch(/^[0-9a-f]{64}$/);
    expect(readdirSync(first.outDir).sort()).toEqual(['evidence-A.iso', 'evidence-B.iso']);
    expect(sha(readFileSync(join(first.outDir, 'evidence-A.iso')))).toBe(isoHash);
    expect(sha(readFileSync(join(first.outDir, 'evidence-B.iso')))).toBe(isoHash);
    // The steps of a long build on standard error.
    expect(first.err).toMatch(/^chose 1 session\(s\) of 1 device\(s\): \d+ segment\(s\), [\d.]+ MB to decrypt\ndecrypted \d+ segment\(s\); verifying the chosen devices in the store for the disc's report\nwriting the two images \(双刻\) of \d+ files and checking that they are identical\n$/);
  });

  it('is verified by the disc alone, extracted into a fresh folder: bash, openssl and verify.sh', () => {
    const r = verifyDisc(disc, sumsHash);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('ALL CHECKS PASSED');
    expect(r.out).toMatch(/ok {3}\d+ ledger entries: each signed/);
  });

  it('holds the chosen session decrypted, byte for byte what the cameras recorded, and nothing of the other device', () => {
    const ms = manifests(one.deviceDir);
    const media = readdirSync(join(disc, 'media', 'room-1')).sort();
    expect(media).toEqual(ms.map((m) => `${m.segment}.ts`).sort());
    for (const m of ms) {
      const plain = samples[m.source.id as 'cam1' | 'mic1'][m.seq]!.path;
      expect(readFileSync(join(disc, 'media', 'room-1', `${m.segment}.ts`)).equals(readFileSync(plain))).toBe(true);
    }
    expect(existsSync(join(disc, 'media', 'room-2'))).toBe(false);
    expect(existsSync(join(disc, 'entries', 'room-2'))).toBe(false);
    // The certificate entry the device signed under is there, with its proof, beside the session's own entries.
    expect(readFileSync(join(disc, 'entries', 'room-1', '0000000000.line'), 'utf8')).toContain('"type":"ledger.opened"');
    expect(readFileSync(join(disc, 'report', 'verify.txt'), 'utf8')).toContain('room-1');
  });

  it('names on its description page the matter, time, place, method, officers, extractor, extraction time and every file\'s SHA-256', () => {
    const html = readFileSync(join(disc, 'description.html'), 'utf8');
    const text = html.replace(/<[^>]+>/g, ' ');
    for (const label of ['执法事项', '执法时间', '执法地点', '执法人员', '记录方式', '提取人', '提取时间', '提取事由', '提取方法']) expect(text).toContain(label);
    expect(text).toContain('现场检查');
    expect(text).toContain(one.session.caseRef);
    expect(text).toContain('interview room 1');
    expect(text).toContain('张三（执法证号 13010001）');
    expect(text).toContain('李四（执法证号 13010002）');
    expect(text).toContain(localTime(one.t0, 'Asia/Shanghai'));
    expect(text).toContain(EXTRACTOR);
    expect(text).toContain(localTime(AT, 'Asia/Shanghai'));
    expect(text).toContain(REASON);
    expect(text).toMatch(/中断情况\s+无/);
    for (const m of manifests(one.deviceDir)) {
      expect(text).toMatch(new RegExp(`media/room-1/${m.segment}\\.ts\\s+${m.source.id}\\s+${localClock(m.start)} 至 ${localClock(m.end)}`));
    }
    const sums = readFileSync(join(disc, 'SHA256SUMS'), 'utf8').trimEnd().split('\n');
    const others = sums.filter((l) => !l.endsWith('  description.html'));
    expect(others.length).toBeGreaterThan(10);
    for (const l of others) {
      const [hash, path] = [l.slice(0, 64), l.slice(66)];
      expect(text, path).toMatch(new RegExp(`${path.replace(/[.]/g, '\\.')}\\s+\\d+\\s+${hash}`));
    }
  });

  it('gives byte-identical images when built again from the same input, staged in another folder', () => {
    const again = build();
    expect(again.code).toBe(0);
    expect(sha(readFileSync(join(again.outDir, 'evidence-A.iso')))).toBe(isoHash);
  }, 120_000);

  it('refuses unclear input with a message naming the option, before reading the store', () => {
    const noZone = build(['--at', '2026-12-07 09:30']);
    expect(noZone.code).toBe(2);
    expect(noZone.err).toMatch(/--at "2026-12-07 09:30" is not a time with its zone/);
    const r = spawnSync(process.execPath, [BIN, 'package', 'build', '--store', store, '--session', 'x', '--extractor', 'a', '--ca', ca.paths.caCert, '--out', tmp()], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--reason is required/);
    const unknown = build(['--session', 'S-nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/no device ledger in .* opens session S-nope/);
    expect(readdirSync(unknown.outDir)).toEqual([]);
  });

  it('leaves nothing in the temp folder it was given, and no staging in --out', () => {
    expect(readdirSync(first.tmpDir)).toEqual([]);
    expect(existsSync(join(first.outDir, '.staging'))).toBe(false);
  });

  it('is an export under the desk: refused, and registered, for a session the approval does not cover or a wrong password; decrypts nothing then', async () => {
    const other = build(['--session', two.session.sessionId]);
    expect(other.code).toBe(1);
    expect(other.err).toMatch(/[\u4e00-\u9fff]/);
    expect(readdirSync(other.outDir)).toEqual([]);
    expect(readdirSync(other.tmpDir)).toEqual([]);
    const wrong = build([], 'not the password');
    expect(wrong.code).not.toBe(0);
    expect(wrong.err).toMatch(/--as officer1: no such desk account, a wrong password/);
    expect(readdirSync(wrong.outDir)).toEqual([]);
    const db = await openIndexDb(loadDeskConfig(approval.configFile).database);
    try {
      const rows = await db.query<{ action: string; name: string; detail: string }>(`SELECT action, name, detail FROM desk_audit WHERE action IN ('view-act', 'view-denied') ORDER BY seq`);
      const acts = rows.map((r) => ({ action: r.action, name: r.name, ...(JSON.parse(r.detail) as { sessions: string[]; purpose: string; extraction?: string; request?: string }) }));
      // The first build's extraction, registered under the approval with the reason; with the other device's session
      // besides (build() names room-1's always), refused.
      expect(acts.find((a) => a.action === 'view-act')).toMatchObject({ name: 'officer1', sessions: [`room-1/${one.session.sessionId}`], purpose: REASON, extraction: 'evidence', request: approval.request });
      expect(acts.find((a) => a.action === 'view-denied')).toMatchObject({ name: 'officer1', sessions: [`room-1/${one.session.sessionId}`, `room-2/${two.session.sessionId}`], purpose: REASON });
    } finally {
      await db.close();
    }
  });
});

describe('an altered disc', () => {
  const media = (d: string): string => {
    const dir = join(d, 'media', 'room-1');
    return join(dir, readdirSync(dir).sort()[0]!);
  };

  it('a byte changed in a media file is caught', () => {
    const d = copyDisc(disc);
    flipByte(media(d), 500);
    const r = verifyDisc(d);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^FAIL media\/room-1\/.*\.ts does not have the SHA-256 SHA256SUMS lists/);
  });

  it('a byte changed in a media file is caught by its signed manifest even when SHA256SUMS is rewritten to match', () => {
    const d = copyDisc(disc);
    flipByte(media(d), 500);
    resum(d);
    const r = verifyDisc(d);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/it is not the recorded content/);
  });

  it('an entry rewritten (its manifest\'s hash made to match altered media) is caught by the log proof', () => {
    const d = copyDisc(disc);
    const f = media(d);
    flipByte(f, 500);
    const name = f.split('/').pop()!.replace(/\.ts$/, '');
    const dir = join(d, 'entries', 'room-1');
    const line = readdirSync(dir).filter((n) => n.endsWith('.line')).find((n) => readFileSync(join(dir, n), 'utf8').includes(`"segment":"${name}"`))!;
    const text = readFileSync(join(dir, line), 'utf8');
    writeFileSync(join(dir, line), text.replace(/"plain":\{"sha256":"[0-9a-f]{64}"/, `"plain":{"sha256":"${sha(readFileSync(f))}"`));
    resum(d);
    const r = verifyDisc(d);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/\.leaf is not the log leaf of entry \d+ of room-1/);
  });

  it('a proof hash changed is caught', () => {
    const d = copyDisc(disc);
    const dir = join(d, 'entries', 'room-1');
    const p = join(dir, readdirSync(dir).filter((n) => n.endsWith('.proof')).sort()[3]!);
    const lines = readFileSync(p, 'utf8').split('\n');
    const b = Buffer.from(lines[2]!, 'base64');
    b[0] = b[0]! ^ 1;
    lines[2] = b.toString('base64');
    writeFileSync(p, lines.join('\n'));
    resum(d);
    const r = verifyDisc(d);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/FAIL the inclusion proof does not lead to the checkpoint's root\nFAIL entries\/room-1\/\d+\.proof does not put entry \d+ of room-1 in the agency log as it is here/);
  });

  it('a media file removed, or a file slipped in, is caught', () => {
    const d = copyDisc(disc);
    writeFileSync(join(d, 'media', 'room-1', 'extra.ts'), 'not recorded');
    expect(verifyDisc(d).err).toMatch(/^FAIL media\/room-1\/extra\.ts is on the disc but not in SHA256SUMS/);
    resum(d); // a forger adds it to the list too: still no manifest describes it
    writeFileSync(join(d, 'SHA256SUMS'), readFileSync(join(d, 'SHA256SUMS'), 'utf8') + `${sha('not recorded')}  media/room-1/extra.ts\n`);
    expect(verifyDisc(d).err).toMatch(/no segment\.sealed entry on the disc describes segment extra/);
  });

  it('the unsigned description page changed, with SHA256SUMS rewritten, is caught against the published hash', () => {
    const d = copyDisc(disc);
    const p = join(d, 'description.html');
    writeFileSync(p, readFileSync(p, 'utf8').replace(EXTRACTOR, '赵六'));
    resum(d);
    expect(verifyDisc(d).code).toBe(0); // without the published hash nothing on the disc can tell
    const r = verifyDisc(d, sumsHash);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/SHA256SUMS has SHA-256 [0-9a-f]{64}, not the [0-9a-f]{64} published with the disc/);
  });
});

describe('the builder', () => {
  const options = (outDir: string, authorise: PackageOptions['authorise']): PackageOptions => ({
    store: new FolderStore(store),
    selection: { sessions: [one.session.sessionId] },
    agencyKeys: [loadPrivateKey(ca.paths.agencyKey, 'agency key', '')],
    caPems: [readFileSync(ca.paths.caCert, 'utf8')],
    extractor: EXTRACTOR,
    reason: REASON,
    at: Date.parse(AT),
    zone: 'Asia/Shanghai',
    outDir,
    name: 'evidence',
    authorise,
  });

  it('asks its authorise hook with the chosen sessions and segments first, and decrypts nothing when it refuses', async () => {
    const outDir = tmp('recgw-pkg-refused-');
    const asked: ExtractionRequest[] = [];
    await expect(
      buildPackage(
        options(outDir, async (r) => {
          asked.push(r);
          throw new Error('no approval for this extraction');
        }),
      ),
    ).rejects.toThrow('no approval for this extraction');
    expect(asked).toHaveLength(1);
    expect(asked[0]!.sessions).toEqual([`room-1/${one.session.sessionId}`]);
    expect(asked[0]!.segments.map((s) => s.segment).sort()).toEqual(manifests(one.deviceDir).map((m) => m.segment).sort());
    expect(asked[0]!).toMatchObject({ extractor: EXTRACTOR, reason: REASON, at: Date.parse(AT) });
    expect(readdirSync(outDir)).toEqual([]);
  });

  it('refuses a wrong agency key with a message naming the file, and leaves no plaintext or staging behind', async () => {
    const outDir = tmp('recgw-pkg-wrongkey-');
    const o = { ...options(outDir, async () => {}), agencyKeys: [generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey] };
    await expect(buildPackage(o)).rejects.toThrow(/room-1\/segments\/.*its data key is wrapped for agency key [0-9a-f]{64}, and no --agency-key given is that key/);
    expect(readdirSync(outDir)).toEqual([]);
  });

  it('clears what a build killed midway left in --out (staging with plaintext, a partial image) and writes the images whole', async () => {
    const outDir = tmp('recgw-pkg-crashed-');
    mkdirSync(join(outDir, '.staging', 'disc', 'media', 'room-1'), { recursive: true });
    writeFileSync(join(outDir, '.staging', 'disc', 'media', 'room-1', 'half.ts'), 'half of a decrypted segment');
    writeFileSync(join(outDir, '.staging', 'evidence.iso.partial'), 'half an image');
    writeFileSync(join(outDir, 'evidence-A.iso'), 'an image from a build that died before B');
    const before = listTree(store);
    const r = await buildPackage(options(outDir, async () => {}));
    expect(readdirSync(outDir).sort()).toEqual(['evidence-A.iso', 'evidence-B.iso']);
    expect(r.sha256).toBe(isoHash);
    expect(sha(readFileSync(r.images[0]))).toBe(isoHash);
    // The store is read, never written.
    expect(listTree(store)).toEqual(before);
  }, 120_000);

  it('still makes the disc of a store with findings, and says 未通过 on the page with the findings in report/', async () => {
    const copy = tmp('recgw-pkg-findings-');
    cpSync(store, copy, { recursive: true });
    const receipts = join(copy, 'room-1', 'receipts.jsonl');
    writeFileSync(receipts, readFileSync(receipts, 'utf8') + '{"kind":"entries","not":"a receipt"}\n');
    const r = await buildPackage({ ...options(tmp('recgw-pkg-findings-out-'), async () => {}), store: new FolderStore(copy) });
    expect(r.verified).toBe(false);
    const d = extract(r.images[0]);
    const text = readFileSync(join(d, 'description.html'), 'utf8').replace(/<[^>]+>/g, ' ');
    expect(text).toMatch(/未通过：发现 1 项问题/);
    expect(readFileSync(join(d, 'report', 'verify.txt'), 'utf8')).toMatch(/receipts\.jsonl line \d+ is not a genuine agency receipt/);
    expect(verifyDisc(d).code).toBe(0); // what is on the disc is still the agency's: the finding is about the store
  }, 120_000);

  it('names each interruption of the session, its times and reason, on the page', async () => {
    const r = await buildPackage({ ...options(tmp('recgw-pkg-interrupted-'), async () => {}), selection: { sessions: [two.session.sessionId] } });
    const text = readFileSync(join(extract(r.images[0]), 'description.html'), 'utf8').replace(/<[^>]+>/g, ' ');
    expect(text).toMatch(new RegExp(`中断情况\\s+${localClock(two.t0 + 1000)} 至 ${localClock(two.t0 + 1500)} 中断，原因：转换执法场所`));
  }, 120_000);

  it('makes a disc of a 国密 store that its shell verifier checks with SM2 and SM3, and catches a changed entry or media file', async () => {
    const dir = tmp('recgw-pkg-gm-');
    const gmCa = join(dir, 'ca');
    initCa({ out: gmCa, suite: 'gm' });
    const officers = [{ name: '张三', badge: '13010001' }];
    await buildDevice(gmCa, join(dir, 'gateway'), 'gm-room-1', [
      { id: 'S1', matter: 'site-inspection', officers, start: '2026-12-07T01:00:00.000Z', segments: [['cam1', 'camera', 0, 1], ['mic1', 'microphone', 0, 1]], close: { reason: 'stopped', at: 1 } },
    ]);
    const gmStore = join(dir, 'store');
    await receiveDevice(join(dir, 'gateway', 'gm-room-1'), gmStore, gmCa);
    const gmPaths = caPaths(gmCa);
    const asked: ExtractionRequest[] = [];
    const r = await buildPackage({
      ...options(tmp('recgw-pkg-gm-out-'), async (q: ExtractionRequest) => void asked.push(q)),
      store: new FolderStore(gmStore),
      caPems: [readFileSync(gmPaths.caCert, 'utf8')],
      agencyKeys: [loadPrivateKey(gmPaths.agencyKey, 'agency private key', 'the gm CA has one')],
      selection: { sessions: ['S1'] },
    });
    expect(r.verified).toBe(true);
    expect(asked.map((q) => q.sessions)).toEqual([['gm-room-1/S1']]);
    const d = extract(r.images[0]);
    const line = (n: string) => readFileSync(join(d, 'entries', 'gm-room-1', n), 'utf8');
    const lines = readdirSync(join(d, 'entries', 'gm-room-1')).filter((n) => n.endsWith('.line'));
    for (const n of lines) expect(line(n).startsWith('{"v":1,"suite":"gm",')).toBe(true);
    // Each media file is the plaintext whose SM3 its gm manifest names (checked here with openssl too).
    for (const m of manifests(join(gmStore, 'gm-room-1'))) {
      const sm3 = spawnSync('openssl', ['dgst', '-sm3', '-r', join(d, 'media', 'gm-room-1', `${m.segment}.ts`)], { encoding: 'utf8' }).stdout.split(' ')[0];
      expect(sm3).toBe((m.plain as { sm3?: string }).sm3);
    }
    const ok = verifyDisc(d);
    expect(ok.err).toBe('');
    expect(ok.out).toMatch(/ok {3}log\/checkpoint: SM2 signature \(SM3, ID 1234567812345678\) by the log's SM2 key too[\s\S]*ok {3}\d+ ledger entries: each signed[\s\S]*media files[\s\S]*ALL CHECKS PASSED/);
    expect(readFileSync(join(d, 'description.html'), 'utf8')).toContain('核对每个片段的明文 SM3 与网关签名清单一致');

    // The checkpoint's SM2 line removed, or spoilt, with SHA256SUMS rewritten: someone holding the log's Ed25519 key
    // alone could make such a checkpoint, and the disc's verifier refuses it.
    const cpLines = readFileSync(join(d, 'log', 'checkpoint'), 'utf8').split('\n');
    const sm2At = cpLines.findLastIndex((l) => l.startsWith('— '));
    const c1 = copyDisc(d);
    writeFileSync(join(c1, 'log', 'checkpoint'), cpLines.filter((_, i) => i !== sm2At).join('\n'));
    resum(c1);
    expect(verifyDisc(c1).err).toMatch(/^FAIL log\/checkpoint carries no SM2 signature of log \S+ \(key ID [0-9a-f]{8}\)$/m);
    const c2 = copyDisc(d);
    const flipped = (l: string): string => {
      const sig = Buffer.from(l.split(' ').at(-1)!, 'base64');
      sig[sig.length - 10]! ^= 0x55;
      return `${l.slice(0, l.lastIndexOf(' '))} ${sig.toString('base64')}`;
    };
    const spoilt = cpLines.map((l, i) => (i === sm2At ? flipped(l) : l));
    writeFileSync(join(c2, 'log', 'checkpoint'), spoilt.join('\n'));
    resum(c2);
    expect(verifyDisc(c2).err).toMatch(/^FAIL the SM2 signature \(key ID [0-9a-f]{8}\) on log\/checkpoint does not verify/m);
    // A gm disc without its SM2 certificate is refused, not read as an intl one.
    const c3 = copyDisc(d);
    rmSync(join(c3, 'certs', 'log-sm2-cert.pem'));
    const sums = join(c3, 'SHA256SUMS');
    writeFileSync(sums, readFileSync(sums, 'utf8').split('\n').filter((l) => !l.endsWith('  certs/log-sm2-cert.pem')).join('\n'));
    expect(verifyDisc(c3).err).toMatch(/is a gm CA's, but certs\/log-sm2-cert\.pem is not on the disc/);

    // A media file changed, SHA256SUMS rewritten to match: its manifest's SM3 catches it.
    const media = join(d, 'media', 'gm-room-1', readdirSync(join(d, 'media', 'gm-room-1'))[0]!);
    const m1 = copyDisc(d);
    flipByte(join(m1, media.slice(d.length + 1)), 10);
    resum(m1);
    expect(verifyDisc(m1).err).toMatch(/has SM3 [0-9a-f]{64}; its manifest .* says [0-9a-f]{64}: it is not the recorded content/);
    // An entry's session changed (and SHA256SUMS with it): the SM3 of the line is no longer the log's leaf.
    const e1 = copyDisc(d);
    const opened = lines.find((n) => line(n).includes('"type":"session.opened"'))!;
    writeFileSync(join(e1, 'entries', 'gm-room-1', opened), line(opened).replace('"S1"', '"S2"'));
    resum(e1);
    expect(verifyDisc(e1).err).toMatch(/is not the log leaf of entry \d+ of gm-room-1 \(gm hash [0-9a-f]{64}\)/);
    // The leaf rewritten to match too (a forger who also recomputes the SM3): the SM2 signature or the proof fails.
    const s1 = copyDisc(e1);
    const leafFile = join(s1, 'entries', 'gm-room-1', opened.replace(/\.line$/, '.leaf'));
    const sm3Of = spawnSync('openssl', ['dgst', '-sm3', '-r', join(s1, 'entries', 'gm-room-1', opened)], { encoding: 'utf8' }).stdout.split(' ')[0]!;
    writeFileSync(leafFile, readFileSync(leafFile, 'utf8').replace(/"hash":"[0-9a-f]{64}"/, `"hash":"${sm3Of}"`));
    resum(s1);
    expect(verifyDisc(s1).err).toMatch(/does not put entry \d+ of gm-room-1 in the agency log/);
  }, 120_000);

  it('takes only the segments that overlap a time range', async () => {
    const outDir = tmp('recgw-pkg-range-');
    const cam = manifests(one.deviceDir).filter((m) => m.source.id === 'cam1');
    const mid = cam[1]!;
    const r = await buildPackage({ ...options(outDir, async () => {}), selection: { sessions: [], from: Date.parse(mid.start) + 10, to: Date.parse(mid.end) - 10 } });
    const d = extract(r.images[0]);
    const names = readdirSync(join(d, 'media', 'room-1'));
    const want = manifests(one.deviceDir).filter((m) => Date.parse(m.start) <= Date.parse(mid.end) - 10 && Date.parse(m.end) >= Date.parse(mid.start) + 10);
    expect(names.sort()).toEqual(want.map((m) => `${m.segment}.ts`).sort());
    expect(names.length).toBeLessThan(manifests(one.deviceDir).length);
    expect(verifyDisc(d).code).toBe(0);
  }, 120_000);

});
