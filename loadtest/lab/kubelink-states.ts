// KubeLinks as the API server reports them (`kubectl get klink -o json`), reduced to what
// the lab waits for and shows: name, spec and status of each link of a cluster.

import type { KubeLinkResource, LinkState } from '../../src/shared/types.js';
import type { LabContext } from './lab-context.js';

export interface LinkRow {
  name: string;
  cidr: string;
  clusterAddress: string;
  endpoint: string;
  /** status.gateway; '' while unset. */
  gateway: string;
  /** status.state; '' while the broker has not written one. */
  state: LinkState | '';
  message: string;
}

/** Parses the output of `kubectl get klink -o json` (a List). */
export function parseKubeLinkList(json: string): LinkRow[] {
  let list: { items?: KubeLinkResource[] };
  try {
    list = JSON.parse(json) as { items?: KubeLinkResource[] };
  } catch (cause) {
    throw new Error(`kubectl get klink -o json printed no JSON: ${json.slice(0, 200)}`, { cause });
  }
  return (list.items ?? [])
    .map((item) => ({
      name: item.metadata.name,
      cidr: item.spec?.cidr ?? '',
      clusterAddress: item.spec?.clusterAddress ?? '',
      endpoint: item.spec?.endpoint ?? '',
      gateway: item.status?.gateway ?? '',
      state: (item.status?.state ?? '') as LinkRow['state'],
      message: item.status?.message ?? '',
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The KubeLinks of cluster `index`, read with the real kubectl. */
export async function readLinkStates(lab: LabContext, index: number): Promise<LinkRow[]> {
  const { stdout } = await lab.kubectl(index, ['get', 'klink', '-o', 'json'], { timeoutMs: 15_000 });
  return parseKubeLinkList(stdout);
}
