/**
 * mqtt.js options for the two kinds of client of the broker (uplink-protocol.md §1): a gateway with its device
 * certificate, and a receiver with its receiver certificate. Both present a client certificate and check the broker's
 * against the agency CA. The broker's certificate names 127.0.0.1 as well as localhost, so no servername is needed.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IClientOptions } from 'mqtt';
import { identityPaths } from '../../src/pki/identity.js';

function tlsOptions(certPath: string, keyPath: string, caCert: string): IClientOptions {
  return {
    key: readFileSync(keyPath),
    cert: readFileSync(certPath),
    ca: readFileSync(caCert),
    rejectUnauthorized: true,
  };
}

/** A gateway's client: its device key and certificate from `<stateDir>/identity/`, client ID = device ID (its CN). */
export function deviceMqttOptions(stateDir: string, caCert: string): IClientOptions {
  const p = identityPaths(stateDir);
  const opts = tlsOptions(p.cert, p.key, caCert);
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(new X509Certificate(opts.cert as Buffer).subject)?.[1];
  if (!cn) throw new Error(`the device certificate ${p.cert} has no CN`);
  return { ...opts, clientId: cn };
}

/** A receiver's client (certificate from `recgw ca receiver-cert` / issueReceiverCertificate). */
export function receiverMqttOptions(certPath: string, keyPath: string, caCert: string): IClientOptions {
  return tlsOptions(certPath, keyPath, caCert);
}
