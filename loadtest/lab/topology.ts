// The lab's topology as data: every namespace name, interface name and address of a lab,
// computed from its prefix and cluster count. Pure; the builder, the cleanup, the paths
// and the callers all read names and addresses from here and never spell them out.
//
// Per cluster i (1..N), with identical node and pod networks in every cluster:
//
//            "internet" ns (bridge br0, 172.31.0.0/24)
//                 |  eth1 172.31.0.(10+i)
//   +-------------+-------------+                 node network ns (bridge br0)
//   | gateway node ns           |  eth0 10.250.0.2 ------+------ eth0 10.250.0.3
//   |  pods 100.96.0.0/24       |                        |  second node ns
//   |   client1 100.96.0.2      |                        |   pods 100.96.1.0/24
//   +---------------------------+                        |    echo    100.96.1.2
//                                                        |    client2 100.96.1.3
//                                                        +------ eth0 10.250.0.10
//                                                           control-plane ns (API server :6443)
//
// Service CIDR 100.64.(16*(i-1)).0/20, cluster DNS at .10 (the kube-dns convention; the
// stand-in runs on node 2) except in cluster 2, whose DNS is at .20 with domain c2.local
// (see dnsIp), echo
// service IP .100 in it; cluster address
// 192.168.0.(10+i)/24 in the mesh; endpoint broker.c<i>.kubelink.lab:8088. With
// sameServiceCidr every cluster has 100.64.0.0/20 and its echo 100.64.0.100, as clusters
// that keep their distribution's default do: they link without cidr, through MeshServices.

/** Where a pod runs. */
export type NodeRole = 'gateway' | 'node2';
/** The pods every lab cluster has. */
export type PodName = 'client1' | 'client2' | 'echo';

export interface LabPod {
  name: PodName;
  /** Network namespace of the pod. */
  ns: string;
  /** The pod's IP (a /32 on its eth0). */
  ip: string;
  node: NodeRole;
  /** Name of the node-side veth in the node's namespace. */
  nodeVeth: string;
}

export interface LabNode {
  role: NodeRole;
  ns: string;
  /** The node's IP in the node network (on `nodeInterface`). */
  nodeIp: string;
  nodeInterface: string;
  /** This node's pod subnet. */
  podCidr: string;
  /** The node's address on every pod veth: the pods' default gateway. */
  podGatewayIp: string;
}

export interface LabGateway extends LabNode {
  role: 'gateway';
  /** The gateway's address on the "internet" (the endpoint FQDN resolves to it). */
  internetIp: string;
  internetInterface: string;
}

export interface LabCluster {
  /** 1-based cluster index. */
  index: number;
  /** Short cluster name, `c<index>`; the echo server answers with it. */
  name: string;
  gateway: LabGateway;
  node2: LabNode;
  /** Namespace holding the node network's bridge. */
  nodeNetworkNs: string;
  /** The API server's namespace and address (the server runs only when a lab user starts it). */
  controlPlane: LabControlPlane;
  /** The node network, identical in every cluster. */
  nodeCidr: string;
  /** The cluster's pod network (both nodes' pod subnets), identical in every cluster. */
  podCidr: string;
  /** The cluster's service CIDR, disjoint across clusters (unless the lab has sameServiceCidr). */
  serviceCidr: string;
  /** The echo service's IP (kube-proxy stand-in DNATs it to the echo pod). */
  serviceIp: string;
  /**
   * The cluster DNS service IP; port 53 is DNATed to the stand-in on node 2. Service CIDR
   * + 10 (the kube-dns convention), but + 20 in cluster 2, whose domain is c2.local too: a
   * cluster set up otherwise, so the Kubernetes-mode lab shows --cluster-dns-ip and
   * --cluster-domain at work (its broker asks that DNS for own names and announces both,
   * and cluster 1 learns them from the hello).
   */
  dnsIp: string;
  /** The cluster domain the cluster DNS answers: cluster.local, but c2.local in cluster 2 (see dnsIp). */
  clusterDomain: string;
  /** Cluster address with mesh prefix, e.g. 192.168.0.11/24 (for --link-address). */
  clusterAddress: string;
  /** Cluster address without prefix. */
  clusterIp: string;
  /** Endpoint host: the FQDN peers dial and the broker certificate's CN/SAN. */
  endpointHost: string;
  brokerPort: number;
  /** `<endpointHost>:<brokerPort>` as written in KubeLink specs. */
  endpoint: string;
  pods: Record<PodName, LabPod>;
  echoHttpPort: number;
  iperfPort: number;
}

/** Where the cluster's API server runs: a namespace of its own on the node network. */
export interface LabControlPlane {
  ns: string;
  /** Address on the node network (same in every cluster, like the node IPs). */
  ip: string;
  port: number;
  /** `http://<ip>:<port>`: reachable from the nodes and the control-plane namespace. */
  url: string;
}

export interface LabInternet {
  ns: string;
  cidr: string;
}

export interface LabTopology {
  prefix: string;
  clusters: LabCluster[];
  internet: LabInternet;
  /** The mesh CIDR all cluster addresses live in. */
  meshCidr: string;
  /** Every cluster has the same service CIDR (and echo ClusterIP): links carry no cidr. */
  sameServiceCidr: boolean;
}

export const MIN_CLUSTERS = 1;
/** Service CIDRs are 100.64.(16*(i-1)).0/20, so 16 clusters fill 100.64.0.0/16. */
export const MAX_CLUSTERS = 16;
export const LAB_DOMAIN = 'kubelink.lab';
export const CLUSTER_DOMAIN = 'cluster.local';
/** Where the cluster DNS stand-in listens on node 2 (the cluster DNS IP's port 53 is DNATed to it). */
export const CLUSTER_DNS_PORT = 53;
/** The brokers' --mesh-domain in the lab (kubelink's default). */
export const MESH_DOMAIN = 'kubelink';
/** The brokers' --dns-port in the lab (kubelink's default). */
export const BROKER_DNS_PORT = 8053;
export const BROKER_PORT = 8088;
export const ECHO_HTTP_PORT = 80;
export const IPERF_PORT = 5201;
export const CONTROL_PLANE_IP = '10.250.0.10';
export const API_SERVER_PORT = 6443;
export const MESH_CIDR = '192.168.0.0/24';
export const NODE_CIDR = '10.250.0.0/24';
export const POD_CIDR = '100.96.0.0/16';
export const INTERNET_CIDR = '172.31.0.0/24';
/** Interface names inside node namespaces (namespaces keep them apart, so they repeat). */
export const NODE_INTERFACE = 'eth0';
export const INTERNET_INTERFACE = 'eth1';
export const POD_INTERFACE = 'eth0';
/** Bridge name inside the node-network and internet namespaces. */
export const BRIDGE_NAME = 'br0';

/** A prefix starts with a letter; ns names get `-` after it, so one prefix never matches another's names. */
const PREFIX_PATTERN = /^[a-z][a-z0-9]{1,15}$/;

export function validatePrefix(prefix: string): void {
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new RangeError(`lab prefix must match ${PREFIX_PATTERN} (e.g. kl3f2a), got ${JSON.stringify(prefix)}`);
  }
}

/** True when `ns` is one of the namespaces a lab with `prefix` makes. */
export function namespaceBelongsTo(prefix: string, ns: string): boolean {
  return ns.startsWith(`${prefix}-`);
}

function describeCluster(prefix: string, index: number, sameServiceCidr: boolean): LabCluster {
  const name = `c${index}`;
  const base = `${prefix}-${name}`;
  const gatewayNs = `${base}-gw`;
  const node2Ns = `${base}-n2`;
  const pod = (podName: PodName, node: NodeRole, ip: string): LabPod => ({
    name: podName,
    ns: `${base}-${podName}`,
    ip,
    node,
    nodeVeth: `veth-${podName}`,
  });
  const serviceBase = `100.64.${sameServiceCidr ? 0 : 16 * (index - 1)}`;
  const endpointHost = `broker.${name}.${LAB_DOMAIN}`;
  return {
    index,
    name,
    gateway: {
      role: 'gateway',
      ns: gatewayNs,
      nodeIp: '10.250.0.2',
      nodeInterface: NODE_INTERFACE,
      podCidr: '100.96.0.0/24',
      podGatewayIp: '100.96.0.1',
      internetIp: `172.31.0.${10 + index}`,
      internetInterface: INTERNET_INTERFACE,
    },
    node2: {
      role: 'node2',
      ns: node2Ns,
      nodeIp: '10.250.0.3',
      nodeInterface: NODE_INTERFACE,
      podCidr: '100.96.1.0/24',
      podGatewayIp: '100.96.1.1',
    },
    nodeNetworkNs: `${base}-nodenet`,
    controlPlane: { ns: `${base}-api`, ip: CONTROL_PLANE_IP, port: API_SERVER_PORT, url: `http://${CONTROL_PLANE_IP}:${API_SERVER_PORT}` },
    nodeCidr: NODE_CIDR,
    podCidr: POD_CIDR,
    serviceCidr: `${serviceBase}.0/20`,
    serviceIp: `${serviceBase}.100`,
    dnsIp: `${serviceBase}.${index === 2 ? 20 : 10}`,
    clusterDomain: index === 2 ? 'c2.local' : CLUSTER_DOMAIN,
    clusterAddress: `192.168.0.${10 + index}/24`,
    clusterIp: `192.168.0.${10 + index}`,
    endpointHost,
    brokerPort: BROKER_PORT,
    endpoint: `${endpointHost}:${BROKER_PORT}`,
    pods: {
      client1: pod('client1', 'gateway', '100.96.0.2'),
      echo: pod('echo', 'node2', '100.96.1.2'),
      client2: pod('client2', 'node2', '100.96.1.3'),
    },
    echoHttpPort: ECHO_HTTP_PORT,
    iperfPort: IPERF_PORT,
  };
}

/** Computes the full topology of a lab; throws RangeError on a bad prefix or cluster count. */
export function describeTopology(prefix: string, clusterCount: number, options: { sameServiceCidr?: boolean } = {}): LabTopology {
  const sameServiceCidr = options.sameServiceCidr ?? false;
  validatePrefix(prefix);
  if (!Number.isInteger(clusterCount) || clusterCount < MIN_CLUSTERS || clusterCount > MAX_CLUSTERS) {
    throw new RangeError(`clusters must be an integer ${MIN_CLUSTERS}..${MAX_CLUSTERS}, got ${clusterCount}`);
  }
  const clusters: LabCluster[] = [];
  for (let i = 1; i <= clusterCount; i++) clusters.push(describeCluster(prefix, i, sameServiceCidr));
  return { prefix, clusters, internet: { ns: `${prefix}-inet`, cidr: INTERNET_CIDR }, meshCidr: MESH_CIDR, sameServiceCidr };
}

/** Every namespace of the lab, bridges first (deleting them first takes the veths down early). */
export function allNamespaces(topology: LabTopology): string[] {
  const names = [topology.internet.ns];
  for (const c of topology.clusters) {
    names.push(c.nodeNetworkNs, c.gateway.ns, c.node2.ns, c.controlPlane.ns, ...Object.values(c.pods).map((p) => p.ns));
  }
  return names;
}

/** The node a pod runs on. */
export function nodeOf(cluster: LabCluster, pod: LabPod): LabNode {
  return pod.node === 'gateway' ? cluster.gateway : cluster.node2;
}

/** Pods running on `node`. */
export function podsOn(cluster: LabCluster, node: NodeRole): LabPod[] {
  return Object.values(cluster.pods).filter((p) => p.node === node);
}
