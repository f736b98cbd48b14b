// The `tls` path of the bench: no tunnel and no routing, just Node's TLS 1.3 between two
// processes in the gateway namespaces of clusters 1 and 2, over the same "internet" the
// brokers use (tls-stream.ts). It is the ceiling of a Node data path on this machine: a
// kubelink stream costs at least this TLS work plus the TUN and ring work around it.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brokerCertificateFiles } from './kubelink-files.js';
import type { Lab } from './lab.js';
import type { LabPath } from './lab-path.js';
import type { LabProcess } from './lab-process.js';
import type { TlsStreamReport } from './tls-stream.js';
import type { LabCluster } from './topology.js';

const TLS_STREAM_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'tls-stream.js');
/** Apart from the brokers' port, so a leftover broker never answers in its place. */
export const TLS_PATH_PORT = 9443;

export interface TlsStreamOptions {
  durationSec: number;
  streams: number;
  /** Bytes per socket.write (default 64 KiB). */
  writeBytes?: number;
}

export class TlsPath implements LabPath {
  readonly name = 'tls';
  private receiver: LabProcess | undefined;
  private readonly certDir: string;

  constructor(
    private readonly lab: Lab,
    private readonly sender: LabCluster,
    private readonly receiverCluster: LabCluster,
    /** TLS 1.3 suites, most preferred first (default: Node's). */
    private readonly ciphers?: string,
  ) {
    this.certDir = path.join(lab.workDir, 'tls-path', 'pki');
  }

  /** The receiving process while the path is up (its CPU time is in every report). */
  get processes(): readonly LabProcess[] {
    return this.receiver ? [this.receiver] : [];
  }

  async up(): Promise<void> {
    const { lab } = this;
    await lab.writeCertificates(this.certDir, { clusters: [this.sender, this.receiverCluster] });
    const certs = brokerCertificateFiles(this.certDir, this.receiverCluster);
    this.receiver = await lab.spawn(this.receiverCluster.gateway.ns, [
      lab.nodeBinary, TLS_STREAM_SCRIPT, 'receive',
      '--host', this.receiverCluster.gateway.internetIp, '--port', String(TLS_PATH_PORT),
      '--cert', certs.certFile, '--key', certs.keyFile, '--ca', certs.caFile,
      ...(this.ciphers ? ['--ciphers', this.ciphers] : []),
    ]);
    await lab.waitForListening(this.receiverCluster.gateway.ns, TLS_PATH_PORT);
  }

  /** One timed transfer from the sender's gateway to the receiver's. */
  async measure(options: TlsStreamOptions): Promise<TlsStreamReport> {
    const certs = brokerCertificateFiles(this.certDir, this.sender);
    const argv = [
      this.lab.nodeBinary, TLS_STREAM_SCRIPT, 'send',
      '--host', this.receiverCluster.gateway.internetIp, '--port', String(TLS_PATH_PORT),
      '--servername', this.receiverCluster.endpointHost,
      '--cert', certs.certFile, '--key', certs.keyFile, '--ca', certs.caFile,
      '--seconds', String(options.durationSec), '--streams', String(options.streams),
      '--write-bytes', String(options.writeBytes ?? 64 * 1024),
      ...(this.ciphers ? ['--ciphers', this.ciphers] : []),
    ];
    const { stdout } = await this.lab.exec(this.sender.gateway.ns, argv, { timeoutMs: (options.durationSec + 30) * 1000 });
    return JSON.parse(stdout.trim().split('\n').pop()!) as TlsStreamReport;
  }

  async down(): Promise<void> {
    await this.receiver?.stop(2000);
    this.receiver = undefined;
  }
}
