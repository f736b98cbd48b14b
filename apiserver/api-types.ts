// Wire shapes of the Kubernetes API as this test server sees them. Objects are kept as
// plain JSON (like the real server's "unstructured" objects): the server never needs a
// typed view of a Deployment or a Secret, only of metadata and of the few fields a
// type strategy touches.

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  [key: string]: JsonValue | undefined;
}

/** Any stored object. `metadata` is always present once the server accepted it. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: JsonValue | ObjectMeta | undefined;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface StatusCause {
  reason?: string;
  message: string;
  field?: string;
}

/** meta/v1 Status: the body of every error response and of ERROR watch events. */
export interface StatusObject {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  details?: { name?: string; group?: string; kind?: string; causes?: StatusCause[] };
  code: number;
}

/** A printer column of a CRD version (or of a built-in type): a JSONPath into the object. */
export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  format?: string;
  priority?: number;
}

/** The structural-schema subset of JSONSchemaProps this server understands. */
export interface StructuralSchema {
  type?: 'object' | 'string' | 'integer' | 'number' | 'boolean' | 'array';
  properties?: Record<string, StructuralSchema>;
  additionalProperties?: StructuralSchema | boolean;
  items?: StructuralSchema;
  required?: string[];
  pattern?: string;
  format?: string;
  enum?: JsonValue[];
  maxLength?: number;
  minLength?: number;
  maximum?: number;
  minimum?: number;
  exclusiveMaximum?: boolean;
  exclusiveMinimum?: boolean;
  maxItems?: number;
  minItems?: number;
  maxProperties?: number;
  minProperties?: number;
  nullable?: boolean;
  default?: JsonValue;
  description?: string;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  [key: string]: unknown;
}

/**
 * One served resource (group, version, plural): what discovery lists and what the
 * request router resolves a URL to. Built-ins come from builtin-resources.ts, custom
 * resources from their CRD (crd.ts).
 */
export interface ResourceType {
  /** '' for the core group. */
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  verbs: string[];
  /** Whether `<plural>/status` is served and separates status writes from the rest. */
  hasStatusSubresource: boolean;
  /** Whether metadata.generation is maintained (bumped on changes outside metadata/status). */
  tracksGeneration: boolean;
  /** Extra field-selector labels beyond metadata.name and metadata.namespace. */
  fieldLabels: string[];
  /** Columns of the server-side Table after NAME (built-ins add AGE themselves). */
  printerColumns: PrinterColumn[];
  /** Set for custom resources: the validation schema of this version, if any. */
  schema?: StructuralSchema;
  /** Set for custom resources: name of the CRD that defines this resource. */
  crdName?: string;
}

/** Key of a resource's storage: all versions of one group/plural share it. */
export function storageKey(type: { group: string; plural: string }): string {
  return `${type.group}/${type.plural}`;
}

export function apiVersionOf(type: { group: string; version: string }): string {
  return type.group === '' ? type.version : `${type.group}/${type.version}`;
}

/** "kubelinks.kubelink.mandelsoft.org" or "secrets": how error messages name a resource. */
export function qualifiedResource(type: { group: string; plural: string }): string {
  return type.group === '' ? type.plural : `${type.plural}.${type.group}`;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
