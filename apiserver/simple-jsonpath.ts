// The JSONPath subset printer columns use: `.a.b`, `.a[0]`, `.a[*].b`, `.a['k.x']`,
// `.a[?(@.type=="Ready")].status`. Evaluates to every match, in document order.

import type { JsonValue } from './api-types.js';
import { isJsonObject } from './api-types.js';

type Step =
  | { kind: 'field'; name: string }
  | { kind: 'index'; index: number }
  | { kind: 'all' }
  | { kind: 'filter'; path: string[]; value: string };

export function parseJsonPath(expression: string): Step[] {
  let text = expression.trim();
  if (text.startsWith('{') && text.endsWith('}')) text = text.slice(1, -1).trim();
  if (text.startsWith('$')) text = text.slice(1);
  const steps: Step[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === '.') {
      const m = /^\.([^.[\]]+)/.exec(text.slice(i));
      if (!m) throw new SyntaxError(`unexpected "." at ${i} in ${expression}`);
      steps.push(m[1] === '*' ? { kind: 'all' } : { kind: 'field', name: m[1] });
      i += m[0].length;
    } else if (text[i] === '[') {
      const end = text.indexOf(']', i);
      if (end < 0) throw new SyntaxError(`unclosed "[" in ${expression}`);
      const inner = text.slice(i + 1, end).trim();
      const filter = /^\?\(@\.([\w.]+)\s*==\s*["']([^"']*)["']\)$/.exec(inner);
      if (inner === '*') steps.push({ kind: 'all' });
      else if (/^-?\d+$/.test(inner)) steps.push({ kind: 'index', index: Number(inner) });
      else if (/^'.*'$|^".*"$/.test(inner)) steps.push({ kind: 'field', name: inner.slice(1, -1) });
      else if (filter) steps.push({ kind: 'filter', path: filter[1].split('.'), value: filter[2] });
      else throw new SyntaxError(`unsupported JSONPath element [${inner}] in ${expression}`);
      i = end + 1;
    } else {
      throw new SyntaxError(`unexpected "${text[i]}" at ${i} in ${expression}`);
    }
  }
  return steps;
}

function get(value: JsonValue, path: string[]): JsonValue | undefined {
  let cur: JsonValue | undefined = value;
  for (const p of path) cur = isJsonObject(cur) ? cur[p] : undefined;
  return cur;
}

export function evaluateJsonPath(steps: Step[], root: JsonValue): JsonValue[] {
  let current: JsonValue[] = [root];
  for (const step of steps) {
    const next: JsonValue[] = [];
    for (const v of current) {
      if (step.kind === 'field') {
        if (isJsonObject(v) && v[step.name] !== undefined) next.push(v[step.name]);
      } else if (step.kind === 'index') {
        if (Array.isArray(v)) {
          const at = step.index < 0 ? v.length + step.index : step.index;
          if (at >= 0 && at < v.length) next.push(v[at]);
        }
      } else if (step.kind === 'all') {
        if (Array.isArray(v)) next.push(...v);
        else if (isJsonObject(v)) next.push(...Object.values(v));
      } else if (Array.isArray(v)) {
        for (const item of v) {
          const field = get(item, step.path);
          if (field !== undefined && String(field) === step.value) next.push(item);
        }
      }
    }
    current = next;
  }
  return current;
}
