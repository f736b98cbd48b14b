// `kubelink-lab kubectl <cluster> <args...>`: the real kubectl against one lab cluster's
// API server (which listens inside the lab), with the terminal attached.

import { spawn } from 'node:child_process';
import { kubectlArgv } from '../lab/kubectl.js';
import { readLabRecord } from '../lab/state-dir.js';
import { describeTopology } from '../lab/topology.js';
import type { Progress } from './progress.js';

export async function runKubectl(prefix: string, clusterName: string | undefined, args: readonly string[], progress: Progress): Promise<number> {
  const record = await readLabRecord(prefix);
  if (!record) {
    progress.print(`no lab with prefix ${prefix}`);
    return 1;
  }
  const cluster = describeTopology(prefix, record.clusters, { sameServiceCidr: record.sameServiceCidr }).clusters.find((c) => c.name === clusterName);
  if (!cluster) {
    progress.print(`kubectl: first argument must be a cluster of lab ${prefix} (c1..c${record.clusters}), got ${JSON.stringify(clusterName ?? '')}`);
    return 2;
  }
  const argv = kubectlArgv(record.workDir, cluster, args);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit' });
  return new Promise((resolve) => {
    child.once('error', (error) => {
      progress.print(`kubectl: ${error.message}`);
      resolve(1);
    });
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
