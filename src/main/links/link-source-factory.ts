// Where a controller's links come from: a YAML file/directory (--links) or the Kubernetes
// API. Both implement LinkSource, so the broker and the router do not care which is in use.
import type { Config } from '../flags.js';
import type { Logger } from '../../shared/log.js';
import type { LinkSource } from '../../shared/types.js';
import { FileLinkSource } from './links-file-source.js';

export async function createLinkSource(config: Config, log: Logger): Promise<LinkSource> {
  if (config.links) return new FileLinkSource({ path: config.links, logger: log });
  const { KubernetesLinkSource } = await import('../k8s/kubelink-source.js');
  const { loadKubeConfig } = await import('../k8s/kube-config.js');
  return new KubernetesLinkSource(loadKubeConfig(config.kubeconfig), log, { eventNamespace: config.namespace });
}
