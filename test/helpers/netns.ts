import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/*
 * Test hosts as Linux network namespaces joined to this machine by veth pairs: each host sees
 * the machine at `hostAddr` and is itself at `nsAddr`, in a /30 of its own. Traffic stays on
 * addresses the test made. Needs root (ip netns); `namespacesUnavailable()` says why not.
 */

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** Why namespaces cannot be made here (not root, no `ip`, no permission), or null when they can. */
export function namespacesUnavailable(): string | null {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'network namespaces need root (ip netns add)';
  const probe = `tsnn-probe-${randomBytes(3).toString('hex')}`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
    return null;
  } catch (e) {
    return `ip netns add failed: ${(e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message}`;
  }
}

export interface NetnsHost {
  /** Namespace name, for `ip netns exec`. */
  name: string;
  /** This machine's address on the host's link (what the host dials to reach Redis). */
  hostAddr: string;
  /** The host's own address. */
  nsAddr: string;
  /** Takes the link down (the host is cut off: packets are dropped, connections hang). */
  cut(): void;
  /** Brings the link back up. */
  restore(): void;
  /** Deletes the namespace and the link (kill its processes first). */
  remove(): void;
}

/** Makes `count` hosts under one random tag (names and a 10.x.y.0 /16 unlikely to collide with another run). */
export function makeHosts(count: number): NetnsHost[] {
  const tag = randomBytes(2).toString('hex');
  const net = 200 + (parseInt(tag, 16) % 50);
  const hosts: NetnsHost[] = [];
  try {
    for (let i = 1; i <= count; i++) {
      const name = `tsnn-${tag}-h${i}`;
      const outer = `tv${tag}h${i}`; // ≤ 15 characters, as interface names must be
      const inner = `tv${tag}n${i}`;
      const hostAddr = `10.${net}.${i}.1`;
      const nsAddr = `10.${net}.${i}.2`;
      ip('netns', 'add', name);
      const host: NetnsHost = {
        name,
        hostAddr,
        nsAddr,
        cut: () => void ip('link', 'set', outer, 'down'),
        restore: () => void ip('link', 'set', outer, 'up'),
        remove: () => {
          try {
            ip('link', 'del', outer);
          } catch {}
          try {
            ip('netns', 'del', name);
          } catch {}
        },
      };
      hosts.push(host);
      ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', inner);
      ip('link', 'set', inner, 'netns', name);
      ip('addr', 'add', `${hostAddr}/30`, 'dev', outer);
      ip('link', 'set', outer, 'up');
      ip('netns', 'exec', name, 'ip', 'addr', 'add', `${nsAddr}/30`, 'dev', inner);
      ip('netns', 'exec', name, 'ip', 'link', 'set', inner, 'up');
      ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
    }
  } catch (e) {
    for (const h of hosts) h.remove();
    throw e;
  }
  return hosts;
}
