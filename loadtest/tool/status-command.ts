// `kubelink-lab status`: every lab the tool built (or one, --prefix): its clusters, the
// processes and whether they run, and each cluster's KubeLinks as kubectl reports them.

import { listNamespaces } from '../lab/cleanup.js';
import { describeError } from '../lab/error-text.js';
import { readLinkStates, type LinkRow } from '../lab/kubelink-states.js';
import { Lab } from '../lab/lab.js';
import { readLabRecord } from '../lab/state-dir.js';
import { namespaceBelongsTo } from '../lab/topology.js';
import { labProcesses, type LabProcessInfo } from './process-roles.js';
import type { Progress } from './progress.js';
import { listSessions, readSession, type LabSession } from './session.js';
import { formatTextTable } from './text-table.js';

export interface ClusterStatus {
  name: string;
  serviceIp: string;
  links: LinkRow[];
  /** Why the links could not be read (e.g. the API server is down). */
  linksError?: string;
}

export interface LabStatus {
  prefix: string;
  session?: LabSession;
  namespaces: { present: number; expected: number };
  processes: LabProcessInfo[];
  clusters: ClusterStatus[];
}

export async function labStatus(prefix: string): Promise<LabStatus | undefined> {
  const record = await readLabRecord(prefix);
  const present = (await listNamespaces()).filter((ns) => namespaceBelongsTo(prefix, ns));
  if (!record) return present.length === 0 ? undefined : { prefix, namespaces: { present: present.length, expected: 0 }, processes: [], clusters: [] };
  const lab = await Lab.attach(prefix);
  const clusters = await Promise.all(
    lab.clusters.map(async (c): Promise<ClusterStatus> => {
      try {
        return { name: c.name, serviceIp: c.serviceIp, links: await readLinkStates(lab, c.index) };
      } catch (error) {
        return { name: c.name, serviceIp: c.serviceIp, links: [], linksError: describeError(error) };
      }
    }),
  );
  return {
    prefix,
    session: await readSession(prefix),
    namespaces: { present: present.length, expected: lab.namespaces().length },
    processes: await labProcesses(prefix),
    clusters,
  };
}

export function formatStatus(status: LabStatus): string {
  const s = status.session;
  const lines = [
    `lab ${status.prefix}: ${status.clusters.length} clusters` +
      (s ? `, brokers --workers ${s.workers}, built by \`${s.command}\` at ${s.createdAt}${s.ready ? '' : ' (never got ready)'}` : '') +
      `, ${status.namespaces.present}/${status.namespaces.expected} namespaces`,
  ];
  const byCluster = (name: string, role: string): string => {
    const ps = status.processes.filter((p) => p.cluster === name && p.role === role);
    if (ps.length === 0) return '-';
    return ps.map((p) => `${p.alive ? 'running' : 'DEAD'} ${p.pid}`).join(', ');
  };
  lines.push(
    formatTextTable(
      ['cluster', 'echo service', 'API server', 'broker', 'router'],
      status.clusters.map((c) => [c.name, c.serviceIp, byCluster(c.name, 'api-server'), byCluster(c.name, 'broker'), byCluster(c.name, 'router')]),
    ),
  );
  const rows = status.clusters.flatMap((c) =>
    c.linksError
      ? [[c.name, '-', '-', '-', '-', 'unknown', c.linksError]]
      : c.links.map((l) => [c.name, l.name, l.cidr, l.endpoint, l.gateway || '-', l.state || '-', l.message]),
  );
  lines.push('', 'KubeLinks (kubectl get klink in each cluster):', formatTextTable(['cluster', 'link', 'cidr', 'endpoint', 'gateway', 'state', 'message'], rows));
  return lines.join('\n');
}

/** Status of `prefix`, or of every lab the tool built when prefix is undefined; exit code. */
export async function runStatus(prefix: string | undefined, json: boolean, progress: Progress): Promise<number> {
  const prefixes = prefix !== undefined ? [prefix] : (await listSessions()).map((s) => s.prefix);
  const statuses = (await Promise.all(prefixes.map(labStatus))).filter((s): s is LabStatus => s !== undefined);
  if (json) {
    progress.print(JSON.stringify(statuses, null, 2));
  } else if (statuses.length === 0) {
    progress.print(prefix !== undefined ? `no lab with prefix ${prefix}` : 'no lab is up (none recorded under /run/kubelink-lab)');
  } else {
    progress.print(statuses.map(formatStatus).join('\n\n'));
  }
  if (statuses.length === 0) return prefix !== undefined ? 1 : 0;
  const healthy = statuses.every((st) => st.processes.every((p) => p.alive) && st.clusters.every((c) => !c.linksError && c.links.every((l) => l.state === 'Up')));
  return healthy ? 0 : 1;
}
