// The scale lab's addressing and files, pure: one broker (link address 192.168.0.1/24)
// against N simulated peers p0..p{N-1}. Peer i listens on 10.77.1.(i+1):8088 under the
// name p<i>.scale.lab (resolved through the broker namespace's /etc/hosts), has cluster
// address 192.168.0.(i+2)/24 and service CIDR 100.80.i.0/24; its ping target is 100.80.i.1.
import { stringify } from 'yaml';
import { KUBELINK_API_VERSION, KUBELINK_KIND, type KubeLinkResource } from '../../src/shared/types.js';

/** A /24 mesh holds 253 clusters: the broker and 252 peers. */
export const MAX_SCALE_PEERS = 252;
export const PEER_PORT = 8088;
export const BROKER_NODE_IP = '10.77.0.1';
export const PEERS_NODE_IP = '10.77.0.2';
export const NODE_CIDR = '10.77.0.0/16';
export const BROKER_LINK_ADDRESS = '192.168.0.1/24';
export const BROKER_SERVICE_CIDR = '100.64.0.0/16';
export const BROKER_POD_CIDR = '10.200.0.0/16';

export interface ScalePeer {
  index: number;
  name: string;
  host: string;
  listenIp: string;
  clusterAddress: string;
  serviceCidr: string;
  /** An address inside the service CIDR the simulator answers pings for. */
  pingTarget: string;
}

export function scalePeers(count: number): ScalePeer[] {
  if (!Number.isInteger(count) || count < 1 || count > MAX_SCALE_PEERS) throw new RangeError(`peers must be an integer 1..${MAX_SCALE_PEERS}, got ${count}`);
  return Array.from({ length: count }, (_, index) => ({
    index,
    name: `p${index}`,
    host: `p${index}.scale.lab`,
    listenIp: `10.77.1.${index + 1}`,
    clusterAddress: `192.168.0.${index + 2}/24`,
    serviceCidr: `100.80.${index}.0/24`,
    pingTarget: `100.80.${index}.1`,
  }));
}

export function kubeLinkOf(peer: ScalePeer): KubeLinkResource {
  return {
    apiVersion: KUBELINK_API_VERSION,
    kind: KUBELINK_KIND,
    metadata: { name: peer.name },
    spec: { cidr: peer.serviceCidr, clusterAddress: peer.clusterAddress, endpoint: `${peer.host}:${PEER_PORT}` },
  };
}

/** All links as one multi-document YAML (for `kubectl apply -f`). */
export function kubeLinksYaml(peers: readonly ScalePeer[]): string {
  return peers.map((p) => stringify(kubeLinkOf(p))).join('---\n');
}

/** The broker namespace's /etc/hosts: every peer's name. */
export function scaleHostsFile(peers: readonly ScalePeer[]): string {
  return ['127.0.0.1\tlocalhost', ...peers.map((p) => `${p.listenIp}\t${p.host}`)].join('\n') + '\n';
}

/** `ip -batch` lines for the peers' namespace: one address per peer on its end of the veth. */
export function peerAddressLines(peers: readonly ScalePeer[]): string[] {
  return peers.map((p) => `addr add ${p.listenIp}/16 dev eth0`);
}

/** The broker's flags (links from `linksDir` or the API server behind `kubeconfig`). */
export function scaleBrokerArgs(source: { linksDir: string } | { kubeconfig: string }, certs: { cert: string; key: string; ca: string }, extra: readonly string[] = []): string[] {
  return [
    '--controllers=broker',
    '--link-address', BROKER_LINK_ADDRESS,
    '--service-cidr', BROKER_SERVICE_CIDR,
    '--pod-cidr', BROKER_POD_CIDR,
    '--node-cidr', NODE_CIDR,
    '--node-ip', BROKER_NODE_IP,
    '--ifce-name', 'kubelink',
    ...('linksDir' in source ? ['--links', source.linksDir] : ['--kubeconfig', source.kubeconfig, '--namespace', 'kube-system']),
    '--certfile', certs.cert,
    '--keyfile', certs.key,
    '--cacertfile', certs.ca,
    '--server-port-http', '8080',
    ...extra,
  ];
}
