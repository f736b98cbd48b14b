// The example overlays of k8s/ as `kubectl kustomize` renders them (the real kubectl, with
// its built-in kustomize), parsed into documents.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const KUBECTL = process.env.KUBECTL ?? 'kubectl';
// The repository root, seen from dist-<name>/test/k8s/ (compiled tests).
export const ROOT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const K8S = path.join(ROOT, 'k8s');
export const CLUSTERS = ['cluster1', 'cluster2'] as const;
export type Cluster = (typeof CLUSTERS)[number];

export type Obj = Record<string, any>;
export interface Doc {
  /** Where it came from, for messages: the kustomization and kind/name. */
  file: string;
  obj: Obj;
}

export function kustomize(dir: string): Doc[] {
  const text = execFileSync(KUBECTL, ['kustomize', dir], { encoding: 'utf8' });
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${dir}: ${doc.errors.join('; ')}`);
    const obj = doc.toJS() as Obj | null;
    return obj ? [{ file: `${path.relative(ROOT, dir)} ${obj.kind}/${obj.metadata?.name}`, obj }] : [];
  });
}

export const overlayDir = (cluster: Cluster): string => path.join(K8S, 'overlays', cluster);

export function renderOverlay(cluster: Cluster): Doc[] {
  return kustomize(overlayDir(cluster));
}

/** The overlay with one more component of k8s/components/ (as its README says to enable one); kustomize wants relative paths. */
export function renderWithComponent(cluster: Cluster, component: string): Doc[] {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kl-kustomize-'));
  try {
    writeFileSync(
      path.join(dir, 'kustomization.yaml'),
      [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        'resources:',
        `  - ${path.relative(dir, overlayDir(cluster))}`,
        'components:',
        `  - ${path.relative(dir, path.join(K8S, 'components', component))}`,
        '',
      ].join('\n'),
    );
    return kustomize(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
