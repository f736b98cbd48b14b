// The before/after pair of every lab test that runs the controllers on Kubernetes: build
// the lab and bring the KubeLinks Up; afterwards stop the controllers and remove the lab,
// even when a test failed.
import { after, before } from 'node:test';
import type { Lab } from '../../loadtest/lab/lab.js';
import type { KubelinkKubernetesPath } from '../../loadtest/lab/kubelink-k8s-path.js';

export function kubernetesLabHooks(lab: Lab, k8s: KubelinkKubernetesPath): void {
  before(async () => {
    await lab.create();
    await k8s.up();
  });

  after(async () => {
    await k8s.down().catch(() => undefined);
    await lab.destroy();
  });
}
