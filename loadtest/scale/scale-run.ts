// The scale lab's measuring side. It runs INSIDE the broker's namespace (scale-lab.ts
// starts it with `ip netns exec`), so the broker's /metrics, its routes (rtnetlink) and
// ping through its TUN are all local; the peer simulator runs in the peers' namespace.
// Prints progress on stderr and the ScaleReport as the last line of stdout.
//
//   node dist/loadtest/scale/scale-run.js OPTIONS.json
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createCa, issueCertificate } from '../../src/main/certs/pki.js';
import { GatewayNet, deviceRoutes } from '../../src/main/net/gateway-net.js';
import { NetlinkRouteBatcher } from '../../src/main/net/route-batcher.js';
import { parsePrefix } from '../../src/shared/cidr.js';
import { stringify } from 'yaml';
import { runCommand } from '../lab/command.js';
import { parsePingOutput, percentile } from '../lab/ping.js';
import { metricSum, metricValue } from '../lab/broker-metrics.js';
import { clockTicks, cpuSeconds } from '../tool/process-cpu.js';
import { kubeLinkOf, kubeLinksYaml, scaleBrokerArgs, scalePeers, PEER_PORT, type ScalePeer } from './scale-plan.js';
import type { SimulatorConfig } from './peer-simulator.js';
import type { ScaleReport, ScaleRunOptions } from './scale-report.js';

const BROKER_ROUTE_PROTOCOL = 211;
/** A protocol no controller uses: the route-batch measurement's scratch routes. */
const SCRATCH_ROUTE_PROTOCOL = 250;
const POLL_MS = 100;

const here = path.dirname(new URL(import.meta.url).pathname);
const repoDist = path.resolve(here, '../..');
const kubelinkEntry = path.join(repoDist, 'src/main/cli.js');
const simulatorEntry = path.join(here, 'peer-simulator.js');
const apiServerEntry = path.join(repoDist, 'apiserver/cli.js');

function say(message: string): void {
  process.stderr.write(`scale: ${message}\n`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true; resolves with the ms it took, or throws after `timeoutMs`. */
async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean, from = Date.now()): Promise<number> {
  for (;;) {
    if (await check()) return Date.now() - from;
    if (Date.now() - from > timeoutMs) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await sleep(POLL_MS);
  }
}

/** The broker process and what the lab reads from it. */
class Broker {
  readonly exited: Promise<unknown>;
  constructor(readonly child: ChildProcess, readonly logFile: string) {
    this.exited = once(child, 'exit');
  }
  get pid(): number {
    return this.child.pid!;
  }
  async metrics(): Promise<string> {
    if (this.child.exitCode !== null) throw new Error(`the broker exited (code ${this.child.exitCode}), see ${this.logFile}`);
    try {
      return await (await fetch('http://127.0.0.1:8080/metrics')).text();
    } catch {
      return ''; // not listening yet
    }
  }
  async ready(): Promise<boolean> {
    if (this.child.exitCode !== null) throw new Error(`the broker exited (code ${this.child.exitCode}), see ${this.logFile}`);
    try {
      return (await fetch('http://127.0.0.1:8080/readyz')).status === 200;
    } catch {
      return false;
    }
  }
  async status(): Promise<{ rssBytes: number; threads: number; fds: number }> {
    const text = await readFile(`/proc/${this.pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    return { rssBytes: field('VmRSS') * 1024, threads: field('Threads'), fds: (await readdir(`/proc/${this.pid}/fd`)).length };
  }
  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
      await this.exited;
      clearTimeout(timer);
    }
  }
}

/** Links whose kubelink_link_up is 1. */
function upLinks(metrics: string): Set<string> {
  const up = new Set<string>();
  for (const m of metrics.matchAll(/^kubelink_link_up\{link="([^"]+)"\} 1$/gm)) up.add(m[1]!);
  return up;
}

/** Links the broker serves (any kubelink_link_up series). */
function servedLinks(metrics: string): Set<string> {
  return new Set([...metrics.matchAll(/^kubelink_link_up\{link="([^"]+)"\}/gm)].map((m) => m[1]!));
}

class ScaleRun {
  private readonly peers: ScalePeer[];
  private readonly routes = new NetlinkRouteBatcher();
  private simulator: ChildProcess | undefined;
  private certs = { cert: '', key: '', ca: '' };
  private readonly report: ScaleReport;

  constructor(private readonly options: ScaleRunOptions) {
    this.peers = scalePeers(options.peers);
    this.report = { peers: options.peers, workers: options.workers, maxDialsInFlight: options.maxDialsInFlight };
  }

  private dir(...parts: string[]): string {
    return path.join(this.options.workDir, ...parts);
  }

  /** The broker's routes into the TUN (its unreachable route for the local service CIDR is not one). */
  async ourRoutes(): Promise<number> {
    return (await this.routes.dumpRoutes(BROKER_ROUTE_PROTOCOL)).filter((r) => r.type === 'unicast').length;
  }

  async prepare(): Promise<void> {
    say(`issuing certificates for the broker and ${this.peers.length} peers`);
    const ca = await createCa({ commonName: 'kubelink scale lab CA', validDays: 2 });
    const broker = await issueCertificate(ca, { commonName: 'broker.scale.lab', dnsNames: ['broker.scale.lab'], validDays: 2 });
    await mkdir(this.dir('pki'), { recursive: true, mode: 0o700 });
    this.certs = { cert: this.dir('pki', 'tls.crt'), key: this.dir('pki', 'tls.key'), ca: this.dir('pki', 'ca.crt') };
    await writeFile(this.certs.cert, broker.certPem);
    await writeFile(this.certs.key, broker.keyPem, { mode: 0o600 });
    await writeFile(this.certs.ca, ca.certPem);
    // Key generation runs on the thread pool: a few at a time.
    const issued: Array<{ certPem: string; keyPem: string }> = [];
    for (let i = 0; i < this.peers.length; i += 8) {
      issued.push(...(await Promise.all(this.peers.slice(i, i + 8).map((p) => issueCertificate(ca, { commonName: p.host, dnsNames: [p.host], validDays: 2 })))));
    }
    const config: SimulatorConfig = {
      caPem: ca.certPem,
      peers: this.peers.map((p, i) => ({
        index: p.index, listenIp: p.listenIp, port: PEER_PORT, certPem: issued[i]!.certPem, keyPem: issued[i]!.keyPem,
        clusterAddress: p.clusterAddress, serviceCidr: p.serviceCidr,
      })),
    };
    await writeFile(this.dir('simulator.json'), JSON.stringify(config), { mode: 0o600 });
  }

  async startSimulator(): Promise<void> {
    say('starting the peer simulator');
    const log = await openLog(this.dir('simulator.log'));
    const child = spawn('ip', ['netns', 'exec', this.options.peersNs, process.execPath, simulatorEntry, this.dir('simulator.json')], { stdio: ['pipe', 'pipe', log] });
    this.simulator = child;
    const lines = createInterface({ input: child.stdout! });
    for await (const line of lines) {
      if (line.includes('"ready"')) break;
    }
    if (child.exitCode !== null) throw new Error(`the peer simulator exited, see ${this.dir('simulator.log')}`);
  }

  private command(line: string): void {
    this.simulator!.stdin!.write(`${line}\n`);
  }

  async startBroker(name: string, source: { linksDir: string } | { kubeconfig: string }, extra: readonly string[] = []): Promise<Broker> {
    const logFile = this.dir(`${name}.log`);
    const log = await openLog(logFile);
    const argv = [kubelinkEntry, ...scaleBrokerArgs(source, this.certs, ['--workers', String(this.options.workers), '--max-dials-in-flight', String(this.options.maxDialsInFlight), '--log-level', this.options.brokerLogLevel, ...extra])];
    return new Broker(spawn(process.execPath, argv, { stdio: ['ignore', log, log] }), logFile);
  }

  async writeLinks(dir: string, peers: readonly ScalePeer[]): Promise<void> {
    await Promise.all(peers.map((p) => writeFile(path.join(dir, `${p.name}.yaml`), stringify(kubeLinkOf(p)))));
  }

  /** Waits until every link in `names` is Up and `routes` routes of ours exist; times from `from`. */
  async converge(broker: Broker, names: readonly string[], routes: number, timeoutMs: number, from: number): Promise<{ upMs: number; routesAtUp: number; routesMs: number }> {
    let routesMs: number | undefined;
    let routesAtUp = 0;
    const upMs = await waitFor(`${names.length} links Up`, timeoutMs, async () => {
      if (routesMs === undefined && (await this.ourRoutes()) === routes) routesMs = Date.now() - from;
      const up = upLinks(await broker.metrics());
      if (!names.every((n) => up.has(n))) return false;
      routesAtUp = await this.ourRoutes();
      return true;
    }, from);
    routesMs ??= await waitFor(`${routes} routes`, timeoutMs, async () => (await this.ourRoutes()) === routes, from);
    return { upMs, routesAtUp, routesMs };
  }

  async filesMode(): Promise<void> {
    const n = this.peers.length;
    const names = this.peers.map((p) => p.name);
    const timeoutMs = this.options.timeoutSec * 1000;
    const linksDir = this.dir('links');
    await rm(linksDir, { recursive: true, force: true });
    await mkdir(linksDir, { recursive: true });

    say(`cold start: broker started with ${n} link files present`);
    await this.writeLinks(linksDir, this.peers);
    let broker = await this.startBroker('broker-cold', { linksDir });
    const cold = await this.converge(broker, names, n, timeoutMs, Date.now());
    this.report.coldStart = { allUpMs: cold.upMs, routesAtAllUp: cold.routesAtUp, allRoutesMs: cold.routesMs, handshakeFailures: metricSum(await broker.metrics(), 'kubelink_handshake_failures_total') };
    await broker.stop();
    await rm(linksDir, { recursive: true, force: true });
    await mkdir(linksDir, { recursive: true });

    say('broker without links: baseline');
    broker = await this.startBroker('broker', { linksDir });
    await waitFor('broker ready', 30_000, () => broker.ready());
    await sleep(2000);
    const base = await broker.status();

    say(`${n} link files written at once`);
    const t0 = Date.now();
    await this.writeLinks(linksDir, this.peers);
    const up = await this.converge(broker, names, n, timeoutMs, t0);
    const failures0 = metricSum(await broker.metrics(), 'kubelink_handshake_failures_total');
    this.report.linksAdded = { allUpMs: up.upMs, routesAtAllUp: up.routesAtUp, allRoutesMs: up.routesMs, handshakeFailures: failures0 };

    await sleep(3000);
    const loaded = await broker.status();
    this.report.resources = {
      baseRssMiB: base.rssBytes / 2 ** 20,
      rssMiB: loaded.rssBytes / 2 ** 20,
      rssPerTunnelMiB: (loaded.rssBytes - base.rssBytes) / n / 2 ** 20,
      baseFds: base.fds,
      fds: loaded.fds,
      fdsPerTunnel: (loaded.fds - base.fds) / n,
      baseThreads: base.threads,
      threads: loaded.threads,
    };

    say(`idle CPU over ${this.options.idleSec} s`);
    const cpu0 = cpuSeconds(broker.pid)!;
    const wall0 = Date.now();
    await sleep(this.options.idleSec * 1000);
    this.report.idleCpuPercent = ((cpuSeconds(broker.pid)! - cpu0) / ((Date.now() - wall0) / 1000)) * 100;

    const kept = this.peers[n - 1]!;
    say(`idle ping to ${kept.pingTarget} (${kept.name})`);
    const idle = await ping(kept.pingTarget, 2);
    this.report.idlePing = idle;
    // Every tunnel answers: one echo through each (a tunnel that is Up must carry traffic).
    const silentTunnels: string[] = [];
    // A loaded machine may be slow once: an unanswered tunnel gets a second, longer try.
    for (const p of this.peers) if ((await ping(p.pingTarget, 1, 1)).lost > 0 && (await ping(p.pingTarget, 3, 1)).lost > 0) silentTunnels.push(p.name);
    this.report.pingEveryTunnel = { tunnels: n, unanswered: silentTunnels };
    await writeFile(this.dir('metrics-all-up.txt'), await broker.metrics());

    say('silent peer p0');
    const silentAt = Date.now();
    this.command('silence 0');
    const detectMs = await waitFor('p0 Down', 60_000, async () => !upLinks(await broker.metrics()).has('p0'), silentAt);
    const othersUp = upLinks(await broker.metrics()).size;
    this.command('resume 0');
    const recoverMs = await waitFor('p0 Up again', 60_000, async () => upLinks(await broker.metrics()).has('p0'), silentAt);
    this.report.silentPeer = { detectMs, othersUpWhileDown: othersUp, backUpMs: recoverMs - detectMs };

    const half = this.peers.slice(0, Math.floor(n / 2));
    say(`churn: removing and re-adding ${half.length} links, pinging ${kept.name} meanwhile`);
    const pinger = startPing(kept.pingTarget);
    const removeAt = Date.now();
    await Promise.all(half.map((p) => rm(path.join(linksDir, `${p.name}.yaml`))));
    const removed = new Set(half.map((p) => p.name));
    const removeMs = await waitFor('half removed', timeoutMs, async () => {
      const served = servedLinks(await broker.metrics());
      return ![...removed].some((name) => served.has(name)) && (await this.ourRoutes()) === n - half.length;
    }, removeAt);
    const failuresBefore = metricSum(await broker.metrics(), 'kubelink_handshake_failures_total');
    const readdAt = Date.now();
    await this.writeLinks(linksDir, half);
    const readd = await this.converge(broker, names, n, timeoutMs, readdAt);
    const failuresAfter = metricSum(await broker.metrics(), 'kubelink_handshake_failures_total');
    await sleep(500);
    const during = await pinger.stop();
    this.report.churn = {
      removed: half.length,
      removeMs,
      readdAllUpMs: readd.upMs,
      readdAllRoutesMs: readd.routesMs,
      readdHandshakeFailures: failuresAfter - failuresBefore,
      pingSent: during.sent,
      pingLost: during.sent - during.rttsMs.length,
      pingMaxMs: Math.max(0, ...during.rttsMs),
      pingP99Ms: percentile(during.rttsMs, 99) ?? 0,
    };
    this.report.peakDialsInFlight = metricValue(await broker.metrics(), 'kubelink_dials_in_flight_peak');
    if (n >= 4) await this.routeGate(broker, linksDir);
    await broker.stop();
    await this.measureRouteBatch();
  }

  /**
   * Up means traffic flows: p1's link comes back while a foreign route holds its service
   * CIDR, so its route cannot be installed. Its tunnel comes up (keepalives, RTT), its
   * status must stay non-Up until the foreign route is removed by hand and the next
   * periodic reconcile installs ours. Then p2's route is deleted by hand and must come back.
   */
  async routeGate(broker: Broker, linksDir: string): Promise<void> {
    const gated = this.peers[1]!;
    const victim = this.peers[2]!;
    const n = this.peers.length;
    say(`route gate: ${gated.name} re-added while a foreign route holds ${gated.serviceCidr}`);
    await rm(path.join(linksDir, `${gated.name}.yaml`));
    await waitFor(`${gated.name} removed`, 60_000, async () => !servedLinks(await broker.metrics()).has(gated.name) && (await this.ourRoutes()) === n - 1);
    await runCommand(['ip', 'route', 'add', gated.serviceCidr, 'dev', 'eth0', 'proto', 'static']);
    try {
      await this.writeLinks(linksDir, [gated]);
      const rtt = new RegExp(`^kubelink_tunnel_rtt_seconds\\{link="${gated.name}"\\} `, 'm');
      await waitFor(`${gated.name} tunnel carrying keepalives`, 60_000, async () => rtt.test(await broker.metrics()));
      // Watch it for a few keepalive rounds: Up must not appear while the route is missing.
      let upWhileUnrouted = false;
      const watchUntil = Date.now() + 3000;
      while (Date.now() < watchUntil) {
        if (upLinks(await broker.metrics()).has(gated.name)) upWhileUnrouted = true;
        await sleep(POLL_MS);
      }
      const freedAt = Date.now();
      await runCommand(['ip', 'route', 'del', gated.serviceCidr, 'dev', 'eth0', 'proto', 'static']);
      const upAfterFreedMs = await waitFor(`${gated.name} Up after its route is installed`, 60_000, async () => upLinks(await broker.metrics()).has(gated.name), freedAt);
      say(`route gate: ${victim.name}'s route deleted by hand`);
      const deletedAt = Date.now();
      await runCommand(['ip', 'route', 'del', victim.serviceCidr, 'proto', String(BROKER_ROUTE_PROTOCOL)]);
      const backMs = await waitFor(`${victim.name}'s route back`, 60_000, async () => (await this.routes.dumpRoutes(BROKER_ROUTE_PROTOCOL)).some((r) => r.destination.network === parsePrefixOrThrow(victim.serviceCidr).network), deletedAt);
      this.report.routeGate = { tunnelCarriedKeepalives: true, upWhileUnrouted, upAfterRouteFreedMs: upAfterFreedMs, deletedRouteBackMs: backMs };
    } finally {
      await runCommand(['ip', 'route', 'del', gated.serviceCidr, 'dev', 'eth0', 'proto', 'static']).catch(() => undefined);
    }
  }

  /** One reconcile of N routes through GatewayNet (dump, diff, one batch), add and remove, in scratch protocol 250. */
  async measureRouteBatch(): Promise<void> {
    const net = new GatewayNet();
    const cidrs = this.peers.map((p) => parsePrefixOrThrow(p.serviceCidr.replace('100.80.', '100.90.')));
    try {
      let t = performance.now();
      const added = await net.reconcileRoutes(deviceRoutes('eth0', cidrs), { protocol: SCRATCH_ROUTE_PROTOCOL });
      const addMs = performance.now() - t;
      t = performance.now();
      const removed = await net.reconcileRoutes([], { protocol: SCRATCH_ROUTE_PROTOCOL });
      const removeMs = performance.now() - t;
      this.report.routeReconcile = { routes: cidrs.length, addMs, removeMs, failed: added.failed.length + removed.failed.length };
    } finally {
      net.close();
    }
  }

  async apiMode(): Promise<void> {
    const n = this.peers.length;
    const timeoutMs = this.options.timeoutSec * 1000;
    const kubeconfig = this.dir('api', 'kubeconfig');
    await mkdir(this.dir('api'), { recursive: true });
    say('API mode: test API server and broker with --kubeconfig');
    const apiLog = await openLog(this.dir('apiserver.log'));
    const api = spawn(process.execPath, [apiServerEntry, '--listen', '127.0.0.1:6443', '--kubeconfig-out', kubeconfig], { stdio: ['ignore', apiLog, apiLog] });
    try {
      await waitFor('API server kubeconfig', 30_000, async () => (await readFile(kubeconfig, 'utf8').catch(() => '')) !== '');
      const broker = await this.startBroker('broker-api', { kubeconfig });
      try {
        await waitFor('broker leading', 60_000, () => broker.ready());
        const kubectl = (args: string[], input?: string) => runCommand(['kubectl', '--kubeconfig', kubeconfig, '--cache-dir', this.dir('api', 'cache'), ...args], { input, timeoutMs: 120_000 });
        const t0 = Date.now();
        await kubectl(['apply', '-f', '-'], kubeLinksYaml(this.peers));
        const applyMs = Date.now() - t0;
        let routesMs: number | undefined;
        const upMs = await waitFor('every KubeLink status Up', timeoutMs, async () => {
          if (routesMs === undefined && (await this.ourRoutes()) === n) routesMs = Date.now() - t0;
          const list = JSON.parse((await kubectl(['get', 'kubelinks', '-o', 'json'])).stdout) as { items: Array<{ status?: { state?: string } }> };
          return list.items.length === n && list.items.every((i) => i.status?.state === 'Up');
        }, t0);
        const routesAtUp = await this.ourRoutes();
        routesMs ??= await waitFor(`${n} routes`, timeoutMs, async () => (await this.ourRoutes()) === n, t0);
        this.report.apiMode = { applyMs, allStatusUpMs: upMs, routesAtAllUp: routesAtUp, allRoutesMs: routesMs, handshakeFailures: metricSum(await broker.metrics(), 'kubelink_handshake_failures_total') };
      } finally {
        await broker.stop();
      }
    } finally {
      api.kill('SIGTERM');
      await once(api, 'exit');
    }
  }

  async run(): Promise<ScaleReport> {
    try {
      await this.prepare();
      await this.startSimulator();
      if (this.options.mode !== 'api') await this.filesMode();
      if (this.options.mode !== 'files') await this.apiMode();
      return this.report;
    } finally {
      this.routes.close();
      if (this.simulator && this.simulator.exitCode === null) {
        this.command('exit');
        const timer = setTimeout(() => this.simulator?.kill('SIGKILL'), 5000);
        await once(this.simulator, 'exit');
        clearTimeout(timer);
      }
    }
  }
}

function parsePrefixOrThrow(text: string) {
  const parsed = parsePrefix(text);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
}

async function openLog(file: string): Promise<number> {
  const { openSync } = await import('node:fs');
  return openSync(file, 'a');
}

/** `ping` for `seconds` at 20 ms intervals; lost replies are a result. */
async function ping(target: string, seconds: number, count?: number): Promise<{ sent: number; lost: number; medianMs: number; maxMs: number }> {
  const { stdout } = await runCommand(['ping', '-n', '-i', '0.02', '-w', String(seconds), '-W', '1', ...(count === undefined ? [] : ['-c', String(count)]), target]).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  const result = parsePingOutput(stdout);
  return { sent: result.sent, lost: result.sent - result.rttsMs.length, medianMs: percentile(result.rttsMs, 50) ?? 0, maxMs: Math.max(0, ...result.rttsMs) };
}

/** A ping running until stopped (SIGINT makes ping print its summary). */
function startPing(target: string): { stop(): Promise<ReturnType<typeof parsePingOutput>> } {
  const child = spawn('ping', ['-n', '-i', '0.02', '-W', '1', target], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return {
    async stop() {
      child.kill('SIGINT');
      await once(child, 'exit');
      return parsePingOutput(out);
    },
  };
}

async function main(file: string): Promise<void> {
  const options = JSON.parse(await readFile(file, 'utf8')) as ScaleRunOptions;
  const report = await new ScaleRun(options).run();
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

if (process.argv[1]?.endsWith('scale-run.js')) {
  main(process.argv[2] ?? '').then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`scale: failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
