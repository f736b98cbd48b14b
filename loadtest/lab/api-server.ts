// A cluster's API server in the lab: the project's test API server (apiserver/) run in the
// cluster's control-plane namespace on the node network, so the broker on the gateway
// node and the router on node 2 reach it the way they reach a real one. Its objects are
// kept in a data file, so a restarted server has them again; its kubeconfig is written
// next to it. Not for production: see apiserver/README.md.

import path from 'node:path';
import { existsSync } from 'node:fs';
import type { LabProcess } from './lab-process.js';
import type { LabCluster } from './topology.js';

/** Files of one cluster's API server under the lab's work dir. */
export interface ApiServerFiles {
  kubeconfig: string;
  dataFile: string;
  /** kubectl's discovery cache: per cluster, since every cluster's server has the same URL. */
  kubectlCacheDir: string;
  logFile: string;
}

export function apiServerFiles(workDir: string, cluster: LabCluster): ApiServerFiles {
  const dir = path.join(workDir, cluster.name);
  return {
    kubeconfig: path.join(dir, 'kubeconfig'),
    dataFile: path.join(dir, 'apiserver-data.json'),
    kubectlCacheDir: path.join(dir, 'kubectl-cache'),
    logFile: path.join(dir, 'apiserver.log'),
  };
}

/** argv of the API server of `cluster` (node + entry + flags). */
export function apiServerArgs(nodeBinary: string, entry: string, cluster: LabCluster, files: ApiServerFiles): string[] {
  return [
    nodeBinary,
    entry,
    '--listen', `${cluster.controlPlane.ip}:${cluster.controlPlane.port}`,
    '--kubeconfig-out', files.kubeconfig,
    '--data-file', files.dataFile,
    '--service-cidr', cluster.serviceCidr,
    '--log-level', 'info',
  ];
}

/** What a caller gets back: the process and its files. */
export interface LabApiServer {
  process: LabProcess;
  files: ApiServerFiles;
  url: string;
}

/** True once the server has written its kubeconfig (it does so before it serves). */
export function kubeconfigWritten(files: ApiServerFiles): boolean {
  return existsSync(files.kubeconfig);
}
