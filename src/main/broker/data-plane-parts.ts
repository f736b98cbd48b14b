// The real parts of a data plane: the TUN data path, the gateway networking, the piscina
// shard pool, the peer listener and the configured link and certificate sources.
// DataPlane wires them; tests give it fakes instead.
import type { Logger } from '../../shared/log.js';
import { loadNative } from '../../shared/native.js';
import { systemClock } from '../../shared/clock.js';
import type { Config } from '../flags.js';
import { createLinkSource } from '../links/link-source-factory.js';
import { createTlsSource } from '../certs/tls-source-factory.js';
import { GatewayNetwork } from '../net/gateway-network.js';
import { Datapath } from './datapath.js';
import type { DataPlaneParts, DataPlaneSettings } from './data-plane.js';
import { PeerListener } from './peer-listener.js';
import { ShardSupervisor } from './shard-supervisor.js';

export async function productionParts(config: Config, settings: DataPlaneSettings, log: Logger): Promise<DataPlaneParts> {
  const tls = await createTlsSource(config, log);
  const links = await createLinkSource(config, log);
  return {
    clock: systemClock,
    tls,
    links,
    datapath: new Datapath({ ifname: config.ifceName, shards: config.workers, mtu: config.mtu, tunOffload: config.tunOffload, ringBytes: config.ringBytes }, log.child({ component: 'datapath' })),
    network: new GatewayNetwork(settings.linkAddress, config.mtu, log.child({ component: 'gateway' })),
    shards: (initFor) => new ShardSupervisor(config.workers, initFor, log.child({ component: 'shards' })),
    listener: (handOver, admission) => new PeerListener(loadNative(), handOver, log.child({ component: 'listener' }), admission),
  };
}
