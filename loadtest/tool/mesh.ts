// A lab as the tool builds it: N clusters, each with an API server, the real broker and
// router, and a full mesh of KubeLinks applied with kubectl (KubelinkKubernetesPath),
// with progress on the terminal and the lab's JSON log in <workDir>/lab.log.

import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { nativeAddonPath } from '../../src/shared/native.js';
import { createLogger, type LogLevel } from '../../src/shared/log.js';
import { defaultLabWorkDir, Lab } from '../lab/lab.js';
import type { KubelinkKubernetesPath } from '../lab/kubelink-k8s-path.js';
import { findMissingPrerequisites, KUBECTL_TOOL } from '../lab/preconditions.js';
import type { LabCluster } from '../lab/topology.js';
import type { Progress } from './progress.js';
import { writeSession, type LabSession } from './session.js';

export interface MeshOptions {
  prefix: string;
  clusters: number;
  workers: number;
  progress: Progress;
  /** The lab's processes outlive this command (`up`, `demo --keep`). */
  detach: boolean;
  /** Tool command recorded in the session. */
  command: string;
  /** Log level of the brokers, routers and the lab log. Default info. */
  logLevel?: LogLevel;
  /** How long links may take to be Up. Default 60 000 ms. */
  readyTimeoutMs?: number;
  /** See KubelinkKubernetesPathOptions.wrapBroker (profiling). */
  wrapBroker?: (cluster: LabCluster, argv: string[]) => string[];
}

export interface Mesh {
  lab: Lab;
  path: KubelinkKubernetesPath;
  /** The lab's own JSON log. */
  logFile: string;
  session: LabSession;
}

/** Everything the mesh needs that may be missing on this machine, one line each. */
export function findMissingForMesh(): Promise<string[]> {
  return findMissingPrerequisites({
    extraTools: [KUBECTL_TOOL],
    files: [{ path: nativeAddonPath(), hint: 'kubelink\'s native addon is not built: run bash scripts/install-deps.sh' }],
  });
}

/** The Lab object of a mesh, logging to <workDir>/lab.log (created here). */
export function newMeshLab(options: Pick<MeshOptions, 'prefix' | 'clusters' | 'detach' | 'logLevel'> & { sameServiceCidr?: boolean }): { lab: Lab; logFile: string } {
  const workDir = defaultLabWorkDir(options.prefix);
  mkdirSync(workDir, { recursive: true });
  const logFile = path.join(workDir, 'lab.log');
  const stream = createWriteStream(logFile, { flags: 'a' });
  const log = createLogger({ level: options.logLevel ?? 'info', write: (line) => stream.write(line + '\n') });
  const lab = new Lab({ prefix: options.prefix, clusters: options.clusters, log, staticRoutes: false, sameServiceCidr: options.sameServiceCidr, detachProcesses: options.detach });
  return { lab, logFile };
}

/**
 * Builds the lab's networks (lab.create) and brings the mesh up; records the session. On
 * failure the caller decides whether to keep the lab (`--keep-on-failure`) or destroy it.
 */
export async function startMesh(lab: Lab, logFile: string, options: MeshOptions): Promise<Mesh> {
  const { progress } = options;
  const session: LabSession = {
    prefix: lab.prefix,
    clusters: options.clusters,
    workers: options.workers,
    workDir: lab.workDir,
    command: options.command,
    createdAt: new Date().toISOString(),
    ready: false,
  };
  progress.step(`lab ${lab.prefix}: building ${options.clusters} clusters (${lab.namespaces().length} network namespaces); log ${logFile}`);
  await lab.create();
  await writeSession(session);
  progress.step(`networks: nodes, pods, bridges, "internet", kube-proxy stand-in, echo services (${lab.clusters.map((c) => `${c.name} ${c.serviceIp}`).join(', ')})`);
  const meshPath = lab.kubelinkKubernetesPath({
    workers: options.workers,
    logLevel: options.logLevel,
    readyTimeoutMs: options.readyTimeoutMs,
    onStep: (message) => progress.step(message),
    wrapBroker: options.wrapBroker,
  });
  await meshPath.up();
  session.ready = true;
  await writeSession(session);
  return { lab, path: meshPath, logFile, session };
}

/**
 * Runs `cleanup` once on SIGINT/SIGTERM, then exits 130; returns a function that removes
 * the handlers again. Lab commands use it so Ctrl-C never leaves a half-built lab behind.
 */
export function onInterrupt(progress: Progress, cleanup: () => Promise<void>): () => void {
  let running = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (running) return;
    running = true;
    progress.step(`${signal}: cleaning up`);
    void cleanup()
      .catch((error: unknown) => progress.step(`cleanup failed: ${(error as Error).message}`))
      .finally(() => process.exit(130));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
