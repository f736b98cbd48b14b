// The command line: one table of flags that both the parser and `--help` are generated
// from, so the two can never disagree. Parsing is pure (no file system, no network):
// everything that can be checked from the text alone is checked here, and every error
// is one line naming the flag, the value and what was expected.
import os from 'node:os';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import {
  formatIpv4,
  formatPrefix,
  interfaceNetwork,
  parseInterface,
  parseIpv4,
  parsePrefix,
  prefixContains,
  prefixesOverlap,
} from '../shared/cidr.js';
import type { Ipv4Interface } from '../shared/cidr.js';
import type { Ipv4Prefix } from '../shared/types.js';
import { isLogLevel } from '../shared/log.js';
import type { LogLevel } from '../shared/log.js';
import { MAX_HELLO_DOMAIN_BYTES } from '../shared/wire.js';
import { isDnsLabel, isDnsName, normalizeHost, parsePort } from '../shared/host-port.js';
import { DEFAULT_MAX_DIALS_IN_FLIGHT } from './broker/dial-pacer.js';
import { CLUSTER_DNS_OFFSET, DEFAULT_CLUSTER_DOMAIN } from './dns/cluster-dns.js';
// --tunnel-queue's limits are those of the shard tunable maxQueuedBytes.
import { DEFAULT_SHARD_TUNABLES, MAX_QUEUE_DELAY_MS, MAX_TUNNEL_QUEUE_BYTES, MIN_TUNNEL_QUEUE_BYTES } from '../shared/shard-protocol.js';

export type ControllerName = 'broker' | 'router';
export const CONTROLLER_NAMES: readonly ControllerName[] = ['broker', 'router'];
export type SecretManageMode = 'none' | 'self';

/** Upper bound for --workers: more shards than this only adds contention on a gateway. */
export const MAX_WORKERS = 64;
/** IPv4 minimum MTU (RFC 791) and the largest value an interface MTU can take. */
export const MIN_MTU = 576;
export const MAX_MTU = 65535;
/** Linux limits interface names to IFNAMSIZ - 1 = 15 characters. */
const MAX_IFNAME_LENGTH = 15;

export interface Config {
  /** --help was given: print helpText() and exit 0; the other fields are defaults, unvalidated. */
  help: boolean;
  controllers: ControllerName[];
  /** Local cluster address with mesh prefix; required for the broker. */
  linkAddress?: Ipv4Interface;
  /** The mesh CIDR, derived from linkAddress (its network). */
  meshCidr?: Ipv4Prefix;
  serviceCidr?: Ipv4Prefix;
  nodeCidr?: Ipv4Prefix;
  podCidr?: Ipv4Prefix;
  /** This node's IP; when absent the broker looks for a local address inside nodeCidr. */
  nodeIp?: number;
  brokerPort: number;
  /** 0 disables the HTTP server (health, metrics). */
  serverPortHttp: number;
  ifceName: string;
  mtu: number;
  /** TUN with virtio-net header and TSO/checksum offloads (super-packets through the tunnel). */
  tunOffload: boolean;
  /** TLS 1.3 cipher suites of the tunnels, in preference order (OpenSSL names, colon-separated). */
  tlsCiphers: string;
  /** Per tunnel: bytes queued in Node plus unsent in the kernel above which packets are dropped. */
  tunnelQueueBytes: number;
  /** Bytes of each ring between the TUN threads and a shard (power of two). */
  ringBytes: number;
  /** CoDel target for the time outgoing packets wait (ring + socket queue), ms; 0 = off. */
  queueDelayTargetMs: number;
  /** CoDel interval, ms. */
  queueDelayIntervalMs: number;
  certFile?: string;
  keyFile?: string;
  caCertFile?: string;
  crlFile?: string;
  secret?: string;
  secretManageMode: SecretManageMode;
  dnsName?: string;
  servedLinks: 'all' | string[];
  workers: number;
  /** Outbound TLS handshakes the broker runs at once; more dials wait (paced dialing). */
  maxDialsInFlight: number;
  links?: string;
  kubeconfig?: string;
  logLevel: LogLevel;
  leaseName: string;
  namespace: string;
  /** This cluster's name in the mesh: `<x>.<clusterName>.<meshDomain>` resolves locally. */
  clusterName?: string;
  /** The DNS domain of the mesh (no trailing dot), e.g. `kubelink`. */
  meshDomain: string;
  /** UDP and TCP port of the broker's DNS server for the mesh domain; 0 disables it. */
  dnsPort: number;
  /** This cluster's DNS Service IP (inside serviceCidr); absent: serviceCidr base + 10. */
  clusterDnsIp?: number;
  /** This cluster's DNS domain (no trailing dot), e.g. cluster.local. */
  clusterDomain: string;
  /** How often the broker writes RTT and bytes into each KubeLink's status; 0: never. */
  statusStatsIntervalSeconds: number;
}

/** Secret name used by --secret-manage-mode self when --secret is not given. */
export const DEFAULT_SELF_MANAGED_SECRET = 'kubelink-broker';

/** Defaults of every field that has one; --help shows these. */
export const CONFIG_DEFAULTS = {
  brokerPort: 8088,
  serverPortHttp: 8080,
  ifceName: 'kubelink',
  mtu: 1500,
  tunOffload: true,
  // AES-128-GCM first: as secure as TLS 1.3 needs, and the cheapest per byte with AES-NI
  // (bench/RESULTS.md); the others stay for peers that prefer them.
  tlsCiphers: 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256',
  // 1 MiB cost ~1 % of segments retransmitted on one stream with no latency gain this
  // machine could show (bench/RESULTS.md, 2026-11-29): the old 4 MiB stays the default.
  tunnelQueueBytes: 4 * 1024 * 1024,
  ringBytes: 4 * 1024 * 1024,
  queueDelayTargetMs: DEFAULT_SHARD_TUNABLES.queueDelayTargetMs,
  queueDelayIntervalMs: DEFAULT_SHARD_TUNABLES.queueDelayIntervalMs,
  secretManageMode: 'none' as SecretManageMode,
  servedLinks: 'all' as const,
  maxDialsInFlight: DEFAULT_MAX_DIALS_IN_FLIGHT,
  logLevel: 'info' as LogLevel,
  leaseName: 'kubelink-broker',
  namespace: 'kube-system',
  meshDomain: 'kubelink',
  dnsPort: 8053,
  clusterDomain: DEFAULT_CLUSTER_DOMAIN,
  statusStatsIntervalSeconds: 60,
} satisfies Partial<Config>;

export class FlagError extends Error {
  constructor(
    message: string,
    readonly flag?: string,
    readonly value?: string,
  ) {
    super(message);
    this.name = 'FlagError';
  }
}

/** Thrown by a flag's parse function; the parser adds the flag name and the value. */
class ValueError extends Error {
  constructor(
    readonly reason: string,
    readonly expected: string,
  ) {
    super(reason);
  }
}

function flagError(flag: string, value: string | undefined, reason: string, expected?: string): FlagError {
  const shown = value === undefined ? `--${flag}` : `--${flag} ${JSON.stringify(value)}`;
  return new FlagError(`${shown}: ${reason}${expected ? ` (expected ${expected})` : ''}`, flag, value);
}

interface FlagDef {
  name: string;
  /** Shown in help after the flag; absent for boolean flags. */
  valueName?: string;
  /** Default as shown in help; absent when the flag has none. */
  defaultText?: string;
  description: string;
  /** Parses the raw value into the config; throws ValueError. */
  apply?: (raw: string, config: Config) => void;
}

function prefixFlag(expected: string): (raw: string) => Ipv4Prefix {
  return (raw) => {
    const parsed = parsePrefix(raw);
    if (!parsed.ok) throw new ValueError(parsed.reason, expected);
    return parsed.value;
  };
}

function portFlag(min: number): (raw: string) => number {
  return (raw) => {
    const port = parsePort(raw, min);
    if (port === undefined) throw new ValueError('is not a port number', `an integer ${min}..65535`);
    return port;
  };
}

function integerFlag(min: number, max: number): (raw: string) => number {
  return (raw) => {
    if (!/^\d+$/.test(raw)) throw new ValueError('is not an integer', `an integer ${min}..${max}`);
    const value = Number(raw);
    if (value < min || value > max) throw new ValueError('is out of range', `an integer ${min}..${max}`);
    return value;
  };
}

/** Smallest --ring-bytes: two of the largest ring records (64 KiB super-packets) must fit. */
export const MIN_RING_BYTES = 256 * 1024;
export const MAX_RING_BYTES = 256 * 1024 * 1024;

/** TLS 1.3 suites this Node's OpenSSL offers (tls.getCiphers lists them in lower case). */
function tls13CipherList(raw: string): string {
  const known = tls.getCiphers().filter((c) => c.startsWith('tls_')).map((c) => c.toUpperCase());
  const names = raw.split(':').map((n) => n.trim());
  const unknown = names.filter((n) => !known.includes(n.toUpperCase()));
  if (names.length === 0 || unknown.length > 0) {
    throw new ValueError(`names no TLS 1.3 cipher suite this OpenSSL knows: ${unknown.map((n) => JSON.stringify(n)).join(', ')}`, `a colon list of ${known.join(', ')}`);
  }
  return names.map((n) => n.toUpperCase()).join(':');
}

function nonEmpty(expected: string): (raw: string) => string {
  return (raw) => {
    if (raw.trim() === '') throw new ValueError('is empty', expected);
    return raw;
  };
}

const K8S_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
function k8sName(raw: string): string {
  if (!K8S_NAME.test(raw) || raw.length > 253) {
    throw new ValueError('is not a valid Kubernetes object name', 'lower-case letters, digits, "-" and "."');
  }
  return raw;
}

function parseControllers(raw: string): ControllerName[] {
  const expected = 'a comma list of broker|router';
  const names = raw.split(',').map((s) => s.trim());
  const out: ControllerName[] = [];
  for (const name of names) {
    if (!(CONTROLLER_NAMES as readonly string[]).includes(name)) {
      throw new ValueError(name === '' ? 'has an empty entry' : `has unknown controller "${name}"`, expected);
    }
    if (!out.includes(name as ControllerName)) out.push(name as ControllerName);
  }
  return out;
}

function parseServedLinks(raw: string): 'all' | string[] {
  if (raw.trim() === 'all') return 'all';
  const names = raw.split(',').map((s) => s.trim());
  for (const name of names) {
    if (!K8S_NAME.test(name)) {
      throw new ValueError(name === '' ? 'has an empty entry' : `has invalid link name "${name}"`, '"all" or a comma list of KubeLink names');
    }
  }
  return [...new Set(names)];
}

/**
 * Every flag, in help order. `apply` is the one place a flag's value is parsed;
 * help text, defaults and the parseArgs option table are all derived from this.
 */
const FLAGS: readonly FlagDef[] = [
  {
    name: 'controllers', valueName: 'LIST', description: 'controllers to run: comma list of broker|router (required)',
    apply: (raw, c) => { c.controllers = parseControllers(raw); },
  },
  {
    name: 'link-address', valueName: 'IP/LEN', description: 'cluster address with mesh prefix, e.g. 192.168.0.11/24 (required for broker)',
    apply: (raw, c) => {
      const parsed = parseInterface(raw);
      if (!parsed.ok) throw new ValueError(parsed.reason, 'a cluster address with mesh prefix, e.g. 192.168.0.11/24');
      c.linkAddress = parsed.value;
      c.meshCidr = interfaceNetwork(parsed.value);
    },
  },
  {
    name: 'service-cidr', valueName: 'CIDR', description: 'local service (ClusterIP) network, e.g. 100.64.0.0/20 (required for broker)',
    apply: (raw, c) => { c.serviceCidr = prefixFlag('a network CIDR, e.g. 100.64.0.0/20')(raw); },
  },
  {
    name: 'node-cidr', valueName: 'CIDR', description: 'node network; the broker reports its address in it as status.gateway',
    apply: (raw, c) => { c.nodeCidr = prefixFlag('a network CIDR, e.g. 10.250.0.0/16')(raw); },
  },
  {
    name: 'pod-cidr', valueName: 'CIDR', description: 'pod network (routes into it are never touched)',
    apply: (raw, c) => { c.podCidr = prefixFlag('a network CIDR, e.g. 100.96.0.0/11')(raw); },
  },
  {
    name: 'node-ip', valueName: 'IP', defaultText: 'the local address inside --node-cidr', description: "this node's IP, reported as status.gateway",
    apply: (raw, c) => {
      const ip = parseIpv4(raw);
      if (ip === undefined) throw new ValueError('is not an IPv4 address', 'an IPv4 address, e.g. 10.250.0.2');
      c.nodeIp = ip;
    },
  },
  {
    name: 'broker-port', valueName: 'PORT', defaultText: String(CONFIG_DEFAULTS.brokerPort), description: 'TLS port the broker listens on for peers',
    apply: (raw, c) => { c.brokerPort = portFlag(1)(raw); },
  },
  {
    name: 'server-port-http', valueName: 'PORT', defaultText: String(CONFIG_DEFAULTS.serverPortHttp), description: 'HTTP port for /healthz, /readyz and /metrics; 0 disables it',
    apply: (raw, c) => { c.serverPortHttp = portFlag(0)(raw); },
  },
  {
    name: 'ifce-name', valueName: 'NAME', defaultText: CONFIG_DEFAULTS.ifceName, description: 'name of the TUN device',
    apply: (raw, c) => {
      if (!/^[A-Za-z0-9_.-]+$/.test(raw) || raw.length > MAX_IFNAME_LENGTH || raw === '.' || raw === '..') {
        throw new ValueError('is not a valid interface name', `1..${MAX_IFNAME_LENGTH} characters of letters, digits, "_", "-", "."`);
      }
      c.ifceName = raw;
    },
  },
  {
    name: 'mtu', valueName: 'BYTES', defaultText: String(CONFIG_DEFAULTS.mtu), description: 'MTU of the TUN device',
    apply: (raw, c) => { c.mtu = integerFlag(MIN_MTU, MAX_MTU)(raw); },
  },
  {
    name: 'tun-offload', valueName: 'BOOL', defaultText: String(CONFIG_DEFAULTS.tunOffload),
    description: 'carry TCP super-packets (TSO/GSO, up to 64 KiB) through the tunnels: the TUN gets a virtio-net header and offloads; false for kernels without them',
    apply: (raw, c) => {
      if (raw !== 'true' && raw !== 'false') throw new ValueError('is not a boolean', 'true or false');
      c.tunOffload = raw === 'true';
    },
  },
  {
    name: 'tls-ciphers', valueName: 'LIST', defaultText: CONFIG_DEFAULTS.tlsCiphers,
    description: 'TLS 1.3 cipher suites of the tunnels, colon-separated, most preferred first',
    apply: (raw, c) => { c.tlsCiphers = tls13CipherList(raw); },
  },
  {
    name: 'tunnel-queue', valueName: 'BYTES', defaultText: String(CONFIG_DEFAULTS.tunnelQueueBytes),
    description: 'per tunnel, bytes waiting to be sent (in the broker and unsent in the kernel) above which packets are dropped: bounds the latency a full tunnel adds',
    apply: (raw, c) => { c.tunnelQueueBytes = integerFlag(MIN_TUNNEL_QUEUE_BYTES, MAX_TUNNEL_QUEUE_BYTES)(raw); },
  },
  {
    name: 'queue-delay-target', valueName: 'MS', defaultText: String(CONFIG_DEFAULTS.queueDelayTargetMs),
    description: 'CoDel per tunnel: when outgoing packets wait longer than this (shard ring, socket queue, the path as keepalive probes measure it) for a whole --queue-delay-interval, bulk packets are dropped so the flows back off; 0 = off (measured in bench/RESULTS.md)',
    apply: (raw, c) => { c.queueDelayTargetMs = integerFlag(0, MAX_QUEUE_DELAY_MS)(raw); },
  },
  {
    name: 'queue-delay-interval', valueName: 'MS', defaultText: String(CONFIG_DEFAULTS.queueDelayIntervalMs),
    description: 'CoDel interval: how long the delay may stay above --queue-delay-target before the first drop (about the longest round trip through the tunnel)',
    apply: (raw, c) => { c.queueDelayIntervalMs = integerFlag(1, MAX_QUEUE_DELAY_MS)(raw); },
  },
  {
    name: 'ring-bytes', valueName: 'BYTES', defaultText: String(CONFIG_DEFAULTS.ringBytes),
    description: 'size of each ring between the TUN threads and a worker, a power of two: bounds the packets waiting there',
    apply: (raw, c) => {
      const value = integerFlag(MIN_RING_BYTES, MAX_RING_BYTES)(raw);
      if ((value & (value - 1)) !== 0) throw new ValueError('is not a power of two', `a power of two ${MIN_RING_BYTES}..${MAX_RING_BYTES}`);
      c.ringBytes = value;
    },
  },
  {
    name: 'certfile', valueName: 'PATH', description: 'PEM certificate of this broker (server and client); needs --keyfile and --cacertfile',
    apply: (raw, c) => { c.certFile = nonEmpty('a file path')(raw); },
  },
  {
    name: 'keyfile', valueName: 'PATH', description: 'PEM private key for --certfile',
    apply: (raw, c) => { c.keyFile = nonEmpty('a file path')(raw); },
  },
  {
    name: 'cacertfile', valueName: 'PATH', description: 'PEM CA certificate(s) that peer certificates must chain to',
    apply: (raw, c) => { c.caCertFile = nonEmpty('a file path')(raw); },
  },
  {
    name: 'crl-file', valueName: 'PATH', description: 'PEM CRL(s) of the CA: peers with a revoked certificate are refused and their tunnels closed (reloaded like the certificates; with --secret use its ca.crl)',
    apply: (raw, c) => { c.crlFile = nonEmpty('a file path')(raw); },
  },
  {
    name: 'secret', valueName: 'NAME', description: 'kubernetes.io/tls Secret (tls.crt, tls.key, ca.crt) in --namespace holding the certificates',
    apply: (raw, c) => { c.secret = k8sName(raw); },
  },
  {
    name: 'secret-manage-mode', valueName: 'MODE', defaultText: CONFIG_DEFAULTS.secretManageMode, description: `none, or self: generate a CA and a certificate for --dns-name into --secret (${DEFAULT_SELF_MANAGED_SECRET} if not given)`,
    apply: (raw, c) => {
      if (raw !== 'none' && raw !== 'self') throw new ValueError('is not a known mode', 'none or self');
      c.secretManageMode = raw;
    },
  },
  {
    name: 'dns-name', valueName: 'FQDN', description: "this broker's endpoint host name; required with --secret-manage-mode self",
    apply: (raw, c) => {
      const name = normalizeHost(raw);
      if (!isDnsName(name)) throw new ValueError('is not a DNS name', 'a DNS name, e.g. broker.c1.kubelink.lab');
      c.dnsName = name;
    },
  },
  {
    name: 'served-links', valueName: 'LIST', defaultText: CONFIG_DEFAULTS.servedLinks, description: 'KubeLinks this broker serves: all, or a comma list of names',
    apply: (raw, c) => { c.servedLinks = parseServedLinks(raw); },
  },
  {
    name: 'workers', valueName: 'N', defaultText: 'available parallelism', description: `number of shard worker threads owning the TLS connections (1..${MAX_WORKERS})`,
    apply: (raw, c) => { c.workers = integerFlag(1, MAX_WORKERS)(raw); },
  },
  {
    name: 'max-dials-in-flight', valueName: 'N', defaultText: String(CONFIG_DEFAULTS.maxDialsInFlight),
    description: 'outbound TLS handshakes to peers at once (1..1024); more dials wait their turn, fresh ones spread over 200 ms',
    apply: (raw, c) => { c.maxDialsInFlight = integerFlag(1, 1024)(raw); },
  },
  {
    name: 'status-stats-interval', valueName: 'SECONDS', defaultText: String(CONFIG_DEFAULTS.statusStatsIntervalSeconds),
    description: "how often the broker writes each link's RTT and bytes into its KubeLink status (kubelink status shows them); 0 never",
    apply: (raw, c) => { c.statusStatsIntervalSeconds = integerFlag(0, 86400)(raw); },
  },
  {
    name: 'links', valueName: 'PATH', description: 'read KubeLinks from a YAML file or a directory of them (watched) instead of the Kubernetes API',
    apply: (raw, c) => { c.links = nonEmpty('a file or directory path')(raw); },
  },
  {
    name: 'kubeconfig', valueName: 'PATH', defaultText: 'in-cluster config, else $KUBECONFIG or ~/.kube/config', description: 'kubeconfig of the cluster to watch',
    apply: (raw, c) => { c.kubeconfig = nonEmpty('a file path')(raw); },
  },
  {
    name: 'namespace', valueName: 'NAME', defaultText: `$POD_NAMESPACE or ${CONFIG_DEFAULTS.namespace}`, description: 'namespace of the Secret and the Lease',
    apply: (raw, c) => { c.namespace = k8sName(raw); },
  },
  {
    name: 'lease-name', valueName: 'NAME', defaultText: CONFIG_DEFAULTS.leaseName, description: 'Lease used for leader election among broker replicas',
    apply: (raw, c) => { c.leaseName = k8sName(raw); },
  },
  {
    name: 'cluster-name', valueName: 'NAME', description: "this cluster's name in the mesh: <service>.<namespace>.svc.<NAME>.<mesh-domain> resolves in the local cluster DNS",
    apply: (raw, c) => {
      if (!isDnsLabel(raw)) throw new ValueError('is not a DNS label', '1..63 lower-case letters, digits and "-", e.g. c1');
      c.clusterName = raw;
    },
  },
  {
    name: 'mesh-domain', valueName: 'DOMAIN', defaultText: CONFIG_DEFAULTS.meshDomain, description: 'DNS domain of the mesh: <x>.<cluster>.<DOMAIN> is <x> in the cluster named by that KubeLink',
    apply: (raw, c) => {
      const name = normalizeHost(raw);
      if (!isDnsName(name)) throw new ValueError('is not a DNS name', 'a DNS name, e.g. kubelink or mesh.example.com');
      c.meshDomain = name;
    },
  },
  {
    name: 'cluster-dns-ip', valueName: 'IP', defaultText: `--service-cidr base + ${CLUSTER_DNS_OFFSET}, the kube-dns convention`,
    description: "this cluster's DNS Service IP, inside --service-cidr: announced to the peers, whose queries for this cluster's names reach it through the tunnel, and asked for this cluster's own mesh names",
    apply: (raw, c) => {
      const ip = parseIpv4(raw);
      if (ip === undefined) throw new ValueError('is not an IPv4 address', 'the ClusterIP of the cluster DNS Service, e.g. 100.64.0.10');
      c.clusterDnsIp = ip;
    },
  },
  {
    name: 'cluster-domain', valueName: 'DOMAIN', defaultText: CONFIG_DEFAULTS.clusterDomain,
    description: "this cluster's DNS domain (kubelet's --cluster-domain): announced to the peers, which ask this cluster for <x>.<DOMAIN> when <x>.<cluster-name>.<mesh-domain> is looked up",
    apply: (raw, c) => {
      const name = normalizeHost(raw);
      if (!isDnsName(name)) throw new ValueError('is not a DNS name', 'a DNS name, e.g. cluster.local');
      // The hello's DNS extension has a u8 length: a longer domain could not be announced.
      if (name.length > MAX_HELLO_DOMAIN_BYTES) throw new ValueError(`is longer than ${MAX_HELLO_DOMAIN_BYTES} bytes`, `a DNS name of at most ${MAX_HELLO_DOMAIN_BYTES} bytes`);
      c.clusterDomain = name;
    },
  },
  {
    name: 'dns-port', valueName: 'PORT', defaultText: String(CONFIG_DEFAULTS.dnsPort), description: "UDP and TCP port of the broker's DNS server for the mesh domain, where peers' brokers also ask for this cluster's MeshService names (announced to them in the hello); 0 disables it",
    apply: (raw, c) => { c.dnsPort = portFlag(0)(raw); },
  },
  {
    name: 'log-level', valueName: 'LEVEL', defaultText: CONFIG_DEFAULTS.logLevel, description: 'debug, info, warn or error',
    apply: (raw, c) => {
      if (!isLogLevel(raw)) throw new ValueError('is not a log level', 'debug, info, warn or error');
      c.logLevel = raw;
    },
  },
  { name: 'help', description: 'print this help and exit' },
];

const HELP_USAGE = 'Usage: kubelink --controllers=broker[,router] [flags]\n       kubelink status [--kubeconfig PATH] [--watch] [-o table|json]   (kubelink status --help)';

/** The --help text, generated from the flag table. */
export function helpText(): string {
  const left = FLAGS.map((f) => `--${f.name}${f.valueName ? ` ${f.valueName}` : ''}`);
  const width = Math.max(...left.map((l) => l.length)) + 2;
  const lines = FLAGS.map((f, i) => {
    const def = f.defaultText === undefined ? '' : ` (default: ${f.defaultText})`;
    return `  ${left[i]!.padEnd(width)}${f.description}${def}`;
  });
  return [HELP_USAGE, '', 'Flags (--flag value and --flag=value are both accepted):', ...lines, ''].join('\n');
}

/** Names of all flags, in help order (for documentation checks). */
export function flagNames(): string[] {
  return FLAGS.map((f) => f.name);
}

function defaultConfig(env: NodeJS.ProcessEnv): Config {
  const namespace = env.POD_NAMESPACE && K8S_NAME.test(env.POD_NAMESPACE) ? env.POD_NAMESPACE : CONFIG_DEFAULTS.namespace;
  return {
    help: false,
    controllers: [],
    brokerPort: CONFIG_DEFAULTS.brokerPort,
    serverPortHttp: CONFIG_DEFAULTS.serverPortHttp,
    ifceName: CONFIG_DEFAULTS.ifceName,
    mtu: CONFIG_DEFAULTS.mtu,
    tunOffload: CONFIG_DEFAULTS.tunOffload,
    tlsCiphers: CONFIG_DEFAULTS.tlsCiphers,
    tunnelQueueBytes: CONFIG_DEFAULTS.tunnelQueueBytes,
    ringBytes: CONFIG_DEFAULTS.ringBytes,
    queueDelayTargetMs: CONFIG_DEFAULTS.queueDelayTargetMs,
    queueDelayIntervalMs: CONFIG_DEFAULTS.queueDelayIntervalMs,
    secretManageMode: CONFIG_DEFAULTS.secretManageMode,
    servedLinks: CONFIG_DEFAULTS.servedLinks,
    workers: Math.min(Math.max(1, os.availableParallelism()), MAX_WORKERS),
    maxDialsInFlight: CONFIG_DEFAULTS.maxDialsInFlight,
    logLevel: CONFIG_DEFAULTS.logLevel,
    leaseName: CONFIG_DEFAULTS.leaseName,
    namespace,
    meshDomain: CONFIG_DEFAULTS.meshDomain,
    dnsPort: CONFIG_DEFAULTS.dnsPort,
    clusterDomain: CONFIG_DEFAULTS.clusterDomain,
    statusStatsIntervalSeconds: CONFIG_DEFAULTS.statusStatsIntervalSeconds,
  };
}

/** Turns parseArgs' multi-line messages into one line naming the flag. */
function fromParseArgsError(err: unknown): FlagError {
  const e = err as { code?: string; message?: string };
  const message = (e.message ?? String(err)).split('\n')[0]!;
  const option = /'(-{1,2}[^' ]+)/.exec(message)?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new FlagError(`${option ?? message}: unknown flag (see --help for the list)`, option?.replace(/^-+/, ''));
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL': {
      const arg = /argument '([^']*)'/.exec(message)?.[1] ?? '';
      return new FlagError(`${JSON.stringify(arg)}: unexpected argument (expected only --flag value or --flag=value)`);
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(message)) return new FlagError(`${option}: takes no value`, option?.replace(/^-+/, ''));
      if (/ambiguous/.test(message)) {
        return new FlagError(`${option}: value missing (expected a value; a value starting with "-" must be written ${option}=-VALUE)`, option?.replace(/^-+/, ''));
      }
      return new FlagError(`${option}: value missing (expected ${option}=VALUE or ${option} VALUE)`, option?.replace(/^-+/, ''));
    default:
      return new FlagError(message);
  }
}

/**
 * Parses and validates the command line (without the node and script arguments).
 * Throws FlagError with a one-line message on the first problem found.
 */
export function parseFlags(argv: string[], env: NodeJS.ProcessEnv = process.env): Config {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const f of FLAGS) options[f.name] = f.apply ? { type: 'string' } : { type: 'boolean' };
  options.help!.short = 'h';

  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: false, tokens: true });
  } catch (err) {
    throw fromParseArgsError(err);
  }

  const config = defaultConfig(env);
  if (parsed.values.help) return { ...config, help: true };

  const seen = new Set<string>();
  for (const token of parsed.tokens ?? []) {
    if (token.kind !== 'option') continue;
    if (seen.has(token.name)) throw flagError(token.name, token.value, 'given more than once', 'each flag at most once');
    seen.add(token.name);
    const def = FLAGS.find((f) => f.name === token.name);
    if (!def?.apply || token.value === undefined) continue;
    try {
      def.apply(token.value, config);
    } catch (err) {
      if (err instanceof ValueError) throw flagError(def.name, token.value, err.reason, err.expected);
      throw err;
    }
  }
  validateCombination(config, seen);
  return config;
}

/** Checks between flags, after each flag parsed on its own. */
function validateCombination(c: Config, given: Set<string>): void {
  if (c.controllers.length === 0) {
    throw flagError('controllers', undefined, 'missing', 'a comma list of broker|router, e.g. --controllers=broker');
  }
  const broker = c.controllers.includes('broker');

  if (given.has('certfile') !== given.has('keyfile')) {
    const [present, missing] = given.has('certfile') ? ['certfile', 'keyfile'] : ['keyfile', 'certfile'];
    throw flagError(missing, undefined, `missing, required together with --${present}`, 'a PEM file path');
  }
  if (given.has('cacertfile') && !given.has('certfile')) {
    throw flagError('certfile', undefined, 'missing, required together with --cacertfile', 'a PEM file path');
  }
  if (c.crlFile !== undefined && c.certFile === undefined) {
    throw flagError('crl-file', c.crlFile, 'needs --certfile (with --secret the CRL comes from the Secret\'s ca.crl)', 'certificate files');
  }
  if (c.certFile !== undefined && c.secret !== undefined) {
    throw flagError('secret', c.secret, 'cannot be combined with --certfile', 'either certificate files or a Secret');
  }
  if (c.secretManageMode === 'self') {
    if (c.certFile !== undefined) {
      throw flagError('secret-manage-mode', 'self', 'cannot be combined with --certfile', 'none when certificates come from files');
    }
    if (c.dnsName === undefined) {
      throw flagError('dns-name', undefined, 'missing, required by --secret-manage-mode self', 'the endpoint host name of this broker');
    }
    c.secret ??= DEFAULT_SELF_MANAGED_SECRET;
  }
  if (c.queueDelayTargetMs > c.queueDelayIntervalMs) {
    throw flagError('queue-delay-target', String(c.queueDelayTargetMs), `is longer than --queue-delay-interval (${c.queueDelayIntervalMs})`, `0..${c.queueDelayIntervalMs} ms`);
  }
  validateNetworks(c);

  if (!broker) return;
  if (c.linkAddress === undefined) {
    throw flagError('link-address', undefined, 'missing, required by the broker', 'a cluster address with mesh prefix, e.g. 192.168.0.11/24');
  }
  if (c.serviceCidr === undefined) {
    throw flagError('service-cidr', undefined, 'missing, required by the broker', 'the local service network, e.g. 100.64.0.0/20');
  }
  if (c.certFile === undefined && c.secret === undefined) {
    throw flagError('certfile', undefined, 'missing: the broker needs --certfile/--keyfile/--cacertfile or --secret (or --secret-manage-mode self)', 'certificate files or a Secret name');
  }
  if (c.certFile !== undefined && c.caCertFile === undefined) {
    throw flagError('cacertfile', undefined, 'missing, required by the broker with --certfile to verify peers', 'a PEM CA file path');
  }
}

/** A network-valued flag as it appears in messages: the flag, its text, its prefix. */
interface NetworkFlag {
  flag: string;
  text: string;
  prefix: Ipv4Prefix;
  /** How the prefix is named after the flag's value ("mesh network" for --link-address). */
  what?: string;
}

/**
 * The address plan must be consistent: each pair of the mesh network (from
 * --link-address), the service, node and pod networks, and the node IP is checked, and
 * a contradiction names both flags. Two prefixes either are disjoint or one contains the
 * other; all overlaps are refused except a pod network inside (or equal to) the node
 * network, which is how VPC-style CNIs address pods (from the nodes' subnet). A node
 * network strictly inside the pod network would let pods be given node addresses.
 */
function validateNetworks(c: Config): void {
  const nets: NetworkFlag[] = [];
  if (c.linkAddress !== undefined && c.meshCidr !== undefined) {
    nets.push({ flag: 'link-address', text: `${formatIpv4(c.linkAddress.address)}/${c.linkAddress.prefixLength}`, prefix: c.meshCidr, what: 'mesh network' });
  }
  if (c.serviceCidr !== undefined) nets.push({ flag: 'service-cidr', text: formatPrefix(c.serviceCidr), prefix: c.serviceCidr });
  if (c.nodeCidr !== undefined) nets.push({ flag: 'node-cidr', text: formatPrefix(c.nodeCidr), prefix: c.nodeCidr });
  if (c.podCidr !== undefined) nets.push({ flag: 'pod-cidr', text: formatPrefix(c.podCidr), prefix: c.podCidr });

  for (let i = 0; i < nets.length; i++) {
    for (let j = i + 1; j < nets.length; j++) {
      const [a, b] = [nets[i]!, nets[j]!];
      if (!prefixesOverlap(a.prefix, b.prefix)) continue;
      if (a.flag === 'node-cidr' && b.flag === 'pod-cidr' && b.prefix.prefixLength >= a.prefix.prefixLength) continue;
      const subject = a.what ? `${a.what} ${formatPrefix(a.prefix)} ` : '';
      const relation = a.prefix.prefixLength === b.prefix.prefixLength ? 'is the same network as'
        : a.prefix.prefixLength < b.prefix.prefixLength ? 'contains' : 'lies inside';
      const expected = a.flag === 'node-cidr' && b.flag === 'pod-cidr'
        ? 'a pod network disjoint from the node network or inside it'
        : `--${a.flag} and --${b.flag} to be disjoint networks`;
      throw flagError(a.flag, a.text, `${subject}overlaps --${b.flag} ${b.text} (${relation} it)`, expected);
    }
  }

  if (c.nodeIp !== undefined) {
    const nodeIp = formatIpv4(c.nodeIp);
    if (c.nodeCidr !== undefined && !prefixContains(c.nodeCidr, c.nodeIp)) {
      throw flagError('node-ip', nodeIp, `is outside --node-cidr ${formatPrefix(c.nodeCidr)}`, 'an address inside the node network');
    }
    for (const net of nets) {
      if (net.flag === 'node-cidr' || net.flag === 'pod-cidr' || !prefixContains(net.prefix, c.nodeIp)) continue;
      throw flagError('node-ip', nodeIp, `lies inside --${net.flag} ${net.text}${net.what ? ` (the ${net.what} ${formatPrefix(net.prefix)})` : ''}`, 'an address of the node network, outside the mesh and service networks');
    }
  }
  validateClusterDnsIp(c);
}

/**
 * --cluster-dns-ip must be a Service address of --service-cidr: the peers route only this
 * cluster's service network into their tunnel, and this broker's inbound check admits only
 * destinations in it, so a DNS IP elsewhere (say a node-local cache at 169.254.20.10)
 * could never answer a peer. The network and broadcast addresses are no Service's.
 */
function validateClusterDnsIp(c: Config): void {
  if (c.clusterDnsIp === undefined || c.serviceCidr === undefined) return;
  const ip = formatIpv4(c.clusterDnsIp);
  const cidr = formatPrefix(c.serviceCidr);
  const expected = 'the ClusterIP of the cluster DNS Service, inside --service-cidr';
  if (!prefixContains(c.serviceCidr, c.clusterDnsIp)) {
    throw flagError('cluster-dns-ip', ip, `is outside --service-cidr ${cidr}: peers reach this cluster's DNS only through their route to its service network, and the inbound check admits nothing else`, expected);
  }
  const size = 2 ** (32 - c.serviceCidr.prefixLength);
  const offset = (c.clusterDnsIp - c.serviceCidr.network) >>> 0;
  if (size >= 4 && (offset === 0 || offset === size - 1)) {
    throw flagError('cluster-dns-ip', ip, `is the ${offset === 0 ? 'network' : 'broadcast'} address of --service-cidr ${cidr}, which no Service gets`, expected);
  }
}
