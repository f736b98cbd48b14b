// Static checks of the manifests in k8s/, as `kubectl kustomize` renders each example
// overlay: every field of a built-in kind exists in the Kubernetes API (checked against
// @kubernetes/client-node's generated models, which the test API server does not do), the
// broker's and router's arguments parse with kubelink's own flag parser with the overlay's
// values filled in, and the pieces refer to each other correctly (ConfigMap keys, ports,
// probes, service accounts, selectors). overlays-apply.test.ts applies them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { parseFlags } from '../../src/main/flags.js';
import { formatIpv4, parseIpv4, parsePrefix, prefixContains } from '../../src/shared/cidr.js';
import { KUBELINK_API_VERSION, KUBELINK_KIND } from '../../src/shared/types.js';

import { CLUSTERS, renderOverlay, renderWithComponent } from './kustomize.js';
import type { Doc, Obj } from './kustomize.js';

const withoutCrds = (docs: Doc[]): Doc[] => docs.filter((d) => d.obj.kind !== 'CustomResourceDefinition');
const examples = Object.fromEntries(CLUSTERS.map((c) => [c, withoutCrds(renderOverlay(c))])) as Record<(typeof CLUSTERS)[number], Doc[]>;
// What every cluster shares (broker, router, RBAC), as cluster1 renders it.
const base = examples.cluster1;
const optional = CLUSTERS.flatMap((c) => renderWithComponent(c, 'cert-management').filter((d) => d.obj.kind === 'Certificate'));

const MODEL_OF_KIND: Record<string, string> = {
  Namespace: 'V1Namespace',
  ServiceAccount: 'V1ServiceAccount',
  ConfigMap: 'V1ConfigMap',
  Service: 'V1Service',
  Deployment: 'V1Deployment',
  DaemonSet: 'V1DaemonSet',
  ClusterRole: 'V1ClusterRole',
  ClusterRoleBinding: 'V1ClusterRoleBinding',
  Role: 'V1Role',
  RoleBinding: 'V1RoleBinding',
};

type AttributeMap = Array<{ baseName: string; type: string }>;
function attributesOf(model: string): AttributeMap | undefined {
  const cls = (k8s as unknown as Record<string, { getAttributeTypeMap?: () => AttributeMap }>)[model];
  return cls?.getAttributeTypeMap?.();
}

/** Problems of `value` against the client-node model type `type` (unknown fields, wrong shapes). */
function checkAgainstModel(value: unknown, type: string, where: string): string[] {
  if (type.startsWith('Array<')) {
    if (!Array.isArray(value)) return [`${where}: expected a list`];
    return value.flatMap((v, i) => checkAgainstModel(v, type.slice(6, -1), `${where}[${i}]`));
  }
  if (type.startsWith('{ [key: string]: ')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${where}: expected a map`];
    const valueType = type.slice('{ [key: string]: '.length, -'; }'.length);
    return Object.entries(value).flatMap(([k, v]) => checkAgainstModel(v, valueType, `${where}.${k}`));
  }
  switch (type) {
    case 'string':
      return typeof value === 'string' ? [] : [`${where}: expected a string, got ${JSON.stringify(value)}`];
    case 'number':
      return typeof value === 'number' ? [] : [`${where}: expected a number, got ${JSON.stringify(value)}`];
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${where}: expected a boolean, got ${JSON.stringify(value)}`];
    case 'IntOrString':
      return typeof value === 'string' || typeof value === 'number' ? [] : [`${where}: expected an int or string`];
    case 'Date':
    case 'any':
    case 'object':
      return [];
  }
  const attributes = attributesOf(type);
  if (!attributes) return [`${where}: no model ${type} to check against`];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${where}: expected an object (${type})`];
  const problems: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    const attribute = attributes.find((a) => a.baseName === key);
    if (!attribute) problems.push(`${where}.${key}: unknown field of ${type}`);
    else problems.push(...checkAgainstModel(v, attribute.type, `${where}.${key}`));
  }
  return problems;
}

function find(docs: Doc[], kind: string, name: string): Obj {
  const found = docs.find((d) => d.obj.kind === kind && d.obj.metadata?.name === name);
  assert.ok(found, `${kind} ${name} exists`);
  return found.obj;
}

const broker = find(base, 'Deployment', 'kubelink-broker');
const router = find(base, 'DaemonSet', 'kubelink-router');

/** The container's args with $(VAR) filled in from its env (ConfigMap keys and downward API stand-ins). */
function resolvedArgs(workload: Obj, config: Obj): string[] {
  const container = workload.spec.template.spec.containers[0];
  const env = new Map<string, string>();
  const downward: Record<string, string> = { 'status.hostIP': '10.250.0.2', 'metadata.namespace': workload.metadata.namespace, 'metadata.name': 'pod-0' };
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env.set(e.name, e.value);
    const ref = e.valueFrom?.configMapKeyRef;
    if (ref) {
      assert.equal(ref.name, config.metadata.name, `${e.name} comes from the cluster's ConfigMap`);
      assert.ok(ref.key in config.data, `ConfigMap ${config.metadata.name} has key ${ref.key} (for ${e.name})`);
      env.set(e.name, config.data[ref.key]);
    }
    const field = e.valueFrom?.fieldRef?.fieldPath;
    if (field) env.set(e.name, downward[field] ?? assert.fail(`unexpected fieldRef ${field}`));
  }
  return (container.args as string[]).map((arg) =>
    arg.replace(/\$\(([A-Z_][A-Z0-9_]*)\)/g, (_m, name: string) => env.get(name) ?? assert.fail(`${arg}: $(${name}) has no env entry`)),
  );
}

function argValue(args: string[], flag: string): string | undefined {
  const prefix = `--${flag}=`;
  return args.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

test('every built-in object the overlays render uses only fields the Kubernetes API knows', () => {
  const all = [...examples.cluster1, ...examples.cluster2];
  const problems = all.flatMap(({ file, obj }) => {
    if (obj.kind === KUBELINK_KIND) return [];
    const model = MODEL_OF_KIND[obj.kind];
    if (!model) return [`${file}: kind ${obj.kind} is not one the test API server serves (move it to an optional component)`];
    return checkAgainstModel(obj, model, `${file} ${obj.kind}/${obj.metadata?.name}`);
  });
  assert.deepEqual(problems, []);
});

test('the checker itself catches a misspelt field', () => {
  const bad = structuredClone(router);
  bad.spec.template.spec.hostNetwrk = true;
  assert.match(checkAgainstModel(bad, 'V1DaemonSet', 'ds').join('\n'), /hostNetwrk: unknown field of V1PodSpec/);
});

for (const cluster of CLUSTERS) {
  test(`broker and router arguments parse with kubelink's flags for ${cluster}`, () => {
    const config = find(examples[cluster], 'ConfigMap', 'kubelink-config');
    const brokerConfig = parseFlags(resolvedArgs(broker, config), {});
    assert.deepEqual(brokerConfig.controllers, ['broker']);
    assert.equal(`${brokerConfig.linkAddress!.prefixLength}`, config.data.linkAddress.split('/')[1]);
    assert.equal(formatIpv4(brokerConfig.clusterDnsIp!), config.data.clusterDnsIP, 'the broker is told where its cluster DNS is (parseFlags checks it lies in the service network)');
    assert.equal(brokerConfig.clusterDomain, config.data.clusterDomain);
    const routerConfig = parseFlags(resolvedArgs(router, config), {});
    assert.deepEqual(routerConfig.controllers, ['router']);
    assert.notEqual(brokerConfig.serverPortHttp, routerConfig.serverPortHttp, 'both use hostNetwork: their HTTP ports must differ');
  });

  test(`${cluster}'s KubeLink points at the other cluster's networks and broker Service`, () => {
    const other = cluster === 'cluster1' ? 'cluster2' : 'cluster1';
    const link = find(examples[cluster], KUBELINK_KIND, other);
    assert.equal(link.apiVersion, KUBELINK_API_VERSION);
    const otherConfig = find(examples[other], 'ConfigMap', 'kubelink-config');
    assert.equal(link.spec.cidr, otherConfig.data.serviceCidr);
    assert.equal(link.spec.clusterAddress, otherConfig.data.linkAddress);
    const otherService = find(examples[other], 'Service', 'kubelink-broker');
    assert.equal(link.spec.endpoint, otherService.metadata.annotations['dns.gardener.cloud/dnsnames']);
    assert.equal(otherService.spec.ports[0].port, 80, 'an endpoint without port means port 80');
  });

  test(`${cluster}'s echo service has a ClusterIP inside its own service network`, () => {
    const config = find(examples[cluster], 'ConfigMap', 'kubelink-config');
    const echo = find(examples[cluster], 'Service', 'echo');
    const network = parsePrefix(config.data.serviceCidr);
    const ip = parseIpv4(echo.spec.clusterIP);
    assert.ok(network.ok && ip !== undefined && prefixContains(network.value, ip), `${echo.spec.clusterIP} inside ${config.data.serviceCidr}`);
  });
}

test('probes, ports, service accounts and selectors fit together', () => {
  for (const workload of [broker, router]) {
    const pod = workload.spec.template.spec;
    const container = pod.containers[0];
    const http = Number(argValue(container.args, 'server-port-http'));
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    assert.equal(container.livenessProbe.httpGet.port, http);
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.equal(container.readinessProbe.httpGet.port, http);
    assert.ok(container.ports.some((p: Obj) => p.containerPort === http));
    assert.equal(pod.hostNetwork, true);
    find(base, 'ServiceAccount', pod.serviceAccountName);
    for (const [k, v] of Object.entries(workload.spec.selector.matchLabels)) assert.equal(workload.spec.template.metadata.labels[k], v);
  }
  const tunnelPort = broker.spec.template.spec.containers[0].ports.find((p: Obj) => p.name === 'tunnel');
  assert.equal(String(tunnelPort.containerPort), argValue(broker.spec.template.spec.containers[0].args, 'broker-port'));
  for (const cluster of CLUSTERS) {
    const service = find(examples[cluster], 'Service', 'kubelink-broker');
    assert.equal(service.spec.ports[0].targetPort, 'tunnel');
    for (const [k, v] of Object.entries(service.spec.selector)) assert.equal(broker.spec.template.metadata.labels[k], v);
  }
  assert.ok(router.spec.template.spec.tolerations.some((t: Obj) => t.operator === 'Exists' && t.key === undefined), 'the router runs on tainted nodes too');
});

test('the cert-management component requests the certificate for the overlay\'s endpoint, into the broker\'s Secret', () => {
  assert.equal(optional.length, CLUSTERS.length);
  for (const [i, { file, obj }] of optional.entries()) {
    const service = find(examples[CLUSTERS[i]!], 'Service', 'kubelink-broker');
    const endpoint = service.metadata.annotations['dns.gardener.cloud/dnsnames'];
    assert.equal(obj.apiVersion, 'cert.gardener.cloud/v1alpha1', file);
    assert.equal(obj.spec.commonName, endpoint);
    assert.deepEqual(obj.spec.dnsNames, [endpoint]);
    assert.equal(obj.spec.secretName, argValue(broker.spec.template.spec.containers[0].args, 'secret'));
  }
});

test('every placeholder of the base is replaced by the overlay, and the values file itself is not rendered', () => {
  for (const cluster of CLUSTERS) {
    const text = JSON.stringify(examples[cluster].map((d) => d.obj));
    assert.doesNotMatch(text, /set-by-overlay/, cluster);
    assert.equal(examples[cluster].some((d) => d.obj.metadata?.name === 'kubelink-values'), false, `${cluster}: values.yaml is local-config`);
  }
});

test("names across the mesh: kubelink-dns reaches the broker's --dns-port, CoreDNS forwards the mesh domain to its ClusterIP, the cluster name is the one the peer's KubeLink uses", () => {
  const container = broker.spec.template.spec.containers[0];
  const dnsPort = Number(argValue(container.args, 'dns-port'));
  assert.ok(dnsPort > 0);
  for (const name of ['dns', 'dns-tcp']) assert.equal(container.ports.find((p: Obj) => p.name === name)?.containerPort, dnsPort, name);
  for (const cluster of CLUSTERS) {
    const docs = examples[cluster];
    const service = find(docs, 'Service', 'kubelink-dns');
    assert.deepEqual(service.spec.ports.map((p: Obj) => [p.port, p.protocol, p.targetPort]), [[53, 'UDP', 'dns'], [53, 'TCP', 'dns-tcp']]);
    for (const [k, v] of Object.entries(service.spec.selector)) assert.equal(broker.spec.template.metadata.labels[k], v);
    const config = find(docs, 'ConfigMap', 'kubelink-config');
    const serviceCidr = parsePrefix(config.data.serviceCidr);
    assert.ok(serviceCidr.ok && prefixContains(serviceCidr.value, parseIpv4(service.spec.clusterIP)!), `${cluster}: kubelink-dns ClusterIP inside the service CIDR`);
    const corefile = find(docs, 'ConfigMap', 'coredns-custom').data['kubelink.server'] as string;
    const mesh = argValue(container.args, 'mesh-domain');
    assert.match(corefile, new RegExp(`^${mesh}:53 \\{`, 'm'));
    assert.equal(/forward \. (\S+)/.exec(corefile)?.[1], service.spec.clusterIP, `${cluster}: CoreDNS forwards ${mesh} to kubelink-dns`);
    // The other cluster's KubeLink for this one carries this cluster's name.
    const other = CLUSTERS.find((c) => c !== cluster)!;
    const link = examples[other].find((d) => d.obj.kind === KUBELINK_KIND)!.obj;
    assert.equal(link.metadata.name, config.data.clusterName);
  }
});
