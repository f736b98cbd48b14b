// The lab: N simulated Kubernetes clusters made of network namespaces on this machine, for
// the lab tests, the benchmarks, the load tests and the demo. A Lab is a described topology
// (see topology.ts) plus the operations on it: build, run processes inside, connect the
// clusters through a "path" (raw, OpenVPN, kubelink), and remove it again from any state.
//
//   const lab = new Lab({ clusters: 2, log });
//   await lab.create();
//   try {
//     const reply = await lab.requestEcho(lab.cluster(1).pods.client2, lab.cluster(1).serviceIp);
//   } finally {
//     await lab.destroy();
//   }
//
// Needs root, /dev/net/tun and `ip netns`. Every namespace name starts with `<prefix>-`;
// the state under /run/kubelink-lab/<prefix>/ lets `Lab.destroyByPrefix` clean up after a crash.

import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { silentLogger, type Logger } from '../../src/shared/log.js';
import { apiServerArgs, apiServerFiles, kubeconfigWritten, type LabApiServer } from './api-server.js';
import { runCommand, runInNamespace, type CommandOptions, type CommandResult } from './command.js';
import { kubectlArgv } from './kubectl.js';
import { destroyAllLabs, destroyLabByPrefix, listNamespaces } from './cleanup.js';
import type { EchoReply } from './echo-server.js';
import {
  brokerArgs,
  writeLabCertificates,
  writeLabLinks,
  type BrokerArgsOptions,
  type CertificateWriteOptions,
  type LabCertificateFiles,
} from './kubelink-files.js';
import { KubelinkPath, type KubelinkPathOptions } from './kubelink-path.js';
import { KubelinkKubernetesPath, type KubelinkKubernetesPathOptions } from './kubelink-k8s-path.js';
import type { LabContext, SpawnOptions, WaitOptions } from './lab-context.js';
import { spawnInNamespace, type LabProcess } from './lab-process.js';
import { buildLabNetwork } from './network-builder.js';
import { OpenVpnPath, type OpenVpnOptions } from './openvpn.js';
import { assertPrerequisites } from './preconditions.js';
import { RawPath } from './raw-path.js';
import { readLabRecord, stateDirOf, writeLabRecord } from './state-dir.js';
import {
  allNamespaces,
  describeTopology,
  namespaceBelongsTo,
  type LabCluster,
  type LabPod,
  type LabTopology,
} from './topology.js';

export interface LabOptions {
  /** Namespace name prefix; default `kl` + 4 random hex digits. */
  prefix?: string;
  /** Number of clusters, 1..16 (the brief's labs use 2..8). */
  clusters: number;
  /** Logs, certificates, manifests. Default `<tmpdir>/kubelink-lab-<prefix>` (removed by destroy). */
  workDir?: string;
  /** Steps at debug, phases at info. Default: silent. */
  log?: Logger;
  /** Node 2 routes remote service CIDRs and the mesh via the gateway (the router's job). Default true. */
  staticRoutes?: boolean;
  /**
   * Every cluster gets the same service CIDR 100.64.0.0/20 (echo at 100.64.0.100 in each):
   * KubeLinks carry no cidr, clusters reach each other through MeshServices. Needs
   * staticRoutes: false (a static route to a remote service CIDR would be the local one).
   */
  sameServiceCidr?: boolean;
  /** rp_filter in all lab namespaces. Default 0 (the brokers do their own source checks). */
  rpFilter?: 0 | 1 | 2;
  /** Start the echo HTTP server and `iperf3 -s` in every echo pod. Default true. */
  startEchoServices?: boolean;
  /** Node binary for lab processes. Default process.execPath. */
  nodeBinary?: string;
  /** kubelink entry script. Default: src/main/cli.js of the build this module belongs to. */
  kubelinkEntry?: string;
  /**
   * Start lab processes in their own process groups and let this process exit while they
   * run (a lab that outlives the command that built it). Default false.
   */
  detachProcesses?: boolean;
}

export type { SpawnOptions, WaitOptions } from './lab-context.js';

export interface DestroyOptions {
  /** Keep the work directory (logs) even when the lab created it. Default false. */
  keepWorkDir?: boolean;
}

const LAB_MODULE_DIR = path.dirname(fileURLToPath(import.meta.url));
/** This file is <build>/loadtest/lab/lab.js; the CLI of the same build is <build>/src/main/cli.js. */
const DEFAULT_KUBELINK_ENTRY = path.resolve(LAB_MODULE_DIR, '../../src/main/cli.js');
const ECHO_SERVER_SCRIPT = path.join(LAB_MODULE_DIR, 'echo-server.js');
const HTTP_PROBE_SCRIPT = path.join(LAB_MODULE_DIR, 'http-probe.js');
/** The test API server of the same build. */
const API_SERVER_ENTRY = path.resolve(LAB_MODULE_DIR, '../../apiserver/cli.js');
const DEFAULT_WAIT: Required<WaitOptions> = { timeoutMs: 20_000, intervalMs: 200 };

/** Where a lab keeps logs, certificates and manifests unless told otherwise (removed by destroy). */
export function defaultLabWorkDir(prefix: string): string {
  return path.join(os.tmpdir(), `kubelink-lab-${prefix}`);
}

export class Lab implements LabContext {
  readonly prefix: string;
  readonly topology: LabTopology;
  readonly workDir: string;
  readonly log: Logger;
  readonly nodeBinary: string;
  readonly kubelinkEntry: string;
  /** The lab made workDir (and removes it); taken from the record for an attached lab. */
  private ownsWorkDir: boolean;
  private readonly options: Required<Pick<LabOptions, 'staticRoutes' | 'rpFilter' | 'startEchoServices' | 'detachProcesses'>>;
  private readonly processes = new Set<LabProcess>();
  /** `iperf3 -s` in the echo pods, by `<cluster index>:<port>`. */
  private readonly iperfServers = new Map<string, LabProcess>();
  private spawnCount = 0;
  private state: 'new' | 'creating' | 'up' | 'destroyed' = 'new';

  constructor(options: LabOptions) {
    this.prefix = options.prefix ?? `kl${randomBytes(2).toString('hex')}`;
    if (options.sameServiceCidr && (options.staticRoutes ?? true)) throw new RangeError('sameServiceCidr needs staticRoutes: false');
    this.topology = describeTopology(this.prefix, options.clusters, { sameServiceCidr: options.sameServiceCidr });
    this.ownsWorkDir = options.workDir === undefined;
    this.workDir = options.workDir ?? defaultLabWorkDir(this.prefix);
    this.log = (options.log ?? silentLogger).child({ lab: this.prefix });
    this.nodeBinary = options.nodeBinary ?? process.execPath;
    this.kubelinkEntry = options.kubelinkEntry ?? DEFAULT_KUBELINK_ENTRY;
    this.options = {
      staticRoutes: options.staticRoutes ?? true,
      rpFilter: options.rpFilter ?? 0,
      startEchoServices: options.startEchoServices ?? true,
      detachProcesses: options.detachProcesses ?? false,
    };
  }

  /**
   * A Lab object for a lab that another process built (e.g. `kubelink-lab up`), found by its
   * state record: it can run commands, spawn processes and destroy the lab. Its processes
   * started before are not in `runningProcesses()`; the state dir's pid records name them.
   */
  static async attach(prefix: string, options: Omit<LabOptions, 'prefix' | 'clusters' | 'workDir'> = {}): Promise<Lab> {
    const record = await readLabRecord(prefix);
    if (!record) throw new Error(`no lab with prefix ${prefix} (no state in ${stateDirOf(prefix)})`);
    const same = record.sameServiceCidr ? { sameServiceCidr: true, staticRoutes: false } : {};
    const lab = new Lab({ ...options, ...same, prefix, clusters: record.clusters, workDir: record.workDir });
    lab.ownsWorkDir = record.ownsWorkDir;
    lab.state = 'up';
    return lab;
  }

  /** All clusters, index order. */
  get clusters(): readonly LabCluster[] {
    return this.topology.clusters;
  }

  /** Cluster `index` (1-based). */
  cluster(index: number): LabCluster {
    const cluster = this.topology.clusters[index - 1];
    if (!cluster) throw new RangeError(`lab ${this.prefix} has clusters 1..${this.topology.clusters.length}, not ${index}`);
    return cluster;
  }

  /** True once destroy() ran. */
  isDestroyed(): boolean {
    return this.state === 'destroyed';
  }

  /** Every namespace the lab makes. */
  namespaces(): string[] {
    return allNamespaces(this.topology);
  }

  /** Directory for logs of processes the lab starts. */
  get logDir(): string {
    return path.join(this.workDir, 'logs');
  }

  /**
   * Builds namespaces, networking and the echo services. On failure everything built so
   * far is removed again and the error is rethrown.
   */
  async create(): Promise<void> {
    if (this.state !== 'new') throw new Error(`lab ${this.prefix}: create() called in state ${this.state}`);
    await assertPrerequisites();
    const clashing = (await listNamespaces()).filter((ns) => namespaceBelongsTo(this.prefix, ns));
    if (clashing.length > 0) {
      throw new Error(`lab ${this.prefix}: namespaces with this prefix exist already (${clashing.join(', ')}); run Lab.destroyByPrefix('${this.prefix}') first`);
    }
    this.state = 'creating';
    const started = Date.now();
    this.log.info('lab: creating', { clusters: this.topology.clusters.length, workDir: this.workDir });
    try {
      await mkdir(this.logDir, { recursive: true });
      await writeLabRecord({
        prefix: this.prefix,
        clusters: this.topology.clusters.length,
        ...(this.topology.sameServiceCidr ? { sameServiceCidr: true } : {}),
        namespaces: this.namespaces(),
        workDir: this.workDir,
        ownsWorkDir: this.ownsWorkDir,
        createdAt: new Date().toISOString(),
        ownerPid: process.pid,
      });
      await buildLabNetwork(this.topology, { ...this.options, log: this.log });
      if (this.options.startEchoServices) await this.startEchoServices();
    } catch (error) {
      this.log.error('lab: create failed, removing what was built', { error });
      await this.destroy({ keepWorkDir: true }).catch((cleanupError: unknown) =>
        this.log.error('lab: cleanup after failed create failed', { error: cleanupError }),
      );
      throw new Error(`lab ${this.prefix}: create failed`, { cause: error });
    }
    this.state = 'up';
    this.log.info('lab: up', { ms: Date.now() - started });
  }

  private async startEchoServices(): Promise<void> {
    this.log.info('lab: starting echo services');
    await Promise.all(
      this.topology.clusters.map(async (c) => {
        const echo = c.pods.echo;
        await this.spawn(echo.ns, [this.nodeBinary, ECHO_SERVER_SCRIPT, '--cluster', c.name, '--port', String(c.echoHttpPort)]);
        await this.waitForListening(echo.ns, c.echoHttpPort);
        await this.startIperfServer(c);
      }),
    );
  }

  private async startIperfServer(cluster: LabCluster, port = cluster.iperfPort): Promise<void> {
    const echo = cluster.pods.echo;
    this.iperfServers.set(`${cluster.index}:${port}`, await this.spawn(echo.ns, ['iperf3', '-s', '-p', String(port)]));
    await this.waitForListening(echo.ns, port);
  }

  /**
   * Replaces cluster `index`'s `iperf3 -s` on `port` (default the lab's iperf port). An
   * iperf3 server whose client vanished mid-test answers "busy" until its receive timeout
   * (120 s); a fresh one is faster.
   */
  async restartIperfServer(index: number, port = this.cluster(index).iperfPort): Promise<void> {
    const cluster = this.cluster(index);
    this.log.debug('lab: restarting iperf3 server', { cluster: cluster.name, port });
    await this.iperfServers.get(`${index}:${port}`)?.stop(2000);
    await this.startIperfServer(cluster, port);
  }

  /**
   * Makes sure `iperf3 -s` listens on `ports` in cluster `index`'s echo pod (one server
   * per concurrent client: iperf3 serves one test at a time). The service IP reaches every port.
   */
  async ensureIperfServers(index: number, ports: readonly number[]): Promise<void> {
    const cluster = this.cluster(index);
    for (const port of ports) {
      if (this.iperfServers.get(`${index}:${port}`)?.running()) continue;
      await this.startIperfServer(cluster, port);
    }
  }

  /** Stops the `iperf3 -s` this Lab object started on `ports` in cluster `index`. */
  async stopIperfServers(index: number, ports: readonly number[]): Promise<void> {
    await Promise.all(
      ports.map(async (port) => {
        const key = `${index}:${port}`;
        await this.iperfServers.get(key)?.stop(2000);
        this.iperfServers.delete(key);
      }),
    );
  }

  /**
   * Starts cluster `index`'s API server in its control-plane namespace and waits until it
   * serves and its kubeconfig is written. Objects persist in a data file across restarts.
   */
  async startApiServer(index: number, wait: WaitOptions = {}): Promise<LabApiServer> {
    const cluster = this.cluster(index);
    const files = apiServerFiles(this.workDir, cluster);
    await mkdir(path.dirname(files.kubeconfig), { recursive: true });
    const proc = await this.spawn(cluster.controlPlane.ns, apiServerArgs(this.nodeBinary, API_SERVER_ENTRY, cluster, files), { logFile: files.logFile });
    await this.retry(`API server of ${cluster.name}`, { timeoutMs: 15_000, ...wait }, async () => {
      if (!proc.running()) throw new Error(`the API server exited, see ${files.logFile}`);
      await this.waitForListening(cluster.controlPlane.ns, cluster.controlPlane.port, { timeoutMs: 100 });
      if (!kubeconfigWritten(files)) throw new Error('no kubeconfig yet');
    });
    return { process: proc, files, url: cluster.controlPlane.url };
  }

  /** Runs the real `kubectl <args>` against cluster `index`'s API server. */
  kubectl(index: number, args: readonly string[], options?: CommandOptions): Promise<CommandResult> {
    return runCommand(kubectlArgv(this.workDir, this.cluster(index), args), options);
  }

  /** Runs `argv` to completion inside `ns`; rejects with the command's stderr on failure. */
  exec(ns: string, argv: readonly string[], options?: CommandOptions): Promise<CommandResult> {
    return runInNamespace(ns, argv, options);
  }

  /**
   * Starts a long-running process in `ns`. Its pid is recorded in the lab's state dir so
   * `destroy`/`destroyByPrefix` stop it even after a crash of this process.
   */
  async spawn(ns: string, argv: readonly string[], options: SpawnOptions = {}): Promise<LabProcess> {
    if (this.state !== 'creating' && this.state !== 'up') throw new Error(`lab ${this.prefix}: spawn() needs a created lab (state ${this.state})`);
    const program = path.basename(argv[0] ?? 'process');
    const logFile = options.logFile ?? path.join(this.logDir, `${ns}.${program}.${++this.spawnCount}.log`);
    await mkdir(path.dirname(logFile), { recursive: true });
    this.log.debug('lab: spawn', { ns, argv, logFile });
    const child = await spawnInNamespace({
      prefix: this.prefix,
      ns,
      argv,
      logFile,
      env: options.env,
      detached: this.options.detachProcesses,
      onExit: (exit) => {
        this.processes.delete(child);
        this.log.debug('lab: process exited', { ns, pid: child.pid, program, ...exit });
      },
    });
    this.processes.add(child);
    return child;
  }

  /** Processes started through `spawn` that still run. */
  runningProcesses(): LabProcess[] {
    return [...this.processes];
  }

  /** Polls until something listens on TCP `port` in `ns`. */
  async waitForListening(ns: string, port: number, wait: WaitOptions = {}): Promise<void> {
    await this.retry(`TCP port ${port} listening in ${ns}`, wait, async () => {
      const { stdout } = await this.exec(ns, ['ss', '-Htln', `sport = :${port}`]);
      if (stdout.trim() === '') throw new Error('nothing listens yet');
    });
  }

  /** One HTTP GET from inside `ns`; resolves with the body of a 2xx answer. */
  async httpGet(ns: string, url: string, timeoutMs = 3000): Promise<string> {
    const { stdout } = await this.exec(ns, [this.nodeBinary, HTTP_PROBE_SCRIPT, url, String(timeoutMs)], { timeoutMs: timeoutMs + 5000 });
    return stdout;
  }

  /** Asks the echo service at `ip` (a service or pod IP) from `pod`; resolves with its reply. */
  async requestEcho(pod: LabPod, ip: string, timeoutMs = 3000): Promise<EchoReply> {
    const body = await this.httpGet(pod.ns, `http://${ip}/`, timeoutMs);
    return JSON.parse(body) as EchoReply;
  }

  /** Retries `requestEcho` until cluster `expectCluster` answers (e.g. until a tunnel is up). */
  async waitForEcho(pod: LabPod, ip: string, expectCluster: string, wait: WaitOptions = {}): Promise<EchoReply> {
    return this.retry(`echo from ${expectCluster} via ${ip} (from ${pod.ns})`, wait, async () => {
      const reply = await this.requestEcho(pod, ip, Math.min(3000, wait.timeoutMs ?? DEFAULT_WAIT.timeoutMs));
      if (reply.cluster !== expectCluster) throw new Error(`answered by ${reply.cluster}, expected ${expectCluster}`);
      return reply;
    });
  }

  /** Calls `attempt` until it resolves or the timeout passes; the error names `what` and the last failure. */
  async retry<T>(what: string, wait: WaitOptions, attempt: () => Promise<T>): Promise<T> {
    const { timeoutMs, intervalMs } = { ...DEFAULT_WAIT, ...wait };
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        if (Date.now() + intervalMs > deadline) throw new Error(`lab ${this.prefix}: gave up waiting for ${what} after ${timeoutMs} ms`, { cause: error });
      }
      await sleep(intervalMs);
    }
  }

  /** The argv of cluster `index`'s broker (node + entry + flags), to spawn in its gateway namespace. */
  kubelinkBrokerArgs(index: number, options: BrokerArgsOptions): string[] {
    return brokerArgs(this.nodeBinary, this.kubelinkEntry, this.cluster(index), options);
  }

  /** Writes KubeLink manifests for every other cluster (full mesh) into `dir`; returns the files. */
  writeLinks(index: number, dir: string): Promise<string[]> {
    return writeLabLinks(this.topology, this.cluster(index), dir);
  }

  /** Issues a lab CA and one certificate per broker (CN = SAN = endpoint host) into `dir`. */
  writeCertificates(dir: string, options?: CertificateWriteOptions): Promise<LabCertificateFiles> {
    return writeLabCertificates(this.topology, dir, options);
  }

  /** The raw path (no tunnel) between `clusters` (default all): the baseline. */
  rawPath(clusters?: readonly LabCluster[]): RawPath {
    return new RawPath(this, clusters);
  }

  /** An OpenVPN TCP tunnel between clusters `serverIndex` (listens) and `clientIndex`. */
  openVpnPath(serverIndex: number, clientIndex: number, options?: OpenVpnOptions): OpenVpnPath {
    return new OpenVpnPath(this, this.cluster(serverIndex), this.cluster(clientIndex), options);
  }

  /** kubelink brokers in the gateways of `options.clusters` (default all), full mesh. */
  kubelinkPath(options: KubelinkPathOptions): KubelinkPath {
    return new KubelinkPath(this, options);
  }

  /** kubelink as deployed on Kubernetes: API server, broker and router per cluster, KubeLinks via kubectl. */
  kubelinkKubernetesPath(options: KubelinkKubernetesPathOptions): KubelinkKubernetesPath {
    return new KubelinkKubernetesPath(this, options);
  }

  /** Stops every process and removes every namespace, /etc/netns dir and (if the lab made it) the work dir. */
  async destroy(options: DestroyOptions = {}): Promise<void> {
    this.log.info('lab: destroying');
    await Promise.all([...this.processes].map((p) => p.stop(2000)));
    await destroyLabByPrefix(this.prefix, this.log, { keepWorkDir: options.keepWorkDir });
    this.state = 'destroyed';
  }

  /** Removes the lab with `prefix` from any state (after a crash, too). */
  static destroyByPrefix(prefix: string, log: Logger = silentLogger): Promise<void> {
    return destroyLabByPrefix(prefix, log);
  }

  /** Removes every lab that has a state dir under /run/kubelink-lab; returns their prefixes. */
  static destroyAll(log: Logger = silentLogger): Promise<string[]> {
    return destroyAllLabs(log);
  }
}
