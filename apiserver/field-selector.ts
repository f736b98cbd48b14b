// Field selectors (`?fieldSelector=metadata.name=x,metadata.namespace!=y`). The real
// server accepts only the field labels each type declares; so does this one: every type
// knows metadata.name and metadata.namespace, some declare more (ResourceType.fieldLabels).

import type { JsonValue, KubeObject } from './api-types.js';
import { isJsonObject } from './api-types.js';
import type { ParseResult } from '../src/shared/parse-result.js';

export interface FieldRequirement {
  field: string;
  operator: '=' | '!=';
  value: string;
}

export const COMMON_FIELD_LABELS = ['metadata.name', 'metadata.namespace'];

export function parseFieldSelector(
  text: string | null | undefined,
  allowedFields: readonly string[],
): ParseResult<FieldRequirement[]> {
  if (!text || text.trim() === '') return { ok: true, value: [] };
  const out: FieldRequirement[] = [];
  for (const raw of text.split(',')) {
    const part = raw.trim();
    const m = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!m) return { ok: false, reason: `invalid selector: '${text}'; can't understand '${part}'` };
    const [, field, op, value] = m;
    if (!allowedFields.includes(field)) return { ok: false, reason: `field label not supported: ${field}` };
    out.push({ field, operator: op === '!=' ? '!=' : '=', value: value.trim() });
  }
  return { ok: true, value: out };
}

/** The string value of a dotted field path, '' when absent (like the real field sets). */
export function fieldValue(obj: KubeObject, field: string): string {
  let cur: JsonValue | undefined = obj as unknown as JsonValue;
  for (const segment of field.split('.')) {
    if (!isJsonObject(cur)) return '';
    cur = cur[segment];
  }
  if (cur === undefined || cur === null) return '';
  return typeof cur === 'object' ? JSON.stringify(cur) : String(cur);
}

export function matchesFields(requirements: FieldRequirement[], obj: KubeObject): boolean {
  return requirements.every((r) => {
    const actual = fieldValue(obj, r.field);
    return r.operator === '=' ? actual === r.value : actual !== r.value;
  });
}
