// CustomResourceDefinitions (apiextensions.k8s.io/v1): their defaulting, validation and
// status as the real server does them, and the resource types a CRD makes the server
// serve (one per served version, all sharing one storage; conversion strategy None,
// i.e. only apiVersion changes between versions).

import type { FieldError } from './api-errors.js';
import type { JsonObject, JsonValue, KubeObject, PrinterColumn, ResourceType, StructuralSchema } from './api-types.js';
import { isJsonObject } from './api-types.js';
import { AGE_COLUMN } from './builtin-resources.js';

const CUSTOM_RESOURCE_VERBS = ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch'];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const PRINTER_COLUMN_TYPES = ['string', 'integer', 'number', 'boolean', 'date'];

interface CrdNames {
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  shortNames: string[];
  categories: string[];
}

interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  schema?: StructuralSchema;
  statusSubresource: boolean;
  printerColumns: PrinterColumn[];
}

function obj(value: JsonValue | undefined): JsonObject {
  return isJsonObject(value) ? value : {};
}

function strings(value: JsonValue | undefined): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function spec(crd: KubeObject): JsonObject {
  return obj(crd.spec as JsonValue);
}

function namesOf(crd: KubeObject): CrdNames {
  const names = obj(spec(crd).names);
  const kind = String(names.kind ?? '');
  return {
    plural: String(names.plural ?? ''),
    singular: String(names.singular ?? kind.toLowerCase()),
    kind,
    listKind: String(names.listKind ?? `${kind}List`),
    shortNames: strings(names.shortNames),
    categories: strings(names.categories),
  };
}

function versionsOf(crd: KubeObject): CrdVersion[] {
  const versions = spec(crd).versions;
  if (!Array.isArray(versions)) return [];
  return versions.filter(isJsonObject).map((v) => {
    const schema = obj(v.schema).openAPIV3Schema;
    const columns = Array.isArray(v.additionalPrinterColumns) ? v.additionalPrinterColumns.filter(isJsonObject) : [];
    return {
      name: String(v.name ?? ''),
      served: v.served === true,
      storage: v.storage === true,
      schema: isJsonObject(schema) ? (schema as unknown as StructuralSchema) : undefined,
      statusSubresource: isJsonObject(obj(v.subresources).status),
      printerColumns: columns.map((c) => c as unknown as PrinterColumn),
    };
  });
}

export function crdGroup(crd: KubeObject): string {
  return String(spec(crd).group ?? '');
}

/** Fills in what the real server defaults: names.singular, names.listKind, conversion. */
export function defaultCrd(crd: KubeObject): void {
  const s = spec(crd);
  const names = obj(s.names);
  if (isJsonObject(s.names)) {
    if (names.singular === undefined && typeof names.kind === 'string') names.singular = names.kind.toLowerCase();
    if (names.listKind === undefined && typeof names.kind === 'string') names.listKind = `${names.kind}List`;
  }
  if (s.conversion === undefined && isJsonObject(crd.spec as JsonValue)) s.conversion = { strategy: 'None' };
}

export function validateCrd(crd: KubeObject, old?: KubeObject): FieldError[] {
  const errors: FieldError[] = [];
  const invalid = (field: string, value: JsonValue | undefined, why: string): void =>
    void errors.push({ field, reason: 'FieldValueInvalid', detail: `Invalid value: ${JSON.stringify(value ?? '')}: ${why}` });
  const required = (field: string): void => void errors.push({ field, reason: 'FieldValueRequired', detail: 'Required value' });

  const s = spec(crd);
  const group = crdGroup(crd);
  const names = namesOf(crd);
  if (!group) required('spec.group');
  else if (!group.includes('.')) invalid('spec.group', group, 'should be a domain with at least one dot');
  if (!names.plural) required('spec.names.plural');
  else if (!DNS_LABEL.test(names.plural)) invalid('spec.names.plural', names.plural, 'a lowercase RFC 1123 label must consist of lower case alphanumeric characters or \'-\'');
  if (!names.kind) required('spec.names.kind');
  if (names.plural && group && crd.metadata.name !== `${names.plural}.${group}`) {
    invalid('metadata.name', crd.metadata.name, 'must be spec.names.plural+"."+spec.group');
  }
  if (s.scope !== 'Cluster' && s.scope !== 'Namespaced') {
    errors.push({ field: 'spec.scope', reason: 'FieldValueNotSupported', detail: `Unsupported value: ${JSON.stringify(s.scope ?? '')}: supported values: "Cluster", "Namespaced"` });
  }
  if (old && s.scope !== spec(old).scope) invalid('spec.scope', s.scope, 'field is immutable');
  if (old && group !== crdGroup(old)) invalid('spec.group', group, 'field is immutable');

  const versions = versionsOf(crd);
  if (versions.length === 0) required('spec.versions');
  if (versions.length > 0 && versions.filter((v) => v.storage).length !== 1) {
    invalid('spec.versions', versions.map((v) => v.name), 'must have exactly one version marked as storage version');
  }
  versions.forEach((v, i) => {
    const at = `spec.versions[${i}]`;
    if (!DNS_LABEL.test(v.name)) invalid(`${at}.name`, v.name, 'a DNS-1035 label is required');
    if (!v.schema) errors.push({ field: `${at}.schema.openAPIV3Schema`, reason: 'FieldValueRequired', detail: 'Required value: schemas are required' });
    else if (v.schema.type !== 'object') {
      invalid(`${at}.schema.openAPIV3Schema.type`, v.schema.type ?? '', 'must be object at the root');
    }
    v.printerColumns.forEach((c, j) => {
      const colAt = `${at}.additionalPrinterColumns[${j}]`;
      if (!c.name) required(`${colAt}.name`);
      if (!PRINTER_COLUMN_TYPES.includes(c.type)) {
        errors.push({ field: `${colAt}.type`, reason: 'FieldValueNotSupported', detail: `Unsupported value: ${JSON.stringify(c.type ?? '')}: supported values: ${PRINTER_COLUMN_TYPES.map((t) => `"${t}"`).join(', ')}` });
      }
      if (!c.jsonPath) required(`${colAt}.jsonPath`);
    });
  });
  return errors;
}

/** The status the real server's controllers would set: names accepted, established, stored versions. */
export function crdStatus(crd: KubeObject, old: KubeObject | undefined, timestamp: string): JsonObject {
  const names = namesOf(crd);
  const acceptedNames: JsonObject = { plural: names.plural, singular: names.singular, kind: names.kind, listKind: names.listKind };
  if (names.shortNames.length) acceptedNames.shortNames = names.shortNames;
  if (names.categories.length) acceptedNames.categories = names.categories;
  const previous = obj(old?.status as JsonValue);
  const previousConditions = Array.isArray(previous.conditions) ? previous.conditions.filter(isJsonObject) : [];
  const since = (type: string): string => String(previousConditions.find((c) => c.type === type)?.lastTransitionTime ?? timestamp);
  const storage = versionsOf(crd).find((v) => v.storage)?.name;
  const stored = strings(previous.storedVersions);
  if (storage && !stored.includes(storage)) stored.push(storage);
  return {
    conditions: [
      { type: 'NamesAccepted', status: 'True', lastTransitionTime: since('NamesAccepted'), reason: 'NoConflicts', message: 'no conflicts found' },
      { type: 'Established', status: 'True', lastTransitionTime: since('Established'), reason: 'InitialNamesAccepted', message: 'the initial names have been accepted' },
    ],
    acceptedNames,
    storedVersions: stored,
  };
}

/** One resource type per served version of the CRD. */
export function resourceTypesOfCrd(crd: KubeObject): ResourceType[] {
  const names = namesOf(crd);
  const group = crdGroup(crd);
  return versionsOf(crd)
    .filter((v) => v.served)
    .map((v) => ({
      group,
      version: v.name,
      plural: names.plural,
      singular: names.singular,
      kind: names.kind,
      listKind: names.listKind,
      namespaced: spec(crd).scope === 'Namespaced',
      shortNames: names.shortNames,
      categories: names.categories,
      verbs: CUSTOM_RESOURCE_VERBS,
      hasStatusSubresource: v.statusSubresource,
      tracksGeneration: true,
      fieldLabels: [],
      printerColumns: v.printerColumns.length > 0 ? v.printerColumns : [AGE_COLUMN],
      schema: v.schema,
      crdName: crd.metadata.name,
    }));
}
