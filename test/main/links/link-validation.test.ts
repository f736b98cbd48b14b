import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateLinks, validationMessage } from '../../../src/main/links/link-validation.js';
import type { LocalNetworks } from '../../../src/main/links/link-validation.js';
import { parseInterface, parseIpv4, parsePrefix } from '../../../src/shared/cidr.js';
import type { KubeLinkResource, KubeLinkSpec, LinkValidation } from '../../../src/shared/types.js';

function must<T>(r: { ok: true; value: T } | { ok: false; reason: string }): T {
  if (!r.ok) throw new Error(r.reason);
  return r.value;
}

const LOCAL: LocalNetworks = {
  linkAddress: must(parseInterface('192.168.0.11/24')),
  serviceCidr: must(parsePrefix('100.64.0.0/20')),
  nodeCidr: must(parsePrefix('10.250.0.0/24')),
  podCidr: must(parsePrefix('100.96.0.0/11')),
};

function link(name: string, spec: Partial<KubeLinkSpec>, creationTimestamp?: string): KubeLinkResource {
  return {
    apiVersion: 'kubelink.mandelsoft.org/v1alpha1',
    kind: 'KubeLink',
    metadata: creationTimestamp ? { name, creationTimestamp } : { name },
    spec: { cidr: '100.64.16.0/20', clusterAddress: '192.168.0.12/24', endpoint: 'broker.c2.kubelink.lab:8088', ...spec } as KubeLinkSpec,
  };
}

/** The advice a cidr colliding with another service network gets. */
const HINT = "overlapping service networks cannot both be routed; leave spec.cidr out and reach the peer's services through MeshService addresses listed in spec.egress";

function message(v: LinkValidation): string {
  assert.equal(v.ok, false, 'expected an invalid link');
  return validationMessage(v as Extract<LinkValidation, { ok: false }>);
}

function one(spec: Partial<KubeLinkSpec>): LinkValidation {
  return validateLinks([link('c2', spec)], LOCAL)[0]!;
}

test('a valid link is parsed into integers, host and port', () => {
  const [v] = validateLinks([link('c2', {})], LOCAL);
  assert.ok(v?.ok);
  assert.deepEqual(v.link, {
    name: 'c2',
    serviceCidr: { network: parseIpv4('100.64.16.0'), prefixLength: 20 },
    egress: [],
    clusterAddress: parseIpv4('192.168.0.12'),
    meshPrefixLength: 24,
    endpointHost: 'broker.c2.kubelink.lab',
    endpointPort: 8088,
    dns: { omitPropagation: false },
    spec: { cidr: '100.64.16.0/20', clusterAddress: '192.168.0.12/24', endpoint: 'broker.c2.kubelink.lab:8088' },
  });
});

test('spec.dns is optional; what it sets is parsed and normalized, the rest is left to the hello or the defaults', () => {
  const full = one({ dns: { dnsIP: '100.64.16.53', baseDomain: 'C2.Example.', omitDNSPropagation: true } });
  assert.ok(full.ok);
  assert.deepEqual(full.link.dns, { dnsIp: parseIpv4('100.64.16.53'), baseDomain: 'c2.example', omitPropagation: true });
  const partial = one({ dns: { omitDNSPropagation: false } });
  assert.ok(partial.ok);
  assert.deepEqual(partial.link.dns, { omitPropagation: false });
});

test('a bad spec.dns makes the link Invalid with a message naming the field', () => {
  assert.equal(message(one({ dns: { dnsIP: '100.64.16' } })), 'spec.dns.dnsIP "100.64.16": is not an IPv4 address');
  assert.equal(
    message(one({ dns: { dnsIP: '100.64.0.10' } })),
    'spec.dns.dnsIP "100.64.0.10": is not routed to this link (100.64.16.0/20): the remote cluster DNS is reached through the tunnel',
  );
  assert.equal(message(one({ dns: { baseDomain: 'cluster_local' } })), 'spec.dns.baseDomain "cluster_local": is not a DNS name (expected e.g. cluster.local)');
  assert.equal(message(one({ dns: { omitDNSPropagation: 'yes' as unknown as boolean } })), 'spec.dns.omitDNSPropagation "yes": must be true or false');
  assert.equal(message(one({ dns: 'on' as unknown as KubeLinkSpec['dns'] })), 'spec.dns "on": must be a mapping');
});

test('an endpoint without port defaults to 80, an IPv4 endpoint is accepted, hosts are normalized', () => {
  const v = one({ endpoint: 'Broker.C2.Example.' });
  assert.ok(v.ok);
  assert.equal(v.link.endpointPort, 80);
  assert.equal(v.link.endpointHost, 'broker.c2.example');
  const ip = one({ endpoint: '203.0.113.7:443' });
  assert.ok(ip.ok);
  assert.equal(ip.link.endpointHost, '203.0.113.7');
  assert.equal(ip.link.endpointPort, 443);
});

test('a missing field is reported by name', () => {
  assert.equal(message(one({ clusterAddress: '' })), 'spec.clusterAddress "": is missing');
  assert.equal(message(one({ endpoint: undefined })), 'spec.endpoint "": is missing');
  assert.equal(message(one({ cidr: 42 as unknown as string })), 'spec.cidr 42: must be a string');
  const noSpec = { ...link('x', {}), spec: undefined } as unknown as KubeLinkResource;
  assert.match(message(validateLinks([noSpec], LOCAL)[0]!), /^spec "": is missing/);
});

test('a cidr that is not a network address or does not parse names field and value', () => {
  assert.equal(message(one({ cidr: '100.64.16.1/20' })), 'spec.cidr "100.64.16.1/20": host bits set (did you mean 100.64.16.0/20?)');
  assert.match(message(one({ cidr: '100.64.16.0' })), /^spec\.cidr "100\.64\.16\.0": expected an IPv4 CIDR/);
  assert.match(message(one({ cidr: 'banana/20' })), /^spec\.cidr "banana\/20": /);
});

test('the cluster address must be a host inside the local mesh prefix and not the local address', () => {
  assert.equal(message(one({ clusterAddress: '192.168.0.0/24' })), 'spec.clusterAddress "192.168.0.0/24": is the network address, not a host address');
  assert.equal(
    message(one({ clusterAddress: '192.168.1.12/24' })),
    'spec.clusterAddress "192.168.1.12/24": is outside the mesh network 192.168.0.0/24 of the local link address',
  );
  assert.equal(message(one({ clusterAddress: '192.168.0.12/16' })), 'spec.clusterAddress "192.168.0.12/16": has prefix length /16 but the mesh network is 192.168.0.0/24');
  assert.equal(message(one({ clusterAddress: '192.168.0.11/24' })), 'spec.clusterAddress "192.168.0.11/24": is the local cluster address');
  assert.match(message(one({ clusterAddress: '192.168.0.12' })), /^spec\.clusterAddress "192\.168\.0\.12": expected an IPv4 CIDR/);
});

test('an endpoint must be host[:port] with a DNS name or IPv4 host and a port 1..65535', () => {
  assert.equal(message(one({ endpoint: 'broker:0' })), 'spec.endpoint "broker:0": port must be an integer 1..65535');
  assert.equal(message(one({ endpoint: 'broker:65536' })), 'spec.endpoint "broker:65536": port must be an integer 1..65535');
  assert.equal(message(one({ endpoint: 'broker:' })), 'spec.endpoint "broker:": port must be an integer 1..65535');
  assert.equal(message(one({ endpoint: 'https://broker' })), 'spec.endpoint "https://broker": must be host[:port], without a URL scheme');
  assert.equal(message(one({ endpoint: 'bro ker' })), 'spec.endpoint "bro ker": host is neither a DNS name nor an IPv4 address');
  assert.equal(message(one({ endpoint: '999.1.1.1' })), 'spec.endpoint "999.1.1.1": host is neither a DNS name nor an IPv4 address');
  assert.equal(message(one({ endpoint: '-bad.example' })), 'spec.endpoint "-bad.example": host is neither a DNS name nor an IPv4 address');
  assert.ok(one({ endpoint: 'broker:65535' }).ok);
});

test('a cidr overlapping the local service, node, pod or mesh network is invalid', () => {
  assert.equal(message(one({ cidr: '100.64.0.0/16' })), `spec.cidr "100.64.0.0/16": overlaps the local service network 100.64.0.0/20: ${HINT}`);
  assert.equal(message(one({ cidr: '100.64.8.0/21' })), `spec.cidr "100.64.8.0/21": overlaps the local service network 100.64.0.0/20: ${HINT}`);
  assert.equal(message(one({ cidr: '10.250.0.128/25' })), 'spec.cidr "10.250.0.128/25": overlaps the local node network 10.250.0.0/24');
  assert.equal(message(one({ cidr: '100.100.0.0/16' })), 'spec.cidr "100.100.0.0/16": overlaps the local pod network 100.96.0.0/11');
  assert.equal(message(one({ cidr: '192.168.0.0/16' })), 'spec.cidr "192.168.0.0/16": overlaps the mesh network 192.168.0.0/24');
  // without optional local networks only the mesh is checked
  const v = validateLinks([link('c2', { cidr: '100.64.0.0/16' })], { linkAddress: LOCAL.linkAddress })[0]!;
  assert.ok(v.ok);
});

test('of two links with overlapping cidrs only the later name is invalid and names the other', () => {
  const results = validateLinks([
    link('c3', { cidr: '100.64.16.0/21', clusterAddress: '192.168.0.13/24', endpoint: 'broker.c3' }),
    link('c2', {}),
  ], LOCAL);
  assert.ok(results[1]!.ok, 'c2 sorts first and stays valid');
  assert.equal(message(results[0]!), `spec.cidr "100.64.16.0/21": overlaps cidr 100.64.16.0/20 of link "c2": ${HINT}`);
});

test('an older link wins a conflict against a newer one regardless of names', () => {
  const results = validateLinks([
    link('a-new', {}, '2024-05-02T00:00:00Z'),
    link('z-old', { endpoint: 'other.example' }, '2024-05-01T00:00:00Z'),
  ], LOCAL);
  assert.ok(results[1]!.ok);
  assert.equal(message(results[0]!), `spec.cidr "100.64.16.0/20": overlaps cidr 100.64.16.0/20 of link "z-old": ${HINT}`);
});

test('duplicate cluster addresses and duplicate endpoint hosts are conflicts', () => {
  const dupAddress = validateLinks([link('c2', {}), link('c3', { cidr: '100.64.32.0/20', endpoint: 'broker.c3' })], LOCAL);
  assert.ok(dupAddress[0]!.ok);
  assert.equal(message(dupAddress[1]!), 'spec.clusterAddress "192.168.0.12/24": is already the cluster address of link "c2"');

  const dupHost = validateLinks([
    link('c2', {}),
    link('c3', { cidr: '100.64.32.0/20', clusterAddress: '192.168.0.13/24', endpoint: 'BROKER.c2.kubelink.lab:9999' }),
  ], LOCAL);
  assert.ok(dupHost[0]!.ok);
  assert.equal(message(dupHost[1]!), 'spec.endpoint "BROKER.c2.kubelink.lab:9999": host broker.c2.kubelink.lab is already the endpoint of link "c2"');
});

test('a link that is invalid on its own does not block a conflicting valid one', () => {
  const results = validateLinks([
    link('a', { clusterAddress: '10.0.0.1/24' }),
    link('b', {}),
  ], LOCAL);
  assert.equal(results[0]!.ok, false);
  assert.ok(results[1]!.ok);
});

test('the accepted set is conflict-free: a link invalidated by a conflict does not invalidate a third', () => {
  const results = validateLinks([
    link('a', { cidr: '100.64.16.0/21', clusterAddress: '192.168.0.12/24', endpoint: 'a' }),
    link('b', { cidr: '100.64.16.0/20', clusterAddress: '192.168.0.13/24', endpoint: 'b' }),
    link('c', { cidr: '100.64.24.0/21', clusterAddress: '192.168.0.14/24', endpoint: 'c' }),
  ], LOCAL);
  assert.deepEqual(results.map((r) => r.ok), [true, false, true]);
});

test('the same name twice: the second is invalid', () => {
  const results = validateLinks([link('c2', {}), link('c2', { cidr: '100.64.32.0/20', clusterAddress: '192.168.0.13/24', endpoint: 'x' })], LOCAL);
  assert.ok(results[0]!.ok);
  assert.equal(message(results[1]!), 'metadata.name "c2": is defined more than once');
});

test('results are in input order and independent of the order of the input', () => {
  const a = link('c2', {});
  const b = link('c3', { cidr: '100.64.16.0/22', clusterAddress: '192.168.0.13/24', endpoint: 'b' });
  const forward = validateLinks([a, b], LOCAL);
  const backward = validateLinks([b, a], LOCAL);
  assert.deepEqual(forward, [backward[1], backward[0]]);
  assert.equal(forward[0]!.ok, true);
});

// --- optional cidr, egress, ingress ---

test('a link without cidr carries only its egress; egress and ingress are parsed into prefixes', () => {
  const v = one({ cidr: undefined, egress: ['192.168.0.100/32', '10.1.0.0/16'], ingress: ['100.64.0.0/24', '!100.64.0.20/32'] });
  assert.ok(v.ok);
  assert.equal(v.link.serviceCidr, undefined);
  assert.deepEqual(v.link.egress, [must(parsePrefix('192.168.0.100/32')), must(parsePrefix('10.1.0.0/16'))]);
  assert.deepEqual(v.link.ingress, { allow: [must(parsePrefix('100.64.0.0/24'))], deny: [must(parsePrefix('100.64.0.20/32'))] });
  assert.deepEqual(v.link.spec, {
    clusterAddress: '192.168.0.12/24', endpoint: 'broker.c2.kubelink.lab:8088', egress: ['192.168.0.100/32', '10.1.0.0/16'], ingress: ['100.64.0.0/24', '!100.64.0.20/32'],
  });
  const plain = one({});
  assert.ok(plain.ok);
  assert.equal(plain.link.ingress, undefined, 'no spec.ingress: the default');
  assert.ok(one({ cidr: '' }).ok, 'an empty cidr is the same as none');
  const none = one({ ingress: [] });
  assert.ok(none.ok);
  assert.deepEqual(none.link.ingress, { allow: [], deny: [] });
});

test('bad egress and ingress entries name the entry', () => {
  assert.equal(message(one({ egress: ['192.168.0.100/24'] })), 'spec.egress[0] "192.168.0.100/24": host bits set (did you mean 192.168.0.0/24?)');
  assert.equal(message(one({ egress: ['192.168.0.0/24'] })), 'spec.egress[0] "192.168.0.0/24": holds the local cluster address 192.168.0.11');
  assert.equal(message(one({ egress: ['10.1.0.0/16', '100.64.0.10/32'] })), 'spec.egress[1] "100.64.0.10/32": overlaps the local service network 100.64.0.0/20');
  assert.equal(message(one({ egress: ['10.250.0.0/16'] })), 'spec.egress[0] "10.250.0.0/16": overlaps the local node network 10.250.0.0/24');
  assert.equal(message(one({ egress: '192.168.0.100/32' as unknown as string[] })), 'spec.egress "192.168.0.100/32": must be a list of CIDRs');
  assert.equal(message(one({ egress: [7 as unknown as string] })), 'spec.egress [7]: entry 7 must be a string');
  assert.match(message(one({ egress: Array.from({ length: 33 }, (_, i) => `10.9.${i}.0/24`) })), /^spec\.egress .*has 33 entries, at most 32 are allowed$/);
  assert.equal(message(one({ ingress: ['100.64.0.0/24', '!banana'] })), 'spec.ingress[1] "!banana": expected an IPv4 CIDR like 10.0.0.0/16 (missing /prefix-length)');
  assert.equal(message(one({ ingress: ['!100.64.0.1/24'] })), 'spec.ingress[0] "!100.64.0.1/24": host bits set (did you mean 100.64.0.0/24?)');
});

test('egress overlapping another link\'s cidr, egress or cluster address is a conflict of the newer link', () => {
  const c3 = (spec: Partial<KubeLinkSpec>) => link('c3', { cidr: undefined, clusterAddress: '192.168.0.13/24', endpoint: 'broker.c3', ...spec }, '2024-05-02T00:00:00Z');
  const c2 = link('c2', { egress: ['192.168.0.100/32'] }, '2024-05-01T00:00:00Z');
  const check = (spec: Partial<KubeLinkSpec>) => validateLinks([c3(spec), c2], LOCAL);
  assert.equal(message(check({ egress: ['192.168.0.100/32'] })[0]!), 'spec.egress[0] "192.168.0.100/32": overlaps egress 192.168.0.100/32 of link "c2"');
  assert.equal(message(check({ egress: ['100.64.16.128/25'] })[0]!), 'spec.egress[0] "100.64.16.128/25": overlaps cidr 100.64.16.0/20 of link "c2"');
  assert.equal(message(check({ egress: ['192.168.0.12/32'] })[0]!), 'spec.egress[0] "192.168.0.12/32": overlaps cluster address 192.168.0.12 of link "c2"');
  assert.equal(message(check({ clusterAddress: '192.168.0.100/24' })[0]!), 'spec.clusterAddress "192.168.0.100/24": overlaps egress 192.168.0.100/32 of link "c2"');
  const fine = check({ egress: ['192.168.0.101/32'] });
  assert.ok(fine[0]!.ok && fine[1]!.ok);
});

test('two peers with the same service CIDR as ours: both valid without cidr, each reached through its own egress', () => {
  const results = validateLinks([
    link('c2', { cidr: undefined, egress: ['192.168.0.100/32'] }),
    link('c3', { cidr: undefined, clusterAddress: '192.168.0.13/24', endpoint: 'broker.c3', egress: ['192.168.0.110/32'] }),
  ], LOCAL);
  assert.ok(results.every((r) => r.ok));
});
