// A network namespace standing in for one Kubernetes node: `eth0` (one end of a veth pair
// kept inside the namespace; this kernel has no dummy links) carries the node address, so
// next hops on the node network are on-link. For route tests that need no traffic.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface NodeNamespace {
  readonly name: string;
  /** Runs `ip -n <ns> ...` and returns stdout. */
  ip(...args: string[]): string;
  /** Routes of the main table with route protocol `protocol`, as `ip route` prints them (proto omitted). */
  routes(protocol: number): string[];
  /** Every IPv4 route of the main table, one line each. */
  allRoutes(): string[];
  /** Deletes the namespace (idempotent). */
  remove(): void;
}

function run(args: string[]): string {
  return execFileSync(args[0]!, args.slice(1), { encoding: 'utf8' });
}

/** Creates `kl<4 hex><suffix>` with lo up and `nodeAddress` (e.g. 10.250.0.3/24) on eth0. */
export function createNodeNamespace(suffix: string, nodeAddress: string): NodeNamespace {
  const name = `kl${randomBytes(2).toString('hex')}${suffix}`;
  const ip = (...args: string[]) => run(['ip', '-n', name, ...args]);
  const remove = () => {
    try {
      run(['ip', 'netns', 'del', name]);
    } catch {
      // already gone
    }
  };
  run(['ip', 'netns', 'add', name]);
  try {
    ip('link', 'set', 'lo', 'up');
    ip('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p');
    ip('link', 'set', 'eth0', 'up');
    ip('link', 'set', 'eth0p', 'up');
    ip('addr', 'add', nodeAddress, 'dev', 'eth0');
  } catch (err) {
    remove();
    throw err;
  }
  const lines = (text: string) => text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return {
    name,
    ip,
    routes: (protocol) => lines(ip('-4', 'route', 'show', 'table', 'main', 'proto', String(protocol))),
    allRoutes: () => lines(ip('-4', 'route', 'show', 'table', 'main')),
    remove,
  };
}

/** Polls `check` until it returns true; fails naming `what` after `limitMs` (a hang guard, not a timing assertion). */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, limitMs = 20_000, stepMs = 50): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
}
