// The lab's cluster DNS, standing in for CoreDNS: run on node 2 of each lab cluster, it is
// what the cluster DNS IP (service CIDR + 10) reaches through the kube-proxy stand-in.
//
//   <svc>.<ns>.svc.<domain>        A  -> the Service's ClusterIP, read from the cluster's
//                                       API server (a headless Service: the addresses of
//                                       its EndpointSlices); unknown -> NXDOMAIN with SOA
//   <x>.kubelink                      -> forwarded to the broker's DNS, answer relayed
//                                       (what the CoreDNS stub domain of k8s/ does)
//   anything else                     -> REFUSED (the lab has no internet)
//
// It reuses kubelink's DNS listener and upstream client; answers larger than the asker's
// UDP size are truncated, as CoreDNS does.
//
//   node cluster-dns-standin.js --kubeconfig F --listen 10.250.0.3 --broker 10.250.0.2:8053 [--domain cluster.local]

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket } from 'dns-packet';
import { DnsServer, DEFAULT_DNS_SERVER_OPTIONS } from '../../src/main/dns/dns-server.js';
import { UpstreamClient, type UpstreamServer } from '../../src/main/dns/upstream-client.js';
import { headerOnlyReply, Rcode, type Resolution } from '../../src/main/dns/mesh-resolver.js';
import { isUnder } from '../../src/main/dns/name-rewrite.js';
import { apiStatusCode } from '../../src/main/k8s/api-error.js';
import { systemClock } from '../../src/shared/clock.js';
import { createLogger } from '../../src/shared/log.js';
import { CLUSTER_DOMAIN, MESH_DOMAIN } from './topology.js';

const TTL_SECONDS = 5;
const CLASSIC_UDP_BYTES = 512;

/** The addresses a Service name stands for, or undefined when there is no such Service. */
export type ServiceAddresses = (namespace: string, name: string) => Promise<string[] | undefined>;

/** Reads Services (and the EndpointSlices of headless ones) from an API server. */
export function apiServiceAddresses(kubeConfig: k8s.KubeConfig): ServiceAddresses {
  const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  const discovery = kubeConfig.makeApiClient(k8s.DiscoveryV1Api);
  return async (namespace, name) => {
    let service: k8s.V1Service;
    try {
      service = await core.readNamespacedService({ name, namespace });
    } catch (err) {
      if (apiStatusCode(err) === 404) return undefined;
      throw err;
    }
    const clusterIP = service.spec?.clusterIP;
    if (clusterIP && clusterIP !== 'None') return [clusterIP];
    const slices = await discovery.listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${name}` });
    return slices.items.flatMap((s) => (s.endpoints ?? []).flatMap((e) => e.addresses));
  };
}

function soa(domain: string): Answer {
  return {
    type: 'SOA', name: domain, ttl: TTL_SECONDS,
    data: { mname: `ns.dns.${domain}`, rname: `hostmaster.${domain}`, serial: 1, refresh: 7200, retry: 1800, expire: 86400, minimum: TTL_SECONDS },
  };
}

/** A reply to `query`, truncated (TC, no records) when it exceeds what the asker takes over UDP. */
function reply(query: DecodedPacket, transport: 'udp' | 'tcp', rcode: number, answers: Answer[], authorities: Answer[]): Buffer {
  const opt = query.additionals?.find((r) => r.type === 'OPT');
  const limit = transport === 'tcp' ? 0xffff : Math.max(CLASSIC_UDP_BYTES, opt?.type === 'OPT' ? opt.udpPayloadSize : CLASSIC_UDP_BYTES);
  const flags = dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_AVAILABLE | ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | rcode;
  const packet = { type: 'response' as const, id: query.id, flags, questions: query.questions, answers, authorities };
  const full = dnsPacket.encode(packet);
  return full.length <= limit ? full : dnsPacket.encode({ ...packet, flags: flags | dnsPacket.TRUNCATED_RESPONSE, answers: [], authorities: [] });
}

export interface StandInOptions {
  addresses: ServiceAddresses;
  /** The cluster domain it answers (kubelet's --cluster-domain), e.g. cluster.local. */
  domain: string;
  /** The broker's DNS (mesh domain queries go there). */
  broker: UpstreamServer;
  upstream: Pick<UpstreamClient, 'exchange'>;
}

/** Answers one query the way the lab's cluster DNS does (see the top of this file). */
export async function answerStandIn(raw: Buffer, transport: 'udp' | 'tcp', options: StandInOptions): Promise<Resolution> {
  let query: DecodedPacket;
  try {
    query = dnsPacket.decode(raw);
  } catch (err) {
    return { reply: raw.length >= 12 ? headerOnlyReply(raw, Rcode.FORMERR) : undefined, result: 'FORMERR', cluster: '', cached: false, problem: (err as Error).message };
  }
  const question = query.questions?.[0];
  if (!question || query.type !== 'query') return { reply: undefined, result: 'dropped', cluster: '', cached: false };
  const name = question.name.replace(/\.$/, '').toLowerCase();
  const done = (rcode: number, answers: Answer[] = [], authorities: Answer[] = []): Resolution => ({
    reply: reply(query, transport, rcode, answers, authorities), result: 'NOERROR', cluster: '', cached: false,
  });
  if (isUnder(name, MESH_DOMAIN)) {
    try {
      return { reply: await options.upstream.exchange(options.broker, raw, transport), result: 'NOERROR', cluster: 'mesh', cached: false };
    } catch (err) {
      return { ...done(Rcode.SERVFAIL), problem: (err as Error).message };
    }
  }
  const domain = options.domain;
  if (!isUnder(name, domain)) return done(Rcode.REFUSED);
  const labels = name.slice(0, -(domain.length + 1)).split('.');
  if (labels.length !== 3 || labels[2] !== 'svc') return done(Rcode.NXDOMAIN, [], [soa(domain)]);
  let addresses: string[] | undefined;
  try {
    addresses = await options.addresses(labels[1]!, labels[0]!);
  } catch (err) {
    return { ...done(Rcode.SERVFAIL), problem: (err as Error).message };
  }
  if (addresses === undefined) return done(Rcode.NXDOMAIN, [], [soa(domain)]);
  if (question.type !== 'A') return done(Rcode.NOERROR, [], [soa(domain)]);
  return done(Rcode.NOERROR, addresses.map((ip) => ({ type: 'A' as const, name: question.name, ttl: TTL_SECONDS, data: ip })));
}

function main(): void {
  const { values } = parseArgs({
    options: {
      kubeconfig: { type: 'string' },
      listen: { type: 'string' },
      port: { type: 'string', default: '53' },
      broker: { type: 'string' },
      domain: { type: 'string', default: CLUSTER_DOMAIN },
    },
  });
  if (!values.kubeconfig || !values.listen || !values.broker) {
    process.stderr.write('cluster-dns-standin: --kubeconfig, --listen and --broker (ip:port) are required\n');
    process.exit(2);
  }
  const log = createLogger({ level: 'info' });
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromFile(values.kubeconfig);
  const [brokerIp, brokerPort] = values.broker.split(':');
  const upstream = new UpstreamClient({ meshSourceAddress: values.listen, timeoutMs: 2000, maxTcpAnswerBytes: 0xffff }, systemClock);
  const options: StandInOptions = { addresses: apiServiceAddresses(kubeConfig), domain: values.domain!, broker: { ip: brokerIp!, port: Number(brokerPort), route: 'local' }, upstream };
  const server = new DnsServer(
    { ...DEFAULT_DNS_SERVER_OPTIONS, port: Number(values.port), host: values.listen },
    (query, transport) => answerStandIn(query, transport, options),
    (resolution) => {
      if (resolution.problem) log.info('query not answered normally', { result: resolution.result, problem: resolution.problem });
    },
    log,
  );
  void upstream.start().then(() => server.listen()).then(
    (port) => log.info('cluster DNS stand-in listening', { listen: values.listen, port, broker: values.broker }),
    (err: unknown) => {
      log.error('cluster DNS stand-in failed to start', { err });
      process.exit(1);
    },
  );
  process.on('SIGTERM', () => void server.close().then(() => upstream.stop()).finally(() => process.exit(0)));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) main();
