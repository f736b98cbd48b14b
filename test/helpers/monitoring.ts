// What k8s/monitoring/ says about metrics: the rule groups of the PrometheusRule, the
// dashboard's queries, and every kubelink_* metric name the two use.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

// The repository root, seen from dist-<name>/test/helpers/ (compiled tests).
const ROOT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const MONITORING = path.join(ROOT, 'k8s', 'monitoring');
/** The promtool unit tests (not compiled: read from the sources). */
export const ALERT_TESTS = path.join(ROOT, 'test', 'monitoring', 'alerts.test.yaml');

export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RuleGroup {
  name: string;
  rules: Rule[];
}

/** spec.groups of k8s/monitoring/prometheus-rule.yaml: what promtool reads as a rule file. */
export function ruleGroups(): RuleGroup[] {
  const rule = parse(readFileSync(path.join(MONITORING, 'prometheus-rule.yaml'), 'utf8')) as { kind: string; spec: { groups: RuleGroup[] } };
  if (rule.kind !== 'PrometheusRule') throw new Error(`prometheus-rule.yaml holds a ${rule.kind}`);
  return rule.spec.groups;
}

export interface DashboardPanel {
  title: string;
  type: string;
  datasource?: unknown;
  targets?: Array<{ expr: string; refId: string }>;
}
export interface Dashboard {
  title: string;
  uid: string;
  panels: DashboardPanel[];
  templating: { list: Array<{ name: string; query?: unknown; definition?: string }> };
}

export function dashboard(): Dashboard {
  return JSON.parse(readFileSync(path.join(MONITORING, 'kubelink-dashboard.json'), 'utf8')) as Dashboard;
}

/** Every PromQL expression of the rules and the dashboard (panels and variables). */
export function monitoringExpressions(): string[] {
  const d = dashboard();
  return [
    ...ruleGroups().flatMap((g) => g.rules.map((r) => r.expr)),
    ...d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ...d.templating.list.flatMap((v) => (v.definition ? [v.definition] : [])),
  ];
}

/** The kubelink_* metric names the rules and the dashboard query, sorted. */
export function monitoringMetricNames(): string[] {
  const names = new Set(monitoringExpressions().flatMap((e) => e.match(/\bkubelink_[a-z0-9_]+/g) ?? []));
  return [...names].sort();
}

/** Metric names a Prometheus text exposition declares (its # TYPE lines). */
export function exposedMetricNames(exposition: string): Set<string> {
  return new Set([...exposition.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
}
