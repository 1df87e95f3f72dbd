/**
 * The installation config: every invalid file fails with a config error (exit status 2) whose message names the
 * file and the key, so a technician can fix it without reading code; the example configs all validate.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { keyPath, loadConfig, parseConfigText, validateConfig } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { RecgwError } from '../../src/util/errors.js';
import { loadReceiverConfig } from '../../src/receiver/config.js';

afterAll(cleanupTmp);

const CONFIG_DIR = join(import.meta.dirname, '..', '..', 'config');

function valid(): Record<string, unknown> {
  return {
    deviceId: 'room-1',
    installation: 'interview-room',
    stateDir: './state',
    agency: { caCert: 'ca.pem', encryptionCert: 'agency-enc.pem' },
    recording: {
      sources: [
        { id: 'cam1', kind: 'camera', driver: 'sim' },
        { id: 'mic1', kind: 'microphone', driver: 'sim' },
      ],
    },
  };
}

/** Write `obj` (or raw text) to a file and load it; return the config error. */
function configError(content: unknown): { err: RecgwError; file: string } {
  const file = join(tmp('recgw-config-'), 'recgw.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  try {
    loadConfig(file);
  } catch (err) {
    expect(err).toBeInstanceOf(RecgwError);
    const e = err as RecgwError;
    expect(e.code).toBe('config');
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain(file);
    return { err: e, file };
  }
  throw new Error('expected the config to be refused');
}

/** The config as plain JSON to break on purpose. */
interface Cfg {
  [key: string]: unknown;
  agency: Record<string, unknown>;
  recording: { [key: string]: unknown; sources: Record<string, unknown>[] };
}

/** A deep copy of the valid config with one change made by `edit`. */
const changed = (edit: (c: Cfg) => void): Record<string, unknown> => {
  const c = structuredClone(valid()) as Cfg;
  edit(c);
  return c;
};

describe('config validation', () => {
  it('a valid file loads, with defaults filled in and paths made absolute against its folder', () => {
    const dir = tmp('recgw-config-');
    const file = join(dir, 'recgw.json');
    writeFileSync(file, JSON.stringify(valid()));
    const c = loadConfig(file);
    expect(c.file).toBe(resolve(file));
    expect(c.stateDir).toBe(join(dir, 'state'));
    expect(c.agency.caCert).toBe(join(dir, 'ca.pem'));
    expect(c.recording.segmentSeconds).toBe(10);
    expect(c.recording.preEventSeconds).toBe(0);
    // People read Beijing time unless the installation says otherwise.
    expect(c.time.zone).toBe('Asia/Shanghai');
  });

  it.each([
    ['a bad driver of the second source', (c: Cfg) => (c.recording.sources[1]!.driver = 'usb'), 'recording.sources[1].driver', /must be one of "sim", "v4l2", "alsa", "rtsp", "rpicam"/],
    ['an unknown top-level key', (c: Cfg) => (c.recordng = {}), 'recordng', /is not a known setting \(check the spelling\)/],
    ['an unknown nested key', (c: Cfg) => (c.agency.caCertificate = 'x.pem'), 'agency.caCertificate', /is not a known setting/],
    ['an unknown key in a source', (c: Cfg) => (c.recording.sources[0]!.resolution = '720p'), 'recording.sources[0].resolution', /is not a known setting/],
    ['a string where a number belongs', (c: Cfg) => (c.recording.segmentSeconds = '10'), 'recording.segmentSeconds', /must be integer/],
    ['a number out of range', (c: Cfg) => (c.recording.segmentSeconds = 1), 'recording.segmentSeconds', /must be >= 2/],
    ['an object where a string belongs', (c: Cfg) => (c.stateDir = { path: '/x' }), 'stateDir', /must be string/],
    ['a missing required key', (c: Cfg) => delete c.agency.encryptionCert, 'agency.encryptionCert', /is required/],
    [
      'the retired agency.encryptionKey (a key file could be anyone\'s key)',
      (c: Cfg) => {
        delete c.agency.encryptionCert;
        c.agency.encryptionKey = 'agency-pub.pem';
      },
      'agency.encryptionKey',
      /^ {2}agency\.encryptionKey: is no longer accepted .*set agency\.encryptionCert to the agency's encryption certificate \(agency-enc\.pem, issued by the agency CA for the role recgw-encryption\)$/,
    ],
    ['a missing top-level key', (c: Cfg) => delete c.deviceId, 'deviceId', /is required/],
    ['no sources', (c: Cfg) => (c.recording.sources = []), 'recording.sources', /must NOT have fewer than 1 items/],
    ['a bad device ID', (c: Cfg) => (c.deviceId = 'room 1/a'), 'deviceId', /must match pattern/],
    ['a bad installation', (c: Cfg) => (c.installation = 'office'), 'installation', /must be one of "interview-room", "hearing-room", "vehicle"/],
    ['a time zone nobody has (a POSIX TZ string, not an IANA name)', (c: Cfg) => (c.time = { zone: 'CST-8' }), 'time.zone', /is not a time zone: give an IANA name such as Asia\/Shanghai/],
    ['a made-up time zone', (c: Cfg) => (c.time = { zone: 'Mars/Olympus' }), 'time.zone', /is not a time zone/],
  ])('%s: names the key', (_name, edit, key, message) => {
    const { err } = configError(changed(edit));
    const line = err.message.split('\n').find((l) => l.trim().startsWith(`${key}:`));
    expect(line, err.message).toBeDefined();
    expect(line).toMatch(message);
  });

  it('says each problem in Chinese too, for the console (no keyword the schema uses falls back to English)', () => {
    const c = changed((x) => {
      x.recordng = {};
      delete x.agency.encryptionCert;
      x.installation = 'office';
      x.recording.segmentSeconds = '10';
      x.recording.preEventSeconds = 500;
      x.deviceId = 'room 1/a';
      x.stateDir = '';
      x.recording.sources[1]!.id = 'cam1';
      x.recording.sources[0]!.label = 'x'.repeat(65);
      x.time = { zone: 'Beijing' };
    });
    const zh = Object.fromEntries(validateConfig(c).map((p) => [p.key, p.zh]));
    expect(zh).toMatchObject({
      recordng: '不是已知的配置项（请检查拼写）',
      'agency.encryptionCert': '必须填写',
      installation: '必须是以下之一："interview-room", "hearing-room", "vehicle"',
      'recording.segmentSeconds': '必须是整数',
      'recording.preEventSeconds': '不能大于 120',
      deviceId: expect.stringMatching(/^格式不正确/),
      stateDir: '不能为空',
      'recording.sources[0].label': '不能多于 64 个字符',
      'time.zone': '不是有效的时区：请填写 IANA 时区名，例如 Asia/Shanghai（北京时间）',
    });
    expect(validateConfig(changed((x) => (x.recording.sources = []))).map((p) => p.zh)).toEqual(['至少需要 1 项']);
    expect(validateConfig(changed((x) => (x.agency.encryptionKey = 'k.pem'))).map((p) => p.zh)).toEqual([expect.stringMatching(/^已不再接受.*agency\.encryptionCert/)]);
    expect(validateConfig(changed((x) => (x.recording.sources[1]!.id = 'cam1'))).map((p) => p.zh)).toEqual(['与另一个信号源的 id "cam1" 重复']);
    // Every validation keyword in the schema has its own Chinese sentence.
    const keywords = new Set(JSON.stringify(configSchema).match(/"(type|minimum|maximum|exclusiveMinimum|exclusiveMaximum|minLength|maxLength|minItems|maxItems|pattern|enum|required|additionalProperties|[a-zA-Z]+Of|const|format|uniqueItems|multipleOf)"/g));
    expect([...keywords].map((k) => k.replace(/"/g, '')).sort()).toEqual(
      ['additionalProperties', 'enum', 'exclusiveMinimum', 'format', 'maxItems', 'maxLength', 'maximum', 'minItems', 'minLength', 'minimum', 'pattern', 'required', 'type'],
    );
  });

  it("a key named like an Object method is an unknown key, not a crash (fast-check found {\"toString\": 0} gave the console a 500)", () => {
    for (const name of ['toString', 'constructor', 'hasOwnProperty', '__proto__', 'valueOf']) {
      const problems = validateConfig(JSON.parse(`{"${name}": 0}`));
      expect(problems.every((p) => typeof p.key === 'string' && typeof p.message === 'string'), name).toBe(true);
    }
    expect(validateConfig({ toString: 0 })).toContainEqual({ key: 'toString', message: 'is not a known setting (check the spelling)', zh: '不是已知的配置项（请检查拼写）' });
  });

  it('duplicate source ids name the later source', () => {
    const { err } = configError(changed((c) => (c.recording.sources[1]!.id = 'cam1')));
    expect(err.message).toMatch(/^ {2}recording\.sources\[1\]\.id: duplicates another source's id "cam1"$/m);
  });

  it('time.assumeSynchronised: host only, named when set with a source whose sync the gateway measures', () => {
    const withTime = (time: Record<string, unknown>): ReturnType<typeof validateConfig> => validateConfig(changed((c) => Object.assign(c, { time })));
    expect(withTime({ source: 'host', assumeSynchronised: true })).toEqual([]);
    expect(withTime({ source: 'host' })).toEqual([]);
    expect(withTime({ source: 'ntp', assumeSynchronised: true })).toEqual([
      {
        key: 'time.assumeSynchronised',
        message: 'applies only to time.source "host" (this config has "ntp", whose sync the gateway measures): remove it',
        zh: '仅适用于 time.source "host"（本配置为 "ntp"，其同步状态由网关测量）：请删除此项',
      },
    ]);
    expect(withTime({ source: 'ntp', assumeSynchronised: false })).toEqual([]);
    const c = changed((x) => Object.assign(x, { time: { source: 'host' } }));
    validateConfig(c);
    expect(c.time).toMatchObject({ source: 'host', assumeSynchronised: false, maxOffsetMs: 500, stepThresholdMs: 1000 });
  });

  it('several problems are all listed, one per key', () => {
    const { err } = configError(
      changed((c) => {
        delete c.stateDir;
        c.recording.sources[0]!.kind = 'lens';
        c.color = 'blue';
      }),
    );
    expect(err.message).toMatch(/^ {2}stateDir: is required$/m);
    expect(err.message).toMatch(/^ {2}recording\.sources\[0\]\.kind: must be one of "camera", "microphone"$/m);
    expect(err.message).toMatch(/^ {2}color: is not a known setting/m);
  });

  it.each([
    ['not JSON at all', 'deviceId = room-1'],
    ['a trailing comma', '{"deviceId": "room-1",}'],
    ['an empty file', ''],
  ])('bad JSON (%s) says the file is not valid JSON', (_name, text) => {
    const { err } = configError(text);
    expect(err.message).toMatch(/is not valid JSON/);
  });

  it('JSON that is not an object names the top level', () => {
    const { err } = configError('[1, 2]');
    expect(err.message).toMatch(/\(top level\): must be object/);
  });

  it('a missing file says so and how to point at the right one', () => {
    const file = join(tmp('recgw-config-'), 'nope.json');
    expect(() => loadConfig(file)).toThrow(expect.objectContaining({ code: 'config', exitCode: 2, message: expect.stringMatching(/nope\.json does not exist \(pass --config/) }));
  });

  it('key paths read the way a technician writes them', () => {
    expect(keyPath('')).toBe('(top level)');
    expect(keyPath('/recording/sources/1/driver')).toBe('recording.sources[1].driver');
    expect(keyPath('/a~1b/c~0d')).toBe('a/b.c~d');
  });

  it('parseConfigText reports the name it was given', () => {
    expect(() => parseConfigText('{}', 'from-the-console.json')).toThrow(/config file from-the-console\.json is invalid/);
  });
});

describe('the UPS (power)', () => {
  const ups = (power: Record<string, unknown>, serialUps = false): Record<string, unknown> =>
    changed((c) => {
      c.power = power;
      if (serialUps) c.serial = { ups: { path: '/dev/ttyUSB0' } };
    });

  it('a NUT UPS with its defaults filled in', () => {
    const file = join(tmp('recgw-config-'), 'recgw.json');
    writeFileSync(file, JSON.stringify(ups({ nut: { name: 'ups' } })));
    expect(loadConfig(file).power).toEqual({ lowBatteryPercent: 10, lowRuntimeSeconds: 120, nut: { host: '127.0.0.1', port: 3493, name: 'ups', pollSeconds: 2 } });
  });

  it.each([
    ['two UPSes', ups({ nut: { name: 'ups' } }, true), 'power.nut', 'a gateway watches one UPS: remove serial.ups or power.nut', '网关只监测一台 UPS：请删除 serial.ups 或 power.nut 之一'],
    ['a user without a password', ups({ nut: { name: 'ups', user: 'recgw' } }), 'power.nut.password', /^a login to upsd needs both user and password/, /^登录 upsd 需要同时设置 user 和 password/],
    ['a password without a user', ups({ nut: { name: 'ups', password: 'x' } }), 'power.nut.user', /^a login to upsd needs both/, /^登录 upsd/],
    [
      'recording stopping at a charge a start is allowed at',
      ups({ lowBatteryPercent: 20, nut: { name: 'ups' } }),
      'power.lowBatteryPercent',
      'must be below recording.minBatteryPercent (20): a session that pre-flight lets start must not be interrupted at once',
      /^必须低于 recording\.minBatteryPercent（20）/,
    ],
    ['a UPS name upsd could not have', ups({ nut: { name: 'my ups' } }), 'power.nut.name', /must match pattern/, /^格式不正确/],
    ['a port out of range', ups({ nut: { name: 'ups', port: 70000 } }), 'power.nut.port', /must be <= 65535/, '不能大于 65535'],
  ])('%s: names the key, in English and Chinese', (_what, c, key, en, zh) => {
    const problems = validateConfig(c);
    expect(problems, JSON.stringify(problems)).toHaveLength(1);
    expect(problems[0]!.key).toBe(key);
    expect(problems[0]!.message).toMatch(en);
    expect(problems[0]!.zh).toMatch(zh);
  });

  it('the serial UPS alone is fine, and with no UPS the limits are not checked against anything', () => {
    expect(validateConfig(ups({}, true))).toEqual([]);
    expect(validateConfig(changed((c) => ((c.recording.minBatteryPercent = 5), (c.power = {}))))).toEqual([]);
  });
});

describe('the example configs in config/', () => {
  const files = readdirSync(CONFIG_DIR).filter((f) => f.endsWith('.json') && f !== 'receiver.json').sort();

  it('there are at least three (interview room, hearing room, vehicle)', () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
  });

  it('each one validates', () => {
    const installations = new Set<string>();
    for (const f of files) {
      const c = loadConfig(join(CONFIG_DIR, f));
      installations.add(c.installation);
      expect(c.recording.sources.length).toBeGreaterThan(0);
    }
    expect([...installations].sort()).toEqual(['hearing-room', 'interview-room', 'vehicle']);
  });
});

describe('the receiver config', () => {
  it('the example validates, with paths and the shared-subscription group', () => {
    const c = loadReceiverConfig(join(CONFIG_DIR, 'receiver.json'));
    expect(c).toMatchObject({ name: 'receiver:1', protocolVersion: 5, shareGroup: 'recgw-receivers' });
    expect(c.agency.receiptKey).toMatch(/^\//);
  });

  it('an invalid one names the file and the key (exit status 2)', () => {
    const f = join(tmp(), 'rx.json');
    writeFileSync(f, JSON.stringify({ name: 'r 1', store: 's', broker: 'http://x', tls: { cert: 'c' }, agency: {} }));
    try {
      loadReceiverConfig(f);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(RecgwError);
      expect((err as RecgwError).exitCode).toBe(2);
      const m = (err as Error).message;
      for (const k of ['name', 'broker', 'tls.key', 'agency.caCert']) expect(m).toContain(`  ${k}: `);
      expect(m).toContain(f);
    }
  });
});

