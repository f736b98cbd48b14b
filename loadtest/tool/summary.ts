// What `up` (and `demo --keep`) print once the lab is up: the clusters with their
// addresses, and the commands to use it: kubectl, shells in pods, logs, status, down.

import path from 'node:path';
import { apiServerFiles } from '../lab/api-server.js';
import { kubectlWrapperPath } from '../lab/kubectl.js';
import type { Lab } from '../lab/lab.js';
import { formatTextTable } from './text-table.js';
import { DEFAULT_LAB_PREFIX } from './session.js';

/** How to call the lab tool from the current directory, e.g. `node dist/loadtest/cli.js`. */
export function toolInvocation(): string {
  const script = process.argv[1] ?? 'dist/loadtest/cli.js';
  const relative = path.relative(process.cwd(), script);
  const shown = relative.startsWith('..') ? script : relative;
  return `node ${shown.replace(/demo\.js$/, 'cli.js')}`;
}

/** `--prefix P` when P is not the default, so printed commands act on this lab. */
export function prefixFlag(prefix: string): string {
  return prefix === DEFAULT_LAB_PREFIX ? '' : ` --prefix ${prefix}`;
}

export function clusterTable(lab: Lab): string {
  return formatTextTable(
    ['cluster', 'service CIDR', 'echo service', 'cluster address', 'endpoint', 'API server (namespace)', 'kubeconfig'],
    lab.clusters.map((c) => [
      c.name,
      c.serviceCidr,
      c.serviceIp,
      c.clusterAddress,
      c.endpoint,
      `${c.controlPlane.url} (${c.controlPlane.ns})`,
      apiServerFiles(lab.workDir, c).kubeconfig,
    ]),
  );
}

/** The "how to use it" part: kubectl, pods, logs, status and down. */
export function usageHints(lab: Lab): string {
  const tool = toolInvocation();
  const [c1, c2] = [lab.cluster(1), lab.clusters[1] ?? lab.cluster(1)];
  const files = apiServerFiles(lab.workDir, c1);
  return [
    'kubectl: each API server listens inside its cluster\'s network; these run the real kubectl there:',
    `  ${kubectlWrapperPath(lab.workDir, c1)} get klink -o wide`,
    `  ${tool} kubectl${prefixFlag(lab.prefix)} ${c1.name} get klink -o wide`,
    `  ip netns exec ${c1.controlPlane.ns} kubectl --kubeconfig ${files.kubeconfig} get klink -w`,
    'Pods are network namespaces (client1 on the gateway node, client2 and echo on node 2):',
    `  ip netns exec ${c1.pods.client2.ns} wget -q -O - http://${c2.serviceIp}/      # ${c1.name} pod -> ${c2.name} echo service`,
    `  ip netns exec ${c1.pods.client1.ns} bash                                  # a shell in a pod`,
    `  ip netns exec ${c1.gateway.ns} ip route; ip netns exec ${c1.gateway.ns} iptables -t nat -S   # the gateway node`,
    `Logs: ${path.join(lab.workDir, c1.name)}/{broker,router,apiserver}.log (one directory per cluster), ${path.join(lab.workDir, 'lab.log')}`,
    `Load test: ${tool} loadtest --lab ${lab.prefix} --duration 10 --streams 4`,
    `Status:    ${tool} status${prefixFlag(lab.prefix)}`,
    `Remove:    ${tool} down${prefixFlag(lab.prefix)}`,
  ].join('\n');
}
