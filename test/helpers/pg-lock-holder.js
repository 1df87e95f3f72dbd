// A receiver's PostgreSQL name lock held by a process of its own (run on a test's second host, test/helpers/netns.ts):
// node pg-lock-holder.js URL NAME. Prints "held" once the lock is taken, "lost: <why>" if its session ends, and
// holds it until killed. Imports the built code (dist), as the receiver process would run it.
import process from 'node:process';
import { setInterval } from 'node:timers';
import { lockNameInPostgres } from '../../dist/receiver/pg-name-lock.js';

const say = (line) => process.stdout.write(`${line}\n`);
const [url, name] = process.argv.slice(2);
await lockNameInPostgres(url, 'test database', name, {
  inUse: `receiver ${name} is already running`,
  fix: () => 'stop the other one.',
  lost: (why) => say(`lost: ${why}`),
});
say('held');
setInterval(() => undefined, 60_000);
