/**
 * Time and identity burnt into the picture where the gateway encodes (sim and USB/v4l2 cameras), as GA/T 947 body
 * recorders do: Beijing time at the top left, the device ID and the open session's case reference at the bottom
 * left. The label is a file ffmpeg's drawtext reads again for every frame, so a run that spans sessions (the
 * pre-event buffer keeps cameras running) shows the case as soon as the session opens; it is replaced atomically,
 * so a frame never shows half a label. The detectors see the picture before the overlay: a covered lens stays
 * black and a frozen picture frozen, whatever the ticking clock on top of it. Copied streams (RTSP, the Pi camera)
 * are never re-encoded: an IP camera draws its own overlay, set through ONVIF (src/app/onvif-cameras.ts).
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { RecgwError } from '../../util/errors.js';

/** WenQuanYi Micro Hei (Debian: fonts-wqy-microhei, 5 MB): CJK and Latin in one font. */
export const DEFAULT_OVERLAY_FONT = '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc';

/** China has one time zone and no daylight saving: a POSIX TZ needs no tzdata. drawtext's localtime uses it. */
export const BEIJING_TZ = 'CST-8';

export interface OverlayFiles {
  font: string;
  /** The label file (device ID and case reference) drawtext reloads. */
  label: string;
}

/**
 * Paths go into a filter graph, whose quoting has several levels; a path with characters outside this set is
 * refused rather than escaped (the gateway's own folders never have them).
 */
const PLAIN_PATH = /^[A-Za-z0-9_./+-]+$/;

export function checkOverlayPath(what: string, path: string): void {
  if (!PLAIN_PATH.test(path)) {
    throw new RecgwError('config', `${what} ${JSON.stringify(path)} has characters ffmpeg's filter graph would need quoted; use a path of letters, digits, _ . / + - only`);
  }
}

/** The drawtext filters, to follow the detectors in a camera's -vf chain. */
export function overlayFilters(o: OverlayFiles): string {
  checkOverlayPath('recording.overlay.font', o.font);
  checkOverlayPath('the overlay label file', o.label);
  const look = 'fontsize=h/24:fontcolor=white:box=1:boxcolor=black@0.5:boxborderw=6:x=w/64';
  return [
    // %{localtime} is ffmpeg's default "%Y-%m-%d %H:%M:%S" in the process's TZ (BEIJING_TZ, set at spawn).
    `drawtext=fontfile=${o.font}:text=%{localtime}:${look}:y=h/48`,
    // expansion=none: a case reference is shown as written, a % in it included.
    `drawtext=fontfile=${o.font}:textfile=${o.label}:reload=1:expansion=none:${look}:y=h-th-h/48`,
  ].join(',');
}

/** The label's text: the device, and the case while a session is open. */
export function labelText(deviceId: string, caseRef?: string): string {
  return caseRef ? `设备 ${deviceId}  案件 ${caseRef}` : `设备 ${deviceId}`;
}

/** Writes the label file drawtext reads; atomically, and only when the text changes. */
export class OverlayLabel {
  private current: string | undefined;

  constructor(readonly path: string) {
    checkOverlayPath('the overlay label file', path);
  }

  set(text: string): void {
    if (text === this.current) return;
    const tmp = `${this.path}.tmp`;
    mkdirSync(dirname(this.path), { recursive: true });
    writeFileSync(tmp, text);
    renameSync(tmp, this.path);
    this.current = text;
  }
}
