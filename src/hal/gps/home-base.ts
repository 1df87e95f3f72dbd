/**
 * Feeds the gpsd client's fixes into the home-base geofence and announces "entered"/"left". Kept apart from the
 * Geofence (pure) and the client (I/O) so that each is testable on its own; this is only the wire between them.
 */
import { EventEmitter } from 'node:events';
import type { GpsFix } from '../../evidence/types.js';
import { silentLogger, type Logger } from '../../util/log.js';
import { Geofence, type GeofenceEvent, type GeofenceOptions, type GeofenceState, type HomeBase } from './geofence.js';

/** What the watcher needs from a fix source (the GpsdClient fits). */
export interface FixSource {
  on(event: 'fix', listener: (fix: GpsFix) => void): unknown;
  off(event: 'fix', listener: (fix: GpsFix) => void): unknown;
}

export interface HomeBaseEvents {
  entered: [GeofenceEvent];
  left: [GeofenceEvent];
}

export class HomeBaseWatcher extends EventEmitter<HomeBaseEvents> {
  private readonly fence: Geofence;
  private readonly log: Logger;
  private readonly onFix = (fix: GpsFix): void => {
    const ev = this.fence.update(fix);
    if (!ev) return;
    this.log.info(ev.type === 'entered' ? 'entered the home base' : 'left the home base', {
      distanceM: Math.round(ev.distanceM),
      at: ev.at,
      initial: ev.initial,
    });
    this.emit(ev.type, ev);
  };
  private listening = false;

  constructor(
    private readonly gps: FixSource,
    base: HomeBase,
    opts: GeofenceOptions & { log?: Logger } = {},
  ) {
    super();
    this.fence = new Geofence(base, opts);
    this.log = opts.log ?? silentLogger;
  }

  /** 'inside', 'outside', or 'unknown' until enough fixes decided it. */
  state(): GeofenceState {
    return this.fence.state();
  }

  start(): void {
    if (this.listening) return;
    this.listening = true;
    this.gps.on('fix', this.onFix);
  }

  stop(): void {
    if (!this.listening) return;
    this.listening = false;
    this.gps.off('fix', this.onFix);
  }
}
