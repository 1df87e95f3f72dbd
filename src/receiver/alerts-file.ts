/**
 * `<store>/<d>/alerts.jsonl`: every alert the receivers recorded for the device, one JSON object per line
 * (docs/uplink-protocol.md §8). Each keeps the signed line and the certificate it came with, so it can be checked
 * again later without the receiver.
 */
import type { AlertKind } from '../uplink/alert-wire.js';

export const ALERTS_FILE = 'alerts.jsonl';

export interface AlertRecord {
  v: 1;
  device: string;
  seq: number;
  /** The entry's chain hash. */
  hash: string;
  kind: AlertKind;
  /** The gateway's `sent` and `late`, as it said them. */
  sent: string;
  late: boolean;
  /** When this receiver recorded it, by its clock. */
  receivedAt: string;
  receiver: string;
  line: string;
  cert: string;
}
