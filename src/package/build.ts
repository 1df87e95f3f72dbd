/**
 * The evidence package (证据光盘, docs/evidence-package.md): chosen sessions of an agency store, decrypted, with their
 * signed entries, the agency log's proofs, the verification report, the 文字说明 and an offline verifier, written
 * as two ISO images that must come out byte-identical (双刻) and share one published hash.
 *
 * Plaintext is written only under `<out>/.staging` (mode 0700) and removed when the images are done; a build that
 * dies leaves that folder, which the next build into the same --out clears first. Images appear by rename, whole.
 * The store is a folder or a bucket (store/open-store.ts): ledgers, the log and the sealed segments are read through
 * it, each segment decrypted as it streams into the disc's media file. The verifier reads folders, so from a bucket
 * the chosen devices' folders without their segments and the log are copied under `.staging` for its report and
 * removed, the segments hashed as they stream from the bucket (store/local-copy.ts).
 */
import { copyFile, chmod, mkdir, open, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createHash, type KeyObject } from 'node:crypto';
import { dirname, join, relative } from 'node:path';
import { openSealed } from '../evidence/open-sealed.js';
import type { EvidenceStore } from '../store/store.js';
import { withVerifiableCopy } from '../store/local-copy.js';
import { hashHex, keysById } from '../evidence/segment-scheme.js';
import type { SegmentManifest } from '../evidence/types.js';
import { verifyStore, type VerifyOptions } from '../verify/verifier.js';
import { formatReport } from '../verify/human.js';
import type { VerifyReport } from '../verify/findings.js';
import { RecgwError } from '../util/errors.js';
import { splitPemBundle } from '../pki/certs.js';
import { selectEvidence, type DevicePick, type Selection } from './select.js';
import { LogProofs } from './log-proofs.js';
import { descriptionHtml, type DiscFile } from './description.js';
import { writeIso } from './iso.js';
import { DISC, readmeText } from './layout.js';

/** What is about to be extracted, for the approval the caller may require. */
export interface ExtractionRequest {
  /** `device/session`, as the desk's viewing requests name them. */
  sessions: string[];
  segments: { device: string; segment: string }[];
  extractor: string;
  reason: string;
  at: number;
}

export interface PackageOptions {
  store: EvidenceStore;
  selection: Selection;
  /** The agency encryption private keys the segments' data keys are wrapped for: each segment is decrypted with the
   * one its manifest names (two during a migration between suites: RSA for intl devices, SM2 for gm ones). */
  agencyKeys: KeyObject[];
  /** The agency CA certificates (PEM): they check the store and go on the disc as certs/ca.pem. */
  caPems: string[];
  extractor: string;
  reason: string;
  /** Extraction time (ms since the epoch): on the description page and every date in the images. */
  at: number;
  zone: string;
  outDir: string;
  /** Base name of the images: `<name>-A.iso`, `<name>-B.iso`. */
  name: string;
  /**
   * Called with what is chosen before anything is decrypted; throws to refuse. The desk passes one that requires
   * an approval and registers the act; the CLI one that accepts (the reason is on the description page).
   */
  authorise: (r: ExtractionRequest) => Promise<void>;
  /** Where the steps of a long build are said (the CLI: standard error); decryption at most every 2 s. */
  progress?: (message: string) => void;
}

export interface PackageResult {
  images: [string, string];
  /** SHA-256 of each image (they are identical): the hash to publish. */
  sha256: string;
  /** SHA-256 of the disc's SHA256SUMS, for checking a disc read back file by file (verify.sh takes it). */
  sumsSha256: string;
  files: number;
  segments: number;
  verified: boolean;
}

const STAGING = '.staging';

const PROGRESS_EVERY_MS = 2000;
const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);

export async function buildPackage(o: PackageOptions): Promise<PackageResult> {
  const say = o.progress ?? ((): void => undefined);
  const picks = await selectEvidence(o.store, o.selection);
  const total = picks.reduce((n, p) => n + p.segments.length, 0);
  const totalBytes = picks.reduce((n, p) => n + p.segments.reduce((b, m) => b + m.stored.size, 0), 0);
  say(`chose ${picks.reduce((n, p) => n + p.sessions.length, 0)} session(s) of ${picks.length} device(s): ${total} segment(s), ${mb(totalBytes)} MB to decrypt`);
  await o.authorise({
    sessions: picks.flatMap((p) => p.sessions.map((s) => `${p.deviceId}/${s.opened.sessionId}`)),
    segments: picks.flatMap((p) => p.segments.map((m) => ({ device: p.deviceId, segment: m.segment }))),
    extractor: o.extractor,
    reason: o.reason,
    at: o.at,
  });
  const proofs = await LogProofs.load(o.store, o.caPems);
  const outer = join(o.outDir, STAGING);
  await rm(outer, { recursive: true, force: true });
  await mkdir(outer, { recursive: true, mode: 0o700 });
  const disc = join(outer, 'disc');
  try {
    // Each certificate as splitPemBundle gives it: the same disc whether the caller read the file whole or split it.
    await put(disc, DISC.ca, o.caPems.flatMap(splitPemBundle).join(''));
    await put(disc, DISC.logCert, proofs.certPem);
    if (proofs.sm2CertPem !== undefined) await put(disc, DISC.logSm2Cert, proofs.sm2CertPem);
    await put(disc, DISC.checkpoint, proofs.checkpoint);
    for (const p of picks) {
      for (const e of p.entries) {
        const pr = proofs.proveEntry(p.deviceId, e.seq, e.hash);
        const base = DISC.entry(p.deviceId, e.seq);
        await put(disc, `${base}.line`, e.line);
        await put(disc, `${base}.leaf`, pr.leaf);
        await put(disc, `${base}.proof`, pr.proof);
      }
    }
    const segments: (SegmentManifest & { deviceId: string; path: string })[] = [];
    const keys = keysById(o.agencyKeys);
    let done = 0;
    let doneBytes = 0;
    let saidAt = Date.now();
    for (const p of picks) {
      for (const m of p.segments) {
        if (Date.now() - saidAt >= PROGRESS_EVERY_MS) {
          saidAt = Date.now();
          say(`decrypted ${done} of ${total} segments (${mb(doneBytes)} of ${mb(totalBytes)} MB); now ${p.deviceId}/${m.segment}`);
        }
        const path = DISC.media(p.deviceId, m.segment);
        const key = keys.get(m.enc.agencyKeyId);
        if (!key) throw new RecgwError('usage', `${p.deviceId}/${m.file}: its data key is wrapped for agency key ${m.enc.agencyKeyId}, and no --agency-key given is that key (given: ${[...keys.keys()].join(', ')}): give the agency's private key of that suite`);
        await decryptTo(o.store, p, m, key, join(disc, path));
        segments.push({ ...m, deviceId: p.deviceId, path });
        done++;
        doneBytes += m.stored.size;
      }
    }
    say(`decrypted ${total} segment(s); verifying the chosen devices in the store for the disc's report`);
    const report = await verifyPicks(o, picks, outer);
    await put(disc, DISC.reportJson, JSON.stringify(report, null, 2) + '\n');
    await put(disc, DISC.reportText, formatReport(report, o.zone) + '\n');
    const scripts: [string, string][] = [[DISC_VERIFIER, DISC.verifier], [INCLUSION, DISC.inclusion]];
    if (proofs.sm2CertPem !== undefined) scripts.push([GM_CHECKPOINT, DISC.gmCheckpoint]);
    for (const [from, to] of scripts) {
      await copyFile(from, join(disc, to));
      await chmod(join(disc, to), 0o755);
    }
    await put(disc, DISC.readme, readmeText());
    const files = await hashTree(disc);
    const html = descriptionHtml({ sessions: picks.flatMap((p) => p.sessions), segments, extractor: o.extractor, reason: o.reason, at: o.at, zone: o.zone, report, files });
    await put(disc, DISC.description, html);
    const all = await hashTree(disc);
    const sums = all.map((f) => `${f.sha256}  ${f.path}\n`).join('');
    await put(disc, DISC.sums, sums);
    say(`writing the two images (双刻) of ${all.length + 1} files and checking that they are identical`);
    const images = await burnTwice(disc, o);
    await rm(outer, { recursive: true, force: true });
    return { images: images.paths, sha256: images.sha256, sumsSha256: sha256(sums), files: all.length + 1, segments: segments.length, verified: report.ok };
  } catch (err) {
    await rm(outer, { recursive: true, force: true });
    throw err;
  }
}

/** The on-disc verifier and the proof walk it calls, from docs/recipes (the same path from src/package and dist/package). */
const RECIPES = join(import.meta.dirname, '..', '..', 'docs', 'recipes');
const DISC_VERIFIER = join(RECIPES, 'check-disc.sh');
const INCLUSION = join(RECIPES, 'check-inclusion.sh');
const GM_CHECKPOINT = join(RECIPES, 'check-gm-checkpoint.sh');

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

async function put(root: string, rel: string, data: string | Buffer): Promise<void> {
  const path = join(root, rel);
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  await writeFile(path, data, { mode: 0o644 });
}

/** Decrypt one segment; the file stays only if the tag and the manifest's plaintext hash check out. */
async function decryptTo(store: EvidenceStore, p: DevicePick, m: SegmentManifest, key: KeyObject, dest: string): Promise<void> {
  const sealed = await store.stream(`${p.folder}/${m.file}`).catch((err: unknown) => {
    throw new RecgwError('invalid', `${p.deviceId}/${m.file} cannot be read (${(err as Error).message}): the sealed file of ${m.segment} is not in the store`, { cause: err });
  });
  if (!sealed) throw new RecgwError('invalid', `${p.deviceId}/${m.file}: the sealed file of ${m.segment} is not in the store ${store.location}`);
  await mkdir(dirname(dest), { recursive: true, mode: 0o755 });
  const fh = await open(dest, 'w', 0o644);
  let r;
  try {
    r = await openSealed(sealed, m.enc, key, async (c) => void (await fh.write(c)));
  } catch (err) {
    throw new RecgwError('invalid', `${p.deviceId}/${m.file} cannot be read (${(err as Error).message}): the sealed file of ${m.segment} is not in the store`, { cause: err });
  } finally {
    await fh.close();
  }
  if (!r.ok) throw new RecgwError('invalid', `${p.deviceId}/${m.file}: ${r.reason}`);
  if (r.hash !== hashHex(m.plain)) throw new RecgwError('invalid', `${p.deviceId}/${m.file} decrypts to content other than its manifest names: it cannot go on an evidence disc`);
}

/** The verifier's report on the devices the disc draws from, its sessions narrowed to the chosen ones. */
async function verifyPicks(o: PackageOptions, picks: DevicePick[], staging: string): Promise<VerifyReport> {
  return withVerifiableCopy(o.store, picks.map((p) => p.folder), staging, (root, segmentsOf) => verifyFolders(o, picks, root, segmentsOf));
}

async function verifyFolders(o: PackageOptions, picks: DevicePick[], root: string, segmentsOf?: VerifyOptions['segmentsOf']): Promise<VerifyReport> {
  const out: VerifyReport = { ok: true, devices: [], findings: [] };
  for (const p of picks) {
    const r = await verifyStore(join(root, p.folder), { caPems: o.caPems, jobs: 1, ...(segmentsOf ? { segmentsOf } : {}) });
    const chosen = new Set(p.sessions.map((s) => s.opened.sessionId));
    out.ok &&= r.ok;
    out.devices.push(...r.devices.map((d) => ({ ...d, sessions: d.sessions.filter((s) => chosen.has(s.sessionId)) })));
    out.findings.push(...r.findings);
    if (r.log) out.log = r.log;
  }
  return out;
}

/** Every file under `root`, by path (relative, '/'-separated, in byte order), with its size and SHA-256. */
async function hashTree(root: string): Promise<DiscFile[]> {
  const names = (await readdir(root, { recursive: true, withFileTypes: true })).filter((d) => d.isFile()).map((d) => relative(root, join(d.parentPath, d.name)));
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: DiscFile[] = [];
  for (const path of names) out.push({ path, ...(await hashFile(join(root, path))) });
  return out;
}

async function hashFile(path: string): Promise<{ size: number; sha256: string }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of createReadStream(path)) {
    h.update(c as Buffer);
    size += (c as Buffer).length;
  }
  return { size, sha256: h.digest('hex') };
}

/** Two images from the same folder, by two runs of xorriso: they must be the same bytes (双刻). */
async function burnTwice(disc: string, o: PackageOptions): Promise<{ paths: [string, string]; sha256: string }> {
  const paths: [string, string] = [join(o.outDir, `${o.name}-A.iso`), join(o.outDir, `${o.name}-B.iso`)];
  const hashes: string[] = [];
  for (const path of paths) {
    const tmp = join(o.outDir, STAGING, `${o.name}.iso.partial`);
    await writeIso({ dir: disc, out: tmp, volume: o.name, at: o.at });
    hashes.push((await hashFile(tmp)).sha256);
    await rename(tmp, path);
  }
  if (hashes[0] !== hashes[1]) {
    await Promise.all(paths.map((p) => rm(p, { force: true })));
    throw new RecgwError('io', `the two images of the same disc differ (${hashes[0]} and ${hashes[1]}): this xorriso does not write reproducibly, and 双刻 needs one hash`);
  }
  return { paths, sha256: hashes[0]! };
}
