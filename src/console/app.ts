/** What every group of console routes is built with: the dependencies and the console's own state. */
import type { ConsoleDeps } from './deps.js';
import type { AccountStore } from './accounts.js';
import type { ConsoleSessions } from './sessions.js';
import type { LoginThrottle } from '../util/throttle.js';
import type { Audit } from './audit.js';
import type { Html } from './html.js';
import type { Ctx, Reply } from './route.js';
import type { PageOptions } from './layout.js';
import type { PromptBoard } from './prompts.js';

export interface App {
  deps: ConsoleDeps;
  accounts: AccountStore;
  sessions: ConsoleSessions;
  throttle: LoginThrottle;
  audit: Audit;
  /** The recorder's latest prompt to the officers (the session page shows it). */
  prompts: PromptBoard;
  now: () => number;
  page(ctx: Ctx, title: string, body: Html, o?: PageOptions): Reply;
  /** The first-run setup code while no account exists. */
  setup: { file: string; check(code: string): boolean; done(): void };
  /** The console's own TLS certificate (to compare with what the browser shows), and reloading it after enrolment. */
  tls: { fingerprint256(): string; source(): 'device' | 'self-signed'; reload(): void };
}
