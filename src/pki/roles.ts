/**
 * What a certificate is for, as the organisational unit the agency CA writes into it; the verifier and the
 * receiver check it. Apart from ca.ts (which re-exports them) so that checking a role does not load what issuing
 * certificates needs (node-forge, @peculiar/x509: about half a second of start-up for `recgw verify`).
 */
export const ROLE_DEVICE = 'recgw-device';
export const ROLE_RECEIPT = 'recgw-receipt';
export const ROLE_SERVER = 'recgw-server';
/** An agency receiver's MQTT client certificate (uplink-protocol.md §1). */
export const ROLE_RECEIVER = 'recgw-receiver';
/** The agency transparency log's Ed25519 checkpoint key (evidence-format.md §15), and a gm log's SM2 one (§17.9). */
export const ROLE_LOG = 'recgw-log';
/** The agency's encryption key, for which gateways wrap every segment's data key (evidence-format.md §5.4). */
export const ROLE_ENCRYPTION = 'recgw-encryption';
/** The agency's key that signs officer rosters (evidence-format.md §16): who may confirm on a gateway, with what PIN. */
export const ROLE_ROSTER = 'recgw-roster';
/** The evidence desk's key that signs sample-check reports and its audit chain (docs/desk.md §1, §5). */
export const ROLE_DESK = 'recgw-desk';
export type CertRole = typeof ROLE_DEVICE | typeof ROLE_RECEIPT | typeof ROLE_SERVER | typeof ROLE_RECEIVER | typeof ROLE_LOG | typeof ROLE_ENCRYPTION | typeof ROLE_ROSTER | typeof ROLE_DESK;
