// metadata checks and bookkeeping shared by every resource: name formats, labels,
// server-set fields (uid, creationTimestamp, generation) and what an update may change.

import type { FieldError } from './api-errors.js';
import type { KubeObject, ObjectMeta, ResourceType } from './api-types.js';
import type { JsonValue } from './api-types.js';
import { jsonEqual } from './json-value.js';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_KEY_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

const SUBDOMAIN_MESSAGE =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MESSAGE =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS_1035_MESSAGE =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

/** Name rules per resource: namespaces are DNS labels, services DNS-1035 labels, the rest DNS subdomains. */
function nameError(type: ResourceType, name: string): string | undefined {
  if (type.group === '' && type.plural === 'namespaces') return DNS_LABEL.test(name) && name.length <= 63 ? undefined : LABEL_MESSAGE;
  if (type.group === '' && type.plural === 'services') return DNS_1035_LABEL.test(name) && name.length <= 63 ? undefined : DNS_1035_MESSAGE;
  return DNS_SUBDOMAIN.test(name) && name.length <= 253 ? undefined : SUBDOMAIN_MESSAGE;
}

function labelKeyError(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && !(DNS_SUBDOMAIN.test(prefix) && prefix.length <= 253)) return `prefix part ${SUBDOMAIN_MESSAGE}`;
  if (!LABEL_KEY_NAME.test(name) || name.length > 63) {
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
  }
  return undefined;
}

export function validateObjectMeta(type: ResourceType, obj: KubeObject): FieldError[] {
  const errors: FieldError[] = [];
  const meta = obj.metadata;
  const name = meta.name ?? '';
  if (name === '') errors.push({ field: 'metadata.name', reason: 'FieldValueRequired', detail: 'Required value: name or generateName is required' });
  else {
    const why = nameError(type, name);
    if (why) errors.push({ field: 'metadata.name', reason: 'FieldValueInvalid', detail: `Invalid value: ${JSON.stringify(name)}: ${why}` });
  }
  for (const [key, value] of Object.entries(meta.labels ?? {})) {
    const keyWhy = labelKeyError(key);
    if (keyWhy) errors.push({ field: 'metadata.labels', reason: 'FieldValueInvalid', detail: `Invalid value: ${JSON.stringify(key)}: ${keyWhy}` });
    if (typeof value !== 'string' || !LABEL_VALUE.test(value) || value.length > 63) {
      errors.push({
        field: 'metadata.labels',
        reason: 'FieldValueInvalid',
        detail: `Invalid value: ${JSON.stringify(value)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
      });
    }
  }
  for (const [key, value] of Object.entries(meta.annotations ?? {})) {
    if (typeof value !== 'string') {
      errors.push({ field: `metadata.annotations.${key}`, reason: 'FieldValueInvalid', detail: `Invalid value: ${JSON.stringify(value)}: must be a string` });
    }
  }
  return errors;
}

/** Everything except metadata (and status when it has its own subresource): what generation tracks. */
export function generationRelevant(type: ResourceType, obj: KubeObject): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'metadata' || k === 'apiVersion' || k === 'kind') continue;
    if (k === 'status' && type.hasStatusSubresource) continue;
    out[k] = v;
  }
  return out;
}

export function specChanged(type: ResourceType, next: KubeObject, old: KubeObject): boolean {
  return !jsonEqual(generationRelevant(type, next), generationRelevant(type, old));
}

/** Fields a client may not change on update: carried over from the stored object. */
export function carryOverServerFields(next: ObjectMeta, old: ObjectMeta): void {
  next.uid = old.uid;
  next.creationTimestamp = old.creationTimestamp;
  next.namespace = old.namespace;
  if (old.deletionTimestamp !== undefined) next.deletionTimestamp = old.deletionTimestamp;
  else delete next.deletionTimestamp;
  if (old.deletionGracePeriodSeconds !== undefined) next.deletionGracePeriodSeconds = old.deletionGracePeriodSeconds;
  else delete next.deletionGracePeriodSeconds;
  if (old.generation !== undefined) next.generation = old.generation;
  else delete next.generation;
  delete next.managedFields;
  delete next.selfLink;
}

/** Whether two objects are the same apart from resourceVersion (an update that changes nothing is not written). */
export function sameExceptResourceVersion(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject): JsonValue => ({ ...(o as unknown as Record<string, JsonValue>), metadata: { ...(o.metadata as Record<string, JsonValue>), resourceVersion: null } });
  return jsonEqual(strip(a), strip(b));
}
