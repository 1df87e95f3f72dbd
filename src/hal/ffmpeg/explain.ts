/**
 * Why a capture run ended without being asked to, in words an officer and a court understand, with the technical
 * detail beside them. The words go into the signed interruption entry, so they must say what happened to the
 * camera or microphone, never ffmpeg's last log line (which after a camera drops out is often an encoder statistic
 * such as "[aac @ 0x…] Qavg: 408.301", or nothing at all: ffmpeg ends with status 0 when an RTSP server vanishes).
 *
 * The patterns are ffmpeg 5.1's own messages, captured against gst-rtsp-server, a closed port, an unroutable
 * address and missing devices (test/unit/ffmpeg-explain.test.ts holds them verbatim).
 */
import type { SourceConfig } from '../../config/types.js';

export interface RunFailure {
  /** A stable code for reports and tests. */
  cause: string;
  /** What happened, in Chinese, for the ledger, the console and the officer. */
  words: string;
  /** What ffmpeg said: the exit status and its error lines. */
  technical: string;
}

interface Rule {
  cause: string;
  test: RegExp;
  words: (subject: string, m: RegExpMatchArray) => string;
}

/** In order: the first rule whose pattern is in the log decides. */
const RULES: Rule[] = [
  { cause: 'storage-full', test: /No space left on device/i, words: () => '存储空间已满，无法继续写入录像' },
  { cause: 'rtsp-auth', test: /Server returned 401|401 Unauthorized/, words: (s) => `${s}拒绝了配置的用户名或密码（RTSP 认证失败）` },
  { cause: 'rtsp-not-found', test: /Server returned 404|404 Not Found/, words: (s) => `${s}上没有配置的视频流地址（RTSP 404）` },
  {
    cause: 'rtsp-transport',
    test: /461 Unsupported transport/,
    words: (s) => `${s}不支持所配置的传输方式（RTSP 461），请在配置中更改该视频源的传输方式（TCP/UDP）`,
  },
  { cause: 'rtsp-refused', test: /Connection refused/, words: (s) => `${s}拒绝连接（RTSP 端口没有服务）` },
  {
    cause: 'unreachable',
    test: /Failed to resolve hostname|No route to host|Network is unreachable|Host is unreachable/,
    words: (s) => `无法连接${s}（网络不通或地址错误）`,
  },
  { cause: 'stream-timeout', test: /timed out|Operation timed out/i, words: (s) => `${s}停止响应（在超时时间内没有收到数据）` },
  { cause: 'stream-reset', test: /Connection reset by peer|Broken pipe/, words: (s) => `${s}停止发送视频（连接被对方断开）` },
  {
    cause: 'device-gone',
    test: /Cannot open video device|cannot open audio device|No such device|No such file or directory/,
    words: (s) => `${s}已断开或找不到设备`,
  },
  { cause: 'device-busy', test: /Device or resource busy/, words: (s) => `${s}被其他程序占用` },
  { cause: 'device-io', test: /Input\/output error/, words: (s) => `${s}读写出错（设备或连接故障）` },
  { cause: 'bad-data', test: /Invalid data found when processing input|first pts and dts value must be set/, words: (s) => `${s}发送的数据无法录制（格式或时间戳错误）` },
];

/** Lines that are ffmpeg's progress and statistics, never a reason. */
const NOISE = /^\s*(frame=|size=|video:\d|\[\w+ @ 0x[0-9a-f]+\] (Qavg|frame I:|frame P:|frame B:|mb |coded y|i16|i8|i4|ref |kb\/s|Weighted|8x8|direct|SSIM|PSNR))/;
const ERRORISH = /error|fail|refused|timed out|unreachable|denied|invalid|cannot|could not|no such|returned \d{3}|unsupported|not supported|broken|reset|conversion failed/i;

function subject(src: Pick<SourceConfig, 'kind' | 'driver'>): string {
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
  const errors = errorLines(e.logTail);
  if (errors.length > 0) return [head, ...errors].join(': ');
  if (e.signal) return head;
  if (e.code === 0) return `${head}: its input ended`;
  const last = meaningful(e.logTail).at(-1);
  return last ? `${head}: ${last}` : head;
}

function status(code: number | null, signal: string | null): string {
  return signal ? `ffmpeg was ended by ${signal}` : `ffmpeg exited with status ${code}`;
}

/** Why a run that nobody stopped ended. */
export function explainExit(src: Pick<SourceConfig, 'kind' | 'driver'>, e: { code: number | null; signal: string | null; logTail: string }): RunFailure {
  const who = subject(src);
  const technical = technicalOf(e);
  for (const r of RULES) {
    const m = e.logTail.match(r.test);
    if (m) return { cause: r.cause, words: r.words(who, m), technical };
  }
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
