// Where a controller's inputs come from. Links: a YAML file/directory (--links) or the
// Kubernetes API. Certificates: files (--certfile/--keyfile/--cacertfile) or a
// kubernetes.io/tls Secret (--secret). Each pair implements one interface, so the broker
// does not care which is in use.
import type { Config } from './flags.js';
import type { Logger } from './log.js';
import type { LinkSource } from '../shared/types.js';
import type { TlsMaterial } from '../shared/shard-protocol.js';
import { FileLinkSource } from './links-file-source.js';

/** Certificates for the tunnels, reloaded without dropping established tunnels. */
export interface TlsSource {
  /** Loads the material (fails if it is missing or invalid), then watches for changes. */
  start(onChange: (material: TlsMaterial) => void): Promise<TlsMaterial>;
  /** The material in force. */
  current(): TlsMaterial;
  stop(): Promise<void>;
}

export async function createLinkSource(config: Config, log: Logger): Promise<LinkSource> {
  if (config.links) return new FileLinkSource({ path: config.links, logger: log });
  const { KubernetesLinkSource } = await import('./k8s/kubelink-source.js');
  const { loadKubeConfig } = await import('./k8s/kube-config.js');
  return new KubernetesLinkSource(loadKubeConfig(config.kubeconfig), log, { eventNamespace: config.namespace });
}

export async function createTlsSource(config: Config, log: Logger): Promise<TlsSource> {
  if (config.certFile && config.keyFile) {
    const { CertFilesTlsSource } = await import('./cert-files.js');
    return new CertFilesTlsSource({ certFile: config.certFile, keyFile: config.keyFile, caFile: config.caCertFile, logger: log });
  }
  const { SecretTlsSource } = await import('./k8s/secret-tls-source.js');
  const { loadKubeConfig } = await import('./k8s/kube-config.js');
  return new SecretTlsSource(loadKubeConfig(config.kubeconfig), config, log);
}
