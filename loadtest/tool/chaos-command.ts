// `kubelink-lab chaos [--prefix P] [--json]`: loadtest/chaos/chaos-run.ts on a fresh lab;
// prints seconds to resume and leftovers per disturbance, exits 1 when a check failed.
import { parseArgs } from 'node:util';
import { runChaos } from '../chaos/chaos-run.js';
import { prefixOption } from './options.js';
import type { Progress } from './progress.js';

export const CHAOS_USAGE = `usage: kubelink-lab chaos [--prefix P] [--json]

Two brokers on a fresh Kubernetes-mode lab (API server per cluster, broker with --kubeconfig
and its TLS Secret, KubeLinks applied with kubectl) under iperf3 load, disturbed one after
another: SIGKILL of cluster 2's broker (restarted at once), SIGSTOP for 10 s, a 15 s
blackhole of cluster 2's WAN interface, a restart of cluster 2's API server (a KubeLink
applied right after must be seen, the links must stay Up), a rotation of the broker's TLS
Secret (new connections must get the new certificate, the tunnel must not reconnect).
Reports the seconds until HTTP through the tunnel works again after each, and the leftovers
in cluster 2's gateway (SNAT rules, guard jumps, proto 211 routes, broker processes): one
of each while running, none after a clean stop.

  --prefix P   lab name (default klchaos)`;

export function parseChaosArgs(argv: string[]): { prefix: string; json: boolean } {
  const { values } = parseArgs({ args: argv, options: { prefix: { type: 'string' }, json: { type: 'boolean', default: false } }, strict: true });
  return { prefix: prefixOption(values.prefix ?? 'klchaos'), json: values.json! };
}

export async function runChaosCommand(options: { prefix: string; json: boolean }, progress: Progress): Promise<number> {
  progress.print(`chaos: lab ${options.prefix}`);
  const report = await runChaos({ prefix: options.prefix });
  if (options.json) progress.print(JSON.stringify(report));
  else {
    for (const s of report.steps) {
      const l = s.leftovers;
      progress.print(`  ${s.name}: traffic back after ${s.resumeSec} s; SNAT ${l.snatRules}, guard ${l.guardJumps}, routes ${l.tunRoutes}, brokers ${l.brokerProcesses}`);
      if (s.detail) progress.print(`    ${s.detail}`);
    }
    const f = report.finalLeftovers;
    progress.print(`after a clean stop: SNAT ${f.snatRules}, guard ${f.guardJumps}, routes ${f.tunRoutes}, brokers ${f.brokerProcesses}; iperf3 over the whole run ${report.iperfGbps === null ? `failed (${report.iperfError})` : `${report.iperfGbps} Gbit/s`}`);
    progress.print(report.ok ? 'chaos: every check held' : `chaos: FAILED: ${report.problems.join('; ')}`);
  }
  return report.ok ? 0 : 1;
}
