/**
 * What ffmpeg's and ffprobe's messages mean: the one table that recognises them. Each rule gives the words for an
 * officer and a court (Chinese; they go into the signed interruption entry, so they say what happened to the camera
 * or microphone, never ffmpeg's last log line, which after a camera drops out is often an encoder statistic such as
 * "[aac @ 0x…] Qavg: 408.301", or nothing at all: ffmpeg ends with status 0 when an RTSP server vanishes), and for
 * the technician what happened and what to do, in English, naming the config key to change where one applies
 * (rtsp-probe.ts says them when a camera refuses before a run).
 *
 * The patterns are ffmpeg 5.1's own messages, captured against gst-rtsp-server, VLC, a closed port, a port that
 * accepts and never answers, an unroutable address and missing devices (test/unit/ffmpeg-explain.test.ts holds
 * them verbatim).
 */
import type { SourceConfig } from '../../config/types.js';
import { redactUrl } from './redact.js';

export interface RunFailure {
  /** A stable code for reports and tests. */
  cause: string;
  /** What happened, in Chinese, for the ledger, the console and the officer. */
  words: string;
  /** What ffmpeg said: the exit status and its error lines. */
  technical: string;
}

/** As much of a source's config as the words and fixes name. */
export type SourceKeys = Pick<SourceConfig, 'kind' | 'driver'> & Partial<Pick<SourceConfig, 'id' | 'device' | 'transport'>>;

/** One kind of message. */
export interface Rule {
  cause: string;
  test: RegExp;
  /** Only in ffprobe's answer before a run (nothing recorded yet), where the message means something else. */
  probeOnly?: true;
  /** What happened, in Chinese; `who` is 网络摄像机, 摄像机 or 麦克风. */
  words: (who: string, src: SourceKeys) => string;
  /** What happened, in English; `who` names the device (`the camera rtsp://***@10.0.0.5/main`). */
  problem: (who: string, src: SourceKeys) => string;
  /** What the technician should do. */
  fix: (src: SourceKeys) => string;
}

const transportOf = (src: SourceKeys): 'tcp' | 'udp' => src.transport ?? 'tcp';
const urlKey = (src: SourceKeys): string => `source ${src.id}'s url`;
const checkCamera = (src: SourceKeys): string => `check the camera's power, and the address and port in ${urlKey(src)}`;
const checkNetwork = (): string => "check the camera's power and network";

/** A camera that stops answering: the socket timeout ends the run, or the question before it. */
const noAnswer = {
  cause: 'stream-timeout',
  words: (s: string) => `${s}停止响应（在超时时间内没有收到数据）`,
  problem: (who: string) => `${who} did not answer in time`,
  fix: checkNetwork,
};

/** In order: the first rule whose pattern is in the log decides. */
const RULES: Rule[] = [
  {
    cause: 'storage-full',
    test: /No space left on device/i,
    words: () => '存储空间已满，无法继续写入录像',
    problem: () => 'the storage is full (no space left on device)',
    fix: () => 'free space on the filesystem of stateDir, or get the recordings uploaded (docs/operations.md §4)',
  },
  {
    cause: 'rtsp-auth',
    test: /Server returned 401|401 Unauthorized/,
    words: (s) => `${s}拒绝了配置的用户名或密码（RTSP 认证失败）`,
    problem: (who) => `${who} refused the user name or password (401 Unauthorized)`,
    fix: (src) => `check the user:password in ${urlKey(src)}`,
  },
  {
    cause: 'rtsp-not-found',
    test: /Server returned 404|404 Not Found/,
    words: (s) => `${s}上没有配置的视频流地址（RTSP 404）`,
    problem: (who) => `${who} has no stream at that path (404 Not Found)`,
    fix: (src) => `check the path in ${urlKey(src)} (the camera's ONVIF profile names it)`,
  },
  {
    cause: 'rtsp-transport',
    // VLC and gst-rtsp-server say "Unsupported transport"; other servers capitalise it.
    test: /461 Unsupported transport/i,
    words: (s, src) => `${s}不支持所配置的传输方式（${transportOf(src).toUpperCase()}，RTSP 461）`,
    problem: (who, src) => `${who} refused RTSP over ${transportOf(src).toUpperCase()} (461 Unsupported Transport)`,
    fix: (src) => `set "transport": "${transportOf(src) === 'tcp' ? 'udp' : 'tcp'}" on source ${src.id} (recording.sources[].transport)`,
  },
  {
    cause: 'rtsp-refused',
    test: /Connection refused/,
    words: (s) => `${s}拒绝连接（RTSP 端口没有服务）`,
    problem: (who) => `nothing answers RTSP at ${who} (connection refused)`,
    fix: checkCamera,
  },
  {
    cause: 'unreachable',
    test: /Failed to resolve hostname|No route to host|Network is unreachable|Host is unreachable/,
    words: (s) => `无法连接${s}（网络不通或地址错误）`,
    problem: (who) => `${who} cannot be reached (no route, or its name does not resolve)`,
    fix: (src) => `check the network, and the address in ${urlKey(src)}`,
  },
  { ...noAnswer, test: /timed out/i },
  // libavformat's RTSP reader returns a bare -1 (printed "Operation not permitted") when a read is cut short,
  // and an interrupted open says "Immediate exit requested"; in a run's log neither names a cause.
  { ...noAnswer, test: /Immediate exit requested|Operation not permitted/, probeOnly: true },
  {
    // What ffprobe says when the socket timeout ends a connection that was accepted and never answered (or
    // answered with something that is not RTSP), and when nothing at an unroutable address answers the connect.
    // In a run's log the same line is data the camera sent and cannot be recorded (bad-data below).
    cause: 'rtsp-no-answer',
    test: /Invalid data found when processing input/,
    probeOnly: true,
    words: (s) => `${s}没有应答 RTSP 请求（超时，或该地址不是 RTSP 服务）`,
    problem: (who) => `${who} did not answer RTSP in time (or is not an RTSP server)`,
    fix: checkCamera,
  },
  {
    cause: 'stream-reset',
    test: /Connection reset by peer|Broken pipe/,
    words: (s) => `${s}停止发送视频（连接被对方断开）`,
    problem: (who) => `${who} closed the connection (reset by peer)`,
    fix: checkNetwork,
  },
  {
    cause: 'device-gone',
    test: /Cannot open video device|cannot open audio device|No such device|No such file or directory/,
    words: (s) => `${s}已断开或找不到设备`,
    problem: (who) => `${who} is unplugged or not there`,
    fix: (src) => `check its cable, and the device in source ${src.id} (recording.sources[].device)`,
  },
  {
    cause: 'device-busy',
    test: /Device or resource busy/,
    words: (s) => `${s}被其他程序占用`,
    problem: (who) => `${who} is in use by another program`,
    fix: (src) => `stop the other program (fuser -v ${src.device ?? 'the device'} names it)`,
  },
  {
    cause: 'device-io',
    test: /Input\/output error/,
    words: (s) => `${s}读写出错（设备或连接故障）`,
    problem: (who) => `${who} failed to read (input/output error)`,
    fix: () => 'check its cable and power, or replace it',
  },
  {
    cause: 'bad-data',
    test: /Invalid data found when processing input|first pts and dts value must be set/,
    words: (s) => `${s}发送的数据无法录制（格式或时间戳错误）`,
    problem: (who) => `${who} sends data that cannot be recorded (invalid data or timestamps)`,
    fix: () => "check the camera's encoder settings: H.264 or H.265 (docs/operations.md §15)",
  },
];

/** The rule for a log: ffmpeg's of a run, or (`probe`) ffprobe's answer before one. */
export function recognise(log: string, o: { probe?: boolean } = {}): Rule | undefined {
  return RULES.find((r) => (o.probe || !r.probeOnly) && r.test.test(log));
}

/** Lines that are ffmpeg's progress and statistics, never a reason. */
const NOISE = /^\s*(frame=|size=|video:\d|\[\w+ @ 0x[0-9a-f]+\] (Qavg|frame I:|frame P:|frame B:|mb |coded y|i16|i8|i4|ref |kb\/s|Weighted|8x8|direct|SSIM|PSNR))/;
const ERRORISH = /error|fail|refused|timed out|unreachable|denied|invalid|cannot|could not|no such|returned \d{3}|unsupported|not supported|broken|reset|conversion failed/i;

/** The source in the Chinese words. */
export function subject(src: Pick<SourceConfig, 'kind' | 'driver'>): string {
  if (src.kind === 'microphone') return '麦克风';
  return src.driver === 'rtsp' ? '网络摄像机' : '摄像机';
}

/** ffmpeg's error lines (at most `max`, the last ones), without progress lines and statistics. */
export function errorLines(logTail: string, max = 3): string[] {
  return meaningful(logTail).filter((l) => ERRORISH.test(l)).slice(-max);
}

function meaningful(logTail: string): string[] {
  return logTail.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !NOISE.test(l));
}

/**
 * Status and error lines. Without error lines: a signal or status 0 (the input ended) say it all; only an unknown
 * failure gets ffmpeg's last line, as the best clue there is.
 */
function technicalOf(e: { code: number | null; signal: string | null; logTail: string }): string {
  const head = status(e.code, e.signal);
  // It goes into the signed ledger, which nobody can ever edit: never a camera's password.
  const logTail = redactUrl(e.logTail);
  const errors = errorLines(logTail);
  if (errors.length > 0) return [head, ...errors].join(': ');
  if (e.signal) return head;
  if (e.code === 0) return `${head}: its input ended`;
  const last = meaningful(logTail).at(-1);
  return last ? `${head}: ${last}` : head;
}

function status(code: number | null, signal: string | null): string {
  return signal ? `ffmpeg was ended by ${signal}` : `ffmpeg exited with status ${code}`;
}

/** Why a run that nobody stopped ended. */
export function explainExit(src: SourceKeys, e: { code: number | null; signal: string | null; logTail: string }): RunFailure {
  const who = subject(src);
  const technical = technicalOf(e);
  const rule = recognise(e.logTail);
  if (rule) return { cause: rule.cause, words: rule.words(who, src), technical };
  if (e.signal) return { cause: 'killed', words: `录制${who}的进程被系统终止（${e.signal}）`, technical };
  // ffmpeg ends with status 0 at the end of its input: for a live source that is the source going away.
  if (e.code === 0) {
    const words = src.driver === 'rtsp' ? `${who}停止发送视频（RTSP 连接被关闭）` : `${who}停止发送${src.kind === 'microphone' ? '声音' : '视频'}（输入结束）`;
    return { cause: 'stream-ended', words, technical };
  }
  return { cause: 'run-failed', words: `录制${who}的进程意外退出`, technical };
}

/** A run that writes no finished segment for too long. */
export function explainStall(src: Pick<SourceConfig, 'kind' | 'driver'>, seconds: number): RunFailure {
  return {
    cause: 'stalled',
    words: `${subject(src)}停止发送${src.kind === 'microphone' ? '声音' : '视频'}（${seconds} 秒内没有新的录像片段）`,
    technical: `no finished segment for ${seconds} s; the run was restarted`,
  };
}

/** A run that wrote a file that is not MPEG-TS. */
export function explainDamaged(src: Pick<SourceConfig, 'kind' | 'driver'>, problem: string): RunFailure {
  return { cause: 'damaged-output', words: `${subject(src)}发送的数据已损坏，无法作为录像保存`, technical: `damaged output: ${problem}` };
}
