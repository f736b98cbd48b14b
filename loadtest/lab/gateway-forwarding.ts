// Routes and SNAT rules a non-kubelink path (raw, OpenVPN) installs on a gateway node, so
// that it forwards the way a broker would: remote service CIDRs and remote cluster
// addresses go out the path's interface, and requests leave SNATed to the local cluster
// address (pod networks are identical in all clusters, so replies need a unique address).

import type { Logger } from '../../src/shared/log.js';
import { runCommand, runInNamespace } from './command.js';

/** nat POSTROUTING chain holding a path's SNAT rules (one chain per gateway namespace). */
export const PATH_SNAT_CHAIN = 'KUBELINK-LAB-PATH';

export interface GatewayForwarding {
  ns: string;
  /** `ip route` destinations and targets, e.g. `100.64.16.0/20 via 172.31.0.12` or `... dev ovpn0`. */
  routes: string[];
  snat: Array<{ outInterface: string; destination: string; toSource: string }>;
}

export async function installGatewayForwarding(forwarding: GatewayForwarding, log: Logger): Promise<void> {
  log.debug('lab: gateway forwarding up', { ...forwarding });
  await runCommand(['ip', '-n', forwarding.ns, '-batch', '-'], {
    input: forwarding.routes.map((r) => `route replace ${r}`).join('\n') + '\n',
  });
  const rules = [
    '*nat',
    `:${PATH_SNAT_CHAIN} - [0:0]`,
    `-A POSTROUTING -j ${PATH_SNAT_CHAIN}`,
    ...forwarding.snat.map((s) => `-A ${PATH_SNAT_CHAIN} -o ${s.outInterface} -d ${s.destination} -j SNAT --to-source ${s.toSource}`),
    'COMMIT',
    '',
  ].join('\n');
  await runInNamespace(forwarding.ns, ['iptables-restore', '-w', '--noflush'], { input: rules });
}

/** Removes what install added; tolerates parts that are already gone (e.g. a vanished device). */
export async function removeGatewayForwarding(forwarding: GatewayForwarding, log: Logger): Promise<void> {
  log.debug('lab: gateway forwarding down', { ns: forwarding.ns });
  if (forwarding.routes.length > 0) {
    // -force: keep going past routes that vanished with their device.
    await runCommand(['ip', '-force', '-n', forwarding.ns, '-batch', '-'], {
      input: forwarding.routes.map((r) => `route del ${r}`).join('\n') + '\n',
    }).catch(() => {});
  }
  const ipt = (args: string[]): Promise<boolean> =>
    runInNamespace(forwarding.ns, ['iptables', '-w', '-t', 'nat', ...args]).then(
      () => true,
      () => false,
    );
  // Remove every jump (install may have run more than once), then the chain.
  while (await ipt(['-D', 'POSTROUTING', '-j', PATH_SNAT_CHAIN]));
  await ipt(['-F', PATH_SNAT_CHAIN]);
  await ipt(['-X', PATH_SNAT_CHAIN]);
}
