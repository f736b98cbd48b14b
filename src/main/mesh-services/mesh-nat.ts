// The NAT of published MeshServices on the gateway (docs/architecture.md, "MeshService"):
// two chains of the nat table owned by the broker of one TUN device,
//
//   PREROUTING  -i <tun> --comment kubelink-mesh:<tun> -> KL-MESH-<tun>
//       -d <address>/32 -p tcp --dport <port> [-m statistic --probability 1/(n-i)] -j DNAT --to <endpoint i>
//   POSTROUTING --comment kubelink-mesh:<tun>          -> KL-MPOST-<tun>
//       -m conntrack --ctstate DNAT --ctorigdst <address> -j MASQUERADE
//
// DNAT happens before the routing decision, so the mesh address needs no local address or
// route on the gateway: a packet for it is routed straight to the chosen endpoint. The
// endpoint is picked like kube-proxy does (rule i of n matches with probability 1/(n-i),
// the last always). MASQUERADE makes the endpoint answer the gateway, whose conntrack then
// undoes both translations: the reply leaves into the tunnel from the mesh address (or
// the cluster address in port mode), whatever routes the endpoint's node has.
//
// One reconcile costs one `iptables-save -t nat` and, only when something differs, one
// `iptables-restore --noflush` for both chains and the hooks, however many services there
// are. With no mapping left, the hooks and chains are removed: the nat table is exactly
// as it was before the first MeshService.
import { formatIpv4 } from '../../shared/cidr.js';
import type { MeshMapping } from './mesh-service-plan.js';
import { commandInNetns, runCommand, type CommandResult } from '../net/run-command.js';

/** Runs a command with optional stdin (tests record calls; the default runs it, in `netns` when given). */
export type NatCommandRunner = (command: string, args: readonly string[], input?: string) => Promise<CommandResult>;

export function meshChains(ifname: string): { dnat: string; post: string; comment: string } {
  return { dnat: `KL-MESH-${ifname}`, post: `KL-MPOST-${ifname}`, comment: `kubelink-mesh:${ifname}` };
}

/** The rules of both chains, in iptables-save's own spelling (so a saved table compares equal). */
export function renderMeshRules(ifname: string, mappings: readonly MeshMapping[]): string[] {
  const { dnat, post } = meshChains(ifname);
  const lines: string[] = [];
  const addresses = new Set<number>();
  for (const mapping of mappings) {
    const destination = `${formatIpv4(mapping.address)}/32`;
    for (const rule of mapping.rules) {
      const proto = rule.protocol.toLowerCase();
      const match = `-A ${dnat} -d ${destination} -p ${proto} -m ${proto} --dport ${rule.port}`;
      const n = rule.endpoints.length;
      rule.endpoints.forEach((endpoint, i) => {
        const chance = i < n - 1 ? ` -m statistic --mode random --probability ${(1 / (n - i)).toFixed(11)}` : '';
        lines.push(`${match}${chance} -j DNAT --to-destination ${formatIpv4(endpoint.address)}:${endpoint.port}`);
      });
      if (n > 0) addresses.add(mapping.address);
    }
  }
  for (const address of [...addresses].sort((a, b) => a - b)) {
    lines.push(`-A ${post} -m conntrack --ctstate DNAT --ctorigdst ${formatIpv4(address)} -j MASQUERADE`);
  }
  return lines;
}

function hookLines(ifname: string): { prerouting: string; postrouting: string } {
  const { dnat, post, comment } = meshChains(ifname);
  return {
    prerouting: `-A PREROUTING -i ${ifname} -m comment --comment "${comment}" -j ${dnat}`,
    postrouting: `-A POSTROUTING -m comment --comment "${comment}" -j ${post}`,
  };
}

/** Probabilities come back from the kernel rounded differently: compare them to 6 places. */
function normalize(line: string): string {
  return line.replace(/--probability (\d+\.\d+)/, (_, p: string) => `--probability ${Number(p).toFixed(6)}`);
}

/** What one `iptables-save -t nat` says about our chains and hooks. */
export interface SavedMeshState {
  chains: Set<string>;
  rules: string[];
  hooks: string[];
}

export function parseSavedNat(saved: string, ifname: string): SavedMeshState {
  const { dnat, post, comment } = meshChains(ifname);
  const state: SavedMeshState = { chains: new Set(), rules: [], hooks: [] };
  for (const line of saved.split('\n')) {
    if (line.startsWith(`:${dnat} `)) state.chains.add(dnat);
    else if (line.startsWith(`:${post} `)) state.chains.add(post);
    else if (line.startsWith(`-A ${dnat} `) || line.startsWith(`-A ${post} `)) state.rules.push(line);
    else if (line.startsWith('-A ') && line.includes(`"${comment}"`)) state.hooks.push(line);
  }
  return state;
}

/**
 * The iptables-restore --noflush input that turns `saved` into `wanted`, or undefined when
 * nothing differs. Pure.
 */
export function meshRestoreInput(ifname: string, saved: SavedMeshState, wanted: readonly string[]): string | undefined {
  const { dnat, post } = meshChains(ifname);
  const hooks = hookLines(ifname);
  const lines = ['*nat'];
  if (wanted.length === 0) {
    if (saved.chains.size === 0 && saved.hooks.length === 0) return undefined;
    for (const hook of saved.hooks) lines.push(hook.replace(/^-A /, '-D '));
    for (const chain of saved.chains) lines.push(`:${chain} - [0:0]`);
    for (const chain of saved.chains) lines.push(`-X ${chain}`);
  } else {
    const sameRules = saved.rules.length === wanted.length && saved.rules.every((r, i) => normalize(r) === normalize(wanted[i]!));
    const wantedHooks = [hooks.prerouting, hooks.postrouting];
    const sameHooks = saved.hooks.length === 2 && wantedHooks.every((h) => saved.hooks.includes(h));
    if (sameRules && sameHooks && saved.chains.size === 2) return undefined;
    // Declaring a chain in --noflush mode creates or flushes it; the rules follow.
    lines.push(`:${dnat} - [0:0]`, `:${post} - [0:0]`, ...wanted);
    for (const hook of saved.hooks) if (!wantedHooks.includes(hook)) lines.push(hook.replace(/^-A /, '-D '));
    for (const hook of wantedHooks) if (!saved.hooks.includes(hook)) lines.push(hook.replace(/^-A (\S+) /, '-I $1 1 '));
  }
  lines.push('COMMIT', '');
  return lines.join('\n');
}

export interface MeshNatOptions {
  netns?: string;
  runner?: NatCommandRunner;
  /** Seconds iptables waits for the xtables lock. */
  lockWaitSeconds?: number;
}

/** Applies the MeshService NAT of one TUN device (see the top of this file). */
export class MeshNat {
  private readonly run: NatCommandRunner;
  private readonly lockWait: string;

  constructor(
    private readonly ifname: string,
    options: MeshNatOptions = {},
  ) {
    this.run =
      options.runner ??
      ((command, args, input) => {
        const [file, argv] = commandInNetns(options.netns, command, args);
        return runCommand([file, ...argv], { input, timeoutMs: 30_000 });
      });
    this.lockWait = String(options.lockWaitSeconds ?? 5);
  }

  /** Makes the chains hold `mappings`; returns whether anything had to change. */
  async reconcile(mappings: readonly MeshMapping[]): Promise<boolean> {
    try {
      const { stdout } = await this.run('iptables-save', ['-t', 'nat']);
      const input = meshRestoreInput(this.ifname, parseSavedNat(stdout, this.ifname), renderMeshRules(this.ifname, mappings));
      if (input === undefined) return false;
      await this.run('iptables-restore', ['-w', this.lockWait, '--noflush'], input);
      return true;
    } catch (err) {
      throw new Error(`applying the MeshService NAT of ${this.ifname} failed`, { cause: err });
    }
  }

  /** Removes the hooks and chains (clean shutdown). */
  async remove(): Promise<boolean> {
    return this.reconcile([]);
  }
}
