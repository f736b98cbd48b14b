// Where the broker's certificates come from: files (--certfile/--keyfile/--cacertfile) or a
// kubernetes.io/tls Secret (--secret). Both implement TlsSource.
import type { Config } from '../flags.js';
import type { Logger } from '../../shared/log.js';
import type { TlsSource } from './tls-source.js';

export async function createTlsSource(config: Config, log: Logger): Promise<TlsSource> {
  if (config.certFile && config.keyFile) {
    const { CertFilesTlsSource } = await import('./cert-files.js');
    return new CertFilesTlsSource({ certFile: config.certFile, keyFile: config.keyFile, caFile: config.caCertFile, crlFile: config.crlFile, logger: log });
  }
  const { SecretTlsSource } = await import('./secret-tls-source.js');
  const { loadKubeConfig } = await import('../k8s/kube-config.js');
  return new SecretTlsSource(loadKubeConfig(config.kubeconfig), config, log);
}
