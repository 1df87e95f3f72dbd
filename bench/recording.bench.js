// The gateway's own cost while recording (issues 3 and 15): `recgw run` as a real process, started the way its
// systemd unit starts it (the Node flags GATEWAY_NODE_FLAGS; bench/run.js adds the unit's environment), one session of
// RECGW_BENCH_RECORD_SECONDS (default 40) started and stopped through the control socket, measured from /proc, in two
// scenarios, each against ffmpeg's own cost for the same streams in the same run:
//   copied:  four IP cameras, 1080p25 H.264 High (B-frames, 2 s GOP, 4 Mbit/s) with AAC, served by gst-rtsp-server
//            (test/helpers/rtsp-server.py) and recorded without re-encoding (the detectors decode every frame);
//   encoded: two cameras the gateway encodes (sim 1280x720@25, libx264, with the time and case overlay).
// Results, per scenario S:
//   recording-S-gateway-cpu  value: the gateway node process's own CPU time (utime + stime of /proc/<pid>/stat, no
//                          children) from just before session.start until session.stop has answered (every segment
//                          sealed), per recorded source-hour. baseline: the ffmpeg processes' CPU time for the same
//                          run (utime + stime of each ffmpeg child of the gateway, sampled every 250 ms until it
//                          exits), per source-hour. ratio = gateway / ffmpeg (lower is better).
//   recording-S-gateway-rss  value: the gateway's peak VmRSS while recording (sampled every 250 ms), MB.
//                          baseline: the peak of the summed VmRSS of its ffmpeg children, MB. ratio = gateway / ffmpeg.
// Goals (issue 15): gateway CPU at most 0.05 of ffmpeg's on encoded sources, at most 60 CPU s per source-hour on
// copied ones, peak RSS at most 100 MB with four sources.
// Also to stderr: the gateway's CPU during start-up, its VmHWM, and all children's CPU from its cutime + cstime
// (ffmpeg plus the short ffprobe runs the gateway makes), as a cross-check of the sampled ffmpeg figure.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { provisionGateway } from '../dist/demo/provision.js';
import { call } from '../dist/control/client.js';
import { GATEWAY_NODE_FLAGS } from '../dist/app/service-env.js';
import { MB, progress, report, tempDir } from './lib.js';

const RECORD_SECONDS = Number(process.env.RECGW_BENCH_RECORD_SECONDS ?? 40);
const SAMPLE_MS = 250;
const BIN = join(import.meta.dirname, '../bin/recgw.js');
const HZ = 100; // USER_HZ: clock ticks of /proc/<pid>/stat on Linux
const SERVER = join(import.meta.dirname, '../test/helpers/rtsp-server.py');
const officers = [
  { name: '张三', badge: '13010001' },
  { name: '李四', badge: '13010002' },
];

/** /proc/<pid>/stat: ppid, comm and CPU seconds (own, and of waited-for children); undefined once gone. */
function stat(pid) {
  let s;
  try {
    s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const close = s.lastIndexOf(')');
  const comm = s.slice(s.indexOf('(') + 1, close);
  const f = s.slice(close + 2).split(' '); // f[0] is field 3 (state)
  const n = (field) => Number(f[field - 3]);
  return { comm, ppid: n(4), cpu: (n(14) + n(15)) / HZ, childCpu: (n(16) + n(17)) / HZ };
}

/** VmRSS and VmHWM of /proc/<pid>/status in bytes; undefined once gone. */
function memory(pid) {
  let s;
  try {
    s = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** Pids of the live processes whose parent is `ppid`. */
function children(ppid) {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const st = stat(d);
    if (st && st.ppid === ppid) out.push({ pid: Number(d), comm: st.comm });
  }
  return out;
}

export default async function recordingBench() {
  const tmp = tempDir('recgw-bench-rec-');
  let server;
  try {
    // Four cameras as they ship, from a third-party RTSP server; each client gets its own pipeline from the file.
    const clip = join(tmp.dir, 'cam1080.mp4');
    progress('recording: encoding a 1080p25 camera clip for the RTSP server');
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', String(RECORD_SECONDS + 40), '-c:v', 'libx264', '-preset', 'ultrafast', '-profile:v', 'high', '-bf', '2', '-g', '50', '-b:v', '4M', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k', clip]);
    const port = 20000 + Math.floor(Math.random() * 20000);
    server = spawn('/usr/bin/python3', [SERVER, String(port), ...[1, 2, 3, 4].map((i) => `cam${i}=${clip}`)], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve, reject) => {
      server.stdout.on('data', (d) => String(d).includes('ready') && resolve());
      server.once('exit', (c) => reject(new Error(`rtsp-server.py exited with ${c}`)));
    });
    const copied = [1, 2, 3, 4].map((i) => ({ id: `cam${i}`, kind: 'camera', driver: 'rtsp', url: `rtsp://127.0.0.1:${port}/cam${i}`, bitrateKbps: 4000 }));
    await scenario(tmp, 'copied', copied);
    server.kill('SIGTERM');
    server = undefined;
    const encoded = [1, 2].map((i) => ({ id: `cam${i}`, kind: 'camera', driver: 'sim', width: 1280, height: 720, fps: 25 }));
    await scenario(tmp, 'encoded', encoded);
  } finally {
    server?.kill('SIGKILL');
    tmp.remove();
  }
}

async function scenario(tmp, name, sources) {
  let gw;
  try {
    const p = provisionGateway({
      dir: join(tmp.dir, `gw-${name}`),
      caDir: join(tmp.dir, `ca-${name}`),
      createCa: true,
      config: { time: { source: 'host', assumeSynchronised: true }, recording: { segmentSeconds: 4, expectedSessionMinutes: 2, sources } },
    });
    const socket = p.config.control.socket;
    const logPath = join(tmp.dir, `gateway-${name}.log`);
    const fd = openSync(logPath, 'a');
    gw = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, BIN, 'run', '--config', p.configPath], { stdio: ['ignore', fd, fd], env: { ...process.env, RECGW_LOG_LEVEL: 'warn' } });
    closeSync(fd);
    const exited = new Promise((resolve) => gw.once('exit', (code, signal) => resolve(code ?? signal)));
    const pid = gw.pid;
    const log = () => readFileSync(logPath, 'utf8').trim().split('\n').slice(-20).join('\n');
    for (const deadline = Date.now() + 30_000; ; await sleep(100)) {
      if (gw.exitCode !== null) throw new Error(`recgw run exited with ${gw.exitCode}:\n${log()}`);
      if (Date.now() > deadline) throw new Error(`recgw run did not come up within 30 s:\n${log()}`);
      if (!existsSync(socket)) continue;
      try {
        await call(socket, 'status', {}, 2000);
        break;
      } catch {
        // not listening yet
      }
    }

    const before = stat(pid);
    progress(`recording ${name}: gateway ${pid} up, start-up took ${before.cpu.toFixed(2)} s CPU; recording ${sources.length} sources for ${RECORD_SECONDS} s`);
    const ffmpeg = new Map(); // pid -> last seen CPU seconds
    let gatewayPeakRss = 0;
    let ffmpegPeakRss = 0;
    let ffmpegMaxProcs = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const m = memory(pid);
        if (m) gatewayPeakRss = Math.max(gatewayPeakRss, m.rss);
        let sum = 0;
        let procs = 0;
        for (const c of children(pid)) {
          if (c.comm !== 'ffmpeg') continue;
          const st = stat(c.pid);
          const cm = memory(c.pid);
          // A process that ended between the two reads has no VmRSS line left (NaN): it is gone, not counted.
          if (!st || !cm || !Number.isFinite(cm.rss)) continue;
          ffmpeg.set(c.pid, st.cpu);
          sum += cm.rss;
          procs++;
        }
        ffmpegPeakRss = Math.max(ffmpegPeakRss, sum);
        ffmpegMaxProcs = Math.max(ffmpegMaxProcs, procs);
        await sleep(SAMPLE_MS);
      }
    })();

    const { session } = await call(socket, 'session.start', { matter: 'site-inspection', caseRef: 'B-1', officers });
    await sleep(RECORD_SECONDS * 1000);
    const closed = await call(socket, 'session.stop');
    const after = stat(pid);
    sampling = false;
    await sampler;
    if (children(pid).some((c) => c.comm === 'ffmpeg')) progress('recording: warning: an ffmpeg child was still running after session.stop');

    const wall = (Date.parse(closed.end) - Date.parse(session.start)) / 1000;
    const sourceHours = (wall * sources.length) / 3600;
    const gatewayCpu = after.cpu - before.cpu;
    const ffmpegCpu = [...ffmpeg.values()].reduce((a, b) => a + b, 0);
    const childCpu = after.childCpu - before.childCpu;
    const hwm = memory(pid)?.hwm ?? NaN;
    progress(
      `recording ${name}: session ${wall.toFixed(1)} s x ${sources.length} sources = ${(sourceHours * 3600).toFixed(0)} source-s; ` +
        `gateway CPU ${gatewayCpu.toFixed(2)} s (${((100 * gatewayCpu) / wall).toFixed(1)}% of a core); ` +
        `ffmpeg CPU ${ffmpegCpu.toFixed(2)} s over ${ffmpeg.size} processes (${((100 * ffmpegCpu) / wall).toFixed(0)}% of a core); ` +
        `all children by cutime+cstime ${childCpu.toFixed(2)} s`,
    );
    progress(
      `recording ${name}: gateway peak VmRSS ${(gatewayPeakRss / MB).toFixed(1)} MB while recording, VmHWM ${(hwm / MB).toFixed(1)} MB; ` +
        `ffmpeg peak VmRSS ${(ffmpegPeakRss / MB).toFixed(1)} MB summed over ${ffmpegMaxProcs} processes`,
    );
    report(`recording-${name}-gateway-cpu`, gatewayCpu / sourceHours, 's/source-h', ffmpegCpu / sourceHours);
    report(`recording-${name}-gateway-rss`, gatewayPeakRss / MB, 'MB', ffmpegPeakRss / MB);

    gw.kill('SIGTERM');
    const code = await exited;
    gw = undefined;
    if (code !== 0) progress(`recording: warning: recgw run exited with ${code}:\n${log()}`);
  } finally {
    if (gw && gw.exitCode === null) {
      // Its ffmpeg runs are detached (they outlive a killed gateway by design): stop their process groups too.
      const runs = children(gw.pid).filter((c) => c.comm === 'ffmpeg');
      gw.kill('SIGKILL');
      for (const c of runs) {
        try {
          process.kill(-c.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }
}
