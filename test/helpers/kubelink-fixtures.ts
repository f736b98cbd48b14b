// KubeLink resources for tests, written as briefly as a table row.
import { KUBELINK_API_VERSION, KUBELINK_KIND } from '../../src/shared/types.js';
import type { KubeLinkResource, KubeLinkStatus } from '../../src/shared/types.js';

/** A KubeLink `name` for a remote cluster; the endpoint is derived from the name. */
export function kubeLink(name: string, cidr: string, clusterAddress: string, status?: KubeLinkStatus): KubeLinkResource {
  return {
    apiVersion: KUBELINK_API_VERSION,
    kind: KUBELINK_KIND,
    metadata: { name },
    spec: { cidr, clusterAddress, endpoint: `kubelink.${name}.example.com:8088` },
    ...(status ? { status } : {}),
  };
}
