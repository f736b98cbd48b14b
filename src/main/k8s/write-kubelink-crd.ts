// Writes the generated CRD manifests: k8s/crds/kubelink-crd.yaml from kubelink-crd.ts and
// k8s/crds/meshservice-crd.yaml from mesh-service-crd.ts (the one definition of each CRD).
// Usage: node dist/src/main/k8s/write-kubelink-crd.js [directory]   (default: k8s/crds)
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { kubelinkCrdYaml } from './kubelink-crd.js';
import { meshServiceCrdYaml } from '../mesh-services/mesh-service-crd.js';

const dir = process.argv[2] ?? 'k8s/crds';
for (const [file, text] of [['kubelink-crd.yaml', kubelinkCrdYaml()], ['meshservice-crd.yaml', meshServiceCrdYaml()]] as const) {
  const target = path.join(dir, file);
  writeFileSync(target, text);
  process.stdout.write(`wrote ${target}\n`);
}
