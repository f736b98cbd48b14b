// The real parts of a data plane: the TUN data path, the gateway networking, the piscina
// shard pool, the peer listener and the configured link and certificate sources.
// DataPlane wires them; tests give it fakes instead.
import type { Logger } from '../../shared/log.js';
import { loadNative } from '../../shared/native.js';
import { systemClock } from '../../shared/clock.js';
import type { Config } from '../flags.js';
import { createLinkSource } from '../links/link-source-factory.js';
import { createTlsSource } from '../certs/tls-source-factory.js';
import { GatewayNet } from '../net/gateway-net.js';
import { Datapath } from './datapath.js';
import type { DataPlaneParts, DataPlaneSettings } from './data-plane.js';
import { PeerListener } from './peer-listener.js';
import { ShardSupervisor } from './shard-supervisor.js';
import type { PublishedAddress } from '../../shared/inbound-filter.js';
import { formatIpv4, interfaceNetwork } from '../../shared/cidr.js';
import { DnsService } from '../dns/dns-service.js';
import type { MeshServiceEntry } from '../dns/mesh-service-zone.js';

export async function productionParts(config: Config, settings: DataPlaneSettings, log: Logger): Promise<DataPlaneParts> {
  const tls = await createTlsSource(config, log);
  const links = await createLinkSource(config, log);
  // MeshServices need Services and EndpointSlices: only with links from Kubernetes (loaded
  // lazily, like the link source, so a broker with --links never loads the client).
  const k8s = config.links
    ? undefined
    : { ...(await import('../mesh-services/mesh-service-controller.js')), ...(await import('../k8s/kube-config.js')) };
  return {
    clock: systemClock,
    tls,
    links,
    datapath: new Datapath({ ifname: config.ifceName, shards: config.workers, mtu: config.mtu, tunOffload: config.tunOffload, ringBytes: config.ringBytes }, log.child({ component: 'datapath' })),
    network: new GatewayNet({ log: log.child({ component: 'gateway' }) }),
    shards: (initFor) => new ShardSupervisor(config.workers, initFor, log.child({ component: 'shards' })),
    listener: (handOver, admission) => new PeerListener(loadNative(), handOver, log.child({ component: 'listener' }), admission),
    ...(k8s && {
      meshServices: (ifname: string, publish: (published: PublishedAddress[]) => void, publishNames: (entries: MeshServiceEntry[]) => void) =>
        new k8s.MeshServiceController({
          kubeConfig: k8s.loadKubeConfig(config.kubeconfig),
          ifname,
          linkAddress: settings.linkAddress,
          publish,
          publishNames,
          log: log.child({ component: 'mesh-services' }),
        }),
    }),
    dns: config.dnsPort > 0
      ? (registry) => new DnsService(
          {
            port: config.dnsPort,
            meshDomain: config.meshDomain,
            clusterName: config.clusterName,
            clusterAddress: formatIpv4(settings.linkAddress.address),
            meshCidr: interfaceNetwork(settings.linkAddress),
            ownDns: settings.clusterDns,
          },
          registry,
          log.child({ component: 'dns' }),
        )
      : undefined,
  };
}
