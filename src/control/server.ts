/**
 * Serves the recorder interface on a Unix socket. Bad requests get an error response naming the problem; they
 * never reach the recorder and never crash the service.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { chmod, unlink } from 'node:fs/promises';
import type { Recorder } from '../recorder/recorder.js';
import type { Logger } from '../util/log.js';
import { RecgwError } from '../util/errors.js';
import { ConfirmRefused, confirmEach, type OfficerAuth } from '../officers/auth.js';
import { MAX_LINE, credentialsParams, officerPinsParam, parseRequest, pauseParams, startParams, statementParams, type Request, type Response } from './protocol.js';

export class ControlServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly path: string,
    private readonly recorder: Recorder,
    private readonly log: Logger,
    /** Parts of the gateway's state beside the recorder's (the upload queue), added to `status` under their names. */
    private readonly more: () => Record<string, unknown> = () => ({}),
    /** Checks officers' PINs (a roster is installed); without it a request carrying PINs is refused. */
    private readonly auth?: OfficerAuth,
  ) {}

  async start(): Promise<void> {
    await unlink(this.path).catch(() => undefined); // a stale socket from a killed process
    const server = createServer((sock) => this.connection(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => resolve());
    });
    await chmod(this.path, 0o660);
    this.server = server;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await unlink(this.path).catch(() => undefined);
  }

  private connection(sock: Socket): void {
    this.sockets.add(sock);
    sock.setEncoding('utf8');
    let buf = '';
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE && !buf.includes('\n')) {
        this.reply(sock, { id: null, ok: false, error: { code: 'usage', message: `request longer than ${MAX_LINE} bytes` } });
        buf = '';
        return;
      }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) void this.handle(sock, line);
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => this.sockets.delete(sock));
  }

  private async handle(sock: Socket, line: string): Promise<void> {
    let req: Request | undefined;
    try {
      req = parseRequest(line);
      const result = await this.dispatch(req);
      this.reply(sock, { id: req.id, ok: true, result });
    } catch (err) {
      const e = err instanceof RecgwError ? err : new RecgwError('internal', (err as Error).message);
      if (e.code === 'internal') this.log.error('control request failed', { method: req?.method, err });
      const zh = e instanceof ConfirmRefused ? { zh: e.zh } : {};
      this.reply(sock, { id: req?.id ?? null, ok: false, error: { code: e.code, message: e.message, ...zh } });
    }
  }

  private async dispatch(req: Request): Promise<unknown> {
    const r = this.recorder;
    switch (req.method) {
      case 'session.start': {
        const start = startParams(req.params);
        return r.startSession({ ...start, confirmations: await confirmEach(this.auth, officerPinsParam(req.params), 'cli') });
      }
      case 'session.pause': {
        const p = pauseParams(req.params);
        return r.pauseSession(p.reason, p.text);
      }
      case 'session.resume':
        return r.resumeSession();
      case 'session.stop':
        return r.stopSession({ confirmations: await confirmEach(this.auth, officerPinsParam(req.params, true), 'cli') });
      case 'session.statement': {
        const p = statementParams(req.params);
        return r.statement(p.text, p.officers, p.sessionId, await confirmEach(this.auth, officerPinsParam(req.params), 'cli'));
      }
      case 'session.credentials':
        return r.credentialsShown('control', credentialsParams(req.params).officers);
      case 'status':
        return r.status().then((st) => ({ ...st, ...this.more() }));
      case 'preflight':
        return r.preflight();
    }
  }

  private reply(sock: Socket, res: Response): void {
    if (!sock.destroyed) sock.write(JSON.stringify(res) + '\n');
  }
}
