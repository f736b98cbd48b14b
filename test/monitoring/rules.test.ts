// k8s/monitoring/: the PrometheusRule's groups pass `promtool check rules`, and `promtool
// test rules` (alerts.test.yaml) shows each alert firing on synthetic series when it
// should and staying quiet when it should; the dashboard is well-formed. promtool comes
// from the Debian package prometheus (scripts/install-deps.sh). Whether the metrics exist
// in a live broker is checked in test/lab/broker-tunnel.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { ALERT_TESTS, MONITORING, dashboard, monitoringMetricNames, ruleGroups } from '../helpers/monitoring.js';
import { kustomize, renderOverlay } from '../k8s/kustomize.js';

const run = promisify(execFile);
const PROMTOOL = process.env.PROMTOOL ?? 'promtool';

/** A directory with rules.yaml (the PrometheusRule's groups) and alerts.test.yaml. */
function promtoolDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kl-promtool-'));
  writeFileSync(path.join(dir, 'rules.yaml'), stringify({ groups: ruleGroups() }));
  copyFileSync(ALERT_TESTS, path.join(dir, 'alerts.test.yaml'));
  return dir;
}

test('promtool check rules accepts the PrometheusRule groups', async () => {
  const dir = promtoolDir();
  try {
    const { stdout } = await run(PROMTOOL, ['check', 'rules', path.join(dir, 'rules.yaml')]);
    const alerts = ruleGroups().flatMap((g) => g.rules).length;
    assert.match(stdout, new RegExp(`SUCCESS: ${alerts} rules found`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('promtool test rules: every alert fires on the synthetic series where it should, and only there', async () => {
  const dir = promtoolDir();
  try {
    const result = await run(PROMTOOL, ['test', 'rules', path.join(dir, 'alerts.test.yaml')]).catch((err: { stdout?: string; stderr?: string }) => {
      assert.fail(`promtool test rules failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    });
    assert.match(result.stdout, /SUCCESS/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the promtool tests cover every alert both firing and quiet, and the tests fail when a rule is broken', async () => {
  type AlertTest = { alertname: string; exp_alerts: unknown[] };
  const tests = (parse(readFileSync(ALERT_TESTS, 'utf8')) as { tests: Array<{ alert_rule_test: AlertTest[] }> }).tests.flatMap((t) => t.alert_rule_test);
  for (const rule of ruleGroups().flatMap((g) => g.rules)) {
    assert.ok(rule.alert, 'only alerts, no recording rules');
    const mine = tests.filter((t) => t.alertname === rule.alert);
    assert.ok(mine.some((t) => t.exp_alerts.length > 0), `${rule.alert} is shown firing`);
    assert.ok(mine.some((t) => t.exp_alerts.length === 0), `${rule.alert} is shown quiet`);
    assert.ok(rule.for && rule.labels?.severity && rule.annotations?.summary && rule.annotations.description, `${rule.alert}: for, severity, summary and description`);
  }
  // The unit tests must be able to fail: with the link-down delay changed they do.
  const dir = promtoolDir();
  try {
    const broken = ruleGroups().map((g) => ({ ...g, rules: g.rules.map((r) => (r.alert === 'KubeLinkDown' ? { ...r, for: '5m' } : r)) }));
    writeFileSync(path.join(dir, 'rules.yaml'), stringify({ groups: broken }));
    const outcome = await run(PROMTOOL, ['test', 'rules', path.join(dir, 'alerts.test.yaml')]).then(
      () => 'passed',
      (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`,
    );
    assert.match(outcome, /FAILED[\s\S]*KubeLinkDown/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the dashboard has the panels operators need, each with a Prometheus query', () => {
  const d = dashboard();
  assert.equal(d.uid, 'kubelink');
  const titles = d.panels.map((p) => p.title);
  for (const wanted of ['Link state', 'Throughput to peers (tx)', 'Throughput from peers (rx)', 'Round-trip time', 'Reconnects', 'Drops by reason', 'Ring fill per shard', 'Leader']) {
    assert.ok(titles.includes(wanted), `panel ${wanted}`);
  }
  for (const p of d.panels) assert.ok((p.targets ?? []).length > 0 && p.targets!.every((t) => /kubelink_/.test(t.expr)), `${p.title}: a kubelink query`);
  assert.ok(monitoringMetricNames().includes('kubelink_broker_leader'));
  assert.ok(monitoringMetricNames().includes('kubelink_certificate_expiry_timestamp_seconds'));
});

test('kubectl kustomize k8s/monitoring renders the rule, a PodMonitor for the broker\'s http port and the dashboard ConfigMap for Grafana\'s sidecar', () => {
  const docs = kustomize(MONITORING);
  const kinds = docs.map((d) => `${d.obj.kind}/${d.obj.metadata.name}`).sort();
  assert.deepEqual(kinds, ['ConfigMap/kubelink-grafana-dashboard', 'PodMonitor/kubelink-broker', 'PrometheusRule/kubelink']);
  const config = docs.find((d) => d.obj.kind === 'ConfigMap')!.obj;
  assert.equal(config.metadata.labels.grafana_dashboard, '1');
  assert.deepEqual(JSON.parse(config.data['kubelink-dashboard.json']), dashboard());
  const podMonitor = docs.find((d) => d.obj.kind === 'PodMonitor')!.obj;
  const broker = renderOverlay('cluster1').find((d) => d.obj.kind === 'Deployment' && d.obj.metadata.name === 'kubelink-broker')!.obj;
  for (const [k, v] of Object.entries(podMonitor.spec.selector.matchLabels)) assert.equal(broker.spec.template.metadata.labels[k], v);
  const port = broker.spec.template.spec.containers[0].ports.find((p: { name: string }) => p.name === podMonitor.spec.podMetricsEndpoints[0].port);
  assert.ok(port, 'the PodMonitor names a port of the broker container');
  assert.ok(broker.spec.template.spec.containers[0].args.includes(`--server-port-http=${port.containerPort}`), 'and it is the port /metrics is served on');
});
