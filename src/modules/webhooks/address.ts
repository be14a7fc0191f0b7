// Where a webhook may be delivered: the resolved address is checked at delivery time, and the
// request connects to that checked address (the check is the socket's own DNS lookup).
import dns from 'node:dns';
import { BlockList, isIP } from 'node:net';

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** Whether an address is loopback, private, link-local, unique-local, multicast or unspecified. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family !== 6) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return blocked.check(mapped[1], 'ipv4');
  return blocked.check(address, 'ipv6');
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/** A `lookup` for http.request that refuses private addresses (unless allowed) before connecting. */
export function checkedLookup(allowPrivate: boolean) {
  return (hostname: string, options: dns.LookupOptions, callback: LookupCallback) => {
    dns.lookup(hostname, { family: options.family ?? 0, all: false }, (err, address, family) => {
      if (err) return callback(err, '');
      if (!allowPrivate && isPrivateAddress(address)) {
        return callback(Object.assign(new Error(`refused address ${address}: not a public address`), { code: 'EADDRREFUSED' }), '');
      }
      if (options.all) return callback(null, [{ address, family }]);
      callback(null, address, family);
    });
  };
}

/** A host given as an IP literal skips the lookup: checked here instead. */
export function refusedLiteral(hostname: string, allowPrivate: boolean): string | null {
  const bare = hostname.replace(/^\[|\]$/g, '');
  if (allowPrivate || isIP(bare) === 0) return null;
  return isPrivateAddress(bare) ? `refused address ${bare}: not a public address` : null;
}
