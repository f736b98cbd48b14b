// `kubelink-lab up`: builds the multi-cluster lab, leaves it running, prints how to use it.

import { listNamespaces } from '../lab/cleanup.js';
import { describeError } from '../lab/error-text.js';
import { readLabRecord } from '../lab/state-dir.js';
import { namespaceBelongsTo } from '../lab/topology.js';
import type { LogLevel } from '../../src/shared/log.js';
import { findMissingForMesh, newMeshLab, onInterrupt, startMesh } from './mesh.js';
import type { Progress } from './progress.js';
import { clusterTable, prefixFlag, toolInvocation, usageHints } from './summary.js';

export interface UpOptions {
  prefix: string;
  clusters: number;
  workers: number;
  keepOnFailure: boolean;
  /** Every cluster with the same service CIDR (Lab's sameServiceCidr). */
  sameServiceCidr?: boolean;
  logLevel: LogLevel;
  readyTimeoutMs: number;
}

/** Exit code when the machine lacks something the lab needs. */
export const EXIT_MISSING_PREREQUISITES = 3;

/** Prints what is missing and returns true when the lab cannot run here. */
export async function reportMissingPrerequisites(progress: Progress): Promise<boolean> {
  const missing = await findMissingForMesh();
  if (missing.length === 0) return false;
  progress.print(`kubelink lab cannot run on this machine; missing:\n${missing.map((m) => `  - ${m}`).join('\n')}`);
  return true;
}

/** True (and says so) when a lab with `prefix` exists already: up never touches it. */
export async function reportExistingLab(prefix: string, progress: Progress): Promise<boolean> {
  const namespaces = (await listNamespaces()).filter((ns) => namespaceBelongsTo(prefix, ns));
  if (!(await readLabRecord(prefix)) && namespaces.length === 0) return false;
  const tool = toolInvocation();
  progress.print(`a lab with prefix ${prefix} exists already (${namespaces.length} namespaces).\n` +
    `  see it:     ${tool} status${prefixFlag(prefix)}\n  remove it:  ${tool} down${prefixFlag(prefix)}\n  or use another: --prefix NAME`);
  return true;
}

export async function runUp(options: UpOptions, progress: Progress): Promise<number> {
  if (await reportMissingPrerequisites(progress)) return EXIT_MISSING_PREREQUISITES;
  if (await reportExistingLab(options.prefix, progress)) return 1;
  const { lab, logFile } = newMeshLab({ ...options, detach: true });
  const removeHandlers = onInterrupt(progress, () => lab.destroy());
  try {
    const mesh = await startMesh(lab, logFile, { ...options, progress, detach: true, command: 'up' });
    removeHandlers();
    progress.step(`lab ${lab.prefix} is up: ${lab.clusters.length} clusters, full mesh, every KubeLink Up, brokers with --workers ${options.workers}`);
    progress.print();
    progress.print(clusterTable(mesh.lab));
    progress.print();
    progress.print(usageHints(mesh.lab));
    return 0;
  } catch (error) {
    removeHandlers();
    progress.step(`FAILED: ${describeError(error)}`);
    if (options.keepOnFailure) {
      progress.print(`The lab is kept for inspection (--keep-on-failure).\n${usageHints(lab)}`);
    } else {
      progress.step(`removing lab ${lab.prefix} (logs stay in ${lab.workDir}; --keep-on-failure keeps the lab)`);
      await lab.destroy({ keepWorkDir: true });
    }
    return 1;
  }
}
