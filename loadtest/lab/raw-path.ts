// The raw path: clusters connected WITHOUT a tunnel, for a baseline. Each gateway routes
// every remote service CIDR and remote cluster address to the remote gateway's internet
// address and SNATs requests to its own cluster address, exactly the addressing kubelink
// uses; the remote side's kube-proxy stand-in DNATs as usual. Node 2 reaches the mesh and
// remote services through the static routes (or the router controller).

import type { LabContext } from './lab-context.js';
import type { LabPath } from './lab-path.js';
import { installGatewayForwarding, removeGatewayForwarding, type GatewayForwarding } from './gateway-forwarding.js';
import type { LabCluster } from './topology.js';

export class RawPath implements LabPath {
  readonly name = 'raw';
  private readonly forwarding: GatewayForwarding[];

  /** Connects `clusters` (default all of the lab's) in a full mesh. */
  constructor(private readonly lab: LabContext, clusters: readonly LabCluster[] = lab.clusters) {
    this.forwarding = clusters.map((local) => {
      const remotes = clusters.filter((c) => c.index !== local.index);
      return {
        ns: local.gateway.ns,
        routes: remotes.flatMap((r) => [`${r.serviceCidr} via ${r.gateway.internetIp}`, `${r.clusterIp}/32 via ${r.gateway.internetIp}`]),
        snat: remotes.map((r) => ({ outInterface: local.gateway.internetInterface, destination: r.serviceCidr, toSource: local.clusterIp })),
      };
    });
  }

  async up(): Promise<void> {
    this.lab.log.info('lab: raw path up');
    for (const f of this.forwarding) await installGatewayForwarding(f, this.lab.log);
  }

  async down(): Promise<void> {
    this.lab.log.info('lab: raw path down');
    for (const f of this.forwarding) await removeGatewayForwarding(f, this.lab.log);
  }
}
