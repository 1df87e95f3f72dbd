/**
 * What this gateway process already owns, so recovery does not touch it: runs whose ffmpeg a live FfmpegSource
 * is watching, and segments a source has already handed to the recorder (recovery after a run dies returns only
 * what was never emitted: the open segment and anything listed after the last poll).
 */
const active = new Set<string>();
/** runDir -> indexes emitted, for the last few runs of each source. */
const emitted = new Map<string, Set<number>>();
const runsBySource = new Map<string, string[]>();
const KEEP_RUNS = 4;

export function markActive(runDir: string, sourceId: string): void {
  active.add(runDir);
  const runs = runsBySource.get(sourceId) ?? [];
  runs.push(runDir);
  while (runs.length > KEEP_RUNS) emitted.delete(runs.shift()!);
  runsBySource.set(sourceId, runs);
}

export function markInactive(runDir: string): void {
  active.delete(runDir);
}

export function isActive(runDir: string): boolean {
  return active.has(runDir);
}

export function markEmitted(runDir: string, index: number): void {
  let s = emitted.get(runDir);
  if (!s) emitted.set(runDir, (s = new Set()));
  s.add(index);
}

export function wasEmitted(runDir: string, index: number): boolean {
  return emitted.get(runDir)?.has(index) ?? false;
}
