// Structural-schema handling of custom resources, in the order the real server applies
// it on every write: prune unknown fields, apply defaults, validate. Error texts follow
// the apiextensions server so kubectl shows the same messages, e.g.
//   spec.cidr: Invalid value: "1.2.3/8": spec.cidr in body should match '^...$'
//   spec.endpoint: Required value
// Not implemented: x-kubernetes-validations (CEL), allOf/anyOf/oneOf/not, list types
// and map keys (x-kubernetes-list-type), uniqueItems, multipleOf.

import type { JsonObject, JsonValue, StructuralSchema } from './api-types.js';
import { isJsonObject } from './api-types.js';
import type { FieldError } from './api-errors.js';
import { matchesFormat } from './schema-formats.js';
import { cloneJson } from './json-value.js';

/** Top-level members every object keeps whatever the schema says. */
const ROOT_MEMBERS = ['apiVersion', 'kind', 'metadata'];

function childPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/**
 * Removes members the schema does not declare (unless x-kubernetes-preserve-unknown-fields)
 * and nulls of non-nullable fields. Mutates `value`; returns the removed paths (for
 * fieldValidation=Strict/Warn).
 */
export function pruneUnknownFields(value: JsonValue, schema: StructuralSchema, path = '', isRoot = true): string[] {
  const pruned: string[] = [];
  if (schema['x-kubernetes-int-or-string']) return pruned;
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((item, i) => pruned.push(...pruneUnknownFields(item, schema.items!, `${path}[${i}]`, false)));
    return pruned;
  }
  if (!isJsonObject(value)) return pruned;
  const keep = new Set(isRoot || schema['x-kubernetes-embedded-resource'] ? ROOT_MEMBERS : []);
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  const additional = typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined;
  const mapAllowsAnything = schema.additionalProperties === true;
  for (const key of Object.keys(value)) {
    const propSchema = schema.properties?.[key] ?? additional;
    if (keep.has(key)) continue;
    if (propSchema) {
      if (value[key] === null && !propSchema.nullable) {
        delete value[key];
        continue;
      }
      pruned.push(...pruneUnknownFields(value[key], propSchema, childPath(path, key), false));
    } else if (!preserve && !mapAllowsAnything) {
      delete value[key];
      pruned.push(childPath(path, key));
    }
  }
  return pruned;
}

/** Fills in `default`s of absent members, outermost first (a defaulted object gets its inner defaults too). */
export function applyDefaults(value: JsonValue, schema: StructuralSchema): void {
  if (Array.isArray(value)) {
    if (schema.items) for (const item of value) applyDefaults(item, schema.items);
    return;
  }
  if (!isJsonObject(value)) return;
  for (const [key, propSchema] of Object.entries(schema.properties ?? {})) {
    if (value[key] === undefined && propSchema.default !== undefined) value[key] = cloneJson(propSchema.default);
    if (value[key] !== undefined) applyDefaults(value[key], propSchema);
  }
  if (typeof schema.additionalProperties === 'object') {
    for (const key of Object.keys(value)) if (!schema.properties?.[key]) applyDefaults(value[key], schema.additionalProperties);
  }
}

function typeName(value: JsonValue): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function hasType(value: JsonValue, type: NonNullable<StructuralSchema['type']>): boolean {
  switch (type) {
    case 'object':
      return isJsonObject(value);
    case 'array':
      return Array.isArray(value);
    case 'string':
      return typeof value === 'string';
    case 'boolean':
      return typeof value === 'boolean';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
  }
}

/** Go's %q-ish rendering of a value inside "Invalid value: ..." */
function show(value: JsonValue): string {
  return typeof value === 'string' ? JSON.stringify(value) : typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** Validates `value` against `schema`; `path` names it in messages ('' for the object root). */
export function validateAgainstSchema(value: JsonValue, schema: StructuralSchema, path = ''): FieldError[] {
  const errors: FieldError[] = [];
  const at = path === '' ? '<root>' : path;
  const invalid = (detail: string): void => void errors.push({ field: at, reason: 'FieldValueInvalid', detail: `Invalid value: ${show(value)}: ${detail}` });

  if (value === null) {
    if (!schema.nullable && schema.type) {
      errors.push({ field: at, reason: 'FieldValueInvalid', detail: `Invalid value: "null": ${at} in body must be of type ${schema.type}: "null"` });
    }
    return errors;
  }
  if (schema['x-kubernetes-int-or-string']) {
    if (!(typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value)))) {
      errors.push({ field: at, reason: 'FieldValueInvalid', detail: `Invalid value: ${show(value)}: ${at} in body must be of type integer,string: ${JSON.stringify(typeName(value))}` });
    }
    return errors;
  }
  if (schema.type && !hasType(value, schema.type)) {
    const actual = typeName(value);
    errors.push({ field: at, reason: 'FieldValueInvalid', detail: `Invalid value: "${actual}": ${at} in body must be of type ${schema.type}: "${actual}"` });
    return errors;
  }
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    errors.push({
      field: at,
      reason: 'FieldValueNotSupported',
      detail: `Unsupported value: ${show(value)}: supported values: ${schema.enum.map((e) => show(e)).join(', ')}`,
    });
  }
  if (typeof value === 'string') {
    const length = [...value].length;
    if (schema.maxLength !== undefined && length > schema.maxLength) {
      errors.push({ field: at, reason: 'FieldValueTooLong', detail: `Too long: may not be more than ${schema.maxLength} bytes` });
    }
    if (schema.minLength !== undefined && length < schema.minLength) invalid(`${at} in body should be at least ${schema.minLength} chars long`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) invalid(`${at} in body should match '${schema.pattern}'`);
    if (schema.format !== undefined && !matchesFormat(schema.format, value)) invalid(`${at} in body must be of type ${schema.format}: ${JSON.stringify(value)}`);
  }
  if (typeof value === 'number') {
    if (schema.maximum !== undefined && (schema.exclusiveMaximum ? value >= schema.maximum : value > schema.maximum)) {
      invalid(`${at} in body should be less than ${schema.exclusiveMaximum ? '' : 'or equal to '}${schema.maximum}`);
    }
    if (schema.minimum !== undefined && (schema.exclusiveMinimum ? value <= schema.minimum : value < schema.minimum)) {
      invalid(`${at} in body should be greater than ${schema.exclusiveMinimum ? '' : 'or equal to '}${schema.minimum}`);
    }
  }
  if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems) {
      errors.push({ field: at, reason: 'FieldValueTooMany', detail: `Too many: ${value.length}: must have at most ${schema.maxItems} items` });
    }
    if (schema.minItems !== undefined && value.length < schema.minItems) invalid(`${at} in body should have at least ${schema.minItems} items`);
    if (schema.items) value.forEach((item, i) => errors.push(...validateAgainstSchema(item, schema.items!, `${path}[${i}]`)));
  }
  if (isJsonObject(value)) errors.push(...validateObjectMembers(value, schema, path));
  return errors;
}

function validateObjectMembers(value: JsonObject, schema: StructuralSchema, path: string): FieldError[] {
  const errors: FieldError[] = [];
  for (const key of schema.required ?? []) {
    if (value[key] === undefined) errors.push({ field: childPath(path, key), reason: 'FieldValueRequired', detail: 'Required value' });
  }
  const count = Object.keys(value).length;
  const at = path === '' ? '<root>' : path;
  if (schema.maxProperties !== undefined && count > schema.maxProperties) {
    errors.push({ field: at, reason: 'FieldValueTooMany', detail: `Too many: ${count}: must have at most ${schema.maxProperties} items` });
  }
  if (schema.minProperties !== undefined && count < schema.minProperties) {
    errors.push({ field: at, reason: 'FieldValueInvalid', detail: `Invalid value: ${count}: ${at} in body should have at least ${schema.minProperties} properties` });
  }
  const additional = typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined;
  for (const [key, member] of Object.entries(value)) {
    if (path === '' && ROOT_MEMBERS.includes(key)) continue;
    const propSchema = schema.properties?.[key] ?? additional;
    if (propSchema && member !== undefined) errors.push(...validateAgainstSchema(member, propSchema, childPath(path, key)));
  }
  return errors;
}
