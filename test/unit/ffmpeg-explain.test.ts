/**
 * The words of a failed run (src/hal/ffmpeg/explain.ts), from ffmpeg 5.1's own logs: each fixture below was
 * captured verbatim on this machine against gst-rtsp-server (a killed server, a wrong password, a missing path, a
 * UDP-only mount), a closed port, an unresolvable name, missing devices and a full tmpfs, and ffprobe's answers
 * before a run (a port that accepts and never answers, against VLC). The point: the words say what happened to the
 * camera, never ffmpeg's last line, which after an outage is often a statistic; and one table says it, so the words
 * for the record and the technician's message with its fix (rtsp-probe.ts) never disagree.
 */
import { describe, expect, it } from 'vitest';
import type { SourceConfig } from '../../src/config/types.js';
import { errorLines, explainDamaged, explainExit, explainStall } from '../../src/hal/ffmpeg/explain.js';
import { probeFailure } from '../../src/hal/ffmpeg/rtsp-probe.js';

const rtsp = { kind: 'camera', driver: 'rtsp' } as const;
const v4l2 = { kind: 'camera', driver: 'v4l2' } as const;
const alsa = { kind: 'microphone', driver: 'alsa' } as const;

const SERVER_KILLED = `Stream mapping:
  Stream #0:0 -> #0:0 (copy)
[mpegts @ 0x5602f2f4e080] Timestamps are unset in a packet for stream 0. This is deprecated and will stop working in the future. Fix your code to set the timestamps properly
[mpegts @ 0x5602f2f4e080] Non-monotonous DTS in output stream 0:0; previous: 0, current: 0; changing to 1. This may result in incorrect timestamps in the output file.
frame=   63 fps= 46 q=-1.0 Lsize=     109kB time=00:00:02.44 bitrate= 366.8kbits/s speed=1.79x
video:91kB audio:0kB subtitle:0kB other streams:0kB global headers:0kB muxing overhead: 19.449842%`;

const AAC_STATS = `${SERVER_KILLED}
[aac @ 0x55da0e26fc00] Qavg: 408.301`;

const cases: [string, Pick<SourceConfig, 'kind' | 'driver'>, number | null, string, string, RegExp][] = [
  ['server killed mid-stream: ffmpeg ends with status 0', rtsp, 0, SERVER_KILLED, 'stream-ended', /^网络摄像机停止发送视频（RTSP 连接被关闭）$/],
  ['the same with an audio encoder statistic as its last line', rtsp, 0, AAC_STATS, 'stream-ended', /RTSP 连接被关闭/],
  ['closed port', rtsp, 1, `[tcp @ 0x55df0d767b00] Connection to tcp://127.0.0.1:18554?timeout=3000000 failed: Connection refused\nrtsp://127.0.0.1:18554/x: Connection refused`, 'rtsp-refused', /拒绝连接/],
  ['wrong password', rtsp, 1, `[rtsp @ 0x55836d0d5c40] method DESCRIBE failed: 401 Unauthorized\nrtsp://user:wrong@127.0.0.1:18558/cam: Server returned 401 Unauthorized (authorization failed)`, 'rtsp-auth', /用户名或密码/],
  ['wrong path', rtsp, 1, `[rtsp @ 0x557acd444c40] method DESCRIBE failed: 404 Not Found\nrtsp://127.0.0.1:18557/nope: Server returned 404 Not Found`, 'rtsp-not-found', /RTSP 404/],
  ['TCP refused by a UDP-only server', rtsp, 1, `[rtsp @ 0x565174e7ac40] method SETUP failed: 461 Unsupported transport\nrtsp://127.0.0.1:18562/cam: Protocol not supported`, 'rtsp-transport', /传输方式/],
  ['camera stopped answering', rtsp, 0, `rtsp://127.0.0.1:18558/cam: Connection timed out\nframe=   66 fps=8.4 q=-1.0 Lsize=     114kB time=00:00:02.56 bitrate= 364.8kbits/s speed=0.327x\nvideo:95kB audio:0kB subtitle:0kB other streams:0kB global headers:0kB muxing overhead: 19.478073%`, 'stream-timeout', /停止响应/],
  ['unresolvable name', rtsp, 1, `[tcp @ 0x557730663840] Failed to resolve hostname no-such-camera.invalid: Name or service not known\nrtsp://no-such-camera.invalid/cam: Input/output error`, 'unreachable', /网络不通/],
  ['USB camera unplugged', v4l2, 1, `[video4linux2,v4l2 @ 0x55b790d25b40] Cannot open video device /dev/video9: No such file or directory\n/dev/video9: No such file or directory`, 'device-gone', /^摄像机已断开或找不到设备$/],
  ['microphone unplugged', alsa, 1, `[alsa @ 0x55c0f46c0b40] cannot open audio device hw:9 (No such file or directory)\nhw:9: Input/output error`, 'device-gone', /^麦克风已断开或找不到设备$/],
  ['disk full (ffmpeg still ends with status 0)', v4l2, 0, `[segment @ 0x55eeb0b09980] Failure occurred when ending segment 'seg-000000.ts'\nError writing trailer of seg-%06d.ts: No space left on device\n[libx264 @ 0x55db0e349cc0] kb/s:271.76`, 'storage-full', /存储空间已满/],
];

describe('why a capture run ended', () => {
  for (const [name, src, code, log, cause, words] of cases) {
    it(name, () => {
      const out = explainExit(src, { code, signal: null, logTail: log });
      expect(out.cause).toBe(cause);
      expect(out.words).toMatch(words);
      expect(out.technical.startsWith(`ffmpeg exited with status ${code}`)).toBe(true);
      // No statistic is ever given as a reason.
      expect(out.technical).not.toMatch(/Qavg|frame=|video:\d/);
    });
  }

  it('the technical detail carries ffmpeg\'s error lines, without the camera\'s user and password, and the input ending when there are none', () => {
    expect(explainExit(rtsp, { code: 1, signal: null, logTail: cases[3]![3] }).technical).toBe(
      'ffmpeg exited with status 1: [rtsp @ 0x55836d0d5c40] method DESCRIBE failed: 401 Unauthorized: rtsp://***@127.0.0.1:18558/cam: Server returned 401 Unauthorized (authorization failed)',
    );
    expect(explainExit(rtsp, { code: 0, signal: null, logTail: AAC_STATS }).technical).toBe('ffmpeg exited with status 0: its input ended');
  });

  it('a run killed by a signal, and one that fails for an unknown reason', () => {
    expect(explainExit(v4l2, { code: null, signal: 'SIGKILL', logTail: '' })).toMatchObject({ cause: 'killed', words: '录制摄像机的进程被系统终止（SIGKILL）', technical: 'ffmpeg was ended by SIGKILL' });
    expect(explainExit(alsa, { code: 187, signal: null, logTail: 'something new' })).toMatchObject({ cause: 'run-failed', words: '录制麦克风的进程意外退出', technical: 'ffmpeg exited with status 187: something new' });
  });

  it('statistics never count as error lines', () => {
    expect(errorLines(AAC_STATS)).not.toContain('[aac @ 0x55da0e26fc00] Qavg: 408.301');
  });

  it('outages the supervisor notices itself', () => {
    expect(explainStall(rtsp, 8)).toMatchObject({ cause: 'stalled', words: '网络摄像机停止发送视频（8 秒内没有新的录像片段）' });
    expect(explainStall(alsa, 8).words).toBe('麦克风停止发送声音（8 秒内没有新的录像片段）');
    expect(explainDamaged(v4l2, 'no sync byte')).toMatchObject({ cause: 'damaged-output', technical: 'damaged output: no sync byte' });
  });
});

describe('an RTSP camera that cannot be read before a run', () => {
  const cam: SourceConfig = { id: 'cam2', kind: 'camera', driver: 'rtsp', url: 'rtsp://admin:secret@127.0.0.1:18554/main' };
  // ffprobe's answers (the same libavformat lines a run logs), each with the words for the record and the
  // technician's sentence: what happened, then what to change, naming the key.
  const probes: [string, string, string, string, RegExp][] = [
    ['closed port', `[tcp @ 0x55edbd820400] Connection to tcp://127.0.0.1:18554?timeout=1000000 failed: Connection refused\nrtsp://127.0.0.1:18554/main: Connection refused`, 'rtsp-refused', '网络摄像机拒绝连接（RTSP 端口没有服务）', /^nothing answers RTSP at the camera rtsp:\/\/\*\*\*@127\.0\.0\.1:18554\/main \(connection refused\): check the camera's power, and the address and port in source cam2's url$/],
    ['wrong password', cases[3]![3], 'rtsp-auth', '网络摄像机拒绝了配置的用户名或密码（RTSP 认证失败）', /\(401 Unauthorized\): check the user:password in source cam2's url$/],
    ['wrong path', cases[4]![3], 'rtsp-not-found', '网络摄像机上没有配置的视频流地址（RTSP 404）', /\(404 Not Found\): check the path in source cam2's url/],
    ['TCP refused by VLC', `[rtsp @ 0x556a53e634c0] method SETUP failed: 461 Unsupported transport\nrtsp://127.0.0.1:18554/main: Protocol not supported`, 'rtsp-transport', '网络摄像机不支持所配置的传输方式（TCP，RTSP 461）', /refused RTSP over TCP \(461 Unsupported Transport\): set "transport": "udp" on source cam2 \(recording\.sources\[\]\.transport\)$/],
    ['unresolvable name', `[tcp @ 0x562070b253c0] Failed to resolve hostname no-such.invalid: Name or service not known\nrtsp://no-such.invalid/x: Input/output error`, 'unreachable', '无法连接网络摄像机（网络不通或地址错误）', /cannot be reached \(no route, or its name does not resolve\): check the network, and the address in source cam2's url$/],
    ['a port that accepts and never answers', `rtsp://127.0.0.1:18554/main: Invalid data found when processing input`, 'rtsp-no-answer', '网络摄像机没有应答 RTSP 请求（超时，或该地址不是 RTSP 服务）', /did not answer RTSP in time \(or is not an RTSP server\): check the camera's power, and the address and port in source cam2's url$/],
  ];
  for (const [name, stderr, cause, words, message] of probes) {
    it(`${name}: the words and the fix come from one rule`, () => {
      const e = probeFailure(cam, stderr);
      expect(e.said).toEqual({ cause, words });
      expect(e.message).toMatch(message);
      expect(e.message).not.toContain('secret');
      // The same line in a run's log gives the same words, except what only a question before a run means.
      if (cause !== 'rtsp-no-answer') expect(explainExit(cam, { code: 1, signal: null, logTail: stderr })).toMatchObject({ cause, words });
    });
  }

  it('in a run, invalid data is what the camera sent; before one, no RTSP answer', () => {
    const line = 'rtsp://127.0.0.1:18554/main: Invalid data found when processing input';
    expect(explainExit(cam, { code: 1, signal: null, logTail: line }).cause).toBe('bad-data');
    expect(explainExit(cam, { code: 1, signal: null, logTail: 'rtsp://127.0.0.1:18554/main: Operation not permitted' }).cause).toBe('run-failed');
    expect(probeFailure(cam, 'rtsp://127.0.0.1:18554/main: Operation not permitted').said?.cause).toBe('stream-timeout');
  });

  it('the words name the transport the camera refused', () => {
    expect(explainExit({ ...cam, transport: 'udp' }, { code: 1, signal: null, logTail: probes[3]![1] }).words).toBe('网络摄像机不支持所配置的传输方式（UDP，RTSP 461）');
  });

  it('what no rule knows gives ffprobe\'s last line as the message and no words of its own (the start gives a failed run\'s)', () => {
    const e = probeFailure(cam, 'rtsp://admin:secret@127.0.0.1:18554/main: something new');
    expect(e.message).toBe('the camera rtsp://***@127.0.0.1:18554/main could not be read: rtsp://***@127.0.0.1:18554/main: something new');
    expect(e.said).toBeUndefined();
  });

  async function startFails(url: string): Promise<{ cause: string; words: string; technical: string }> {
    const { FfmpegSource } = await import('../../src/hal/ffmpeg/source.js');
    const { tmp } = await import('../helpers/fixtures.js');
    const src = new FfmpegSource({ config: { id: 'cam2', kind: 'camera', driver: 'rtsp', url }, spoolDir: tmp(), segmentSeconds: 2, rtspTimeoutSeconds: 1 });
    const err = (await src.start().then(() => undefined, (e: unknown) => e)) as { outage?: { cause: string; words: string; technical: string } } | undefined;
    expect(err?.outage).toBeDefined();
    return err!.outage!;
  }

  it('fails the start with the words of what ffprobe said, and its message (with the fix) as the detail', async () => {
    const { freePort, cleanupTmp } = await import('../helpers/fixtures.js');
    // A real ffprobe against a port nothing listens on.
    const outage = await startFails(`rtsp://admin:secret@127.0.0.1:${await freePort()}/main`);
    cleanupTmp();
    expect(outage).toMatchObject({ cause: 'rtsp-refused', words: '网络摄像机拒绝连接（RTSP 端口没有服务）' });
    expect(outage.technical).toContain('nothing answers RTSP at the camera rtsp://***@127.0.0.1');
    expect(outage.technical).not.toContain('secret');
  });

  it('a camera that accepts the connection and never answers: the words say so, as the message does (not "bad data")', async () => {
    const { createServer } = await import('node:net');
    const { cleanupTmp } = await import('../helpers/fixtures.js');
    const held: import('node:net').Socket[] = [];
    const server = createServer((s) => held.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const outage = await startFails(`rtsp://127.0.0.1:${(server.address() as { port: number }).port}/main`);
      expect(outage).toMatchObject({ cause: 'rtsp-no-answer', words: '网络摄像机没有应答 RTSP 请求（超时，或该地址不是 RTSP 服务）' });
      expect(outage.technical).toMatch(/did not answer RTSP in time .*: check the camera's power, and the address and port in source cam2's url$/);
    } finally {
      for (const s of held) s.destroy();
      server.close();
      cleanupTmp();
    }
  });
});
