/**
 * Config keys as a technician reads them: `recording.sources[0].label` is 「录制 · 音视频源 1（cam1）· 名称」 on a
 * zh-CN page (and "recording · source 1 (cam1) · label" in English), with the key itself left to the element's
 * title. Every key of src/config/schema.ts has a name here (test/unit/config-names.test.ts walks the schema); a key
 * the schema does not know, such as a typo, is shown as written.
 */
import { segments } from '../config/diff.js';
import type { Lang } from './i18n.js';

/** Names by key pattern (array items as `[]`, `{n}` their number from 1), each in the context of its parent. */
const NAMES: Record<string, readonly [string, string]> = {
  $schema: ['JSON 模式声明', 'JSON schema reference'],
  deviceId: ['设备号', 'device ID'],
  installation: ['安装类型', 'installation type'],
  place: ['地点', 'place'],
  stateDir: ['状态目录（录像与事件日志）', 'state folder'],
  agency: ['执法机构', 'agency'],
  'agency.caCert': ['CA 证书', 'CA certificate'],
  'agency.transportCaCert': ['传输 CA 证书（国密机构连接消息代理用）', 'transport CA certificate (a gm agency’s broker TLS)'],
  'agency.encryptionCert': ['加密证书', 'encryption certificate'],
  'agency.roster': ['执法人员名单（含 PIN）', 'officer roster (with PINs)'],
  time: ['时间', 'time'],
  'time.source': ['时间来源', 'source'],
  'time.maxOffsetMs': ['允许的时钟偏差（毫秒）', 'largest offset allowed (ms)'],
  'time.stepThresholdMs': ['时钟跳变阈值（毫秒）', 'clock step threshold (ms)'],
  'time.zone': ['显示时区', 'time zone shown'],
  'time.assumeSynchronised': ['假定时钟已同步（仅 host）', 'assume the clock synchronised (host only)'],
  control: ['本机控制', 'local control'],
  'control.socket': ['控制套接字', 'control socket'],
  gps: ['卫星定位', 'GPS'],
  'gps.gpsd': ['定位服务地址', 'gpsd address'],
  'gps.fixTimeToleranceMs': ['定位时间允许偏差（毫秒）', 'fix time tolerance (ms)'],
  'gps.homeBase': ['基地', 'home base'],
  'gps.homeBase.lat': ['纬度', 'latitude'],
  'gps.homeBase.lon': ['经度', 'longitude'],
  'gps.homeBase.radiusM': ['半径（米）', 'radius (m)'],
  gpio: ['指示灯与输入', 'lamps and inputs'],
  'gpio.backend': ['驱动方式', 'backend'],
  'gpio.lamp': ['录制指示灯引脚', 'tally lamp pin'],
  'gpio.buzzer': ['蜂鸣器引脚', 'buzzer pin'],
  'gpio.inputs': ['输入', 'inputs'],
  'gpio.inputs[]': ['输入 {n}', 'input {n}'],
  'gpio.inputs[].pin': ['引脚', 'pin'],
  'gpio.inputs[].name': ['名称', 'name'],
  'gpio.inputs[].action': ['动作', 'action'],
  'gpio.inputs[].activeLow': ['低电平有效', 'active low'],
  'gpio.inputs[].debounceMs': ['去抖时间（毫秒）', 'debounce (ms)'],
  'gpio.session': ['由输入开始的会话', 'session started by an input'],
  'gpio.session.matter': ['事项', 'matter'],
  'gpio.session.officers': ['执法人员', 'officers'],
  'gpio.session.officers[]': ['执法人员 {n}', 'officer {n}'],
  power: ['供电', 'power'],
  'power.lowBatteryPercent': ['低电量阈值（%）', 'low battery below (%)'],
  'power.lowRuntimeSeconds': ['剩余续航阈值（秒）', 'low runtime below (s)'],
  'power.nut': ['UPS（NUT 服务）', 'UPS (Network UPS Tools)'],
  'power.nut.host': ['NUT 服务地址', 'upsd host'],
  'power.nut.port': ['NUT 服务端口', 'upsd port'],
  'power.nut.name': ['UPS 名称', 'UPS name'],
  'power.nut.user': ['NUT 用户名', 'upsd user'],
  'power.nut.password': ['NUT 密码', 'upsd password'],
  'power.nut.pollSeconds': ['查询间隔（秒）', 'poll interval (s)'],
  serial: ['串口设备', 'serial devices'],
  'serial.panel': ['控制面板', 'control panel'],
  'serial.panel.path': ['串口', 'port'],
  'serial.panel.baudRate': ['波特率', 'baud rate'],
  'serial.ups': ['不间断电源', 'UPS'],
  'serial.ups.path': ['串口', 'port'],
  'serial.ups.baudRate': ['波特率', 'baud rate'],
  'serial.ptz': ['云台摄像机', 'PTZ cameras'],
  'serial.ptz[]': ['云台 {n}', 'PTZ {n}'],
  'serial.ptz[].path': ['串口', 'port'],
  'serial.ptz[].baudRate': ['波特率', 'baud rate'],
  'serial.ptz[].address': ['地址', 'address'],
  'serial.ptz[].source': ['所载摄像机', 'camera source'],
  'serial.ptz[].preset': ['预置位', 'preset'],
  uplink: ['上传', 'uplink'],
  'uplink.broker': ['服务器地址', 'broker'],
  'uplink.protocolVersion': ['MQTT 协议版本', 'MQTT version'],
  'uplink.deadlineHours': ['上传期限（小时）', 'deadline (hours)'],
  'uplink.alarmHoursBefore': ['期限前告警（小时）', 'alarms before the deadline (hours)'],
  'uplink.alarmHoursBefore[]': ['期限前告警 {n}（小时）', 'alarm {n} (hours before)'],
  'uplink.retentionHours': ['回执后本地保留（小时）', 'kept after the receipt (hours)'],
  'uplink.chunkKiB': ['分块大小（KiB）', 'chunk size (KiB)'],
  'uplink.window': ['同时发送的分块数', 'chunks in flight'],
  'uplink.maxBytesPerSecond': ['带宽上限（字节/秒）', 'bandwidth cap (bytes/s)'],
  'uplink.answerTimeoutSeconds': ['应答超时（秒）', 'answer timeout (s)'],
  'uplink.outOfCoverageMinutes': ['判定离开信号覆盖区（分钟）', 'out of coverage after (minutes)'],
  console: ['控制台', 'console'],
  'console.listen': ['监听地址', 'listen address'],
  'console.allowFrom': ['允许访问的网络', 'networks allowed'],
  'console.allowFrom[]': ['允许访问的网络 {n}', 'network {n}'],
  'console.tls': ['HTTPS 证书', 'HTTPS certificate'],
  'console.sessionMinutes': ['登录闲置时限（分钟）', 'login idle limit (minutes)'],
  'console.language': ['默认语言', 'default language'],
  recording: ['录制', 'recording'],
  'recording.segmentSeconds': ['片段时长（秒）', 'segment length (s)'],
  'recording.preEventSeconds': ['预录时长（秒）', 'pre-event buffer (s)'],
  'recording.expectedSessionMinutes': ['预计会话时长（分钟）', 'expected session length (minutes)'],
  'recording.minBatteryPercent': ['最低电池电量（%）', 'lowest battery level (%)'],
  'recording.announcement': ['录制告知音频', 'announcement audio'],
  'recording.speakerDevice': ['扬声器设备', 'speaker device'],
  'recording.explanation': ['恢复后口头说明的检测', 'spoken explanation after a resume'],
  'recording.explanation.windowSeconds': ['等待口头说明（秒）', 'listen for (s)'],
  'recording.explanation.levelDb': ['语音电平下限（dBFS）', 'speech louder than (dBFS)'],
  'recording.explanation.marginDb': ['高于环境噪声（dB）', 'above the room noise by (dB)'],
  'recording.explanation.minSpeechSeconds': ['最短语音时长（秒）', 'shortest speech (s)'],
  'recording.explanation.minModulationDb': ['最小音量起伏（dB）', 'least level change (dB)'],
  'recording.storageQuotaMB': ['本地存储配额（MB）', 'storage quota (MB)'],
  'recording.sources': ['音视频源', 'sources'],
  'recording.sources[]': ['音视频源 {n}', 'source {n}'],
  'recording.sources[].id': ['编号', 'ID'],
  'recording.sources[].kind': ['类型', 'kind'],
  'recording.sources[].driver': ['驱动', 'driver'],
  'recording.sources[].label': ['名称', 'label'],
  'recording.sources[].device': ['设备', 'device'],
  'recording.sources[].url': ['码流地址', 'stream URL'],
  'recording.sources[].width': ['宽度', 'width'],
  'recording.sources[].height': ['高度', 'height'],
  'recording.sources[].fps': ['帧率', 'frame rate'],
  'recording.sources[].bitrateKbps': ['码率（kbit/s）', 'bit rate (kbit/s)'],
  'recording.sources[].encoder': ['编码器', 'encoder'],
  'recording.sources[].sampleRate': ['采样率', 'sample rate'],
  'recording.sources[].channels': ['声道数', 'channels'],
  'recording.sources[].frequency': ['模拟音调频率', 'simulated tone frequency'],
  'recording.sources[].withAudio': ['模拟画面带声音', 'simulated picture with sound'],
  'recording.sources[].simFilter': ['模拟信号滤镜', 'simulation filter'],
  'recording.sources[].onvif': ['ONVIF 设置', 'ONVIF'],
  'recording.sources[].onvif.url': ['服务地址', 'service URL'],
  'recording.sources[].onvif.user': ['用户名', 'user'],
  'recording.sources[].onvif.password': ['密码', 'password'],
  'recording.sources[].onvif.setClock': ['同步摄像机时钟', 'set the camera clock'],
  'recording.sources[].onvif.timeZone': ['摄像机显示时区', 'camera time zone'],
  'recording.sources[].onvif.overlay': ['摄像机画面叠加', 'camera overlay'],
  'recording.sources[].onvif.overlayText': ['叠加文字', 'overlay text'],
  'recording.sources[].onvif.gopSeconds': ['关键帧间隔（秒）', 'GOP (s)'],
  'recording.sources[].transport': ['传输方式', 'transport'],
  'recording.overlay': ['画面叠加', 'overlay'],
  'recording.overlay.enabled': ['启用', 'enabled'],
  'recording.overlay.font': ['字体文件', 'font'],
  'recording.detectors': ['异常检测', 'detectors'],
  'recording.detectors.blackSeconds': ['黑屏判定时长（秒）', 'black after (s)'],
  'recording.detectors.blackPixelThreshold': ['黑色像素阈值', 'black pixel threshold'],
  'recording.detectors.freezeSeconds': ['画面冻结判定时长（秒）', 'frozen after (s)'],
  'recording.detectors.freezeNoise': ['冻结判定噪声阈值', 'freeze noise threshold'],
  'recording.detectors.sampleFps': ['检测采样帧率', 'pictures compared a second'],
  'recording.detectors.silenceDb': ['无声判定电平（dBFS）', 'silence level (dBFS)'],
  'recording.detectors.silenceSeconds': ['无声判定时长（秒）', 'silent after (s)'],
};

/** The key patterns named here (for the test that every schema key has a name). */
export const NAMED_KEYS: readonly string[] = Object.keys(NAMES);

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What an array item is called besides its number: a source's or input's id, a PTZ head's camera. */
function itemTag(item: unknown): string | undefined {
  if (!isObj(item)) return undefined;
  for (const k of ['id', 'source', 'name']) if (typeof item[k] === 'string' && item[k] !== '') return item[k];
  return undefined;
}

/**
 * The key in words: the name of each level joined by " · " (an array's own name gives way to its item's).
 * `config`, when given, is the config the key belongs to: items are then named by their id as well.
 */
export function keyName(key: string, lang: Lang, config?: unknown): string {
  const i = lang === 'en' ? 1 : 0;
  if (key === '(top level)') return lang === 'en' ? '(the whole config)' : '（整个配置）';
  const parts: string[] = [];
  let pattern = '';
  let value: unknown = config;
  for (const seg of segments(key)) {
    value = typeof seg === 'number' ? (Array.isArray(value) ? value[seg] : undefined) : isObj(value) ? value[seg] : undefined;
    if (typeof seg === 'number') {
      pattern += '[]';
      const name = NAMES[pattern];
      const tag = itemTag(value);
      const text = (name ? name[i] : `[${seg + 1}]`).replace('{n}', String(seg + 1)) + (tag ? (lang === 'en' ? ` (${tag})` : `（${tag}）`) : '');
      // "音视频源 · 音视频源 1": the item's name replaces the array's.
      if (name) parts.pop();
      parts.push(text);
      continue;
    }
    pattern = pattern ? `${pattern}.${seg}` : seg;
    const name = Object.hasOwn(NAMES, pattern) ? NAMES[pattern] : undefined;
    parts.push(name ? name[i] : `“${seg}”`);
  }
  return parts.length ? parts.join(' · ') : lang === 'en' ? '(the whole config)' : '（整个配置）';
}

/** What the schema's fixed values mean, by key pattern; shown beside the value on zh-CN pages ("camera（摄像机）"). */
const VALUES: Record<string, Record<string, string>> = {
  installation: { 'interview-room': '询问室', 'hearing-room': '听证室', vehicle: '执法车辆' },
  'time.source': { ntp: '网络校时', gps: '卫星授时', rtc: '设备内置时钟', host: '由主机校时' },
  'gpio.backend': { sysfs: '实际硬件', sim: '模拟（无硬件）' },
  'gpio.inputs[].name': { 'record-button': '录制按钮', door: '门磁', ignition: '点火开关', lightbar: '警灯' },
  'gpio.inputs[].action': { 'toggle-session': '开始或结束会话', 'start-session': '开始会话', 'stop-session': '结束会话', 'mark-event': '标记事件', none: '无动作' },
  'console.tls': { device: '设备证书', 'self-signed': '自签名证书' },
  'console.language': { 'zh-CN': '中文', en: '英文' },
  'recording.sources[].kind': { camera: '摄像机', microphone: '麦克风' },
  'recording.sources[].driver': { sim: '模拟信号', v4l2: 'USB 摄像机', alsa: '声卡麦克风', rtsp: '网络摄像机', rpicam: '树莓派摄像头' },
  'recording.sources[].encoder': { libx264: '软件编码', h264_v4l2m2m: '硬件编码', copy: '不重新编码' },
  'recording.sources[].transport': { tcp: 'TCP', udp: 'UDP' },
};

/** A config value as a table shows it: as written (the editor's JSON has it so), with its meaning on zh-CN pages. */
export function valueWords(key: string, value: string, raw: unknown, lang: Lang): string {
  if (lang === 'en' || raw === undefined) return value;
  // A yes or no reads as one, without the JSON word beside it.
  if (raw === true || raw === false) return raw ? '是' : '否';
  const pattern = segments(key)
    .map((s) => (typeof s === 'number' ? '[]' : `.${s}`))
    .join('')
    .slice(1);
  const meaning = typeof raw === 'string' && Object.hasOwn(VALUES, pattern) ? VALUES[pattern]![raw] : undefined;
  return meaning ? `${value}（${meaning}）` : value;
}

/** Several keys in words, for sentences ("…，…"). */
export function keyNames(keys: readonly string[], lang: Lang, config?: unknown): string {
  return keys.map((k) => keyName(k, lang, config)).join(lang === 'en' ? '; ' : '；');
}
