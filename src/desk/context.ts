/**
 * What the desk's route plugins are given (built once in server.ts), the access each route declares, and the request
 * members the guard (guard.ts) fills in before a handler runs.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IndexDb } from '../index/database.js';
import type { DeskAccounts, Account } from './accounts.js';
import type { DeskAudit } from './audit.js';
import type { DeskConfig } from './config.js';
import type { DeskLang } from './i18n.js';
import { deskTranslator } from './i18n.js';
import type { View } from './view.js';
import type { VerifyRuns } from './verify-runs.js';
import type { Samples } from './samples.js';
import type { Approvals } from './approvals.js';
import type { Retention } from './retention.js';
import type { SegmentPlaintext } from './plaintext.js';
import type { PlaybackGrants } from './playback-grants.js';
import type { Signer } from '../evidence/signer.js';
import type { Unit } from '../report/units.js';
import type { AuditAnchor } from './audit-anchor.js';

/**
 * Who may call a route: `public` anybody (the stylesheet); `anon` anybody, with a CSRF token on POST (sign-in);
 * `read` any signed-in account (a POST there changes nothing of the evidence: sign-out); `write` a signed-in account
 * whose role may act (not read-only); `oversee` a leader or supervisor (the audit trail); `supervise` a supervisor
 * (the sample check's draw, checklist and signature).
 */
export type Access = 'public' | 'anon' | 'read' | 'write' | 'oversee' | 'supervise';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    account: Account | undefined;
    lang: DeskLang;
  }
}

export interface DeskContext {
  config: DeskConfig;
  db: IndexDb;
  accounts: DeskAccounts;
  audit: DeskAudit;
  verify: VerifyRuns;
  samples: Samples;
  /** Viewing under approval and its register (approvals.ts). */
  approvals: Approvals;
  /** Retention classes, the expiry list and its approvals (retention.ts). */
  retention: Retention;
  /** Decrypts segments with the agency key (config agencyKey), for requests requireApproval let through. */
  plaintext: SegmentPlaintext;
  /** The playbacks opened, each bound to its viewer's sign-in and approval (playback-grants.ts). */
  grants: PlaybackGrants;
  /** The key the sample-check reports are signed with (sampleSigning in the config); undefined when none is configured. */
  sampleSigner: Signer | undefined;
  /** The agency's units (config `units`), read at start; undefined: no statistics per unit. */
  units: Unit[] | undefined;
  /** The audit chain's anchoring with the witnesses (auditAnchor in the config); undefined: not anchored. */
  anchor: AuditAnchor | undefined;
  now: () => number;
}

export const SESSION_COOKIE = '__Host-desk';
export const LANG_COOKIE = '__Host-desk-lang';
export const CSRF_COOKIE = '__Host-desk-csrf';

/** Every cookie of the desk: this origin only, HTTPS only, never sent from another site, never read by script. */
export { COOKIE_FLAGS } from '../web/app.js';

/** ::ffff:192.168.1.5 -> 192.168.1.5, for the audit trail and the throttle. */
export const peer = (req: FastifyRequest): string => req.ip.replace(/^::ffff:(?=\d+\.)/i, '');

/** The page-building context of a request: its language, zone, account and a CSRF token for its forms. */
export function viewOf(ctx: DeskContext, req: FastifyRequest, reply: FastifyReply): View {
  return {
    lang: req.lang,
    t: deskTranslator(req.lang),
    zone: ctx.config.zone,
    user: req.account,
    csrf: reply.generateCsrf(),
    path: req.url,
    now: ctx.now(),
  };
}
