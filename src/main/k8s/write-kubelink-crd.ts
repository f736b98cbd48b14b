// Writes k8s/kubelink-crd.yaml from kubelink-crd.ts (the one definition of the CRD).
// Usage: node dist/src/main/k8s/write-kubelink-crd.js [path]   (default: k8s/kubelink-crd.yaml)
import { writeFileSync } from 'node:fs';
import { kubelinkCrdYaml } from './kubelink-crd.js';

const target = process.argv[2] ?? 'k8s/kubelink-crd.yaml';
writeFileSync(target, kubelinkCrdYaml());
process.stdout.write(`wrote ${target}\n`);
