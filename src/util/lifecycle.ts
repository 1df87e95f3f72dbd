/** The start half of the services' start()/stop() contract, shared so each does it the same way. */

/**
 * Run `start`; when it fails, run `stop` (which undoes whatever part did start, and must cope with parts that did
 * not) so nothing is left holding a lock, a socket or a process, then rethrow the start's error.
 */
export async function startOrUndo(start: () => Promise<void>, stop: () => Promise<void>): Promise<void> {
  try {
    await start();
  } catch (err) {
    await stop();
    throw err;
  }
}
