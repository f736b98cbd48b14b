// Answers one DNS query for the mesh domain (see docs/architecture.md, "Names across the
// mesh"):
//
//   outside the mesh domain                  -> REFUSED (not an open resolver)
//   unknown, Invalid or omitted cluster       -> NXDOMAIN at once (with the mesh SOA, so
//                                                clients cache the no briefly)
//   linked cluster whose tunnel is not Up     -> SERVFAIL at once
//   <x>.<cluster>.<mesh>  -> cache, else ask <x>.<cluster domain> of the cluster's DNS
//                            (through the tunnel, or locally for our own cluster name),
//                            rewrite the answer's names back, cache it; no answer within
//                            the upstream timeout -> SERVFAIL
//   <x>.msvc.<cluster>.<mesh> -> the cluster's MeshServices (mesh-service-zone.ts): our own
//                            answered from the zone; a peer's asked as <x>.msvc.<mesh> of
//                            the peer broker's DNS at its cluster address (through the
//                            tunnel), cached and mapped back like the above
//   <x>.msvc.<mesh>       -> our own MeshServices (the form peers' brokers ask)
//
// Concurrent identical questions share one upstream exchange, and the upstream
// exchanges in flight are bounded: beyond the bound a query gets SERVFAIL at once, so a
// burst costs neither memory nor sockets without limit.
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Question } from 'dns-packet';
import { AnswerCache, type CachedAnswer } from './answer-cache.js';
import { checkQuery } from './query-check.js';
import { isUnder, joinName, parseMeshName, toMeshName, trimDot } from './name-rewrite.js';
import { MESH_SERVICE_LABEL, MeshServiceZone } from './mesh-service-zone.js';
import { rewriteRecords } from './record-rewrite.js';
import type { Upstream, UpstreamServer, UpstreamTransport } from './upstream-client.js';

import { Rcode, RCODE_NAMES, type RcodeName } from './rcode.js';

export { Rcode, type RcodeName };

/**
 * The `cluster` of a `<x>.msvc.<mesh>` query (this cluster's MeshServices named without a
 * cluster: the form peers' brokers ask), so the metric tells them from malformed queries
 * and names outside the mesh (''). No cluster's names are ever counted under it: `msvc`
 * directly under the mesh domain is this zone, so a KubeLink named `msvc` has no names.
 */
export const SHORT_MESH_SERVICE_CLUSTER = MESH_SERVICE_LABEL;

/** Who asks: a client in this cluster (CoreDNS), or a linked cluster's broker through the tunnel. */
export type QueryOrigin = 'local' | 'peer';

/** The label results are counted under; 'dropped' means no reply was sent. */
export type QueryResult = RcodeName | 'dropped';

/** Where a cluster's names are answered. */
export interface ClusterTarget {
  /** false while the link's tunnel is not Up: SERVFAIL without asking. */
  up: boolean;
  /** Its cluster DNS and the cluster's own domain (e.g. cluster.local); undefined when nothing names one. */
  clusterDns: { server: UpstreamServer; domain: string } | undefined;
  /**
   * Where its MeshService names (`<x>.msvc.<cluster>.<mesh>`) are answered: 'local' for
   * this cluster, else the peer broker's DNS at the peer's cluster address; undefined: not known.
   */
  meshServices: UpstreamServer | 'local' | undefined;
}

/** The clusters the resolver knows; `lookup` is undefined for unknown, Invalid and omitted ones. */
export interface ClusterTargets {
  lookup(cluster: string): ClusterTarget | undefined;
}

export interface MeshResolverOptions {
  /** Lower case, no root dot. */
  meshDomain: string;
  /** Upstream exchanges in flight at once; more queries needing one get SERVFAIL. */
  maxInFlight: number;
  /** EDNS payload size announced to upstreams and the cap for UDP answers to clients. */
  udpPayloadBytes: number;
}

export const DEFAULT_RESOLVER_OPTIONS: Omit<MeshResolverOptions, 'meshDomain'> = { maxInFlight: 512, udpPayloadBytes: 1232 };

export interface Resolution {
  /** The reply to send; undefined: send nothing. */
  reply: Buffer | undefined;
  result: QueryResult;
  /** The cluster asked about ('' when none; SHORT_MESH_SERVICE_CLUSTER for `<x>.msvc.<mesh>`). */
  cluster: string;
  /** Answered from the cache. */
  cached: boolean;
  /** Time the upstream exchange took, when there was one. */
  forwardMs?: number;
  /** Why a query got FORMERR or was dropped, for the counters' logs. */
  problem?: string;
}

/** Records worth keeping from an upstream answer (OPT belongs to one exchange, not the name). */
function withoutOpt(records: Answer[] | undefined): Answer[] {
  return (records ?? []).filter((r) => r.type !== 'OPT');
}

/** Classic DNS over UDP: answers up to 512 bytes unless the query says (EDNS) it takes more. */
const CLASSIC_UDP_BYTES = 512;
const NEGATIVE_TTL_SECONDS = 5;

export class MeshResolver {
  private readonly inFlight = new Map<string, Promise<CachedAnswer>>();
  /** Queries turned away because maxInFlight exchanges were running. */
  overloaded = 0;

  constructor(
    private readonly options: MeshResolverOptions,
    private readonly targets: ClusterTargets,
    private readonly upstream: Upstream,
    private readonly cache: AnswerCache,
    private readonly nowMs: () => number,
    /** This cluster's published MeshServices (the broker's controller keeps it current). */
    readonly meshServices: MeshServiceZone = new MeshServiceZone(),
  ) {}

  get exchangesInFlight(): number {
    return this.inFlight.size;
  }

  /**
   * `from`: 'peer' for a query from a linked cluster's broker (through the tunnel), which
   * gets only this cluster's MeshService names (`<x>.msvc.<mesh>`) and REFUSED for anything
   * else: the port is open to peers for that alone, not to relay queries to our cluster DNS
   * or to third clusters.
   */
  async resolve(query: Buffer, transport: UpstreamTransport, from: QueryOrigin = 'local'): Promise<Resolution> {
    const check = checkQuery(query);
    if (!check.ok) {
      if (check.action === 'drop') return { reply: undefined, result: 'dropped', cluster: '', cached: false, problem: check.reason };
      return { reply: headerOnlyReply(query, Rcode.FORMERR), result: 'FORMERR', cluster: '', cached: false, problem: check.reason };
    }
    let packet: DecodedPacket;
    try {
      packet = dnsPacket.decode(query);
    } catch (err) {
      // Names over 255 bytes, pointers that do not point backwards (loops), truncated records.
      return { reply: headerOnlyReply(query, Rcode.FORMERR), result: 'FORMERR', cluster: '', cached: false, problem: (err as Error).message };
    }
    const question = packet.questions![0]!;
    const opcode = ((packet.flags ?? 0) >> 11) & 0xf;
    if (opcode !== 0) return this.done(packet, question, transport, { rcode: Rcode.NOTIMP }, '');

    const meshServiceZone = `${MESH_SERVICE_LABEL}.${this.options.meshDomain}`;
    if (isUnder(trimDot(question.name), meshServiceZone)) {
      // msvc.<mesh-domain>: this cluster's own MeshServices, the form peers' brokers ask.
      return this.answerLocally(packet, question, transport, SHORT_MESH_SERVICE_CLUSTER, trimDot(question.name), meshServiceZone.split('.').length);
    }
    if (from === 'peer') return this.done(packet, question, transport, { rcode: Rcode.REFUSED }, '');
    const mesh = parseMeshName(question.name, this.options.meshDomain, (c) => this.targets.lookup(c) !== undefined);
    if (mesh.kind === 'outside') return this.done(packet, question, transport, { rcode: Rcode.REFUSED }, '');
    if (mesh.kind === 'apex') {
      // The mesh domain itself exists (clusters live under it); any other name here does not.
      const apex = question.name.replace(/\.$/, '').toLowerCase() === this.options.meshDomain;
      return this.done(packet, question, transport, { rcode: apex ? Rcode.NOERROR : Rcode.NXDOMAIN, authorities: [this.meshSoa()] }, '');
    }
    const target = this.targets.lookup(mesh.cluster)!;
    const meshClusterDomain = `${mesh.cluster}.${this.options.meshDomain}`;
    const labels = mesh.rest === '' ? [] : mesh.rest.split('.');
    if (labels.at(-1)?.toLowerCase() === MESH_SERVICE_LABEL) {
      // <x>.msvc.<cluster>.<mesh>: the cluster's MeshServices, known to its own broker.
      const where = target.meshServices;
      if (where === undefined) return this.done(packet, question, transport, { rcode: Rcode.NXDOMAIN, authorities: [this.meshSoa()] }, mesh.cluster);
      if (where === 'local') {
        return this.answerLocally(packet, question, transport, mesh.cluster, trimDot(question.name), meshClusterDomain.split('.').length + 1);
      }
      if (!target.up) return this.done(packet, question, transport, { rcode: Rcode.SERVFAIL }, mesh.cluster);
      return this.forward(packet, question, transport, mesh.cluster, where, joinName(mesh.rest, this.options.meshDomain), (name) =>
        toMeshName(name, meshServiceZone, `${MESH_SERVICE_LABEL}.${meshClusterDomain}`),
      );
    }
    const clusterDns = target.clusterDns;
    // An egress-only link whose peer announced no cluster DNS: only its MeshServices have names.
    if (clusterDns === undefined) return this.done(packet, question, transport, { rcode: Rcode.NXDOMAIN, authorities: [this.meshSoa()] }, mesh.cluster);
    if (!target.up) return this.done(packet, question, transport, { rcode: Rcode.SERVFAIL }, mesh.cluster);
    return this.forward(packet, question, transport, mesh.cluster, clusterDns.server, joinName(mesh.rest, clusterDns.domain), (name) =>
      toMeshName(name, clusterDns.domain, meshClusterDomain),
    );
  }

  /** Answers from this cluster's MeshService zone; the zone is the last `zoneLabels` labels of `name`. */
  private answerLocally(packet: DecodedPacket, question: Question, transport: UpstreamTransport, cluster: string, name: string, zoneLabels: number): Resolution {
    const labels = name.split('.');
    const relative = labels.slice(0, labels.length - zoneLabels);
    const zone = labels.slice(labels.length - zoneLabels).join('.');
    return this.done(packet, question, transport, this.meshServices.answer(question, relative, zone, this.meshSoa()), cluster);
  }

  /**
   * Asks `server` for `upstreamName` (cache first; identical questions in flight share one
   * exchange) and maps the names of its answer back with `toMesh`.
   */
  private async forward(
    packet: DecodedPacket,
    question: Question,
    transport: UpstreamTransport,
    cluster: string,
    server: UpstreamServer,
    upstreamName: string,
    toMesh: (name: string) => string,
  ): Promise<Resolution> {
    const key = `${cluster}|${server.ip}:${server.port}|${upstreamName.toLowerCase()}|${question.type}|${question.class ?? 'IN'}`;
    const cached = this.cache.get(key);
    if (cached) return { ...this.done(packet, question, transport, cached, cluster), cached: true };

    let exchange = this.inFlight.get(key);
    let forwardMs: number | undefined;
    if (!exchange) {
      if (this.inFlight.size >= this.options.maxInFlight) {
        this.overloaded++;
        return this.done(packet, question, transport, { rcode: Rcode.SERVFAIL }, cluster);
      }
      const started = this.nowMs();
      const upstreamQuestion: Question = { name: upstreamName, type: question.type, class: question.class ?? 'IN' };
      exchange = this.exchange(server, upstreamQuestion, toMesh);
      this.inFlight.set(key, exchange);
      void exchange.then(
        (answer) => this.cache.put(key, answer),
        () => undefined,
      ).finally(() => this.inFlight.delete(key));
      try {
        await exchange;
      } catch {
        // reported below
      }
      forwardMs = this.nowMs() - started;
    }
    try {
      const answer = await exchange;
      return { ...this.done(packet, question, transport, answer, cluster), forwardMs };
    } catch (err) {
      return { ...this.done(packet, question, transport, { rcode: Rcode.SERVFAIL }, cluster), forwardMs, problem: (err as Error).message };
    }
  }

  /** Asks a cluster's DNS or a peer broker's (UDP, then TCP when the UDP answer was truncated); names mapped back into the mesh. */
  private async exchange(server: UpstreamServer, question: Question, toMesh: (name: string) => string): Promise<CachedAnswer> {
    const query = dnsPacket.encode({
      type: 'query',
      id: 0,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [question],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: this.options.udpPayloadBytes, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
    });
    let raw = await this.upstream.exchange(server, query, 'udp');
    let answer = dnsPacket.decode(raw);
    if (answer.flag_tc) {
      raw = await this.upstream.exchange(server, query, 'tcp');
      answer = dnsPacket.decode(raw);
    }
    const rcode = (answer.flags ?? 0) & 0xf;
    if (rcode !== Rcode.NOERROR && rcode !== Rcode.NXDOMAIN) return { rcode: Rcode.SERVFAIL, authoritative: false, answers: [], authorities: [], additionals: [] };
    return {
      rcode,
      authoritative: answer.flag_aa,
      answers: rewriteRecords(answer.answers, toMesh),
      authorities: rewriteRecords(answer.authorities, toMesh),
      additionals: rewriteRecords(withoutOpt(answer.additionals), toMesh),
    };
  }

  private meshSoa(): Answer {
    const domain = this.options.meshDomain;
    return {
      type: 'SOA',
      name: domain,
      ttl: NEGATIVE_TTL_SECONDS,
      data: { mname: `dns.${domain}`, rname: `hostmaster.${domain}`, serial: 1, refresh: 60, retry: 10, expire: 3600, minimum: NEGATIVE_TTL_SECONDS },
    };
  }

  /** The reply to `packet`: its id and question as asked, our answer, truncated to fit UDP. */
  private done(packet: DecodedPacket, question: Question, transport: UpstreamTransport, answer: Partial<CachedAnswer> & { rcode: number }, cluster: string): Resolution {
    const clientOpt = (packet.additionals ?? []).find((r) => r.type === 'OPT');
    const limit = transport === 'tcp'
      ? 0xffff
      : Math.max(CLASSIC_UDP_BYTES, Math.min(clientOpt && clientOpt.type === 'OPT' ? clientOpt.udpPayloadSize : CLASSIC_UDP_BYTES, this.options.udpPayloadBytes));
    const opt: Answer[] = clientOpt
      ? [{ type: 'OPT', name: '.', udpPayloadSize: this.options.udpPayloadBytes, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }]
      : [];
    const flags = ((packet.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | dnsPacket.RECURSION_AVAILABLE | (answer.authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0) | answer.rcode;
    const full = {
      type: 'response' as const,
      id: packet.id ?? 0,
      flags,
      questions: [question],
      answers: answer.answers ?? [],
      authorities: answer.authorities ?? [],
      additionals: [...(answer.additionals ?? []), ...opt],
    };
    let reply = dnsPacket.encode(full);
    if (reply.length > limit) {
      // RFC 2181 9: set TC and leave the sections out; the client asks again over TCP.
      reply = dnsPacket.encode({ ...full, flags: flags | dnsPacket.TRUNCATED_RESPONSE, answers: [], authorities: [], additionals: opt });
    }
    return { reply, result: RCODE_NAMES[answer.rcode] ?? 'SERVFAIL', cluster, cached: false };
  }
}

/** A reply with the query's id, opcode and RD, this rcode and nothing else: all a malformed query can get. */
export function headerOnlyReply(query: Uint8Array, rcode: number): Buffer {
  const id = (query[0]! << 8) | query[1]!;
  const asked = ((query[2]! << 8) | query[3]!) & (0x7800 | dnsPacket.RECURSION_DESIRED); // opcode and RD
  return dnsPacket.encode({ type: 'response', id, flags: asked | dnsPacket.RECURSION_AVAILABLE | rcode, questions: [] });
}
