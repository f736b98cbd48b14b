import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateLinks, validationMessage } from '../../src/main/link-validation.js';
import type { LocalNetworks } from '../../src/main/link-validation.js';
import { parseInterface, parseIpv4, parsePrefix } from '../../src/shared/cidr.js';
import type { KubeLinkResource, KubeLinkSpec, LinkValidation } from '../../src/shared/types.js';

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
    'spec.dns.dnsIP "100.64.0.10": is outside spec.cidr 100.64.16.0/20 (the remote cluster DNS is a service of that network)',
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
  assert.equal(message(one({ cidr: undefined })), 'spec.cidr "": is missing');
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
  assert.equal(message(one({ cidr: '100.64.0.0/16' })), 'spec.cidr "100.64.0.0/16": overlaps the local service network 100.64.0.0/20');
  assert.equal(message(one({ cidr: '100.64.8.0/21' })), 'spec.cidr "100.64.8.0/21": overlaps the local service network 100.64.0.0/20');
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
  assert.equal(message(results[0]!), 'spec.cidr "100.64.16.0/21": overlaps cidr 100.64.16.0/20 of link "c2"');
});

test('an older link wins a conflict against a newer one regardless of names', () => {
  const results = validateLinks([
    link('a-new', {}, '2024-05-02T00:00:00Z'),
    link('z-old', { endpoint: 'other.example' }, '2024-05-01T00:00:00Z'),
  ], LOCAL);
  assert.ok(results[1]!.ok);
  assert.equal(message(results[0]!), 'spec.cidr "100.64.16.0/20": overlaps cidr 100.64.16.0/20 of link "z-old"');
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
