// What the broker does for the MeshServices: a pure function of the MeshServices, the
// Services and their EndpointSlices, so every decision is unit-tested without a cluster.
//
// For each valid MeshService, each published port (protocol, port on the mesh address or
// the cluster address) maps to the Service port it names (targetPort, by number or name)
// and from there, through the EndpointSlices of the Service (label
// kubernetes.io/service-name), to the ready endpoints' addresses and target ports - what
// kube-proxy would pick for the ClusterIP. The result:
// - `mappings`: the DNAT rules to render (mesh-nat.ts);
// - `published`: the addresses and ports the shards' inbound check admits;
// - `names`: the Ok MeshServices with their ports, for the mesh DNS (mesh-service-zone.ts);
// - `statuses`: status per MeshService. Invalid (validation), Error (the Service is
//   missing, lacks a port, or has no ready endpoint: retried on every change of Services
//   and EndpointSlices), else Ok.
import { formatIpv4, parseIpv4 } from '../../shared/cidr.js';
import { IPPROTO_TCP, IPPROTO_UDP, type PublishedAddress } from '../../shared/inbound-filter.js';
import type { MeshServiceProtocol, MeshServiceResource, MeshServiceStatus } from '../../shared/types.js';
import type { MeshServiceEntry } from '../dns/mesh-service-zone.js';
import { meshServiceMessage, validateMeshServices, type MeshLocal, type PublishedPort, type ValidMeshService } from './mesh-service-validation.js';

/** The label that ties an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** The parts of a core/v1 Service the plan reads. */
export interface ServiceObject {
  metadata?: { name?: string; namespace?: string };
  spec?: { ports?: { name?: string; protocol?: string; port?: number }[] };
}

/** The parts of a discovery.k8s.io/v1 EndpointSlice the plan reads. */
export interface EndpointSliceObject {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  addressType?: string;
  endpoints?: { addresses?: string[]; conditions?: { ready?: boolean | null } }[];
  ports?: { name?: string | null; protocol?: string; port?: number | null }[] | null;
}

export interface MeshEndpoint {
  address: number;
  port: number;
}

/** One published port and where it goes. */
export interface MeshRule {
  /** The published port's name, else the Service port's (names its SRV record). */
  name?: string;
  protocol: MeshServiceProtocol;
  port: number;
  /** Ready endpoints, sorted (address, port): kube-proxy's random choice among them. */
  endpoints: MeshEndpoint[];
}

export interface MeshMapping {
  /** `namespace/name` of the MeshService. */
  key: string;
  address: number;
  rules: MeshRule[];
}

export interface MeshPlan {
  mappings: MeshMapping[];
  published: PublishedAddress[];
  /** The Ok MeshServices as the mesh DNS answers them. */
  names: MeshServiceEntry[];
  /** Status per MeshService key (`namespace/name`), for every input resource. */
  statuses: Map<string, MeshServiceStatus>;
}

const PROTOCOL_NUMBER: Record<MeshServiceProtocol, number> = { TCP: IPPROTO_TCP, UDP: IPPROTO_UDP };

function protocolOf(text: string | undefined): string {
  return text ?? 'TCP';
}

/** The Service port a published port names, or undefined. */
function servicePortFor(service: ServiceObject, published: PublishedPort): { name: string; protocol: string; port: number } | undefined {
  for (const sp of service.spec?.ports ?? []) {
    if (protocolOf(sp.protocol) !== published.protocol) continue;
    const matches = typeof published.targetPort === 'number' ? sp.port === published.targetPort : sp.name === published.targetPort;
    if (matches && typeof sp.port === 'number') return { name: sp.name ?? '', protocol: protocolOf(sp.protocol), port: sp.port };
  }
  return undefined;
}

/** Ready IPv4 endpoints of the Service port `portName`/`protocol` across its slices. */
function readyEndpoints(slices: readonly EndpointSliceObject[], portName: string, protocol: string): MeshEndpoint[] {
  const out = new Map<string, MeshEndpoint>();
  for (const slice of slices) {
    if (slice.addressType !== undefined && slice.addressType !== 'IPv4') continue;
    const port = (slice.ports ?? []).find((p) => (p.name ?? '') === portName && protocolOf(p.protocol) === protocol)?.port;
    if (typeof port !== 'number') continue;
    for (const endpoint of slice.endpoints ?? []) {
      // Kubernetes: a missing ready condition means ready.
      if (endpoint.conditions?.ready === false) continue;
      const address = parseIpv4(endpoint.addresses?.[0] ?? '');
      if (address !== undefined) out.set(`${address}:${port}`, { address, port });
    }
  }
  return [...out.values()].sort((a, b) => a.address - b.address || a.port - b.port);
}

function describePort(p: PublishedPort): string {
  return `${p.protocol} port ${typeof p.targetPort === 'number' ? p.targetPort : JSON.stringify(p.targetPort)}`;
}

/** Resolves one valid MeshService against its Service and slices: a mapping, or the Error message. */
function resolve(m: ValidMeshService, service: ServiceObject | undefined, slices: readonly EndpointSliceObject[]): MeshMapping | string {
  const serviceName = `${m.namespace}/${m.service}`;
  if (!service) return `service ${serviceName} not found`;
  const wanted: PublishedPort[] =
    m.ports ??
    (service.spec?.ports ?? [])
      .filter((sp) => typeof sp.port === 'number' && (protocolOf(sp.protocol) === 'TCP' || protocolOf(sp.protocol) === 'UDP'))
      .map((sp) => ({ ...(sp.name ? { name: sp.name } : {}), protocol: protocolOf(sp.protocol) as MeshServiceProtocol, port: sp.port!, targetPort: sp.port! }));
  if (wanted.length === 0) return `service ${serviceName} has no TCP or UDP port to publish`;
  const rules: MeshRule[] = [];
  for (const p of wanted) {
    const sp = servicePortFor(service, p);
    if (!sp) return `service ${serviceName} has no ${describePort(p)}`;
    const name = p.name || sp.name || undefined;
    rules.push({ ...(name ? { name } : {}), protocol: p.protocol, port: p.port, endpoints: readyEndpoints(slices, sp.name, sp.protocol) });
  }
  return { key: m.key, address: m.address, rules };
}

/** The plan for `resources` (see the top of this file). */
export function planMeshServices(
  resources: readonly MeshServiceResource[],
  services: readonly ServiceObject[],
  slices: readonly EndpointSliceObject[],
  local: MeshLocal,
): MeshPlan {
  const serviceByKey = new Map(services.map((s) => [`${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? ''}`, s]));
  const slicesByService = new Map<string, EndpointSliceObject[]>();
  for (const slice of slices) {
    const owner = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (!owner) continue;
    const key = `${slice.metadata?.namespace ?? ''}/${owner}`;
    const list = slicesByService.get(key) ?? [];
    list.push(slice);
    slicesByService.set(key, list);
  }

  const plan: MeshPlan = { mappings: [], published: [], names: [], statuses: new Map() };
  for (const result of validateMeshServices(resources, local)) {
    if (!result.ok) {
      plan.statuses.set(result.key, { state: 'Invalid', message: meshServiceMessage(result) });
      continue;
    }
    const m = result.meshService;
    const address = formatIpv4(m.address);
    const serviceKey = `${m.namespace}/${m.service}`;
    const mapping = resolve(m, serviceByKey.get(serviceKey), slicesByService.get(serviceKey) ?? []);
    if (typeof mapping === 'string') {
      plan.statuses.set(m.key, { state: 'Error', message: mapping, address });
      continue;
    }
    plan.mappings.push(mapping);
    // Port mode needs no entry: the inbound check always admits the cluster address.
    if (!m.portMode) plan.published.push({ address: m.address, ports: mapping.rules.map((r) => ({ protocol: PROTOCOL_NUMBER[r.protocol], port: r.port })) });
    const empty = mapping.rules.filter((r) => r.endpoints.length === 0);
    const ports = mapping.rules.map((r) => `${r.port}/${r.protocol}`).join(', ');
    if (empty.length > 0) {
      plan.statuses.set(m.key, { state: 'Error', message: `service ${serviceKey} has no ready endpoint for ${empty.map((r) => `${r.port}/${r.protocol}`).join(', ')}`, address });
    } else {
      plan.statuses.set(m.key, { state: 'Ok', message: `${serviceKey} published on ${address} (${ports})`, address });
      plan.names.push({ namespace: m.namespace, name: m.name, address, ports: mapping.rules.map(({ name, protocol, port }) => ({ ...(name ? { name } : {}), protocol, port })) });
    }
  }
  plan.mappings.sort((a, b) => a.address - b.address || (a.key < b.key ? -1 : 1));
  return plan;
}
