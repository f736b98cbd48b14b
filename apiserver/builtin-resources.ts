// The built-in resources this server serves: the ones kubelink, its manifests (k8s/)
// and kubectl need. They are stored, listed and watched; none of them is acted upon
// (no controllers, no scheduling, no RBAC enforcement).

import type { PrinterColumn, ResourceType } from './api-types.js';

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

interface BuiltinSpec {
  group?: string;
  version?: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  status?: boolean;
  generation?: boolean;
  fieldLabels?: string[];
  columns?: PrinterColumn[];
  /** Leave out the trailing AGE column (CRDs show CREATED AT instead). */
  noAge?: boolean;
}

/** The AGE column every built-in table ends with; also the default of CRDs without printer columns. */
export const AGE_COLUMN: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

function builtin(spec: BuiltinSpec): ResourceType {
  return {
    group: spec.group ?? '',
    version: spec.version ?? 'v1',
    plural: spec.plural,
    singular: spec.kind.toLowerCase(),
    kind: spec.kind,
    listKind: `${spec.kind}List`,
    namespaced: spec.namespaced,
    shortNames: spec.shortNames ?? [],
    categories: spec.categories ?? [],
    verbs: spec.plural === 'namespaces' ? ALL_VERBS.filter((v) => v !== 'deletecollection') : ALL_VERBS,
    hasStatusSubresource: spec.status ?? false,
    tracksGeneration: spec.generation ?? false,
    fieldLabels: spec.fieldLabels ?? [],
    printerColumns: [...(spec.columns ?? []), ...(spec.noAge ? [] : [AGE_COLUMN])],
  };
}

const column = (name: string, jsonPath: string, priority = 0): PrinterColumn => ({ name, type: 'string', jsonPath, priority });

export const CRD_GROUP = 'apiextensions.k8s.io';
export const CRD_PLURAL = 'customresourcedefinitions';

export function builtinResourceTypes(): ResourceType[] {
  return [
    builtin({ plural: 'namespaces', kind: 'Namespace', namespaced: false, shortNames: ['ns'], status: true, fieldLabels: ['status.phase'], columns: [column('Status', '.status.phase')] }),
    builtin({ plural: 'configmaps', kind: 'ConfigMap', namespaced: true, shortNames: ['cm'] }),
    builtin({ plural: 'secrets', kind: 'Secret', namespaced: true, fieldLabels: ['type'], columns: [column('Type', '.type')] }),
    builtin({ plural: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true, shortNames: ['sa'] }),
    builtin({
      plural: 'services',
      kind: 'Service',
      namespaced: true,
      shortNames: ['svc'],
      categories: ['all'],
      status: true,
      fieldLabels: ['spec.clusterIP', 'spec.type'],
      columns: [column('Type', '.spec.type'), column('Cluster-IP', '.spec.clusterIP')],
    }),
    builtin({
      plural: 'events',
      kind: 'Event',
      namespaced: true,
      shortNames: ['ev'],
      fieldLabels: ['involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid', 'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type'],
      columns: [column('Type', '.type'), column('Reason', '.reason'), column('Message', '.message')],
    }),
    // Written by tests and the lab in place of the endpoint-slice controller; the broker
    // watches them to map MeshServices to ready endpoints.
    builtin({
      group: 'discovery.k8s.io',
      plural: 'endpointslices',
      kind: 'EndpointSlice',
      namespaced: true,
      columns: [column('AddressType', '.addressType'), column('Ports', '.ports[*].port'), column('Endpoints', '.endpoints[*].addresses[0]')],
    }),
    builtin({ group: 'coordination.k8s.io', plural: 'leases', kind: 'Lease', namespaced: true, columns: [column('Holder', '.spec.holderIdentity')] }),
    builtin({
      group: 'events.k8s.io',
      plural: 'events',
      kind: 'Event',
      namespaced: true,
      shortNames: ['ev'],
      fieldLabels: ['regarding.kind', 'regarding.namespace', 'regarding.name', 'regarding.uid', 'reason', 'reportingController', 'type'],
      columns: [column('Type', '.type'), column('Reason', '.reason'), column('Note', '.note')],
    }),
    builtin({ group: 'rbac.authorization.k8s.io', plural: 'clusterroles', kind: 'ClusterRole', namespaced: false }),
    builtin({ group: 'rbac.authorization.k8s.io', plural: 'clusterrolebindings', kind: 'ClusterRoleBinding', namespaced: false, columns: [column('Role', '.roleRef.name')] }),
    builtin({ group: 'rbac.authorization.k8s.io', plural: 'roles', kind: 'Role', namespaced: true }),
    builtin({ group: 'rbac.authorization.k8s.io', plural: 'rolebindings', kind: 'RoleBinding', namespaced: true, columns: [column('Role', '.roleRef.name')] }),
    builtin({ group: 'apps', plural: 'deployments', kind: 'Deployment', namespaced: true, shortNames: ['deploy'], categories: ['all'], status: true, generation: true }),
    builtin({ group: 'apps', plural: 'daemonsets', kind: 'DaemonSet', namespaced: true, shortNames: ['ds'], categories: ['all'], status: true, generation: true }),
    builtin({
      group: CRD_GROUP,
      plural: CRD_PLURAL,
      kind: 'CustomResourceDefinition',
      namespaced: false,
      shortNames: ['crd', 'crds'],
      categories: ['api-extensions'],
      status: true,
      generation: true,
      columns: [column('Created At', '.metadata.creationTimestamp')],
      noAge: true,
    }),
  ];
}

/** Group order of /apis: the real server lists built-in groups in a fixed priority order before CRD groups. */
export const BUILTIN_GROUP_ORDER = ['', 'apps', 'events.k8s.io', 'discovery.k8s.io', 'rbac.authorization.k8s.io', 'coordination.k8s.io', CRD_GROUP];
