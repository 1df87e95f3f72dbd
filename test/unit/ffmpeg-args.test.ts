import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { buildFfmpegCommand, shellQuote, v4l2InputFormat, type BuildOptions } from '../../src/hal/ffmpeg/args.js';
import type { SourceConfig } from '../../src/config/types.js';
import { probeFailure } from '../../src/hal/ffmpeg/rtsp-probe.js';
import { redactUrl } from '../../src/hal/ffmpeg/redact.js';

const o: BuildOptions = { runDir: '/spool/cam1/20261122T101500123Z', segmentSeconds: 10 };

/** The value after `flag` (the first occurrence from `from`). */
function after(args: string[], flag: string, from = 0): string | undefined {
  const i = args.indexOf(flag, from);
  return i < 0 ? undefined : args[i + 1];
}

/** Every run: segment muxer to MPEG-TS that survives kill -9, CSV list, continuous timestamps, file pattern. */
function expectSegmentOutput(args: string[], runDir = o.runDir, seconds = 10): void {
  expect(args.slice(0, 5)).toEqual(['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info']);
  const f = args.indexOf('segment');
  expect(args[f - 1]).toBe('-f');
  expect(after(args, '-segment_format')).toBe('mpegts');
  expect(after(args, '-segment_format_options')).toMatch(/^flush_packets=1(:|$)/);
  expect(after(args, '-segment_time')).toBe(String(seconds));
  expect(after(args, '-segment_list')).toBe(`${runDir}/segments.csv`);
  expect(after(args, '-segment_list_type')).toBe('csv');
  expect(after(args, '-reset_timestamps', f)).toBe('0');
  expect(args[args.indexOf('-reset_timestamps') + 2]).toBe(`${runDir}/seg-%06d.ts`);
}

describe('buildFfmpegCommand', () => {
  it('sim camera: paced testsrc2, libx264 tuned for latency, key frames at segment boundaries, detectors', () => {
    const src: SourceConfig = { id: 'cam1', kind: 'camera', driver: 'sim', width: 640, height: 360, fps: 30, bitrateKbps: 800 };
    const c = buildFfmpegCommand(src, o);
    expect(c.command).toBe('ffmpeg');
    expect(c.primary).toBe('video');
    const a = c.args;
    expectSegmentOutput(a);
    const i = a.indexOf('-i');
    expect(a.slice(i - 3, i + 2)).toEqual(['-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30']);
    expect(a.filter((x) => x === '-i')).toHaveLength(1);
    expect(after(a, '-c:v')).toBe('libx264');
    expect(after(a, '-preset')).toBe('veryfast');
    expect(after(a, '-tune')).toBe('zerolatency');
    expect(after(a, '-pix_fmt')).toBe('yuv420p');
    expect(after(a, '-b:v')).toBe('800k');
    expect(after(a, '-force_key_frames')).toBe('expr:gte(t,n_forced*10)');
    const vf = after(a, '-vf')!;
    expect(vf).toMatch(/^blackdetect=d=2:pix_th=0\.1,metadata=mode=print:key=lavfi\.black_start,metadata=mode=print:key=lavfi\.black_end,freezedetect=n=0\.001:d=2$/);
    expect(a).not.toContain('-c:a');
  });

  it('sim camera with audio: a second paced tone input, mapped and AAC-encoded; simFilter replaces the picture', () => {
    const src: SourceConfig = { id: 'cam1', kind: 'camera', driver: 'sim', withAudio: true, frequency: 440, simFilter: 'color=black:size=320x240:rate=25' };
    const a = buildFfmpegCommand(src, o).args;
    const inputs = a.flatMap((x, i) => (x === '-i' ? [a[i + 1]] : []));
    expect(inputs).toEqual(['color=black:size=320x240:rate=25', 'sine=frequency=440:sample_rate=48000']);
    expect(a.filter((x) => x === '-re')).toHaveLength(2);
    expect(a.flatMap((x, i) => (x === '-map' ? [a[i + 1]] : []))).toEqual(['0:v:0', '1:a:0']);
    expect(after(a, '-c:a')).toBe('aac');
    expectSegmentOutput(a);
  });

  it('sim microphone: paced sine to AAC; silencedetect behind a high-pass and the voice meter beside it, on a branch of their own; simFilter replaces the tone', () => {
    const mic: SourceConfig = { id: 'mic1', kind: 'microphone', driver: 'sim', frequency: 300, channels: 2 };
    const c = buildFfmpegCommand(mic, o);
    expect(c.primary).toBe('audio');
    expect(after(c.args, '-i')).toBe('sine=frequency=300:sample_rate=48000');
    // The detector branch: the sound split, one copy through the dead-microphone detector, one through the voice meter.
    expect(after(c.args, '-af')).toBe('asplit=2[det][voice];[voice]aresample=16000,highpass=f=300,lowpass=f=3400,asetnsamples=n=1600,astats=metadata=1:reset=1:measure_perchannel=none:measure_overall=RMS_level,ametadata=mode=print:key=lavfi.astats.Overall.RMS_level,anullsink;[det]highpass=f=20,silencedetect=n=-90dB:d=3');
    expect(c.args.indexOf('-af')).toBeGreaterThan(c.args.indexOf(`${o.runDir}/seg-%06d.ts`));
    expect(after(c.args, '-c:a')).toBe('aac');
    expect(after(c.args, '-b:a')).toBe('128k');
    expect(after(c.args, '-ac')).toBe('2');
    expect(c.args).not.toContain('-vf');
    expect(c.args).not.toContain('-force_key_frames');
    // The recording is not filtered: the detectors read the input again into a null output after the segments.
    const seg = c.args.indexOf(`${o.runDir}/seg-%06d.ts`);
    expect(c.args.slice(0, seg)).not.toContain('-af');
    expect(c.args.slice(seg + 1)).toEqual(['-map', '0:a:0', '-af', expect.stringMatching(/^asplit=2\[det\]\[voice\];.*\[det\]highpass=f=20,silencedetect=n=-90dB:d=3$/), '-f', 'null', '-']);
    expectSegmentOutput(c.args.slice(0, seg + 1));
    expect(after(buildFfmpegCommand({ ...mic, simFilter: 'anullsrc=r=48000' }, o).args, '-i')).toBe('anullsrc=r=48000');
  });

  it('v4l2: device input with format, size and rate; libx264 or the Pi hardware encoder', () => {
    const cam: SourceConfig = { id: 'cam1', kind: 'camera', driver: 'v4l2', device: '/dev/video2', width: 1280, height: 720, fps: 25, bitrateKbps: 3000 };
    const a = buildFfmpegCommand(cam, o).args;
    const i = a.indexOf('-i');
    expect(a.slice(i - 8, i + 2)).toEqual(['-f', 'v4l2', '-input_format', 'mjpeg', '-video_size', '1280x720', '-framerate', '25', '-i', '/dev/video2']);
    expect(a).not.toContain('-re');
    expect(after(a, '-c:v')).toBe('libx264');
    expect(after(a, '-vf')).toMatch(/^blackdetect.*freezedetect/);
    expectSegmentOutput(a);

    const hw = buildFfmpegCommand({ ...cam, encoder: 'h264_v4l2m2m' }, o).args;
    expect(after(hw, '-c:v')).toBe('h264_v4l2m2m');
    expect(after(hw, '-pix_fmt')).toBe('yuv420p');
    expect(after(hw, '-b:v')).toBe('3000k');
    expect(after(hw, '-force_key_frames')).toBe('expr:gte(t,n_forced*10)');
    expect(after(hw, '-g')).toBe('25');
    expect(hw).not.toContain('-preset');

    expect(v4l2InputFormat({ ...cam, width: 640, height: 480 })).toBe('yuyv422');
    const copy = buildFfmpegCommand({ ...cam, encoder: 'copy' }, o).args;
    expect(after(copy, '-input_format')).toBe('h264');
    expect(after(copy, '-c:v')).toBe('copy');
  });

  it('alsa: device input to AAC with silencedetect', () => {
    const mic: SourceConfig = { id: 'mic1', kind: 'microphone', driver: 'alsa', device: 'hw:1,0', sampleRate: 16000, channels: 1 };
    const a = buildFfmpegCommand(mic, o).args;
    const i = a.indexOf('-i');
    expect(a.slice(i - 6, i + 2)).toEqual(['-f', 'alsa', '-ac', '1', '-ar', '16000', '-i', 'hw:1,0']);
    expect(after(a, '-ar', i)).toBe('16000');
    expect(after(a, '-af')).toBe('asplit=2[det][voice];[voice]aresample=16000,highpass=f=300,lowpass=f=3400,asetnsamples=n=1600,astats=metadata=1:reset=1:measure_perchannel=none:measure_overall=RMS_level,ametadata=mode=print:key=lavfi.astats.Overall.RMS_level,anullsink;[det]highpass=f=20,silencedetect=n=-90dB:d=3');
    expect(a.indexOf('-af')).toBeGreaterThan(a.indexOf(`${o.runDir}/seg-%06d.ts`));
    expect(after(a, '-c:a')).toBe('aac');
    expectSegmentOutput(a.slice(0, a.indexOf(`${o.runDir}/seg-%06d.ts`) + 1));
  });

  it('rtsp: TCP with a socket timeout, video copied, detectors on every frame sampled at 2 a second in a second output', () => {
    const cam: SourceConfig = { id: 'cam2', kind: 'camera', driver: 'rtsp', url: 'rtsp://10.0.0.5:554/main' };
    const c = buildFfmpegCommand(cam, { ...o, rtspTimeoutSeconds: 3, camera: { video: 'h264', audio: null } });
    const a = c.args;
    const i = a.indexOf('-i');
    expect(after(a, '-rtsp_transport')).toBe('tcp');
    expect(after(a, '-timeout')).toBe('3000000');
    expect(a.indexOf('-timeout')).toBeLessThan(i);
    // Every frame decoded (key frames only showed a 2 s GOP as a frozen picture), without the deblocking filter.
    expect(a).not.toContain('-skip_frame');
    expect(after(a, '-skip_loop_filter')).toBe('all');
    expect(a.indexOf('-skip_loop_filter')).toBeLessThan(i);
    expect(a[i + 1]).toBe('rtsp://10.0.0.5:554/main');
    expect(after(a, '-c:v')).toBe('copy');
    expect(after(a, '-bsf:v')).toBe('setts=pts=if(eq(PTS\\,NOPTS)\\,DTS\\,PTS)');
    expect(a).not.toContain('-force_key_frames');
    expect(a).not.toContain('libx264');
    // No audio from the camera: none mapped, nothing transcoded.
    expect(a.flatMap((x, j) => (x === '-map' ? [a[j + 1]] : []))).toEqual(['0:v:0', '0:v:0']);
    expect(c.transcoded).toEqual([]);
    // The segment output comes first; the detectors run into a null output after it.
    const seg = a.indexOf(`${o.runDir}/seg-%06d.ts`);
    expect(a.slice(seg + 1)).toEqual(['-map', '0:v:0', '-vf', expect.stringMatching(/^fps=2,blackdetect=d=2:pix_th=0.1,.*freezedetect=n=0.001:d=2$/), '-f', 'null', '-']);
    expectSegmentOutput(a.slice(0, seg + 1));
    expect(() => buildFfmpegCommand({ ...cam, url: undefined }, o)).toThrow(/needs a url/);
  });

  it('rtsp: UDP when configured; AAC audio copied, G.711 (or audio not probed) transcoded to AAC and said so', () => {
    const cam: SourceConfig = { id: 'cam2', kind: 'camera', driver: 'rtsp', url: 'rtsp://u:p@10.0.0.5/main', transport: 'udp' };
    const udp = buildFfmpegCommand(cam, o).args;
    expect(after(udp, '-rtsp_transport')).toBe('udp');
    // A receive buffer that outlasts a busy moment (8 MiB), before the input; TCP has its own flow control.
    expect(after(udp, '-buffer_size')).toBe(String(8 * 1024 * 1024));
    expect(udp.indexOf('-buffer_size')).toBeLessThan(udp.indexOf('-i'));
    expect(buildFfmpegCommand({ ...cam, transport: 'tcp' }, o).args).not.toContain('-buffer_size');
    const aacCam = buildFfmpegCommand(cam, { ...o, camera: { video: 'hevc', audio: 'aac' } });
    expect(after(aacCam.args, '-c:a')).toBe('copy');
    // The camera's audio is recorded and goes through the microphone's detectors beside the picture's.
    expect(aacCam.args.flatMap((x, j) => (x === '-map' ? [aacCam.args[j + 1]] : []))).toEqual(['0:v:0', '0:a:0', '0:v:0', '0:a:0']);
    expect(aacCam.args.slice(-7)).toEqual(['-map', '0:a:0', '-af', 'highpass=f=20,silencedetect=n=-90dB:d=3', '-f', 'null', '-']);
    expect(aacCam.transcoded).toEqual([]);
    for (const [audio, from] of [['pcm_alaw', 'pcm_alaw'], ['pcm_mulaw', 'pcm_mulaw'], [undefined, 'unknown']] as const) {
      const g711 = buildFfmpegCommand(cam, { ...o, ...(audio ? { camera: { video: 'h264', audio } } : {}) });
      expect(after(g711.args, '-c:a')).toBe('aac');
      expect(g711.transcoded).toEqual([{ stream: 'audio', from, to: 'aac' }]);
    }
  });

  it('detector thresholds come from the config', () => {
    const d = { blackSeconds: 3, blackPixelThreshold: 0.2, freezeSeconds: 4, freezeNoise: 0.002, sampleFps: 5, silenceDb: -80, silenceSeconds: 10 };
    const cam = buildFfmpegCommand({ id: 'c', kind: 'camera', driver: 'rtsp', url: 'rtsp://x/y' }, { ...o, detectors: d, camera: { video: 'h264', audio: 'pcm_alaw' } }).args;
    expect(after(cam, '-vf')).toBe('fps=5,blackdetect=d=3:pix_th=0.2,metadata=mode=print:key=lavfi.black_start,metadata=mode=print:key=lavfi.black_end,freezedetect=n=0.002:d=4');
    expect(after(cam, '-af')).toBe('highpass=f=20,silencedetect=n=-80dB:d=10');
    const mic = buildFfmpegCommand({ id: 'm', kind: 'microphone', driver: 'sim' }, { ...o, detectors: d }).args;
    expect(after(mic, '-af')).toMatch(/;\[det\]highpass=f=20,silencedetect=n=-80dB:d=10$/);
  });

  it('rpicam: sh runs rpicam-vid into ffmpeg, which copies; the shell survives SIGINT until ffmpeg is done', () => {
    const cam: SourceConfig = { id: 'cam3', kind: 'camera', driver: 'rpicam', width: 1920, height: 1080, fps: 30, bitrateKbps: 4000 };
    const c = buildFfmpegCommand(cam, { ...o, runDir: "/spool/it's here" });
    expect(c.command).toBe('sh');
    expect(c.args[0]).toBe('-c');
    const script = c.args[1]!;
    expect(script.startsWith("trap '' INT; rpicam-vid -t 0 --nopreview --inline --flush --codec h264 --width 1920 --height 1080 --framerate 30 --intra 30 --bitrate 4000000 -o - | exec ffmpeg ")).toBe(true);
    // The shell splits it back into exactly the words we meant.
    const ff = script.slice(script.indexOf('| exec ') + 7);
    const split = spawnSync('sh', ['-c', `set -- ${ff}; for w in "$@"; do printf '%s\\0' "$w"; done`], { encoding: 'utf8' }).stdout.split('\0').slice(0, -1);
    expect(split[0]).toBe('ffmpeg');
    expect(after(split, '-f')).toBe('h264');
    expect(after(split, '-framerate')).toBe('30');
    expect(after(split, '-i')).toBe('-');
    expect(after(split, '-c:v')).toBe('copy');
    expect(split).toContain("/spool/it's here/seg-%06d.ts");
    expect(after(split, '-segment_list')).toBe("/spool/it's here/segments.csv");
    expect(buildFfmpegCommand(cam, { ...o, rpicamPath: '/opt/fake cam' }).args[1]).toContain("'/opt/fake cam' -t 0");
  });

  it('refuses configs a driver cannot record', () => {
    expect(() => buildFfmpegCommand({ id: 'm', kind: 'microphone', driver: 'v4l2' }, o)).toThrow(/microphone needs the sim or alsa driver/);
    expect(() => buildFfmpegCommand({ id: 'c', kind: 'camera', driver: 'alsa' }, o)).toThrow(/camera cannot use the alsa driver/);
    expect(() => buildFfmpegCommand({ id: 'c', kind: 'camera', driver: 'sim' }, { ...o, segmentSeconds: 1.5 })).toThrow(/whole number/);
  });
});

describe('shellQuote', () => {
  it('leaves plain words alone and quotes the rest so sh reads them back unchanged', () => {
    expect(shellQuote('expr:gte(t,n_forced*2)')).toBe("'expr:gte(t,n_forced*2)'");
    expect(shellQuote('/dev/video0')).toBe('/dev/video0');
    const words = ['a b', "it's", '$HOME', '`x`', 'semi;colon', '', 'back\\slash', 'line\nbreak'];
    const out = spawnSync('sh', ['-c', `for w in ${words.map(shellQuote).join(' ')}; do printf '%s\\0' "$w"; done`], { encoding: 'utf8' }).stdout;
    expect(out.split('\0').slice(0, -1)).toEqual(words);
  });

  it('the overlay follows the detectors on cameras the gateway encodes, never on copied video; odd paths are refused', () => {
    const overlay = { font: '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc', label: '/var/lib/recgw/spool/overlay-label.txt' };
    const withOverlay = { ...o, overlay };
    for (const src of [
      { id: 'cam1', kind: 'camera', driver: 'sim' },
      { id: 'cam1', kind: 'camera', driver: 'v4l2' },
    ] as SourceConfig[]) {
      const vf = after(buildFfmpegCommand(src, withOverlay).args, '-vf')!;
      // The detectors see the picture as it comes; the clock drawn on top would hide a frozen one.
      expect(vf.indexOf('freezedetect')).toBeLessThan(vf.indexOf('drawtext'));
      expect(vf).toContain(`drawtext=fontfile=${overlay.font}:text=%{localtime}:`);
      expect(vf).toContain(`textfile=${overlay.label}:reload=1:expansion=none:`);
    }
    for (const src of [
      { id: 'cam1', kind: 'camera', driver: 'rtsp', url: 'rtsp://cam/x' },
      { id: 'cam1', kind: 'camera', driver: 'v4l2', encoder: 'copy' },
      { id: 'mic1', kind: 'microphone', driver: 'sim' },
    ] as SourceConfig[]) {
      expect(buildFfmpegCommand(src, withOverlay).args.join(' ')).not.toContain('drawtext');
    }
    const odd = { ...o, overlay: { ...overlay, font: '/fonts/a font:with,commas.ttc' } };
    expect(() => buildFfmpegCommand({ id: 'cam1', kind: 'camera', driver: 'sim' }, odd)).toThrow(/recording\.overlay\.font .* has characters/);
  });
});

describe('probeFailure', () => {
  const cam: SourceConfig = { id: 'cam2', kind: 'camera', driver: 'rtsp', url: 'rtsp://admin:secret@10.0.0.5:554/x' };
  const said = (src: SourceConfig, stderr: string): string => probeFailure(src, stderr).message;
  it("names the refused transport and the key to change, never the password (ffprobe's words against VLC)", () => {
    const stderr = '[rtsp @ 0x556a53e634c0] method SETUP failed: 461 Unsupported transport\nrtsp://admin:secret@10.0.0.5:554/x: Protocol not supported\n';
    const m = said(cam, stderr);
    expect(m).toBe('the camera rtsp://***@10.0.0.5:554/x refused RTSP over TCP (461 Unsupported Transport): set "transport": "udp" on source cam2 (recording.sources[].transport)');
    expect(said({ ...cam, transport: 'udp' }, stderr)).toMatch(/refused RTSP over UDP .* set "transport": "tcp"/);
    expect(said(cam, '[rtsp @ 0x1] method DESCRIBE failed: 401 Unauthorized\n')).toMatch(/user name or password \(401/);
    expect(said(cam, '[tcp @ 0x1] Connection to tcp://10.0.0.5:554 failed: Connection refused\n')).toMatch(/connection refused/);
    expect(said(cam, 'rtsp://admin:secret@10.0.0.5:554/x: weird\n')).not.toContain('secret');
    expect(probeFailure(cam, stderr).detail).not.toContain('secret');
    expect(redactUrl('a rtsp://u:p@h/x and rtsps://v:q@k/y')).toBe('a rtsp://***@h/x and rtsps://***@k/y');
  });
});
