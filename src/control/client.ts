/** A client of the control socket, for the CLI and tests. */
import { connect } from 'node:net';
import { RecgwError, isErrno } from '../util/errors.js';
import type { Method, Response } from './protocol.js';

export async function call<T = unknown>(socketPath: string, method: Method, params: Record<string, unknown> = {}, timeoutMs = 120_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const sock = connect(socketPath);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new RecgwError('recorder', `no answer from the gateway within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify({ id: 1, method, params }) + '\n'));
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      sock.end();
      const res = JSON.parse(buf.slice(0, nl)) as Response;
      if (res.ok) resolve(res.result as T);
      else reject(new RecgwError(res.error.code === 'usage' ? 'usage' : 'recorder', res.error.message));
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ECONNREFUSED')) {
        reject(new RecgwError('recorder', `the gateway is not running (no control socket at ${socketPath}): start it with recgw run --config FILE`));
      } else if (isErrno(err, 'EACCES')) {
        reject(new RecgwError('recorder', `permission denied on ${socketPath}: run as the recgw user or a member of its group`));
      } else reject(err);
    });
  });
}
