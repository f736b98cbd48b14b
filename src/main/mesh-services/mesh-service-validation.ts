// Validation of MeshService resources against each other, the mesh and the links. Pure:
// the same resources and local settings always give the same answer, so the broker re-runs
// it on every change of MeshServices or KubeLinks and tests need no setup.
//
// As with KubeLinks, a conflict (one mesh address published twice, one port of the cluster
// address published twice) invalidates only the newer MeshService (ranked by
// metadata.creationTimestamp, then the one whose status shows it accepted, then
// namespace/name), whose message names the older one, so adding a bad MeshService never
// takes down a working one.
//
// Whether the Service exists and has the ports asked for is not decided here: it changes
// without the MeshService changing, and its verdict is Error (retried), not Invalid.
import { formatIpv4, formatPrefix, interfaceNetwork, parseIpv4, prefixContains, prefixMask, type Ipv4Interface } from '../../shared/cidr.js';
import { creationRank } from '../links/link-validation.js';
import type { Ipv4Prefix, MeshServicePort, MeshServiceProtocol, MeshServiceResource } from '../../shared/types.js';

export interface MeshLocal {
  /** The local cluster address with the mesh prefix (--link-address). */
  linkAddress: Ipv4Interface;
  /** Cluster addresses of the KubeLinks (remote clusters). */
  linkClusterAddresses: readonly number[];
  /** What the KubeLinks route into their tunnels as spec.egress (a mesh address there is the peer's). */
  linkEgress?: readonly LinkEgress[];
}

/** One spec.egress entry of a valid KubeLink. */
export interface LinkEgress {
  link: string;
  /** Its index in spec.egress, for the message. */
  index: number;
  prefix: Ipv4Prefix;
}

/** A published port after validation: protocol and targetPort filled in. */
export interface PublishedPort {
  name?: string;
  protocol: MeshServiceProtocol;
  port: number;
  /** The Service port (number or name) the published port maps to. */
  targetPort: number | string;
}

export interface ValidMeshService {
  /** `namespace/name`. */
  key: string;
  namespace: string;
  name: string;
  /** The Service's name (same namespace). */
  service: string;
  /** Where it is published: the mesh address, or the local cluster address in port mode. */
  address: number;
  portMode: boolean;
  /** Published ports; undefined: every port of the Service under its own number. */
  ports?: PublishedPort[];
}

export type MeshServiceValidation =
  | { ok: true; meshService: ValidMeshService }
  | { ok: false; key: string; namespace: string; name: string; field: string; reason: string };

type Invalid = Extract<MeshServiceValidation, { ok: false }>;

export const MESH_SERVICE_PROTOCOLS: readonly MeshServiceProtocol[] = ['TCP', 'UDP'];
/** Most ports of one MeshService (the CRD says the same). */
export const MAX_MESH_SERVICE_PORTS = 64;

/** A Service name: an RFC 1035 label. */
const SERVICE_NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A named port: an IANA service name as Kubernetes allows it. */
const PORT_NAME = /^(?=.*[a-z])[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/;

/** One line for status.message and logs: `<field> <value>: <reason>`. */
export function meshServiceMessage(v: Invalid): string {
  return `${v.field} ${v.reason}`;
}

function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;
}

function checkPorts(raw: unknown, fail: (field: string, value: unknown, reason: string) => Invalid): PublishedPort[] | Invalid | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw)) return fail('spec.ports', raw, 'must be a list of ports');
  if (raw.length > MAX_MESH_SERVICE_PORTS) return fail('spec.ports', `${raw.length} entries`, `at most ${MAX_MESH_SERVICE_PORTS} are allowed`);
  const ports: PublishedPort[] = [];
  const seen = new Map<string, number>();
  for (const [i, entry] of (raw as unknown[]).entries()) {
    const at = `spec.ports[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return fail(at, entry, 'must be a mapping {name, protocol, port, targetPort}');
    const p = entry as Partial<Record<keyof MeshServicePort, unknown>>;
    if (!isPort(p.port)) return fail(`${at}.port`, p.port, 'must be an integer 1..65535');
    const protocol = p.protocol ?? 'TCP';
    if (!MESH_SERVICE_PROTOCOLS.includes(protocol as MeshServiceProtocol)) return fail(`${at}.protocol`, p.protocol, 'must be TCP or UDP');
    let targetPort: number | string = p.port;
    if (p.targetPort !== undefined && p.targetPort !== null) {
      if (typeof p.targetPort === 'string' && !/^\d+$/.test(p.targetPort)) {
        if (!PORT_NAME.test(p.targetPort)) return fail(`${at}.targetPort`, p.targetPort, 'must be a port number 1..65535 or the name of a Service port');
        targetPort = p.targetPort;
      } else {
        const number = typeof p.targetPort === 'string' ? Number(p.targetPort) : p.targetPort;
        if (!isPort(number)) return fail(`${at}.targetPort`, p.targetPort, 'must be a port number 1..65535 or the name of a Service port');
        targetPort = number;
      }
    }
    if (p.name !== undefined && p.name !== null && typeof p.name !== 'string') return fail(`${at}.name`, p.name, 'must be a string');
    const key = `${protocol as string}/${p.port}`;
    const earlier = seen.get(key);
    if (earlier !== undefined) return fail(`${at}.port`, p.port, `${protocol as string} port ${p.port} is already published by spec.ports[${earlier}]`);
    seen.set(key, i);
    ports.push({ ...(typeof p.name === 'string' && p.name !== '' ? { name: p.name } : {}), protocol: protocol as MeshServiceProtocol, port: p.port, targetPort });
  }
  return ports;
}

/** Checks one MeshService on its own and against the mesh and the links. */
function validateOne(resource: MeshServiceResource, local: MeshLocal): MeshServiceValidation {
  const name = typeof resource.metadata?.name === 'string' ? resource.metadata.name : '';
  const namespace = typeof resource.metadata?.namespace === 'string' ? resource.metadata.namespace : '';
  const key = `${namespace}/${name}`;
  const fail = (field: string, value: unknown, reason: string): Invalid => ({ ok: false, key, namespace, name, field, reason: `${JSON.stringify(value ?? '')}: ${reason}` });
  if (name === '') return fail('metadata.name', name, 'is missing');
  if (namespace === '') return fail('metadata.namespace', namespace, 'is missing');
  const spec = resource.spec as Partial<MeshServiceResource['spec']> | undefined;
  if (spec === null || typeof spec !== 'object') return fail('spec', spec, 'is missing');
  if (spec.service === undefined || spec.service === null || spec.service === '') return fail('spec.service', spec.service, 'is missing');
  if (typeof spec.service !== 'string' || !SERVICE_NAME.test(spec.service)) return fail('spec.service', spec.service, 'must be the name of a Service in the same namespace');

  const meshCidr = interfaceNetwork(local.linkAddress);
  const meshText = formatPrefix(meshCidr);
  let address = local.linkAddress.address;
  const portMode = spec.meshAddress === undefined || spec.meshAddress === null || spec.meshAddress === '';
  if (!portMode) {
    const text = spec.meshAddress;
    if (typeof text !== 'string') return fail('spec.meshAddress', text, 'must be an IPv4 address');
    const parsed = parseIpv4(text);
    if (parsed === undefined) return fail('spec.meshAddress', text, 'must be an IPv4 address (without prefix length)');
    if (!prefixContains(meshCidr, parsed)) return fail('spec.meshAddress', text, `is outside the mesh network ${meshText}`);
    const host = (parsed & ~prefixMask(meshCidr.prefixLength)) >>> 0;
    if (meshCidr.prefixLength < 31 && (host === 0 || host === (~prefixMask(meshCidr.prefixLength) >>> 0))) {
      return fail('spec.meshAddress', text, `is the network or broadcast address of the mesh network ${meshText}`);
    }
    if (parsed === local.linkAddress.address) {
      return fail('spec.meshAddress', text, 'is the local cluster address; leave spec.meshAddress out to publish ports on it (port mode)');
    }
    if (local.linkClusterAddresses.includes(parsed)) return fail('spec.meshAddress', text, 'is the cluster address of a linked cluster');
    // A mesh address belongs to one cluster: where a KubeLink says it lies behind a peer,
    // publishing it here would make it mean two things (see docs/architecture.md,
    // "Overlapping service networks" for why the MeshService yields, not the KubeLink).
    const routed = local.linkEgress?.find((e) => prefixContains(e.prefix, parsed));
    if (routed) {
      return fail('spec.meshAddress', text, `is routed to the linked cluster ${routed.link} by its KubeLink's spec.egress[${routed.index}] ${formatPrefix(routed.prefix)}`);
    }
    address = parsed;
  }

  const ports = checkPorts(spec.ports, fail);
  if (ports !== undefined && !Array.isArray(ports)) return ports;
  if (portMode && (ports === undefined || ports.length === 0)) {
    return fail('spec.ports', spec.ports, `port mode (no spec.meshAddress: published on the cluster address ${formatIpv4(local.linkAddress.address)}) needs ports`);
  }
  const meshService: ValidMeshService = { key, namespace, name, service: spec.service, address, portMode };
  if (ports !== undefined && ports.length > 0) meshService.ports = ports;
  return { ok: true, meshService };
}

/** A conflict of `m` with an already accepted MeshService, or undefined. */
function conflictWith(m: ValidMeshService, accepted: ValidMeshService): Invalid | undefined {
  const fail = (field: string, value: unknown, reason: string): Invalid => ({ ok: false, key: m.key, namespace: m.namespace, name: m.name, field, reason: `${JSON.stringify(value)}: ${reason}` });
  if (m.address !== accepted.address) return undefined;
  if (!m.portMode) return fail('spec.meshAddress', formatIpv4(m.address), `is already published by MeshService ${accepted.key}`);
  for (const [i, port] of (m.ports ?? []).entries()) {
    if (accepted.ports?.some((p) => p.protocol === port.protocol && p.port === port.port)) {
      return fail(`spec.ports[${i}].port`, port.port, `${port.protocol} port ${port.port} of the cluster address is already published by MeshService ${accepted.key}`);
    }
  }
  return undefined;
}

/** Validates every MeshService; one result per resource, in input order. */
export function validateMeshServices(resources: readonly MeshServiceResource[], local: MeshLocal): MeshServiceValidation[] {
  const results = resources.map((r) => validateOne(r, local));
  const keyOf = (r: MeshServiceResource) => `${String(r.metadata?.namespace ?? '')}/${String(r.metadata?.name ?? '')}`;
  // Timestamps have second resolution: between two of the same second, the one whose
  // status says it was accepted before keeps its place, so a newcomer never displaces it.
  const incumbent = (r: MeshServiceResource) => (r.status?.state === 'Ok' || r.status?.state === 'Error' ? 0 : 1);
  const order = resources
    .map((r, index) => ({ index, rank: creationRank(r), incumbent: incumbent(r), key: keyOf(r) }))
    .sort((a, b) => a.rank - b.rank || a.incumbent - b.incumbent || (a.key < b.key ? -1 : a.key > b.key ? 1 : a.index - b.index));
  const accepted: ValidMeshService[] = [];
  for (const { index } of order) {
    const result = results[index]!;
    if (!result.ok) continue;
    let conflict: Invalid | undefined;
    for (const other of accepted) {
      conflict = other.key === result.meshService.key ? { ok: false, key: other.key, namespace: other.namespace, name: other.name, field: 'metadata.name', reason: `${JSON.stringify(other.key)}: is defined more than once` } : conflictWith(result.meshService, other);
      if (conflict) break;
    }
    if (conflict) results[index] = conflict;
    else accepted.push(result.meshService);
  }
  return results;
}
