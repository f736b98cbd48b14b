// The real kubectl against a lab cluster's API server. The server listens on the node
// network inside the lab, so kubectl runs in the cluster's control-plane namespace; each
// cluster gets its own discovery cache (all servers share one URL in their own networks).

import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { apiServerFiles } from './api-server.js';
import { inNamespace } from './command.js';
import type { LabCluster } from './topology.js';

/** The argv that runs `kubectl <args>` against `cluster`'s API server, from the host. */
export function kubectlArgv(workDir: string, cluster: LabCluster, args: readonly string[]): string[] {
  const files = apiServerFiles(workDir, cluster);
  return inNamespace(cluster.controlPlane.ns, ['kubectl', '--kubeconfig', files.kubeconfig, '--cache-dir', files.kubectlCacheDir, ...args]);
}

/** Shell-quotes one word for the scripts and the hints the lab prints. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Path of the `kubectl-<cluster>` wrapper script the lab writes for people. */
export function kubectlWrapperPath(workDir: string, cluster: LabCluster): string {
  return path.join(workDir, 'bin', `kubectl-${cluster.name}`);
}

/** Writes `<workDir>/bin/kubectl-<cluster>`: kubectl for that cluster, usable from any shell on the host. */
export async function writeKubectlWrapper(workDir: string, cluster: LabCluster): Promise<string> {
  const file = kubectlWrapperPath(workDir, cluster);
  await mkdir(path.dirname(file), { recursive: true });
  const command = kubectlArgv(workDir, cluster, []).map(shellQuote).join(' ');
  await writeFile(file, `#!/bin/sh\n# kubectl for lab cluster ${cluster.name} (its API server is inside the lab's network)\nexec ${command} "$@"\n`);
  await chmod(file, 0o755);
  return file;
}
