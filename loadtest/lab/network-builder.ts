// Builds a lab's namespaces and networking from its topology: bridges in namespaces of
// their own (this host has bridge-nf-call-iptables=1, so a bridge next to DNAT rules would
// push bridged frames through them), routed /32 pod veths like a CNI plugin, node routes
// to the other node's pod subnet, the kube-proxy stand-in, and /etc/netns files.

import { mkdir, writeFile } from 'node:fs/promises';
import type { Logger } from '../../src/shared/log.js';
import { runCommand, runInNamespace, runIpBatch } from './command.js';
import {
  BRIDGE_NAME,
  CLUSTER_DNS_PORT,
  INTERNET_INTERFACE,
  NODE_INTERFACE,
  POD_INTERFACE,
  allNamespaces,
  nodeOf,
  podsOn,
  type LabCluster,
  type LabNode,
  type LabTopology,
} from './topology.js';

export interface NetworkBuildOptions {
  /**
   * Give node 2 routes to every remote service CIDR and the mesh CIDR via the gateway
   * node, as the router controller will. Off when a router runs in the lab.
   */
  staticRoutes: boolean;
  /** rp_filter in every lab namespace (0 off, 1 strict, 2 loose). */
  rpFilter: 0 | 1 | 2;
  log: Logger;
}

/** The iptables chain of the kube-proxy stand-in, hooked into nat PREROUTING and OUTPUT. */
export const SERVICE_CHAIN = 'KUBELINK-LAB-SERVICES';
/** Base directory of `ip netns exec`'s per-namespace /etc overrides. */
export const NETNS_ETC_DIR = '/etc/netns';

async function createNamespaces(topology: LabTopology, log: Logger): Promise<void> {
  for (const ns of allNamespaces(topology)) {
    log.debug('lab: create namespace', { ns });
    await runCommand(['ip', 'netns', 'add', ns]);
  }
}

/** Sysctls set before any interface exists, so new interfaces inherit rp_filter from `default`. */
async function setNamespaceSysctls(ns: string, settings: Record<string, string | number>, log: Logger): Promise<void> {
  const args = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
  log.debug('lab: sysctl', { ns, settings });
  await runInNamespace(ns, ['sysctl', '-q', '-w', ...args]);
}

async function configureSysctls(topology: LabTopology, options: NetworkBuildOptions): Promise<void> {
  const rp = {
    'net.ipv4.conf.all.rp_filter': options.rpFilter,
    'net.ipv4.conf.default.rp_filter': options.rpFilter,
  };
  const bridgeNamespaces = [topology.internet.ns, ...topology.clusters.map((c) => c.nodeNetworkNs)];
  const nodeNamespaces = topology.clusters.flatMap((c) => [c.gateway.ns, c.node2.ns]);
  const podNamespaces = topology.clusters.flatMap((c) => [c.controlPlane.ns, ...Object.values(c.pods).map((p) => p.ns)]);
  await Promise.all([
    ...nodeNamespaces.map((ns) => setNamespaceSysctls(ns, { ...rp, 'net.ipv4.ip_forward': 1 }, options.log)),
    ...podNamespaces.map((ns) => setNamespaceSysctls(ns, rp, options.log)),
    ...bridgeNamespaces.map(async (ns) => {
      await setNamespaceSysctls(ns, rp, options.log);
      // Bridged frames need no netfilter pass; older kernels keep this knob global only.
      await setNamespaceSysctls(ns, { 'net.bridge.bridge-nf-call-iptables': 0 }, options.log).catch((error: unknown) =>
        options.log.debug('lab: bridge-nf-call-iptables not settable per namespace', { ns, error }),
      );
    }),
  ]);
}

/** A bridge with one veth port per peer; the peer end is created directly in the peer's namespace. */
function bridgeScript(ports: ReadonlyArray<{ port: string; peerNs: string; peerInterface: string }>): string[] {
  const lines = ['link set lo up', `link add ${BRIDGE_NAME} type bridge`, `link set ${BRIDGE_NAME} up`];
  for (const p of ports) {
    lines.push(`link add ${p.port} type veth peer name ${p.peerInterface} netns ${p.peerNs}`);
    lines.push(`link set ${p.port} master ${BRIDGE_NAME} up`);
  }
  return lines;
}

/** A node: its node-network address, one routed veth per pod, and a route to the other node's pods. */
function nodeScript(cluster: LabCluster, node: LabNode, otherNode: LabNode, extraRoutes: string[]): string[] {
  const lines = ['link set lo up', `addr add ${node.nodeIp}/24 dev ${NODE_INTERFACE}`, `link set ${NODE_INTERFACE} up`];
  for (const pod of podsOn(cluster, node.role)) {
    lines.push(`link add ${pod.nodeVeth} type veth peer name ${POD_INTERFACE} netns ${pod.ns}`);
    lines.push(`addr add ${node.podGatewayIp}/32 dev ${pod.nodeVeth}`);
    lines.push(`link set ${pod.nodeVeth} up`);
    lines.push(`route add ${pod.ip}/32 dev ${pod.nodeVeth}`);
  }
  lines.push(`route add ${otherNode.podCidr} via ${otherNode.nodeIp}`);
  // What a node's default route does in a real cluster, for the cluster DNS only: a process
  // on the node (the broker asking its own cluster's DNS) can send to it, and the
  // kube-proxy stand-in's OUTPUT DNAT takes it from there.
  lines.push(`route add ${cluster.dnsIp}/32 dev ${NODE_INTERFACE}`);
  lines.push(...extraRoutes);
  return lines;
}

/** A pod: a /32 on eth0 and its node as default gateway (the way routed CNIs do it). */
function podScript(ip: string, gatewayIp: string): string[] {
  return [
    'link set lo up',
    `addr add ${ip}/32 dev ${POD_INTERFACE}`,
    `link set ${POD_INTERFACE} up`,
    `route add ${gatewayIp}/32 dev ${POD_INTERFACE} scope link`,
    `route add default via ${gatewayIp} dev ${POD_INTERFACE}`,
  ];
}

/** Routes the router controller would give node 2: remote service CIDRs and the mesh via the gateway. */
export function staticRouteLines(topology: LabTopology, cluster: LabCluster): string[] {
  const via = cluster.gateway.nodeIp;
  const remote = topology.clusters.filter((c) => c.index !== cluster.index).map((c) => `route add ${c.serviceCidr} via ${via}`);
  return [...remote, `route add ${topology.meshCidr} via ${via}`];
}

/**
 * The kube-proxy stand-in: DNAT of the echo service IP (all protocols and ports) to the
 * echo pod, and of the cluster DNS IP's port 53 to the DNS stand-in on node 2.
 */
export function serviceDnatRules(cluster: LabCluster): string {
  const dns = `${cluster.node2.nodeIp}:${CLUSTER_DNS_PORT}`;
  return [
    '*nat',
    `:${SERVICE_CHAIN} - [0:0]`,
    `-A PREROUTING -j ${SERVICE_CHAIN}`,
    `-A OUTPUT -j ${SERVICE_CHAIN}`,
    `-A ${SERVICE_CHAIN} -d ${cluster.serviceIp}/32 -j DNAT --to-destination ${cluster.pods.echo.ip}`,
    `-A ${SERVICE_CHAIN} -d ${cluster.dnsIp}/32 -p udp --dport 53 -j DNAT --to-destination ${dns}`,
    `-A ${SERVICE_CHAIN} -d ${cluster.dnsIp}/32 -p tcp --dport 53 -j DNAT --to-destination ${dns}`,
    'COMMIT',
    '',
  ].join('\n');
}

async function buildCluster(topology: LabTopology, cluster: LabCluster, options: NetworkBuildOptions): Promise<void> {
  const { log } = options;
  log.debug('lab: node network bridge', { cluster: cluster.name, ns: cluster.nodeNetworkNs });
  await runIpBatch(
    cluster.nodeNetworkNs,
    bridgeScript([
      { port: 'gw', peerNs: cluster.gateway.ns, peerInterface: NODE_INTERFACE },
      { port: 'n2', peerNs: cluster.node2.ns, peerInterface: NODE_INTERFACE },
      { port: 'api', peerNs: cluster.controlPlane.ns, peerInterface: NODE_INTERFACE },
    ]),
  );
  log.debug('lab: control plane', { cluster: cluster.name, ns: cluster.controlPlane.ns });
  await runIpBatch(cluster.controlPlane.ns, [
    'link set lo up',
    `addr add ${cluster.controlPlane.ip}/24 dev ${NODE_INTERFACE}`,
    `link set ${NODE_INTERFACE} up`,
  ]);
  const gw = cluster.gateway;
  log.debug('lab: gateway node', { cluster: cluster.name, ns: gw.ns });
  await runIpBatch(gw.ns, [
    ...nodeScript(cluster, gw, cluster.node2, []),
    `addr add ${gw.internetIp}/24 dev ${INTERNET_INTERFACE}`,
    `link set ${INTERNET_INTERFACE} up`,
  ]);
  log.debug('lab: second node', { cluster: cluster.name, ns: cluster.node2.ns, staticRoutes: options.staticRoutes });
  await runIpBatch(
    cluster.node2.ns,
    nodeScript(cluster, cluster.node2, gw, options.staticRoutes ? staticRouteLines(topology, cluster) : []),
  );
  for (const pod of Object.values(cluster.pods)) {
    const node = nodeOf(cluster, pod);
    log.debug('lab: pod', { cluster: cluster.name, pod: pod.name, ns: pod.ns, ip: pod.ip });
    await runIpBatch(pod.ns, podScript(pod.ip, node.podGatewayIp));
  }
  for (const node of [gw, cluster.node2]) {
    log.debug('lab: kube-proxy stand-in', { cluster: cluster.name, ns: node.ns, serviceIp: cluster.serviceIp });
    await runInNamespace(node.ns, ['iptables-restore', '-w', '--noflush'], { input: serviceDnatRules(cluster) });
  }
}

/** /etc/hosts naming every broker endpoint by its gateway's internet address. */
export function hostsFile(topology: LabTopology): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  for (const c of topology.clusters) lines.push(`${c.gateway.internetIp}\t${c.endpointHost}`);
  return lines.join('\n') + '\n';
}

/** A resolv.conf that fails at once: nothing listens on 127.0.0.1:53 inside lab namespaces. */
export const FAIL_FAST_RESOLV_CONF = 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n';

/**
 * A pod's resolv.conf, as the kubelet writes it: the cluster DNS and the search path of
 * namespace default. Without a DNS stand-in running, the DNAT target refuses at once.
 */
export function podResolvConf(cluster: LabCluster): string {
  const d = cluster.clusterDomain;
  return `nameserver ${cluster.dnsIp}\nsearch default.svc.${d} svc.${d} ${d}\noptions ndots:5 timeout:2 attempts:2\n`;
}

async function writeNamespaceEtcFiles(topology: LabTopology, log: Logger): Promise<void> {
  const hosts = hostsFile(topology);
  const pods = new Map(topology.clusters.flatMap((c) => Object.values(c.pods).map((p) => [p.ns, podResolvConf(c)] as const)));
  for (const ns of allNamespaces(topology)) {
    const dir = `${NETNS_ETC_DIR}/${ns}`;
    log.debug('lab: /etc/netns files', { dir });
    await mkdir(dir, { recursive: true });
    await writeFile(`${dir}/hosts`, hosts);
    await writeFile(`${dir}/resolv.conf`, pods.get(ns) ?? FAIL_FAST_RESOLV_CONF);
  }
}

/** Builds everything but processes; namespaces must not exist yet. */
export async function buildLabNetwork(topology: LabTopology, options: NetworkBuildOptions): Promise<void> {
  const { log } = options;
  log.info('lab: creating namespaces', { prefix: topology.prefix, count: allNamespaces(topology).length });
  await writeNamespaceEtcFiles(topology, log);
  await createNamespaces(topology, log);
  await configureSysctls(topology, options);
  log.info('lab: wiring the internet', { ns: topology.internet.ns });
  await runIpBatch(
    topology.internet.ns,
    bridgeScript(topology.clusters.map((c) => ({ port: c.name, peerNs: c.gateway.ns, peerInterface: INTERNET_INTERFACE }))),
  );
  log.info('lab: wiring clusters', { clusters: topology.clusters.length });
  await Promise.all(topology.clusters.map((c) => buildCluster(topology, c, options)));
}
