/**
 * The witness's HTTP face (c2sp.org/tlog-witness): POST <prefix>/add-checkpoint, one request at a time so that the
 * check of the old size and the store of the new checkpoint are atomic. Plain node:http: one route needs no framework.
 * TLS when given a certificate and key.
 */
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Witness } from './witness.js';
import type { Logger } from '../util/log.js';
import { describe } from '../util/errors.js';

const MAX_BODY = 64 * 1024;

export class WitnessServer {
  private server: Server | undefined;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly witness: Witness,
    private readonly log: Logger,
    private readonly tls?: { cert: string; key: string },
  ) {}

  async start(port: number, host = '127.0.0.1'): Promise<string> {
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res);
    const server = this.tls ? createHttps({ cert: this.tls.cert, key: this.tls.key }, handler) : createHttp(handler);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const a = server.address() as AddressInfo;
    return `${this.tls ? 'https' : 'http'}://${host}:${a.port}`;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
    await this.queue;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reply = (status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.method !== 'POST' || !req.url?.endsWith('/add-checkpoint')) return reply(404, 'not found: POST /add-checkpoint\n');
    let body: string;
    try {
      body = await readBody(req);
    } catch (err) {
      return reply(400, `${describe(err)}\n`);
    }
    // One at a time: the old-size check and the new state are one step.
    const run = this.queue.then(() => {
      const a = this.witness.addCheckpoint(body);
      const origin = body.split('\n\n')[1]?.split('\n')[0] ?? '';
      if (a.status === 200) this.log.info('cosigned a checkpoint', { origin, size: body.split('\n\n')[1]?.split('\n')[1] });
      else if (a.status === 422 || (a.status === 400 && /larger/.test(a.body))) this.log.error('refused a checkpoint that does not extend the one this witness cosigned: the log forked or shrank (kept in evidence/)', { origin, why: a.body.trim() });
      else if (a.status !== 409) this.log.warn('refused a checkpoint', { origin, status: a.status, why: a.body.trim() });
      reply(a.status, a.body, a.contentType);
    });
    this.queue = run.catch((err: unknown) => {
      this.log.error('add-checkpoint failed', { err: describe(err) });
      reply(500, 'internal error\n');
    });
    await this.queue;
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > MAX_BODY) {
        reject(new Error(`request body over ${MAX_BODY} bytes`));
        req.destroy();
      } else parts.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}
