/**
 * Reading and validating the installation config. Every problem names the file, the key and what is wrong,
 * so a technician can fix it without reading code.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { configSchema } from './schema.js';
import type { Config } from './types.js';
import { RecgwError, isENOENT } from '../util/errors.js';
import { problemsOf, type ConfigProblem } from './problems.js';
import { isKnownZone } from '../util/local-time.js';

export { keyPath, problemsOf, type ConfigProblem } from './problems.js';

let validator: ReturnType<Ajv['compile']> | undefined;

function compile(): ReturnType<Ajv['compile']> {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });
    ajv.addKeyword({ keyword: 'x-restart', schemaType: 'boolean' });
    // Zones as this Node's Intl knows them (its ICU data is what formats the times people read).
    ajv.addFormat('time-zone', { type: 'string', validate: isKnownZone });
    validator = ajv.compile(configSchema);
  }
  return validator;
}

/** Validate a parsed config object; returns the problems (empty when valid). Fills defaults in place. */
export function validateConfig(obj: unknown): ConfigProblem[] {
  const v = compile();
  if (v(obj)) {
    const c = obj as {
      recording: { sources: { id: string; driver: string; url?: string; onvif?: { url?: string }; transport?: string }[] };
      time: { source: string; assumeSynchronised: boolean };
    };
    const seen = new Set<string>();
    const problems: ConfigProblem[] = [];
    if (c.time.assumeSynchronised && c.time.source !== 'host') {
      problems.push({
        key: 'time.assumeSynchronised',
        message: `applies only to time.source "host" (this config has ${JSON.stringify(c.time.source)}, whose sync the gateway measures): remove it`,
        zh: `仅适用于 time.source "host"（本配置为 ${JSON.stringify(c.time.source)}，其同步状态由网关测量）：请删除此项`,
      });
    }
    c.recording.sources.forEach((s, i) => {
      if (seen.has(s.id)) {
        problems.push({ key: `recording.sources[${i}].id`, message: `duplicates another source's id ${JSON.stringify(s.id)}`, zh: `与另一个信号源的 id ${JSON.stringify(s.id)} 重复` });
      }
      seen.add(s.id);
      if (s.onvif && s.driver !== 'rtsp') {
        problems.push({ key: `recording.sources[${i}].onvif`, message: 'only rtsp cameras have ONVIF: remove it or set driver "rtsp"', zh: '只有 rtsp 摄像机支持 ONVIF：请删除此项或将 driver 设为 "rtsp"' });
      } else if (s.onvif && !s.onvif.url && !s.url) {
        problems.push({ key: `recording.sources[${i}].onvif.url`, message: 'needed when the source has no rtsp url to take the camera\'s address from', zh: '信号源没有 rtsp url 时必须设置（无法从中得到摄像机地址）' });
      }
      if (s.transport !== undefined && s.driver !== 'rtsp') {
        problems.push({ key: `recording.sources[${i}].transport`, message: 'only an rtsp source has a transport; remove it', zh: '只有 rtsp 信号源可设置 transport；请删除此项' });
      }
    });
    problems.push(...powerProblems(obj as Omit<Config, 'file'>));
    return problems;
  }
  return problemsOf(v.errors);
}

/** The UPS: one of serial.ups and power.nut, a login with both user and password, limits below the start minimum. */
function powerProblems(c: Omit<Config, 'file'>): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const nut = c.power?.nut;
  if (nut && c.serial?.ups) {
    out.push({ key: 'power.nut', message: 'a gateway watches one UPS: remove serial.ups or power.nut', zh: '网关只监测一台 UPS：请删除 serial.ups 或 power.nut 之一' });
  }
  if (nut && (nut.user === undefined) !== (nut.password === undefined)) {
    const missing = nut.user === undefined ? 'user' : 'password';
    out.push({ key: `power.nut.${missing}`, message: 'a login to upsd needs both user and password: set both, or remove both to read the UPS without logging in', zh: '登录 upsd 需要同时设置 user 和 password：请两者都设置，或都删除（不登录也可读取 UPS）' });
  }
  if ((nut || c.serial?.ups) && c.power && c.power.lowBatteryPercent >= c.recording.minBatteryPercent) {
    out.push({
      key: 'power.lowBatteryPercent',
      message: `must be below recording.minBatteryPercent (${c.recording.minBatteryPercent}): a session that pre-flight lets start must not be interrupted at once`,
      zh: `必须低于 recording.minBatteryPercent（${c.recording.minBatteryPercent}）：录制前检查允许开始的会话不应立即中断`,
    });
  }
  return out;
}

/** Read a JSON config file, or fail with exit status 2 naming the file and what is wrong. */
export function readJsonConfig(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (isENOENT(err)) throw new RecgwError('config', `config file ${file} does not exist (pass --config with the config file)`, { cause: err });
    throw new RecgwError('config', `cannot read config file ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new RecgwError('config', `config file ${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

export function configInvalid(file: string, problems: ConfigProblem[]): RecgwError {
  return new RecgwError('config', `config file ${file} is invalid:\n${problems.map((p) => `  ${p.key}: ${p.message}`).join('\n')}`);
}

export function parseConfigText(text: string, file: string): Config {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw new RecgwError('config', `config file ${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const problems = validateConfig(obj);
  if (problems.length > 0) {
    const lines = problems.map((p) => `  ${p.key}: ${p.message}`).join('\n');
    throw new RecgwError('config', `config file ${file} is invalid:\n${lines}`);
  }
  const c = obj as Omit<Config, 'file'>;
  const base = dirname(resolve(file));
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  return {
    ...c,
    file: resolve(file),
    stateDir: abs(c.stateDir),
    agency: { caCert: abs(c.agency.caCert), encryptionCert: abs(c.agency.encryptionCert), ...(c.agency.roster ? { roster: abs(c.agency.roster) } : {}), ...(c.agency.transportCaCert ? { transportCaCert: abs(c.agency.transportCaCert) } : {}) },
    recording: { ...c.recording, ...(c.recording.announcement ? { announcement: abs(c.recording.announcement) } : {}) },
    control: { socket: c.control.socket ? abs(c.control.socket) : resolve(abs(c.stateDir), 'control.sock') },
  };
}

export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (isENOENT(err)) throw new RecgwError('config', `config file ${file} does not exist (pass --config with the installation's config file)`, { cause: err });
    throw new RecgwError('config', `cannot read config file ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseConfigText(text, file);
}
