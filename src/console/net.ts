/**
 * Where the console listens and who may connect. It listens where the config says (every interface by default)
 * but drops any TCP connection whose peer is outside `allowFrom` before TLS starts: by default loopback, the
 * private ranges and link-local, i.e. the LAN a technician's laptop is plugged into, never the uplink side.
 */
import { BlockList, isIP } from 'node:net';
import { RecgwError } from '../util/errors.js';

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new RecgwError('config', `console.listen ${JSON.stringify(listen)} is not host:port (e.g. 0.0.0.0:8443 or [::]:8443)`);
  return { host: m[1] ?? m[2]!, port };
}

/** A matcher for the `allowFrom` networks; throws a config error naming a bad entry. */
export function allowList(cidrs: string[]): (address: string | undefined) => boolean {
  const list = new BlockList();
  for (const c of cidrs) {
    const [net, bits] = c.split('/') as [string, string];
    const family = isIP(net);
    const prefix = Number(bits);
    if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) {
      throw new RecgwError('config', `console.allowFrom entry ${JSON.stringify(c)} is not a network in CIDR form (e.g. 192.168.0.0/16)`);
    }
    list.addSubnet(net, prefix, family === 4 ? 'ipv4' : 'ipv6');
  }
  return (address) => {
    if (!address) return false;
    // An IPv4 client of a dual-stack socket shows as ::ffff:a.b.c.d.
    const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    if (v4) return list.check(v4, 'ipv4');
    const family = isIP(address);
    if (family === 0) return false;
    return list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  };
}
