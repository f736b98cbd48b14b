// The kubeconfig a client (kubectl, @kubernetes/client-node, kubelink --kubeconfig)
// uses to reach this server. The token is sent by clients and ignored by the server.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { stringify } from 'yaml';

export interface KubeconfigSpec {
  server: string;
  /** PEM of the CA that signed the serving certificate (TLS only). */
  caPem?: string;
  token: string;
  /** Name of the cluster, user and context entries. */
  name: string;
  namespace?: string;
}

export function kubeconfigYaml(spec: KubeconfigSpec): string {
  const cluster: Record<string, string | boolean> = { server: spec.server };
  if (spec.caPem) cluster['certificate-authority-data'] = Buffer.from(spec.caPem).toString('base64');
  // @kubernetes/client-node refuses plain http:// unless the cluster skips TLS verification;
  // kubectl ignores the flag for http.
  else if (spec.server.startsWith('http:')) cluster['insecure-skip-tls-verify'] = true;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: spec.name, cluster }],
    users: [{ name: spec.name, user: { token: spec.token } }],
    contexts: [{ name: spec.name, context: { cluster: spec.name, user: spec.name, namespace: spec.namespace ?? 'default' } }],
    'current-context': spec.name,
    preferences: {},
  });
}

export function writeKubeconfig(path: string, spec: KubeconfigSpec): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, kubeconfigYaml(spec), { mode: 0o600 });
}
