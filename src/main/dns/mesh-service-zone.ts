// The DNS names of this cluster's published MeshServices (docs/architecture.md, "Names of
// MeshServices"). Pure: the broker's MeshService controller replaces the entries on every
// change, the resolver asks for answers.
//
//   <msvc>.<ns>.<zone>                          A    the MeshService's address: its
//                                                    meshAddress, in port mode the cluster address
//                                               SRV  one per named port, target <msvc>.<ns>.<zone>
//   _<port-name>._<tcp|udp>.<msvc>.<ns>.<zone>  SRV  that port (and the A record as additional)
//
// <zone> is `msvc.<cluster>.<mesh-domain>` as a pod asks it, or `msvc.<mesh-domain>`, the
// form a peer's broker forwards (it names no cluster: whoever answers it answers for its own
// cluster, so the asker needs to know neither the peer's --cluster-name nor anything else).
// The layout follows Kubernetes' `<svc>.<ns>.svc.<domain>` and its SRV names. Only
// MeshServices whose status is Ok are in the zone: Invalid and Error ones are NXDOMAIN.
import type { Answer, Question } from 'dns-packet';
import type { CachedAnswer } from './answer-cache.js';
import { Rcode } from './rcode.js';

/** The label that opens the MeshService zone under a cluster's name (as `svc` does for Services). */
export const MESH_SERVICE_LABEL = 'msvc';
/** As CoreDNS answers Services: short, so a moved MeshService is found again quickly. */
export const MESH_SERVICE_TTL_SECONDS = 5;

export interface MeshServicePortEntry {
  /** The port's name (the MeshService port's, else the Service port's); unnamed ports get no SRV record. */
  name?: string;
  protocol: 'TCP' | 'UDP';
  port: number;
}

/** One published MeshService as the zone answers it. */
export interface MeshServiceEntry {
  namespace: string;
  name: string;
  /** Dotted IPv4: the mesh address, or the cluster address in port mode. */
  address: string;
  ports: MeshServicePortEntry[];
}

type Found = Omit<CachedAnswer, 'authorities'>;

export class MeshServiceZone {
  /** `<name>.<namespace>` -> entry. */
  private entries = new Map<string, MeshServiceEntry>();
  private namespaces = new Set<string>();

  set(entries: readonly MeshServiceEntry[]): void {
    this.entries = new Map(entries.map((e) => [`${e.name}.${e.namespace}`, e]));
    this.namespaces = new Set(entries.map((e) => e.namespace));
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * The answer to `question`, whose name is `<relative labels>.<zone>`; both as the client
   * wrote them (answers keep its case). `soa` is the authority of negative answers.
   */
  answer(question: Question, relative: readonly string[], zone: string, soa: Answer): CachedAnswer {
    const found = this.find(question, relative.map((l) => l.toLowerCase()), relative, zone);
    // Negative answers (NXDOMAIN, and NOERROR without records) carry the SOA (RFC 2308).
    return { ...found, authorities: found.answers.length === 0 ? [soa] : [] };
  }

  private find(question: Question, lower: readonly string[], relative: readonly string[], zone: string): Found {
    const nodata: Found = { rcode: Rcode.NOERROR, authoritative: true, answers: [], additionals: [] };
    const nxdomain: Found = { rcode: Rcode.NXDOMAIN, authoritative: true, answers: [], additionals: [] };
    // The zone and a namespace holding MeshServices exist as names without records.
    if (lower.length === 0) return nodata;
    if (lower.length === 1) return this.namespaces.has(lower[0]!) ? nodata : nxdomain;
    if (lower.length > 4) return nxdomain;
    const entry = this.entries.get(lower.slice(-2).join('.'));
    if (!entry) return nxdomain;
    const target = [...relative.slice(-2), zone].join('.');
    const address: Answer = { type: 'A', name: target, ttl: MESH_SERVICE_TTL_SECONDS, data: entry.address };
    const named = entry.ports.filter((p) => p.name !== undefined && p.name !== '');
    const srv = (ports: MeshServicePortEntry[]): Found => ({
      ...nodata,
      answers: ports.map((p) => ({
        type: 'SRV',
        name: question.name,
        ttl: MESH_SERVICE_TTL_SECONDS,
        data: { priority: 0, weight: Math.floor(100 / ports.length), port: p.port, target },
      })),
      additionals: [address],
    });

    if (lower.length === 2) {
      if (question.type === 'A') return { ...nodata, answers: [{ ...address, name: question.name }] };
      if (question.type === 'SRV' && named.length > 0) return srv(named);
      return nodata;
    }
    // _<proto> (a name without records) or _<port-name>._<proto>.
    const protocol = lower.at(-3)!;
    const portName = lower.length === 4 ? lower[0]! : undefined;
    const matching = named.filter((p) => protocol === `_${p.protocol.toLowerCase()}` && (portName === undefined || portName === `_${p.name!.toLowerCase()}`));
    if (matching.length === 0) return nxdomain;
    if (portName === undefined || question.type !== 'SRV') return nodata;
    return srv(matching);
  }
}
