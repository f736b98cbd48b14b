// Which resources are served right now: the built-ins plus whatever the stored CRDs
// define. The request router resolves URLs here and discovery lists from here.

import type { ResourceType } from './api-types.js';
import { storageKey } from './api-types.js';
import { BUILTIN_GROUP_ORDER } from './builtin-resources.js';

export interface ServedGroup {
  name: string;
  /** Versions, preferred first. */
  versions: string[];
}

/** Kubernetes version priority: GA > beta > alpha, higher numbers first (v2 > v1 > v1beta2 > v1beta1 > v1alpha1). */
export function compareKubeVersions(a: string, b: string): number {
  const parse = (v: string): [number, number, number] | undefined => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return undefined;
    const stability = m[2] === undefined ? 2 : m[2] === 'beta' ? 1 : 0;
    return [stability, Number(m[1]), Number(m[3] ?? 0)];
  };
  const pa = parse(a);
  const pb = parse(b);
  if (!pa || !pb) return pa ? -1 : pb ? 1 : a.localeCompare(b);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pb[i] - pa[i];
  return 0;
}

export class ResourceRegistry {
  private readonly builtins: ResourceType[];
  private readonly custom = new Map<string, ResourceType[]>();

  constructor(builtins: ResourceType[]) {
    this.builtins = builtins;
  }

  /** Replaces the types a CRD defines (an empty list removes them). */
  setCustomTypes(crdName: string, types: ResourceType[]): void {
    if (types.length === 0) this.custom.delete(crdName);
    else this.custom.set(crdName, types);
  }

  all(): ResourceType[] {
    return [...this.builtins, ...[...this.custom.values()].flat()];
  }

  find(group: string, version: string, plural: string): ResourceType | undefined {
    return this.all().find((t) => t.group === group && t.version === version && t.plural === plural);
  }

  /** Any served version of a group/plural (storage is shared), e.g. to find a namespaced resource kind. */
  findByStorageKey(key: string): ResourceType | undefined {
    return this.all().find((t) => storageKey(t) === key);
  }

  typesOf(group: string, version: string): ResourceType[] {
    return this.all().filter((t) => t.group === group && t.version === version);
  }

  /** Served groups, core first, built-ins in the real server's order, then custom groups by name. */
  groups(): ServedGroup[] {
    const byGroup = new Map<string, Set<string>>();
    for (const t of this.all()) {
      if (!byGroup.has(t.group)) byGroup.set(t.group, new Set());
      byGroup.get(t.group)!.add(t.version);
    }
    const rank = (g: string): number => {
      const i = BUILTIN_GROUP_ORDER.indexOf(g);
      return i < 0 ? BUILTIN_GROUP_ORDER.length : i;
    };
    return [...byGroup.entries()]
      .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
      .map(([name, versions]) => ({ name, versions: [...versions].sort(compareKubeVersions) }));
  }
}
