// What the paths (raw, OpenVPN, kubelink), iperf and the state readers need from a lab.
// Lab implements it; the path modules depend on this interface instead of on lab.ts, which
// constructs the paths, so the modules do not import each other in a circle.
import type { Logger } from '../../src/shared/log.js';
import type { LabApiServer } from './api-server.js';
import type { CommandOptions, CommandResult } from './command.js';
import type { EchoReply } from './echo-server.js';
import type { BrokerArgsOptions, CertificateWriteOptions, LabCertificateFiles } from './kubelink-files.js';
import type { LabProcess } from './lab-process.js';
import type { LabCluster, LabPod } from './topology.js';

export interface SpawnOptions {
  /** stdout+stderr go here (appended). Default `<workDir>/logs/<ns>.<program>.<n>.log`. */
  logFile?: string;
  env?: NodeJS.ProcessEnv;
}

export interface WaitOptions {
  /** Give up after this long. Default 20 000 ms. */
  timeoutMs?: number;
  /** Pause between attempts. Default 200 ms. */
  intervalMs?: number;
}

export interface LabContext {
  readonly prefix: string;
  readonly workDir: string;
  readonly log: Logger;
  readonly nodeBinary: string;
  readonly kubelinkEntry: string;
  readonly clusters: readonly LabCluster[];
  /** Every cluster has the same service CIDR (LabOptions.sameServiceCidr). */
  readonly topology: { readonly sameServiceCidr: boolean };
  startApiServer(index: number, wait?: WaitOptions): Promise<LabApiServer>;
  /** Runs the real `kubectl <args>` against cluster `index`'s API server. */
  kubectl(index: number, args: readonly string[], options?: CommandOptions): Promise<CommandResult>;
  /** Runs `argv` to completion inside `ns`; rejects with the command's stderr on failure. */
  exec(ns: string, argv: readonly string[], options?: CommandOptions): Promise<CommandResult>;
  spawn(ns: string, argv: readonly string[], options?: SpawnOptions): Promise<LabProcess>;
  waitForListening(ns: string, port: number, wait?: WaitOptions): Promise<void>;
  requestEcho(pod: LabPod, ip: string, timeoutMs?: number): Promise<EchoReply>;
  /** Calls `attempt` until it resolves or the timeout passes; the error names `what` and the last failure. */
  retry<T>(what: string, wait: WaitOptions, attempt: () => Promise<T>): Promise<T>;
  kubelinkBrokerArgs(index: number, options: BrokerArgsOptions): string[];
  writeLinks(index: number, dir: string): Promise<string[]>;
  writeCertificates(dir: string, options?: CertificateWriteOptions): Promise<LabCertificateFiles>;
}
