// Label selectors in the string form of list/watch `?labelSelector=`:
//   a=b  a==b  a!=b  a in (x,y)  a notin (x,y)  a  !a  a>3  a<3   (comma = AND)
// Semantics follow k8s.io/apimachinery/pkg/labels: `!=` and `notin` also match objects
// that do not carry the key at all.

import type { ParseResult } from '../src/shared/parse-result.js';

export type LabelOperator = '=' | '!=' | 'in' | 'notin' | 'exists' | '!' | 'gt' | 'lt';

export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  values: string[];
}

// Label keys may carry a DNS-subdomain prefix: "app.kubernetes.io/name".
const KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** Splits on commas that are not inside parentheses. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

function parseRequirement(raw: string): ParseResult<LabelRequirement> {
  const text = raw.trim();
  const fail = (why: string): ParseResult<LabelRequirement> => ({
    ok: false,
    reason: `unable to parse requirement: ${why}: "${text}"`,
  });
  if (text === '') return fail('empty requirement');

  const setMatch = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(text);
  if (setMatch) {
    const [, key, op, list] = setMatch;
    const values = list.split(',').map((v) => v.trim());
    if (values.length === 1 && values[0] === '') return fail('for \'in\', \'notin\' operators, values set can\'t be empty');
    return checked({ key, operator: op as 'in' | 'notin', values }, fail);
  }
  const opMatch = /^([^=!<>\s]+)\s*(==|=|!=|>|<)\s*(.*)$/.exec(text);
  if (opMatch) {
    const [, key, op, value] = opMatch;
    const operator: LabelOperator = op === '==' || op === '=' ? '=' : op === '!=' ? '!=' : op === '>' ? 'gt' : 'lt';
    if ((operator === 'gt' || operator === 'lt') && !/^-?\d+$/.test(value)) return fail('for \'Gt\', \'Lt\' operators, the value must be an integer');
    return checked({ key, operator, values: [value] }, fail);
  }
  if (text.startsWith('!')) return checked({ key: text.slice(1).trim(), operator: '!', values: [] }, fail);
  return checked({ key: text, operator: 'exists', values: [] }, fail);
}

function checked(
  req: LabelRequirement,
  fail: (why: string) => ParseResult<LabelRequirement>,
): ParseResult<LabelRequirement> {
  if (!KEY.test(req.key) || req.key.length > 317) return fail(`invalid label key "${req.key}"`);
  if (req.operator !== 'gt' && req.operator !== 'lt') {
    for (const v of req.values) if (!VALUE.test(v) || v.length > 63) return fail(`invalid label value: "${v}"`);
  }
  return { ok: true, value: req };
}

export function parseLabelSelector(text: string | null | undefined): ParseResult<LabelRequirement[]> {
  if (!text || text.trim() === '') return { ok: true, value: [] };
  const requirements: LabelRequirement[] = [];
  for (const part of splitTopLevel(text)) {
    const parsed = parseRequirement(part);
    if (!parsed.ok) return parsed;
    requirements.push(parsed.value);
  }
  return { ok: true, value: requirements };
}

export function matchesLabels(requirements: LabelRequirement[], labels: Record<string, string> | undefined): boolean {
  const own = labels ?? {};
  return requirements.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(own, r.key);
    const value = own[r.key];
    switch (r.operator) {
      case '=':
        return has && value === r.values[0];
      case '!=':
        return !has || value !== r.values[0];
      case 'in':
        return has && r.values.includes(value);
      case 'notin':
        return !has || !r.values.includes(value);
      case 'exists':
        return has;
      case '!':
        return !has;
      case 'gt':
      case 'lt': {
        if (!has || !/^-?\d+$/.test(value)) return false;
        const n = Number(value);
        const bound = Number(r.values[0]);
        return r.operator === 'gt' ? n > bound : n < bound;
      }
    }
  });
}
