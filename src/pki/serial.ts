/**
 * Certificate serial numbers: 16 random bytes whose first is 0x40–0x7f. Positive (top bit clear) and never starting
 * with a zero byte: a DER INTEGER must be minimal, and OpenSSL refuses a certificate whose serial has a redundant
 * leading zero ("illegal padding"), which clearing the top bit alone gave about one certificate in 256.
 */
import { randomBytes } from 'node:crypto';

export function randomSerial(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x3f) | 0x40;
  return b;
}
