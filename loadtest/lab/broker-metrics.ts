// A running broker's /metrics as the lab sees it: fetched from inside its gateway
// namespace, read one series or one family at a time.

import type { Lab } from './lab.js';
import type { LabCluster } from './topology.js';

/** The broker's Prometheus text (its HTTP server, default port 8080). */
export function fetchBrokerMetrics(lab: Lab, cluster: LabCluster, port = 8080): Promise<string> {
  return lab.httpGet(cluster.gateway.ns, `http://127.0.0.1:${port}/metrics`);
}

/** One sample, e.g. ('kubelink_link_up', {link: 'c2'}); 0 when the series is absent. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const rendered = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',');
  const series = rendered ? `${name}{${rendered}}` : name;
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

/** The sum over every series of metric `name` (all label values). */
export function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(name + ' ') || line.startsWith(name + '{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  }
  return sum;
}
