// The OpenVPN path: the peer kubelink is compared against. One OpenVPN 2.6 tunnel in TCP
// mode between the gateways of two clusters (p2p TLS mode with the lab CA, data channel
// AES-256-GCM, 1500 MTU TUN, userspace data path: DCO disabled), carrying both clusters'
// service CIDRs and cluster addresses, with the same SNAT-to-cluster-address as kubelink.

import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runCommand } from './command.js';
import { installGatewayForwarding, removeGatewayForwarding, type GatewayForwarding } from './gateway-forwarding.js';
import { brokerCertificateFiles } from './kubelink-files.js';
import type { LabContext } from './lab-context.js';
import type { LabPath } from './lab-path.js';
import type { LabProcess } from './lab-process.js';
import type { LabCluster } from './topology.js';

export interface OpenVpnOptions {
  /** TCP port the server side listens on (on its internet address). Default 1194. */
  port?: number;
  /** TUN MTU. Default 1500. */
  tunMtu?: number;
  /** Data channel cipher. Default AES-256-GCM. */
  cipher?: string;
  /** TUN device name on both gateways. Default ovpn0. */
  device?: string;
  /** Time allowed for the TLS handshake and TUN setup. Default 30 000 ms. */
  connectTimeoutMs?: number;
}

const READY_LINE = 'Initialization Sequence Completed';
/** Point-to-point addresses inside the tunnel (not routed anywhere else). */
const SERVER_TUN_IP = '10.255.0.1';
const CLIENT_TUN_IP = '10.255.0.2';

export class OpenVpnPath implements LabPath {
  readonly name = 'openvpn';
  private readonly options: Required<OpenVpnOptions>;
  private readonly dir: string;
  private processes: LabProcess[] = [];
  private readonly forwarding: GatewayForwarding[];

  /** `server` listens, `client` dials it. */
  constructor(
    private readonly lab: LabContext,
    private readonly server: LabCluster,
    private readonly client: LabCluster,
    options: OpenVpnOptions = {},
  ) {
    if (server.index === client.index) throw new RangeError('OpenVpnPath needs two different clusters');
    this.options = {
      port: options.port ?? 1194,
      tunMtu: options.tunMtu ?? 1500,
      cipher: options.cipher ?? 'AES-256-GCM',
      device: options.device ?? 'ovpn0',
      connectTimeoutMs: options.connectTimeoutMs ?? 30_000,
    };
    this.dir = path.join(lab.workDir, `openvpn-${server.name}-${client.name}`);
    const forward = (local: LabCluster, remote: LabCluster): GatewayForwarding => ({
      ns: local.gateway.ns,
      routes: [`${remote.serviceCidr} dev ${this.options.device}`, `${remote.clusterIp}/32 dev ${this.options.device}`],
      snat: [{ outInterface: this.options.device, destination: remote.serviceCidr, toSource: local.clusterIp }],
    });
    this.forwarding = [forward(server, client), forward(client, server)];
  }

  private commonArgs(self: LabCluster, peer: LabCluster, certDir: string): string[] {
    const certs = brokerCertificateFiles(certDir, self);
    const o = this.options;
    return [
      'openvpn',
      '--dev', o.device,
      '--dev-type', 'tun',
      '--tun-mtu', String(o.tunMtu),
      '--disable-dco',
      '--dh', 'none',
      '--ca', certs.caFile,
      '--cert', certs.certFile,
      '--key', certs.keyFile,
      '--verify-x509-name', peer.endpointHost, 'name',
      '--data-ciphers', o.cipher,
      '--data-ciphers-fallback', o.cipher,
      '--ping', '5',
      '--ping-exit', '30',
      '--verb', '3',
    ];
  }

  async up(): Promise<void> {
    const { lab, server, client, options: o } = this;
    lab.log.info('lab: openvpn path up', { server: server.name, client: client.name, cipher: o.cipher, tunMtu: o.tunMtu });
    await runCommand(['openvpn', '--version']).catch((cause: unknown) => {
      throw new Error('OpenVPN path needs the openvpn binary (Debian package openvpn)', { cause });
    });
    const certDir = path.join(this.dir, 'pki');
    await lab.writeCertificates(certDir, { clusters: [server, client], caCommonName: `kubelink lab OpenVPN CA ${lab.prefix}` });
    const serverLog = path.join(this.dir, 'server.log');
    const clientLog = path.join(this.dir, 'client.log');
    await Promise.all([writeFile(serverLog, ''), writeFile(clientLog, '')]);
    this.processes.push(
      await lab.spawn(
        server.gateway.ns,
        [
          ...this.commonArgs(server, client, certDir),
          '--proto', 'tcp-server',
          '--local', server.gateway.internetIp,
          '--lport', String(o.port),
          '--ifconfig', SERVER_TUN_IP, CLIENT_TUN_IP,
          '--tls-server',
          '--remote-cert-tls', 'client',
        ],
        { logFile: serverLog },
      ),
    );
    await lab.waitForListening(server.gateway.ns, o.port);
    this.processes.push(
      await lab.spawn(
        client.gateway.ns,
        [
          ...this.commonArgs(client, server, certDir),
          '--proto', 'tcp-client',
          '--remote', server.gateway.internetIp, String(o.port),
          '--nobind',
          '--connect-retry', '1', '1',
          '--ifconfig', CLIENT_TUN_IP, SERVER_TUN_IP,
          '--tls-client',
          '--remote-cert-tls', 'server',
        ],
        { logFile: clientLog },
      ),
    );
    for (const log of [serverLog, clientLog]) await this.waitForReady(log);
    for (const f of this.forwarding) await installGatewayForwarding(f, lab.log);
  }

  /** Waits for OpenVPN's ready line and checks it negotiated the cipher we asked for. */
  private async waitForReady(logFile: string): Promise<void> {
    await this.lab.retry(`OpenVPN ready (${logFile})`, { timeoutMs: this.options.connectTimeoutMs }, async () => {
      const dead = this.processes.find((p) => !p.running());
      if (dead) throw new Error(`openvpn exited early, see ${dead.logFile}`);
      const text = await readFile(logFile, 'utf8');
      if (!text.includes(READY_LINE)) throw new Error(`no "${READY_LINE}" yet`);
      const cipher = /Data Channel: cipher '([^']+)'/.exec(text)?.[1];
      if (cipher !== this.options.cipher) throw new Error(`OpenVPN negotiated data cipher ${cipher ?? '(none logged)'}, expected ${this.options.cipher}`);
    });
  }

  async down(): Promise<void> {
    this.lab.log.info('lab: openvpn path down');
    await Promise.all(this.processes.map((p) => p.stop(3000)));
    this.processes = [];
    for (const f of this.forwarding) await removeGatewayForwarding(f, this.lab.log);
  }
}
