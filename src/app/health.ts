/**
 * The health summary: one structured log line (msg "health") at start and then once a minute, from what the
 * running gateway already reports: recording state, sources, storage, the upload queue, the clock, and the
 * filesystem's own error count and lifetime writes (ext4 publishes both in sysfs: an SD card or SSD that starts
 * failing shows up there first), and GPS fixes refused for their time. `problems` lists what needs attention, so
 * `journalctl -u recgw -o cat | jq 'select(.msg == "health" and (.problems | length) > 0)'` finds bad minutes.
 */
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { RecorderStatus } from '../recorder/recorder.js';
import type { GpsdStatus } from '../hal/gps/gpsd-client.js';
import { describeFixOffset } from '../hal/gps/fix-time.js';
import type { QueueSummary } from '../uplink/queue.js';
import type { Logger } from '../util/log.js';

export interface FilesystemHealth {
  /** The block device (as sysfs names it) holding the state folder. */
  device: string;
  /** ext4's count of errors seen since the filesystem was made. */
  errors: number;
  /** Bytes written to it over its lifetime (SD card wear). */
  lifetimeWrittenBytes: number | null;
}

/** The ext4 health of the filesystem holding `path`, or null when it is not ext4 (or sysfs does not say). */
export function filesystemHealth(path: string): FilesystemHealth | null {
  try {
    const dev = statSync(path).dev;
    // glibc's major()/minor() of a dev_t.
    const major = Number((BigInt(dev) >> 8n) & 0xfffn) | Number((BigInt(dev) >> 32n) & ~0xfffn);
    const minor = Number(BigInt(dev) & 0xffn) | Number((BigInt(dev) >> 12n) & ~0xffn);
    const device = basename(realpathSync(`/sys/dev/block/${major}:${minor}`));
    const dir = `/sys/fs/ext4/${device}`;
    const errors = Number(readFileSync(`${dir}/errors_count`, 'utf8').trim());
    let written: number | null = null;
    try {
      written = Number(readFileSync(`${dir}/lifetime_write_kbytes`, 'utf8').trim()) * 1024;
    } catch {
      /* older kernels */
    }
    return Number.isFinite(errors) ? { device, errors, lifetimeWrittenBytes: written } : null;
  } catch {
    return null;
  }
}

export interface HealthInput {
  status: RecorderStatus;
  queue: QueueSummary | undefined;
  fs: FilesystemHealth | null;
  /** Filesystem errors at the previous summary: an increase is a problem. */
  previousFsErrors?: number;
  /** The gpsd client's status, when a GPS is configured. */
  gpsd?: Pick<GpsdStatus, 'connected' | 'fix' | 'fixTime'>;
  now: number;
}

const MB = 1e6;

/** The fields of one health line, and the problems among them. */
export function healthSummary(h: HealthInput): Record<string, unknown> & { problems: string[] } {
  const { status: st, queue, fs } = h;
  const problems: string[] = [];
  const session = st.session && st.session.state !== 'closed' ? st.session : null;
  const sources = st.sources.map((s) => {
    const state = s.down ? 'down' : !s.running ? (s.wanted ? 'starting' : 'idle') : !s.producing ? 'starting' : s.picture;
    if (s.down) problems.push(`source ${s.id} down: ${s.down.words} (${s.down.detail}${s.down.log ? `; ffmpeg's log: ${s.down.log}` : ''})`);
    else if (state === 'black' || state === 'frozen' || state === 'silent') problems.push(`source ${s.id} ${state}`);
    return { id: s.id, state, restarts: s.restarts };
  });
  if (st.storage.full) problems.push('storage full');
  if (!st.clock.synced) problems.push(`clock not synchronised (${st.clock.source})`);
  if (st.clock.heldMs !== undefined) problems.push(`the system clock was stepped ${Math.round(st.clock.heldMs / 1000)} s away from the gateway time, which holds until a clock source confirms it`);
  if (fs && h.previousFsErrors !== undefined && fs.errors > h.previousFsErrors) {
    problems.push(`filesystem ${fs.device} reported ${fs.errors - h.previousFsErrors} new error(s)`);
  }
  if (queue?.nextDeadlineMs != null && queue.nextDeadlineMs < h.now) problems.push('upload deadline missed');
  if (st.lackingStatement.length > 0) problems.push(`${st.lackingStatement.length} session(s) lack a statement`);
  if (st.battery && !st.battery.onMains) problems.push(`on battery (${st.battery.percent}%)`);
  const refusing = h.gpsd?.fixTime.refusing;
  if (refusing) problems.push(`GPS fixes refused since ${refusing.since}: their time is ${describeFixOffset(refusing.offsetMs)}`);
  return {
    recording: session ? session.state : 'idle',
    ...(session ? { session: session.sessionId, interruptions: session.interruptions.filter((i) => i.end === null).length } : {}),
    sources,
    storage: {
      freeMB: Math.round(st.storage.freeBytes / MB),
      usedMB: Math.round(st.storage.usedBytes / MB),
      ...(st.storage.quotaBytes !== null ? { quotaMB: Math.round(st.storage.quotaBytes / MB) } : {}),
      full: st.storage.full,
      ...(fs ? { device: fs.device, fsErrors: fs.errors, ...(fs.lifetimeWrittenBytes !== null ? { lifetimeWrittenGB: Math.round(fs.lifetimeWrittenBytes / 1e9) } : {}) } : {}),
    },
    sealing: st.sealing.pending,
    uplink: queue
      ? { entries: queue.entries, files: queue.files, MB: Math.round(queue.bytes / MB), nextDeadline: queue.nextDeadlineMs === null ? null : new Date(queue.nextDeadlineMs).toISOString() }
      : null,
    clock: {
      source: st.clock.source,
      synced: st.clock.synced,
      ...(st.clock.offsetMs !== undefined ? { offsetMs: st.clock.offsetMs } : {}),
      ...(st.clock.assumed ? { assumed: true } : {}),
      ...(st.clock.heldMs !== undefined ? { heldMs: st.clock.heldMs } : {}),
    },
    ...(st.battery ? { battery: st.battery } : {}),
    ...(h.gpsd
      ? {
          gps: {
            connected: h.gpsd.connected,
            mode: h.gpsd.fix?.mode ?? null,
            refusedFixes: h.gpsd.fixTime.refused,
            ...(refusing ? { refusing: { since: refusing.since, fixes: refusing.fixes, lastFixTime: refusing.lastFixTime, offsetMs: refusing.offsetMs } } : {}),
          },
        }
      : st.gps
        ? { gps: { mode: st.gps.mode } }
        : {}),
    problems,
  };
}

export interface HealthLogOptions {
  status: () => Promise<RecorderStatus>;
  queue?: () => QueueSummary | undefined;
  /** The gpsd client's status, when a GPS is configured. */
  gpsd?: () => HealthInput['gpsd'];
  /** The folder whose filesystem is watched (the state folder). */
  stateDir: string;
  log: Logger;
  /** Default 60 s. */
  intervalMs?: number;
  now?: () => number;
}

export interface HealthLog {
  /** Write one line now. */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

/** Log a health line now and every `intervalMs` until stop(). Problems go out at warn level, the rest at info. */
export function startHealthLog(o: HealthLogOptions): HealthLog {
  const now = o.now ?? Date.now;
  let previousFsErrors: number | undefined;
  let running: Promise<void> = Promise.resolve();
  const tickNow = async (): Promise<void> => {
    try {
      const status = await o.status();
      const fs = filesystemHealth(o.stateDir);
      const gpsd = o.gpsd?.();
      const line = healthSummary({ status, queue: o.queue?.(), fs, ...(previousFsErrors !== undefined ? { previousFsErrors } : {}), ...(gpsd ? { gpsd } : {}), now: now() });
      if (fs) previousFsErrors = fs.errors;
      if (line.problems.length > 0) o.log.warn('health', line);
      else o.log.info('health', line);
    } catch (err) {
      o.log.error('health summary failed', { err });
    }
  };
  const tick = (): Promise<void> => {
    running = running.then(tickNow);
    return running;
  };
  void tick();
  const timer = setInterval(() => void tick(), o.intervalMs ?? 60_000);
  timer.unref();
  return {
    tick,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
