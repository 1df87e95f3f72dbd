/**
 * A UPS or battery monitor on a serial line (docs/panel-protocol.md, appendix A): `BATT <percent> <ONLINE|ONBATT>
 * [<minutes left>]`, optionally with the panel protocol's `*CCCC` checksum, sent every 1-5 s. SerialUpsFeed turns
 * the lines into readings for the UPS monitor (src/hal/power/ups-monitor.ts); garbage is logged, never thrown.
 */
import { EventEmitter } from 'node:events';
import type { UpsFeed, UpsLinkState, UpsReading } from '../power/ups-monitor.js';
import { silentLogger, type Logger } from '../../util/log.js';
import { frameLine, unframeLine } from './frame.js';
import { NoiseLog } from './noise.js';
import type { PortState } from './supervised-port.js';

export type UpsParse = { ok: true; reading: UpsReading } | { ok: false; reason: string };

/** Parses one UPS line (without CRLF). Never throws. */
export function parseUpsLine(line: string): UpsParse {
  const u = unframeLine(line, { required: false });
  if (!u.ok) return u;
  const m = /^BATT ([0-9]{1,3}(?:\.[0-9])?) (ONLINE|ONBATT)(?: ([0-9]{1,4}))?$/.exec(u.body);
  if (!m) return { ok: false, reason: 'not a BATT line' };
  const percent = Number(m[1]);
  if (percent > 100) return { ok: false, reason: `charge ${percent}% is over 100%` };
  return { ok: true, reading: { percent, onMains: m[2] === 'ONLINE', minutesLeft: m[3] === undefined ? null : Number(m[3]) } };
}

/** Encodes a reading as a UPS would send it (simulators, docs). */
export function encodeUpsLine(r: UpsReading, opts: { checksum?: boolean } = {}): string {
  const body = `BATT ${r.percent} ${r.onMains ? 'ONLINE' : 'ONBATT'}${r.minutesLeft === null ? '' : ` ${r.minutesLeft}`}`;
  return opts.checksum ? frameLine(body) : body;
}

/** The line source; LinePort satisfies it. */
export interface UpsLink {
  on(event: 'line', listener: (line: string) => void): unknown;
  off(event: 'line', listener: (line: string) => void): unknown;
  state?(): PortState;
}

/** Readings from the serial line, for the UPS monitor. */
export class SerialUpsFeed extends EventEmitter<{ reading: [UpsReading] }> implements UpsFeed {
  private readonly noise: NoiseLog;

  constructor(
    private readonly line: UpsLink,
    opts: { log?: Logger; now?: () => number } = {},
  ) {
    super();
    this.noise = new NoiseLog(opts.log ?? silentLogger, 10, opts.now ?? Date.now);
  }

  start(): void {
    this.line.on('line', this.onLine);
  }

  stop(): void {
    this.line.off('line', this.onLine);
  }

  link(): UpsLinkState {
    const port = this.line.state?.();
    return { kind: 'serial', where: port?.path ?? 'serial line', connected: port ? port.connected : true, lastError: port?.lastError ?? null, garbage: this.noise.total };
  }

  private readonly onLine = (line: string): void => {
    const p = parseUpsLine(line);
    if (!p.ok) return this.noise.garbage(p.reason, line);
    this.emit('reading', p.reading);
  };
}
