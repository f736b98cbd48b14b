// The MeshService CustomResourceDefinition, defined once. The broker installs it at start
// next to the KubeLink CRD, and k8s/crds/meshservice-crd.yaml is generated from it
// (`node dist/src/main/k8s/write-kubelink-crd.js`); a test fails when the file is stale.
//
// The schema checks types and the address shape only. Port ranges, protocols, whether the
// address lies in the mesh, collides with a link or another MeshService are decided by
// the broker (mesh-service-validation.ts) and reported as status.state Invalid with a
// message naming the field, like every other semantic check; whether the Service exists
// is reported as Error.
import { KUBELINK_GROUP, KUBELINK_VERSION, MESHSERVICE_KIND, MESHSERVICE_PLURAL, type MeshServiceState } from '../../shared/types.js';
import { IPV4_PATTERN, generatedCrdYaml } from '../k8s/kubelink-crd.js';
import { MAX_MESH_SERVICE_PORTS, MESH_SERVICE_PROTOCOLS } from './mesh-service-validation.js';

export const MESHSERVICE_CRD_NAME = `${MESHSERVICE_PLURAL}.${KUBELINK_GROUP}`;
export const MESHSERVICE_STATES: readonly MeshServiceState[] = ['Ok', 'Invalid', 'Error'];

export const MESHSERVICE_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: {
    name: MESHSERVICE_CRD_NAME,
    labels: { 'app.kubernetes.io/name': 'kubelink', 'app.kubernetes.io/component': 'crd' },
  },
  spec: {
    group: KUBELINK_GROUP,
    scope: 'Namespaced',
    names: {
      kind: MESHSERVICE_KIND,
      listKind: `${MESHSERVICE_KIND}List`,
      plural: MESHSERVICE_PLURAL,
      singular: 'meshservice',
      shortNames: ['msvc'],
    },
    versions: [
      {
        name: KUBELINK_VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [
          { name: 'Service', type: 'string', jsonPath: '.spec.service', description: 'The published Service (same namespace)' },
          { name: 'Address', type: 'string', jsonPath: '.status.address', description: 'Where the service is reachable in the mesh' },
          { name: 'Ports', type: 'string', jsonPath: '.spec.ports[*].port', priority: 1, description: 'Published ports (all Service ports when empty)' },
          { name: 'State', type: 'string', jsonPath: '.status.state', description: 'Ok, Invalid or Error' },
          { name: 'Message', type: 'string', jsonPath: '.status.message', priority: 1, description: 'Why the MeshService is in its state' },
          { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
        ],
        schema: {
          openAPIV3Schema: {
            type: 'object',
            description: 'Publishes one Service of this namespace to the mesh: under an address of its own, or on ports of the cluster address.',
            required: ['spec'],
            properties: {
              apiVersion: { type: 'string' },
              kind: { type: 'string' },
              metadata: { type: 'object' },
              spec: {
                type: 'object',
                required: ['service'],
                properties: {
                  service: { type: 'string', description: 'Name of a Service in the same namespace', maxLength: 63 },
                  meshAddress: {
                    type: 'string',
                    description: "An address of the mesh network for this service alone, e.g. 192.168.0.100. Absent: the ports are published on the cluster's own address (port mode).",
                    pattern: IPV4_PATTERN,
                  },
                  ports: {
                    type: 'array',
                    description: 'Published ports. Required in port mode; absent with meshAddress: every port of the Service.',
                    maxItems: MAX_MESH_SERVICE_PORTS,
                    items: {
                      type: 'object',
                      required: ['port'],
                      properties: {
                        name: { type: 'string' },
                        protocol: { type: 'string', description: `${MESH_SERVICE_PROTOCOLS.join(' or ')}; default TCP` },
                        port: { type: 'integer', description: 'The port published in the mesh, 1..65535' },
                        targetPort: { 'x-kubernetes-int-or-string': true, description: "The Service's port (number or name); default: port" },
                      },
                    },
                  },
                },
              },
              status: {
                type: 'object',
                properties: {
                  state: { type: 'string', enum: [...MESHSERVICE_STATES] },
                  message: { type: 'string' },
                  address: { type: 'string', pattern: IPV4_PATTERN },
                },
              },
            },
          },
        },
      },
    ],
  },
} as const;

/** The text of k8s/crds/meshservice-crd.yaml. */
export function meshServiceCrdYaml(): string {
  return generatedCrdYaml(MESHSERVICE_CRD, 'src/main/mesh-services/mesh-service-crd.ts');
}
