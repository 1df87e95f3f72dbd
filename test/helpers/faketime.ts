/** Debian's libfaketime (scripts/setup.sh --test installs it), wherever the architecture puts it: a child's clock moved, never the machine's. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export function libfaketime(): string {
  const found = readdirSync('/usr/lib')
    .map((d) => join('/usr/lib', d, 'faketime', 'libfaketime.so.1'))
    .concat('/usr/lib/faketime/libfaketime.so.1')
    .find((p) => existsSync(p));
  if (!found) throw new Error('libfaketime.so.1 is not installed: run scripts/setup.sh --test (apt-get install faketime libfaketime)');
  return found;
}
