/**
 * The two names a client certificate of the broker can carry, in namespaces that never meet. The broker knows a
 * client only by its certificate's CN (mosquitto: `use_identity_as_username`), not by its role (the OU), so a device
 * whose ID were also a receiver's name would get that receiver's rights: every device's uploads, any gateway's
 * `down/`. Device IDs use letters, digits and `. _ -`; receiver names are `receiver:<label>`, and no device ID can
 * contain the colon. The CA checks both (ca.ts), as do the receiver config, the ACL writer and the demo broker.
 */

/** Device IDs: the CN of a device certificate, the MQTT client ID and username, a topic level, a folder name. */
export const DEVICE_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
export const RECEIVER_PREFIX = 'receiver:';
/** Receiver names: the CN of a receiver certificate, an ACL `user`, the `receiver` of every receipt it signs. */
export const RECEIVER_NAME_PATTERN = `^${RECEIVER_PREFIX}[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`;

const DEVICE_ID_RE = new RegExp(DEVICE_ID_PATTERN);
const RECEIVER_NAME_RE = new RegExp(RECEIVER_NAME_PATTERN);

export const isValidDeviceId = (id: string): boolean => DEVICE_ID_RE.test(id);
export const isReceiverName = (name: string): boolean => RECEIVER_NAME_RE.test(name);

const DEVICE_FORM = 'letters, digits, . _ -, up to 64';
const RECEIVER_FORM = `${RECEIVER_PREFIX}<label>, the label of letters, digits, . _ -, up to 64`;

/** Why `id` cannot be a device ID (the CN of a device certificate), or undefined when it can. */
export function deviceIdProblem(id: string): string | undefined {
  if (isValidDeviceId(id)) return undefined;
  if (isReceiverName(id)) {
    return `${JSON.stringify(id)} is a receiver name, not a device ID: the broker gives a receiver name every device's uploads, so no device certificate may carry one. A gateway's CSR names its own deviceId (${DEVICE_FORM})`;
  }
  return `${JSON.stringify(id)} is not a valid device ID (${DEVICE_FORM})`;
}

/** Why `name` cannot be a receiver name, or undefined when it can. */
export function receiverNameProblem(name: string): string | undefined {
  if (isReceiverName(name)) return undefined;
  const label = (name.startsWith(RECEIVER_PREFIX) ? name.slice(RECEIVER_PREFIX.length) : name).replace(/[^A-Za-z0-9._-]/g, '').slice(0, 64) || '1';
  if (isValidDeviceId(name)) {
    return `receiver name ${JSON.stringify(name)} has the form of a device ID: a gateway enrolled with that ID would get this receiver's rights at the broker. Receiver names are ${RECEIVER_FORM} (e.g. ${RECEIVER_PREFIX}${label})`;
  }
  return `receiver name ${JSON.stringify(name)} is not valid: receiver names are ${RECEIVER_FORM} (e.g. ${RECEIVER_PREFIX}${label})`;
}

/** A file name for things named after a receiver (its certificate, key, config): the colon becomes `-`. */
export const receiverFileBase = (name: string): string => name.replace(/:/g, '-');
