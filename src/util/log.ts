/**
 * One structured logger: JSON lines on stderr (the journal under systemd), a namespace per component.
 * Secrets never go through here; callers pass paths and fingerprints, not keys.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type Sink = (line: string) => void;

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(ns: string): Logger;
}

export interface LoggerOptions {
  level?: Level;
  sink?: Sink;
}

function levelFromEnv(): Level {
  const v = process.env.RECGW_LOG_LEVEL;
  return v === 'debug' || v === 'info' || v === 'warn' || v === 'error' ? v : 'info';
}

function serialise(value: unknown): unknown {
  if (value instanceof Error) {
    return { message: value.message, code: (value as { code?: unknown }).code, stack: value.stack?.split('\n').slice(0, 4) };
  }
  return value;
}

export function createLogger(ns = 'recgw', options: LoggerOptions = {}): Logger {
  const min = ORDER[options.level ?? levelFromEnv()];
  const sink: Sink = options.sink ?? ((line) => process.stderr.write(line + '\n'));
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>): void => {
    if (ORDER[level] < min) return;
    const rec: Record<string, unknown> = { t: new Date().toISOString(), level, ns, msg };
    if (fields) for (const [k, v] of Object.entries(fields)) rec[k] = serialise(v);
    sink(JSON.stringify(rec));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (sub) => createLogger(`${ns}.${sub}`, { level: (Object.keys(ORDER) as Level[]).find((l) => ORDER[l] === min), sink }),
  };
}

/** A logger that drops everything: for tests and library use where the caller does not care. */
export const silentLogger: Logger = createLogger('silent', { level: 'error', sink: () => undefined });
