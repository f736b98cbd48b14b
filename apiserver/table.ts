// Server-side printing: the meta.k8s.io/v1 Table kubectl asks for with
// `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`. Columns are NAME plus the
// type's printer columns (a CRD's additionalPrinterColumns; AGE for built-ins and for
// CRDs without columns); priority > 0 columns are the ones `-o wide` adds.

import type { JsonObject, JsonValue, KubeObject, PrinterColumn, ResourceType } from './api-types.js';
import { evaluateJsonPath, parseJsonPath } from './simple-jsonpath.js';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

const NAME_COLUMN = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description: 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names',
  priority: 0,
};

/** k8s.io/apimachinery/pkg/util/duration.HumanDuration, the AGE format kubectl users know. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(seconds / 3600);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${Math.floor(days / 365)}y` : `${Math.floor(days / 365)}y${days % 365}d`;
  return `${Math.floor(days / 365)}y`;
}

function cell(column: PrinterColumn, obj: KubeObject, now: Date): JsonValue {
  let values: JsonValue[];
  try {
    values = evaluateJsonPath(parseJsonPath(column.jsonPath), obj as unknown as JsonValue);
  } catch {
    return null;
  }
  if (values.length === 0) return null;
  const value = values[0];
  switch (column.type) {
    case 'date': {
      if (typeof value !== 'string') return null;
      const t = Date.parse(value);
      return Number.isNaN(t) ? '<invalid>' : humanDuration(now.getTime() - t);
    }
    case 'integer':
      return typeof value === 'number' ? Math.trunc(value) : null;
    case 'number':
      return typeof value === 'number' ? value : null;
    case 'boolean':
      return typeof value === 'boolean' ? value : null;
    default:
      return typeof value === 'string' ? value : JSON.stringify(value);
  }
}

export function partialObjectMetadata(obj: KubeObject): JsonObject {
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata as JsonObject };
}

export interface TableOptions {
  includeObject: IncludeObject;
  /** Column definitions are sent once per watch, like the real server; rows alone afterwards. */
  withColumns: boolean;
  now: Date;
}

export function toTable(type: ResourceType, objects: KubeObject[], listMeta: JsonObject, options: TableOptions): JsonObject {
  const columns = options.withColumns
    ? [
        NAME_COLUMN,
        ...type.printerColumns.map((c) => ({
          name: c.name,
          type: c.type,
          format: c.format ?? '',
          description: c.description ?? '',
          priority: c.priority ?? 0,
        })),
      ]
    : [];
  const rows = objects.map((obj) => {
    const row: JsonObject = {
      cells: [obj.metadata.name ?? '', ...type.printerColumns.map((c) => cell(c, obj, options.now))],
    };
    if (options.includeObject === 'Object') row.object = obj as unknown as JsonObject;
    else if (options.includeObject === 'Metadata') row.object = partialObjectMetadata(obj);
    return row;
  });
  return { kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: listMeta, columnDefinitions: columns, rows };
}
