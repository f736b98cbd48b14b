// kubectl steps the lab tests share (not a test itself).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Lab } from '../../loadtest/lab/lab.js';
import type { LabCluster } from '../../loadtest/lab/topology.js';

/** Writes `yaml` into the lab's work directory and `kubectl apply -f`s it to `cluster`. */
export async function applyYaml(lab: Lab, cluster: LabCluster, name: string, yaml: string): Promise<void> {
  const file = path.join(lab.workDir, `${cluster.name}-${name}.yaml`);
  await writeFile(file, yaml);
  await lab.kubectl(cluster.index, ['apply', '-f', file]);
}
