// Metrics of a links file source (--links), shared by the broker's and the router's
// registries: both read their links through one. Values are read at scrape time.
import client from 'prom-client';
import type { LinkSourceStats } from '../../shared/types.js';

/** Registers the file source's counters in `registry`; `stats` is undefined for the Kubernetes source. */
export function registerLinkSourceMetrics(registry: client.Registry, stats: () => LinkSourceStats | undefined): void {
  new client.Counter({
    name: 'kubelink_links_file_errors_total',
    help: 'Problems found in --links files (unreadable files, YAML errors, invalid manifests, duplicate names), each counted once while it persists',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats()?.manifestErrors ?? 0);
    },
  });
  new client.Gauge({
    name: 'kubelink_links_files_stale',
    help: '--links files whose current content has problems, served from their last good version',
    registers: [registry],
    collect() {
      this.set(stats()?.staleFiles ?? 0);
    },
  });
}
