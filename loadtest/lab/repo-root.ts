// The repository a build belongs to: builds live in <repo>/dist*/, and the lab, the bench
// and the tool read repository files (k8s/ manifests, bench/RESULTS.md) from there.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest ancestor of this file with a package.json. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the repository root (no package.json above this file)');
    dir = parent;
  }
  return dir;
}

/** The KubeLink CRD manifest people apply to a real cluster: the lab applies the same file. */
export function kubeLinkCrdManifest(): string {
  return path.join(repoRoot(), 'k8s', 'crds', 'kubelink-crd.yaml');
}
