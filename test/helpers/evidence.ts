/** Test helpers over a gateway's evidence: export it, verify it, decrypt segments and measure what they cover. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey } from 'node:crypto';
import { verifyStore } from '../../src/verify/verifier.js';
import type { VerifyReport } from '../../src/verify/findings.js';
import { parseLine, type LedgerEntry } from '../../src/evidence/entry.js';
import { openSealedFile } from '../../src/evidence/open-sealed.js';
import type { SegmentManifest } from '../../src/evidence/types.js';
import { open } from 'node:fs/promises';

const BIN = join(import.meta.dirname, '../../bin/recgw.js');

export function exportDevice(configPath: string, outDir: string): void {
  const r = spawnSync(process.execPath, [BIN, 'export', '--config', configPath, '--out', outDir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`export failed: ${r.stderr}`);
}

export async function verify(dir: string, caCertPath: string, agencyKeyPath?: string): Promise<VerifyReport> {
  return verifyStore(dir, {
    caPems: [readFileSync(caCertPath, 'utf8')],
    ...(agencyKeyPath ? { agencyKey: createPrivateKey(readFileSync(agencyKeyPath, 'utf8')) } : {}),
  });
}

export function entries(deviceDir: string): LedgerEntry[] {
  return readFileSync(join(deviceDir, 'ledger.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const p = parseLine(l);
      if (!p.ok) throw new Error(p.error);
      return p.entry;
    });
}

export const manifests = (deviceDir: string): SegmentManifest[] =>
  entries(deviceDir)
    .filter((e) => e.type === 'segment.sealed')
    .map((e) => e.body as unknown as SegmentManifest);

/** Decrypt every segment of a source into one folder; returns the plaintext paths in order. */
export async function decryptSource(deviceDir: string, sourceId: string, agencyKeyPath: string, outDir: string): Promise<string[]> {
  mkdirSync(outDir, { recursive: true });
  const key = createPrivateKey(readFileSync(agencyKeyPath, 'utf8'));
  const out: string[] = [];
  for (const m of manifests(deviceDir).filter((x) => x.source.id === sourceId).sort((a, b) => a.seq - b.seq)) {
    const path = join(outDir, `${m.segment}.ts`);
    const fh = await open(path, 'w');
    const r = await openSealedFile(join(deviceDir, m.file), m.enc, key, async (c) => void (await fh.write(c)));
    await fh.close();
    if (!r.ok) throw new Error(`${m.segment}: ${r.reason}`);
    out.push(path);
  }
  return out;
}

/**
 * How far ffprobe and ffmpeg must look into a camera's file for its picture: a copied camera's run starts writing its
 * sound at once but its picture only at the first key frame, up to a GOP (10 s) later, and their default (5 s) then
 * finds no picture at all (docs/operations.md §15).
 */
export const PROBE_WHOLE_GOP = ['-analyzeduration', '30000000', '-probesize', '50000000'];

/** The presentation times (s) of one stream's packets (`v:0`, `a:0`) in a file, in file order; packets without one
 * are left out. */
export function packetTimes(path: string, stream: string): number[] {
  return execFileSync('ffprobe', ['-v', 'error', '-select_streams', stream, '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', path], { encoding: 'utf8' })
    .split('\n')
    .map((l) => Number(l.split(',')[0] || NaN))
    .filter((t) => Number.isFinite(t));
}

/**
 * Pictures that decode in a file. Count these for a camera whose timestamps jitter (VLC over RTP): ffprobe then guesses
 * a frame rate (r_frame_rate) from the smallest step it sees, and one 20 ms step in a 25 fps stream made it 50, which
 * read as half the frames missing.
 */
export function decodedFrames(path: string): number {
  const o = execFileSync('ffprobe', ['-v', 'error', ...PROBE_WHOLE_GOP, '-select_streams', 'v:0', '-count_frames', '-show_entries', 'stream=nb_read_frames', '-of', 'json', path], { encoding: 'utf8' });
  return Number((JSON.parse(o) as { streams: { nb_read_frames: string }[] }).streams[0]!.nb_read_frames);
}

/** Seconds of media in a file, counted by decoded frames (video, at ffprobe's frame rate: a steady one only, see
 * decodedFrames) or packets (audio), not by container duration. */
export function mediaSeconds(path: string, kind: 'camera' | 'microphone'): number {
  if (kind === 'camera') {
    const o = execFileSync('ffprobe', ['-v', 'error', ...PROBE_WHOLE_GOP, '-select_streams', 'v:0', '-count_frames', '-show_entries', 'stream=nb_read_frames,r_frame_rate', '-of', 'json', path], { encoding: 'utf8' });
    const s = (JSON.parse(o) as { streams: { nb_read_frames: string; r_frame_rate: string }[] }).streams[0]!;
    const [n, d] = s.r_frame_rate.split('/').map(Number) as [number, number];
    return Number(s.nb_read_frames) / (n / d);
  }
  const o = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'a:0', '-count_packets', '-show_entries', 'stream=nb_read_packets,sample_rate', '-of', 'json', path], { encoding: 'utf8' });
  const s = (JSON.parse(o) as { streams: { nb_read_packets: string; sample_rate: string }[] }).streams[0]!;
  return (Number(s.nb_read_packets) * 1024) / Number(s.sample_rate);
}

/**
 * The reasons of a ledger's interruptions, leaving out clock-jump ones that a clock.stepped entry of the same session
 * and the same jump accounts for. This machine is a virtual machine that may be paused (a snapshot): its system
 * clock then steps against the monotonic one, the gateway rightly records it, and a test about something else
 * should neither fail on it nor stop checking that every clock-jump it tolerates was a step the gateway saw.
 */
export function interruptionReasons(all: LedgerEntry[]): string[] {
  const steps = all.filter((e) => e.type === 'clock.stepped').map((e) => e.body as { sessionId: string | null; deltaMs: number });
  return all
    .filter((e) => e.type === 'interruption.started')
    .filter((e) => {
      const b = e.body as { reason: string; sessionId: string; deltaMs?: number };
      if (b.reason !== 'clock-jump' || !steps.some((st) => st.sessionId === b.sessionId && st.deltaMs === b.deltaMs)) return true;
      console.warn(`the system clock was stepped during this test (${b.deltaMs} ms), recorded as clock.stepped and a clock-jump interruption`);
      return false;
    })
    .map((e) => (e.body as { reason: string }).reason);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Pids of live processes whose command line contains `needle` (e.g. a source's spool folder). */
export function pidsMatching(needle: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(needle) && !cmd.includes('vitest')) pids.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return pids;
}
