// Where the controllers find their API server, in this order:
//   1. --kubeconfig PATH
//   2. in-cluster: the pod's service account, when KUBERNETES_SERVICE_HOST is set
//   3. $KUBECONFIG (path list, merged), else ~/.kube/config
// The library's loadFromDefault() silently falls back to http://localhost:8080 when it
// finds nothing; we throw instead, naming everything that was tried.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

/** Where the kubelet mounts the service account (the library appends this to a prefix). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface KubeConfigEnvironment {
  env: NodeJS.ProcessEnv;
  homeDir: string | undefined;
  /** Prepended to SERVICE_ACCOUNT_DIR (tests point it at a temporary directory). */
  serviceAccountRoot: string;
}

function defaultEnvironment(): KubeConfigEnvironment {
  let homeDir: string | undefined;
  try {
    homeDir = os.homedir();
  } catch {
    homeDir = undefined;
  }
  return { env: process.env, homeDir, serviceAccountRoot: '' };
}

function fromFiles(files: string[], origin: string): KubeConfig {
  const config = new KubeConfig();
  files.forEach((file, i) => {
    const part = i === 0 ? config : new KubeConfig();
    try {
      part.loadFromFile(file);
    } catch (err) {
      throw new Error(`kubeconfig ${file} (${origin}) cannot be loaded: ${(err as Error).message.split('\n')[0]}`, { cause: err });
    }
    if (part !== config) config.mergeConfig(part, true);
  });
  return checked(config, `${files.join(path.delimiter)} (${origin})`);
}

function checked(config: KubeConfig, origin: string): KubeConfig {
  const cluster = config.getCurrentCluster();
  if (!cluster?.server) {
    throw new Error(`kubeconfig ${origin} has no current context with a cluster server (current-context: "${config.getCurrentContext() ?? ''}")`);
  }
  return config;
}

function inCluster(environment: KubeConfigEnvironment): KubeConfig {
  const tokenFile = `${environment.serviceAccountRoot}${SERVICE_ACCOUNT_DIR}/token`;
  if (!existsSync(tokenFile)) {
    throw new Error(`in-cluster configuration: KUBERNETES_SERVICE_HOST is set but the service account token ${tokenFile} is missing (automountServiceAccountToken: false?)`);
  }
  if (!environment.env.KUBERNETES_SERVICE_PORT) {
    throw new Error('in-cluster configuration: KUBERNETES_SERVICE_HOST is set but KUBERNETES_SERVICE_PORT is not');
  }
  const config = new KubeConfig();
  // loadFromCluster reads host and port from process.env itself.
  const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
  process.env.KUBERNETES_SERVICE_HOST = environment.env.KUBERNETES_SERVICE_HOST;
  process.env.KUBERNETES_SERVICE_PORT = environment.env.KUBERNETES_SERVICE_PORT;
  try {
    config.loadFromCluster(environment.serviceAccountRoot);
  } finally {
    restoreEnv('KUBERNETES_SERVICE_HOST', saved.host);
    restoreEnv('KUBERNETES_SERVICE_PORT', saved.port);
  }
  return checked(config, 'in-cluster service account');
}

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

/**
 * Loads the client configuration (see the order above). Throws an Error naming the source
 * that failed, or every source tried when none was found.
 */
export function loadKubeConfig(kubeconfigPath?: string, environment: KubeConfigEnvironment = defaultEnvironment()): KubeConfig {
  if (kubeconfigPath) {
    if (!existsSync(kubeconfigPath)) throw new Error(`kubeconfig ${kubeconfigPath} (--kubeconfig) does not exist`);
    return fromFiles([kubeconfigPath], '--kubeconfig');
  }
  const env = environment.env;
  if (env.KUBERNETES_SERVICE_HOST) return inCluster(environment);
  const fromEnv = (env.KUBECONFIG ?? '').split(path.delimiter).filter((f) => f !== '');
  if (fromEnv.length > 0) {
    const present = fromEnv.filter((f) => existsSync(f));
    if (present.length === 0) throw new Error(`no file of $KUBECONFIG exists: ${fromEnv.join(', ')}`);
    return fromFiles(present, '$KUBECONFIG');
  }
  const homeConfig = environment.homeDir ? path.join(environment.homeDir, '.kube', 'config') : undefined;
  if (homeConfig && existsSync(homeConfig)) return fromFiles([homeConfig], 'default location');
  throw new Error(
    'no Kubernetes configuration found; tried: --kubeconfig (not given), in-cluster service account ' +
      `(KUBERNETES_SERVICE_HOST not set), $KUBECONFIG (not set), ${homeConfig ?? '~/.kube/config'} (missing)`,
  );
}
