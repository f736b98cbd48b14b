// `kubelink-lab down`: removes a lab from any state (also after `up` was killed): its
// processes, namespaces (with their devices, routes and rules), /etc/netns entries, work
// directory and state.

import { listNamespaces } from '../lab/cleanup.js';
import { Lab } from '../lab/lab.js';
import { readProcessRecords } from '../lab/state-dir.js';
import { namespaceBelongsTo } from '../lab/topology.js';
import type { Progress } from './progress.js';

export async function runDown(target: { prefix: string } | { all: true }, progress: Progress): Promise<number> {
  if ('all' in target) {
    const removed = await Lab.destroyAll();
    progress.step(removed.length === 0 ? 'no lab recorded under /run/kubelink-lab' : `removed labs ${removed.join(', ')}`);
    return 0;
  }
  const { prefix } = target;
  const namespaces = (await listNamespaces()).filter((ns) => namespaceBelongsTo(prefix, ns));
  const processes = await readProcessRecords(prefix);
  progress.step(`removing lab ${prefix}: ${processes.length} recorded processes, ${namespaces.length} namespaces`);
  await Lab.destroyByPrefix(prefix);
  const left = (await listNamespaces()).filter((ns) => namespaceBelongsTo(prefix, ns));
  if (left.length > 0) {
    progress.step(`namespaces left over: ${left.join(', ')}`);
    return 1;
  }
  progress.step(`lab ${prefix} removed`);
  return 0;
}
