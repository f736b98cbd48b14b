// Integration helpers: a test API server (apiserver/server.ts) with a client
// configuration for it, and polling for a condition (correctness waits, not speed checks).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import { startApiServer } from '../../../apiserver/server.js';
import type { ApiServerOptions, RunningApiServer } from '../../../apiserver/server.js';
import { loadKubeConfig } from '../../../src/main/k8s/kube-config.js';
import { KUBELINK_API_VERSION, KUBELINK_GROUP, KUBELINK_PLURAL, KUBELINK_VERSION } from '../../../src/shared/types.js';
import type { KubeLinkResource } from '../../../src/shared/types.js';

export interface ApiServerEnv {
  server: RunningApiServer;
  kubeConfig: KubeConfig;
  custom: CustomObjectsApi;
  core: CoreV1Api;
  /** A directory removed by close() (data files, kubeconfigs). */
  dir: string;
  /** Stops the server and starts a new one on the same port and data file. */
  restart(between?: () => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

export async function startEnv(options: ApiServerOptions & { persistent?: boolean } = {}): Promise<ApiServerEnv> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kl-k8s-test-'));
  const kubeconfigPath = path.join(dir, 'kubeconfig');
  const dataFile = options.persistent ? path.join(dir, 'data.json') : undefined;
  let server = await startApiServer({ ...options, kubeconfigPath, dataFile });
  const kubeConfig = loadKubeConfig(kubeconfigPath);
  const env: ApiServerEnv = {
    server,
    kubeConfig,
    custom: kubeConfig.makeApiClient(CustomObjectsApi),
    core: kubeConfig.makeApiClient(CoreV1Api),
    dir,
    async restart(between) {
      if (!dataFile) throw new Error('restart needs { persistent: true }');
      const port = server.port;
      await server.close();
      await between?.();
      server = await startApiServer({ ...options, kubeconfigPath, dataFile, port });
      env.server = server;
    },
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return env;
}

/** Polls `check` until it returns a value other than undefined/false; fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`, { cause: last });
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function kubeLink(name: string, n: number): KubeLinkResource {
  return {
    apiVersion: KUBELINK_API_VERSION,
    kind: 'KubeLink',
    metadata: { name },
    spec: { cidr: `100.64.${16 * n}.0/20`, clusterAddress: `192.168.0.${10 + n}/24`, endpoint: `broker.c${n}.kubelink.lab:8088` },
  };
}

const KL = { group: KUBELINK_GROUP, version: KUBELINK_VERSION, plural: KUBELINK_PLURAL };

export const createLink = (env: ApiServerEnv, link: KubeLinkResource): Promise<KubeLinkResource> =>
  env.custom.createClusterCustomObject({ ...KL, body: link }) as Promise<KubeLinkResource>;

export const getLink = (env: ApiServerEnv, name: string): Promise<KubeLinkResource> =>
  env.custom.getClusterCustomObject({ ...KL, name }) as Promise<KubeLinkResource>;

export const deleteLink = (env: ApiServerEnv, name: string): Promise<unknown> => env.custom.deleteClusterCustomObject({ ...KL, name });

export async function replaceLinkSpec(env: ApiServerEnv, name: string, spec: Partial<KubeLinkResource['spec']>): Promise<KubeLinkResource> {
  const current = await getLink(env, name);
  return (await env.custom.replaceClusterCustomObject({ ...KL, name, body: { ...current, spec: { ...current.spec, ...spec } } })) as KubeLinkResource;
}
