// A "path" connects the service networks of lab clusters one way or another: directly
// (raw), through OpenVPN, or through kubelink brokers. The bench and the load tests switch
// paths on the same namespaces; only one path should be up at a time, since each one
// routes the remote service CIDRs on the gateways.

export interface LabPath {
  /** Short name for tables and logs, e.g. `raw`, `openvpn`, `kubelink-w2`. */
  readonly name: string;
  /** Brings the path up; resolves when traffic can flow (or rejects saying why not). */
  up(): Promise<void>;
  /** Removes everything `up` added; safe to call after a failed or partial `up`. */
  down(): Promise<void>;
}
