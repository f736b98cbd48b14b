// The mesh name <-> cluster name mapping. Pure.
//
//   <x>.<cluster>.<mesh-domain>.   <->   <x>.<cluster domain>.   (asked of that cluster's DNS)
//
// Names are compared in lower case (DNS is case-insensitive); a rewritten name keeps the
// case of the part `<x>` the client wrote.

/** Where a query name points. */
export type MeshName =
  | { kind: 'outside' }
  /** The mesh domain itself, or a name directly under it that names no cluster. */
  | { kind: 'apex' }
  /** `<rest>.<cluster>.<mesh-domain>`; rest is '' for the cluster's own apex. */
  | { kind: 'cluster'; cluster: string; rest: string };

/** The name without its root dot. */
export function trimDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/** True when `name` is `domain` or lies under it (both without root dot, domain lower case). */
export function isUnder(name: string, domain: string): boolean {
  const lower = name.toLowerCase();
  return lower === domain || lower.endsWith(`.${domain}`);
}

/**
 * Splits a query name against the mesh domain. `isCluster` says whether a (lower-case)
 * label sequence names a cluster; the longest match wins, so a KubeLink named `c2.east`
 * and one named `east` are told apart.
 */
export function parseMeshName(queryName: string, meshDomain: string, isCluster: (name: string) => boolean): MeshName {
  const name = trimDot(queryName);
  if (!isUnder(name, meshDomain)) return { kind: 'outside' };
  if (name.length === meshDomain.length) return { kind: 'apex' };
  const labels = name.slice(0, name.length - meshDomain.length - 1).split('.');
  for (let start = 0; start < labels.length; start++) {
    const cluster = labels.slice(start).join('.').toLowerCase();
    if (isCluster(cluster)) return { kind: 'cluster', cluster, rest: labels.slice(0, start).join('.') };
  }
  return { kind: 'apex' };
}

/** `<rest>.<domain>` (or the domain itself for an empty rest). */
export function joinName(rest: string, domain: string): string {
  return rest === '' ? domain : `${rest}.${domain}`;
}

/**
 * Maps a name from a cluster's answer back into the mesh: a name under the cluster domain
 * becomes the same name under `<cluster>.<mesh-domain>`; any other name (a CNAME to an
 * external host) is left as it is.
 */
export function toMeshName(name: string, clusterDomain: string, meshClusterDomain: string): string {
  const plain = trimDot(name);
  if (!isUnder(plain, clusterDomain)) return name;
  return joinName(plain.slice(0, plain.length - clusterDomain.length).replace(/\.$/, ''), meshClusterDomain);
}
