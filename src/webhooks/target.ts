import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/** Raised when a webhook URL may not be called: its `reason` is shown to the tenant. */
export class WebhookTargetError extends Error {
  override name = 'WebhookTargetError';
}

// Every range that is not the public internet: loopback, RFC 1918, CGNAT, link-local (cloud
// metadata at 169.254.169.254), "this network", benchmarking, multicast, reserved, and their IPv6
// counterparts (ULA, link-local, IPv4-mapped, NAT64, documentation).
const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const)
  blocked.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128], ['::1', 128], ['::ffff:0:0', 96], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001:db8::', 32],
  ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const)
  blocked.addSubnet(net, bits, 'ipv6');

/** True when `ip` is not a public unicast address (loopback, private, link-local, reserved…). */
export function isNonPublicAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return blocked.check(ip, 'ipv4');
  if (family === 6) {
    // IPv4-mapped (::ffff:a.b.c.d) is judged by its IPv4 address.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
    if (mapped) return blocked.check(mapped[1], 'ipv4');
    return blocked.check(ip, 'ipv6');
  }
  return true;
}

/** Where a delivery may connect: the parsed URL and the addresses checked for it. */
export interface CheckedTarget {
  url: URL;
  addresses: { address: string; family: 4 | 6 }[];
}

/** Syntax only: `http(s)://host[:port]/path`, no credentials, at most 2048 characters. Throws {@link WebhookTargetError}. */
export function parseWebhookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookTargetError('is not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new WebhookTargetError('must be an http or https URL');
  if (url.username || url.password) throw new WebhookTargetError('must not carry credentials (user:password@); check the signature instead');
  if (raw.length > 2048) throw new WebhookTargetError('is longer than 2048 characters');
  return url;
}

/**
 * Resolves the URL's host and checks every address it resolves to: any non-public one refuses
 * the target unless `allowPrivate` (WEBHOOK_ALLOW_PRIVATE). Called at registration and again
 * before every delivery, which then connects only to the addresses checked here (so a DNS answer
 * that changes in between cannot redirect it). Throws {@link WebhookTargetError}.
 */
export async function checkWebhookTarget(raw: string, allowPrivate: boolean): Promise<CheckedTarget> {
  const url = parseWebhookUrl(raw);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: { address: string; family: 4 | 6 }[];
  if (isIP(host)) addresses = [{ address: host, family: isIP(host) as 4 | 6 }];
  else {
    try {
      addresses = (await lookup(host, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family as 4 | 6 }));
    } catch (err) {
      throw new WebhookTargetError(`host '${host}' does not resolve (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (addresses.length === 0) throw new WebhookTargetError(`host '${host}' does not resolve`);
  }
  if (!allowPrivate) {
    const bad = addresses.find((a) => isNonPublicAddress(a.address));
    if (bad)
      throw new WebhookTargetError(
        `resolves to ${bad.address}, a loopback, private, link-local or reserved address; webhooks go to public addresses only (WEBHOOK_ALLOW_PRIVATE=true allows others)`,
      );
  }
  return { url, addresses };
}
