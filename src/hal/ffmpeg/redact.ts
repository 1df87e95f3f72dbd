/**
 * A camera's RTSP user name and password stay out of everything the gateway writes or shows: ffmpeg prints the
 * whole URL in its own messages ("rtsp://admin:secret@10.0.0.5/main: Connection refused"), and those messages
 * become the signed interruption entry's `technical`, the kept failed-run log, run.json and the journal.
 */

/** Text with every RTSP URL's user name and password hidden, for messages and logs. */
export function redactUrl(text: string): string {
  return text.replace(/(rtsps?:\/\/)[^@/\s]*@/gi, '$1***@');
}
