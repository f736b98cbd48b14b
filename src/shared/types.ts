// Types shared by the control plane (src/main) and the data plane (src/workers).
// Wire and resource shapes live here once and are imported everywhere else.

export const KUBELINK_GROUP = 'kubelink.mandelsoft.org';
export const KUBELINK_VERSION = 'v1alpha1';
export const KUBELINK_API_VERSION = `${KUBELINK_GROUP}/${KUBELINK_VERSION}`;
export const KUBELINK_KIND = 'KubeLink';
export const KUBELINK_PLURAL = 'kubelinks';

export type LinkState = 'Up' | 'Down' | 'Error' | 'Invalid';

export interface KubeLinkSpec {
  /**
   * Remote service CIDR, e.g. 100.64.16.0/20. Optional: a peer whose service CIDR overlaps
   * ours is reached only through `egress` (its MeshService addresses).
   */
  cidr?: string;
  /** Remote cluster address with mesh prefix, e.g. 192.168.0.12/24. */
  clusterAddress: string;
  /** Remote broker FQDN, optionally with :port (default 80). */
  endpoint: string;
  /** Further destinations routed into this peer's tunnel, e.g. its mesh service addresses. */
  egress?: string[];
  /** Local destinations this peer may reach: CIDRs, `!CIDR` denies. Default: all of them. */
  ingress?: string[];
  /** How names of the remote cluster resolve through the mesh (all optional). */
  dns?: KubeLinkDnsSpec;
}

/** spec.dns of a KubeLink, as written. */
export interface KubeLinkDnsSpec {
  /** The remote cluster DNS service IP; default: the remote service CIDR base + 10. */
  dnsIP?: string;
  /** The remote cluster domain; default cluster.local. */
  baseDomain?: string;
  /** true: names of this cluster do not resolve through the mesh. */
  omitDNSPropagation?: boolean;
}

/** spec.dns after validation: only what the spec sets (the peer's hello or defaults fill the rest). */
export interface LinkDns {
  dnsIp?: number;
  /** Lower case, without the root dot. */
  baseDomain?: string;
  omitPropagation: boolean;
}

export interface KubeLinkStatus {
  state?: LinkState;
  message?: string;
  gateway?: string;
  /** RFC 3339; when state last changed (set by the status writer, not by the reporter). */
  lastTransitionTime?: string;
  /** Tunnel statistics as of statsTime, written at a bounded rate (see LinkTrafficStatus). */
  rttMs?: number;
  rxBytes?: number;
  txBytes?: number;
  statsTime?: string;
}

/** The traffic fields of a KubeLink status, refreshed by the broker every stats interval. */
export type LinkTrafficStatus = Pick<KubeLinkStatus, 'rttMs' | 'rxBytes' | 'txBytes' | 'statsTime'>;

export interface KubeLinkResource {
  apiVersion: string;
  kind: string;
  metadata: { name: string; resourceVersion?: string; generation?: number; uid?: string; [k: string]: unknown };
  spec: KubeLinkSpec;
  status?: KubeLinkStatus;
}

/** An IPv4 prefix in integer form: what the hot path and route diffs work with. */
export interface Ipv4Prefix {
  /** Network address as an unsigned 32-bit integer (host bits zero). */
  network: number;
  /** Prefix length 0..32. */
  prefixLength: number;
}

/** A KubeLink after validation: everything parsed, nothing left as a string to re-parse. */
/**
 * A link's spec.ingress, parsed: a destination passes when some `allow` prefix holds it
 * (or `allow` is empty: every local destination) and no `deny` prefix does.
 */
export interface IngressRule {
  allow: Ipv4Prefix[];
  deny: Ipv4Prefix[];
}

export interface ValidLink {
  name: string;
  /** Remote service CIDR; absent for a link that carries only egress. */
  serviceCidr?: Ipv4Prefix;
  /** spec.egress: further destinations routed into this link's tunnel. */
  egress: Ipv4Prefix[];
  /** spec.ingress; absent: the default (every local destination). */
  ingress?: IngressRule;
  /** Remote cluster address (the /32 inside the mesh). */
  clusterAddress: number;
  /** Mesh prefix length taken from spec.clusterAddress. */
  meshPrefixLength: number;
  /** Endpoint host (FQDN or IP) without port; the peer certificate must name it. */
  endpointHost: string;
  endpointPort: number;
  dns: LinkDns;
  /** The spec as written, for status messages and change detection. */
  spec: KubeLinkSpec;
}

/** Result of validating one KubeLink: either a usable link or a reason naming the field. */
export type LinkValidation =
  | { ok: true; link: ValidLink }
  | { ok: false; name: string; field: string; reason: string };

/** Where links come from: a YAML directory (--links) or the Kubernetes API. Both implement this. */
export interface LinkSource {
  /** Starts delivering; `onChange` receives the full current set of resources each time it changes. */
  start(onChange: (resources: KubeLinkResource[]) => void): Promise<void>;
  stop(): Promise<void>;
  /** Reports a link's status back (the file source logs it; the Kubernetes source patches /status). */
  reportStatus(name: string, status: KubeLinkStatus): Promise<void>;
  /** Health of a file source (absent for the Kubernetes source, whose API server validates). */
  stats?(): LinkSourceStats;
}

export interface LinkSourceStats {
  /** Problems found in the links files since start, each counted once while it persists. */
  manifestErrors: number;
  /** Files served from their last good version because their current content has problems. */
  staleFiles: number;
}

export const MESHSERVICE_KIND = 'MeshService';
export const MESHSERVICE_PLURAL = 'meshservices';

export type MeshServiceState = 'Ok' | 'Invalid' | 'Error';
export type MeshServiceProtocol = 'TCP' | 'UDP';

export interface MeshServicePort {
  name?: string;
  /** Default TCP. */
  protocol?: MeshServiceProtocol;
  /** The port published on the mesh address (or the cluster address in port mode). */
  port: number;
  /** The Service's port, by number or name; default: `port`. */
  targetPort?: number | string;
}

export interface MeshServiceSpec {
  /** A Service in the MeshService's namespace. */
  service: string;
  /** An address of the mesh CIDR for this service alone; absent: port mode on the cluster address. */
  meshAddress?: string;
  /** Published ports; absent (only with meshAddress): every port of the Service as it is. */
  ports?: MeshServicePort[];
}

export interface MeshServiceStatus {
  state?: MeshServiceState;
  message?: string;
  /** Where the service is reachable in the mesh: meshAddress, or the cluster address in port mode. */
  address?: string;
}

/** MeshService resource (namespaced, kubelink.mandelsoft.org/v1alpha1, short name msvc). */
export interface MeshServiceResource {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; generation?: number; uid?: string; creationTimestamp?: string | Date; [k: string]: unknown };
  spec: MeshServiceSpec;
  status?: MeshServiceStatus;
}
