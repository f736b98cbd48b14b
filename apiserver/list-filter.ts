// The object filter of list, watch and deletecollection requests: namespace plus label
// and field selectors.

import type { KubeObject, ResourceType } from './api-types.js';
import { badRequest } from './api-errors.js';
import { COMMON_FIELD_LABELS, matchesFields, parseFieldSelector, type FieldRequirement } from './field-selector.js';
import { matchesLabels, parseLabelSelector, type LabelRequirement } from './label-selector.js';

export interface ListFilter {
  /** Undefined: all namespaces (or a cluster-scoped resource). */
  namespace?: string;
  labels: LabelRequirement[];
  fields: FieldRequirement[];
}

/** Throws 400 BadRequest for a selector the real server would refuse too. */
export function parseListFilter(
  type: ResourceType,
  namespace: string | undefined,
  labelSelector: string | null,
  fieldSelector: string | null,
): ListFilter {
  const labels = parseLabelSelector(labelSelector);
  if (!labels.ok) throw badRequest(labels.reason);
  const fields = parseFieldSelector(fieldSelector, [...COMMON_FIELD_LABELS, ...type.fieldLabels]);
  if (!fields.ok) throw badRequest(fields.reason);
  return { namespace, labels: labels.value, fields: fields.value };
}

export function matchesFilter(filter: ListFilter, obj: KubeObject): boolean {
  if (filter.namespace !== undefined && (obj.metadata.namespace ?? '') !== filter.namespace) return false;
  return matchesLabels(filter.labels, obj.metadata.labels) && matchesFields(filter.fields, obj);
}
