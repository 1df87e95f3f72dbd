/**
 * A verified device folder made the way a gateway makes one: an enrolled gateway, the evidence core, a session
 * with real MPEG-TS segments (ffmpeg's test picture and tone) sealed through the Sealer, and an export. Tests
 * build one per file and tamper with copies; the variants (gap, interruption, unclosed) go through the same code.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { execFileSync } from 'node:child_process';
import { recordSample, type SampleSegment } from '../../src/demo/sample.js';
import { startEvidenceCore, type EvidenceCore } from '../../src/app/evidence-core.js';
import { exportDevice } from '../../src/evidence/export.js';
import { ENTRY, type SessionContext } from '../../src/evidence/types.js';
import { loadPrivateKey } from '../../src/pki/keys.js';
import { silentLogger } from '../../src/util/log.js';
import { verifyStore, type VerifyOptions } from '../../src/verify/verifier.js';
import type { VerifyReport } from '../../src/verify/findings.js';
import type { Provisioned } from '../../src/demo/provision.js';
import { makeGateway, tmp } from './fixtures.js';

export interface Samples {
  cam1: SampleSegment[];
  mic1: SampleSegment[];
}

/** About three 1 s segments per source, encoded as fast as ffmpeg can (not in real time). */
export async function makeSamples(): Promise<Samples> {
  const dir = tmp('recgw-samples-');
  const [cam1, mic1] = await Promise.all([
    recordSample({ dir: join(dir, 'cam1'), seconds: 3, segmentSeconds: 1, kind: 'camera', realtime: false }),
    recordSample({ dir: join(dir, 'mic1'), seconds: 3, segmentSeconds: 1, kind: 'microphone', realtime: false }),
  ]);
  return { cam1, mic1 };
}

export interface BuildOptions {
  caDir: string;
  samples: Samples;
  deviceId?: string;
  /** Close the session (default true). */
  close?: boolean;
  /** Shift cam1's segments from this index on by `ms` later, leaving a hole in its footage. */
  camShift?: { fromIndex: number; ms: number };
  /** Log an interruption (before cam1's segment `beforeIndex` is sealed) covering [startMs, endMs] after t0. */
  interruption?: { beforeIndex: number; startMs: number; endMs: number; reason: string; sources?: string[] };
  /** Extra entries appended through the real ledger after the segments, before the session closes. */
  extra?: (core: EvidenceCore, ctx: { session: SessionContext; t0: number }) => void;
}

export interface BuiltStore {
  /** The store: a folder with one device folder in it. */
  storeDir: string;
  deviceDir: string;
  deviceId: string;
  gateway: Provisioned;
  session: SessionContext;
  t0: number;
  /** cam1 footage as sealed: [start, end] in ms since epoch, by index. */
  camSpans: [number, number][];
}

const iso = (t: number): string => new Date(t).toISOString();

export async function buildStore(o: BuildOptions): Promise<BuiltStore> {
  const deviceId = o.deviceId ?? 'room-1';
  const gateway = makeGateway(o.caDir, { deviceId });
  const core = await startEvidenceCore(gateway.config, silentLogger);
  const t0 = Date.now() - 60_000;
  const session: SessionContext = {
    sessionId: `S${t0}-${deviceId}`,
    matter: 'site-inspection',
    caseRef: 'CASE-2026-001',
    officers: [
      { name: '张三', badge: '13010001' },
      { name: '李四', badge: '13010002' },
    ],
    place: 'interview room 1',
  };
  const camSpans: [number, number][] = [];
  let lastEnd = t0;
  try {
    core.ledger.append(ENTRY.sessionOpened, { ...session, start: iso(t0), sources: ['cam1', 'mic1'] });
    const count = Math.max(o.samples.cam1.length, o.samples.mic1.length);
    for (let i = 0; i < count; i++) {
      if (o.interruption && o.interruption.beforeIndex === i) {
        const ir = o.interruption;
        const id = `${session.sessionId}-i1`;
        core.ledger.append(ENTRY.interruptionStarted, {
          sessionId: session.sessionId,
          interruptionId: id,
          reason: ir.reason,
          start: iso(t0 + ir.startMs),
          origin: 'detected',
          ...(ir.sources ? { sources: ir.sources } : {}),
        });
        core.ledger.append(ENTRY.interruptionEnded, { sessionId: session.sessionId, interruptionId: id, end: iso(t0 + ir.endMs) });
      }
      for (const [sourceId, kind] of [['cam1', 'camera'], ['mic1', 'microphone']] as const) {
        const s = o.samples[sourceId][i];
        if (!s) continue;
        const shift = sourceId === 'cam1' && o.camShift && i >= o.camShift.fromIndex ? o.camShift.ms : 0;
        const start = t0 + Math.round(s.startSec * 1000) + shift;
        const end = t0 + Math.round(s.endSec * 1000) + shift;
        if (sourceId === 'cam1') camSpans.push([start, end]);
        lastEnd = Math.max(lastEnd, end);
        const name = `${session.sessionId}_${sourceId}_${String(i).padStart(6, '0')}`;
        // The Sealer removes the plaintext it sealed, so it gets a copy of the sample.
        const plainPath = join(core.dirs.spool, sourceId, `${name}.ts`);
        mkdirSync(join(core.dirs.spool, sourceId), { recursive: true });
        copyFileSync(s.path, plainPath);
        core.sealer.enqueue({
          name,
          plainPath,
          session,
          source: { id: sourceId, kind },
          seq: i,
          start: iso(start),
          end: iso(end),
          clock: { source: 'system', synced: false },
          gps: null,
        });
      }
      await core.sealer.drain();
    }
    o.extra?.(core, { session, t0 });
    if (o.close !== false) core.ledger.append(ENTRY.sessionClosed, { sessionId: session.sessionId, reason: 'stopped', end: iso(lastEnd) });
    const storeDir = tmp('recgw-store-');
    const deviceDir = join(storeDir, deviceId);
    await exportDevice({ db: core.db, ledger: core.ledger, signer: core.identity.signer, deviceId, outDir: deviceDir });
    return { storeDir, deviceDir, deviceId, gateway, session, t0, camSpans };
  } finally {
    await core.stop();
  }
}

/** A fresh copy of a store to tamper with. Files are copied, never linked, so the original stays pristine. */
export function copyStore(s: BuiltStore): { storeDir: string; deviceDir: string } {
  const storeDir = tmp('recgw-copy-');
  cpSync(s.storeDir, storeDir, { recursive: true });
  return { storeDir, deviceDir: join(storeDir, s.deviceId) };
}

export function verifyOptions(s: BuiltStore, withAgencyKey = false): VerifyOptions {
  return {
    caPems: [readFileSync(s.gateway.ca.caCert, 'utf8')],
    ...(withAgencyKey ? { agencyKeys: [loadPrivateKey(s.gateway.ca.agencyKey, 'agency key', '')] } : {}),
  };
}

export const verify = (dir: string, s: BuiltStore, withAgencyKey = false): Promise<VerifyReport> => verifyStore(dir, verifyOptions(s, withAgencyKey));

export const kinds = (r: VerifyReport): string[] => [...new Set(r.findings.map((f) => f.kind))].sort();

/** The ledger's lines (without the newline at the end of the file). */
export function readLines(deviceDir: string): string[] {
  const text = readFileSync(join(deviceDir, 'ledger.jsonl'), 'utf8');
  return text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
}

export function writeLines(deviceDir: string, lines: string[]): void {
  writeFileSync(join(deviceDir, 'ledger.jsonl'), lines.map((l) => l + '\n').join(''));
}

/** Paths, relative to the device folder, of every file in it. */
export function listFiles(deviceDir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(deviceDir, p));
    }
  };
  walk(deviceDir);
  return out.sort();
}

/** XOR one byte of a file with a non-zero mask. */
export function flipByte(path: string, offset: number, mask = 0x01): void {
  const b = readFileSync(path);
  b[offset] = b[offset]! ^ mask;
  writeFileSync(path, b);
}

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * Make sure dist/ is built from the current src/ (tests that spawn `node bin/recgw.js` or a worker run dist/).
 * `npm test` builds first, so this usually does nothing; a lock keeps two test files from building at once
 * (tsc rewrites every file, and a process reading dist/ meanwhile could see a half-written one).
 */
export function ensureBuilt(): void {
  // Stale when some src/**/*.ts is newer than its dist/**/*.js (or has none).
  const stale = (): boolean =>
    readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
      .some((f) => {
        const js = join(ROOT, 'dist', f.replace(/\.ts$/, '.js'));
        return !existsSync(js) || statSync(js).mtimeMs < statSync(join(ROOT, 'src', f)).mtimeMs;
      });
  if (!stale()) return;
  const lock = join(ROOT, 'node_modules', '.recgw-test-build.lock');
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`${lock} is held for too long: remove it if no test is building`);
      execFileSync('sleep', ['0.2']);
    }
  }
  try {
    if (stale()) {
      try {
        execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.json')], { cwd: ROOT, stdio: 'pipe' });
      } catch (err) {
        // tsc emits even with type errors (another developer's half-done change); only a missing output is fatal.
        if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw err;
      }
    }
  } finally {
    execFileSync('rmdir', [lock]);
  }
}
