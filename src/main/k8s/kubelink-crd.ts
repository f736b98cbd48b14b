// The KubeLink CustomResourceDefinition, defined once. The broker installs it at start
// (ensure-crd.ts) and k8s/crds/kubelink-crd.yaml is generated from it
// (`node dist/src/main/k8s/write-kubelink-crd.js`); a test fails when the file is stale.
//
// The patterns reject what can be rejected from the text alone, in a dialect that both
// Go's RE2 (the real API server) and JavaScript accept. Semantic checks (host bits of the
// CIDR, the cluster address inside the mesh, overlaps, duplicates) stay in
// link-validation: they depend on the broker's flags and on the other links, and their
// verdict goes to status.state Invalid with a message.
import { stringify } from 'yaml';
import { KUBELINK_GROUP, KUBELINK_KIND, KUBELINK_PLURAL, KUBELINK_VERSION } from '../../shared/types.js';
import type { LinkState } from '../../shared/types.js';
import { MAX_EGRESS_ENTRIES, MAX_INGRESS_ENTRIES } from '../links/link-validation.js';

export const KUBELINK_CRD_NAME = `${KUBELINK_PLURAL}.${KUBELINK_GROUP}`;

const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4 = `${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}`;
const PREFIX_LENGTH = '([0-9]|[12][0-9]|3[0-2])';
const DNS_LABEL = '[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?';
const PORT = '([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])';

/** An IPv4 address with a prefix length, e.g. 100.64.16.0/20 or 192.168.0.12/24. */
export const IPV4_WITH_PREFIX_PATTERN = `^${IPV4}/${PREFIX_LENGTH}$`;
/** spec.ingress entries: a CIDR, or `!CIDR` to deny it. */
export const INGRESS_ENTRY_PATTERN = `^!?${IPV4}/${PREFIX_LENGTH}$`;
/** A DNS name (or dotted IPv4, which has the same shape), optional root dot, optional :port. */
export const ENDPOINT_PATTERN = `^${DNS_LABEL}(\\.${DNS_LABEL})*\\.?(:${PORT})?$`;
export const IPV4_PATTERN = `^${IPV4}$`;
/** A DNS name, optional root dot. */
export const DNS_NAME_PATTERN = `^${DNS_LABEL}(\\.${DNS_LABEL})*\\.?$`;

export const LINK_STATES: readonly LinkState[] = ['Up', 'Down', 'Error', 'Invalid'];

/** The CRD as plain JSON (not the generated client's model classes, which rename `enum`). */
export const KUBELINK_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: {
    name: KUBELINK_CRD_NAME,
    labels: { 'app.kubernetes.io/name': 'kubelink', 'app.kubernetes.io/component': 'crd' },
  },
  spec: {
    group: KUBELINK_GROUP,
    scope: 'Cluster',
    names: {
      kind: KUBELINK_KIND,
      listKind: `${KUBELINK_KIND}List`,
      plural: KUBELINK_PLURAL,
      singular: 'kubelink',
      shortNames: ['klink'],
    },
    versions: [
      {
        name: KUBELINK_VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [
          { name: 'CIDR', type: 'string', jsonPath: '.spec.cidr', description: 'Service CIDR of the remote cluster' },
          { name: 'Address', type: 'string', jsonPath: '.spec.clusterAddress', description: 'Address of the remote cluster in the mesh' },
          { name: 'Egress', type: 'string', jsonPath: '.spec.egress', priority: 1, description: "Further destinations routed into the peer's tunnel" },
          { name: 'Endpoint', type: 'string', jsonPath: '.spec.endpoint', description: "Remote broker's host[:port]" },
          { name: 'Gateway', type: 'string', jsonPath: '.status.gateway', description: 'Node of the local broker' },
          { name: 'State', type: 'string', jsonPath: '.status.state', description: 'Up, Down, Error or Invalid' },
          { name: 'Message', type: 'string', jsonPath: '.status.message', priority: 1, description: 'Why the link is in its state' },
          { name: 'RTT-ms', type: 'number', jsonPath: '.status.rttMs', priority: 1, description: 'Round-trip time of the tunnel (ms)' },
          { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
        ],
        schema: {
          openAPIV3Schema: {
            type: 'object',
            description: 'A link to a remote cluster: its service network is routed through a TLS tunnel to its broker.',
            required: ['spec'],
            properties: {
              apiVersion: { type: 'string' },
              kind: { type: 'string' },
              metadata: { type: 'object' },
              spec: {
                type: 'object',
                required: ['clusterAddress', 'endpoint'],
                properties: {
                  cidr: {
                    type: 'string',
                    description:
                      'Service (ClusterIP) network of the remote cluster, e.g. 100.64.16.0/20. Leave it out when it overlaps the local one: the link then carries only egress (MeshService addresses).',
                    pattern: IPV4_WITH_PREFIX_PATTERN,
                  },
                  egress: {
                    type: 'array',
                    description: "Further destinations routed into this peer's tunnel, e.g. the peer's MeshService addresses (192.168.0.100/32)",
                    maxItems: MAX_EGRESS_ENTRIES,
                    items: { type: 'string', pattern: IPV4_WITH_PREFIX_PATTERN },
                  },
                  ingress: {
                    type: 'array',
                    description:
                      'Local destinations this peer may reach: CIDRs, !CIDR denies. Default (absent): the local service network and the published mesh services. Only denies: the default minus them.',
                    maxItems: MAX_INGRESS_ENTRIES,
                    items: { type: 'string', pattern: INGRESS_ENTRY_PATTERN },
                  },
                  clusterAddress: {
                    type: 'string',
                    description: 'Address of the remote cluster in the mesh with the mesh prefix length, e.g. 192.168.0.12/24',
                    pattern: IPV4_WITH_PREFIX_PATTERN,
                  },
                  endpoint: {
                    type: 'string',
                    description: "Host name (or IPv4 address) of the remote broker, optionally with :port (default 80)",
                    maxLength: 259,
                    pattern: ENDPOINT_PATTERN,
                  },
                  dns: {
                    type: 'object',
                    description: 'How names <x>.<this KubeLink\'s name>.<mesh domain> resolve: through the tunnel, by the remote cluster DNS',
                    properties: {
                      dnsIP: { type: 'string', description: 'Remote cluster DNS service IP (default: what the peer announces, else spec.cidr base + 10)', pattern: IPV4_PATTERN },
                      baseDomain: { type: 'string', description: 'Remote cluster domain (default: what the peer announces, else cluster.local)', maxLength: 254, pattern: DNS_NAME_PATTERN },
                      omitDNSPropagation: { type: 'boolean', description: 'true: names of this cluster do not resolve through the mesh' },
                    },
                  },
                },
              },
              status: {
                type: 'object',
                properties: {
                  state: { type: 'string', enum: [...LINK_STATES] },
                  message: { type: 'string' },
                  gateway: { type: 'string', description: 'IP of the node the local broker runs on', pattern: IPV4_PATTERN },
                  lastTransitionTime: { type: 'string', format: 'date-time', description: 'When state last changed' },
                  rttMs: { type: 'number', minimum: 0, description: 'Round-trip time of the last keepalive on the tunnel (ms), as of statsTime' },
                  rxBytes: { type: 'integer', minimum: 0, description: 'IP bytes received from the peer through the tunnel, as of statsTime' },
                  txBytes: { type: 'integer', minimum: 0, description: 'IP bytes sent to the peer through the tunnel, as of statsTime' },
                  statsTime: { type: 'string', format: 'date-time', description: 'When the broker took rttMs, rxBytes and txBytes (written at most once per --status-stats-interval)' },
                },
              },
            },
          },
        },
      },
    ],
  },
} as const;

/** The text of a generated CRD manifest: a header naming its source, then the CRD as YAML. */
export function generatedCrdYaml(crd: { spec: { names: { kind: string } } }, source: string): string {
  const header = [
    `# The ${crd.spec.names.kind} CustomResourceDefinition. GENERATED from ${source}:`,
    '# edit that file and run `node dist/src/main/k8s/write-kubelink-crd.js`.',
    '# The broker creates or updates this CRD itself at start.',
  ].join('\n');
  return `${header}\n${stringify(crd, { lineWidth: 0 })}`;
}

/** The text of k8s/crds/kubelink-crd.yaml. */
export function kubelinkCrdYaml(): string {
  return generatedCrdYaml(KUBELINK_CRD, 'src/main/k8s/kubelink-crd.ts');
}
