import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planMeshServices, type EndpointSliceObject, type ServiceObject } from '../../../src/main/mesh-services/mesh-service-plan.js';
import type { MeshLocal } from '../../../src/main/mesh-services/mesh-service-validation.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../../../src/shared/inbound-filter.js';
import { parseInterface, parseIpv4 } from '../../../src/shared/cidr.js';
import type { MeshServiceResource, MeshServiceSpec } from '../../../src/shared/types.js';

const linkAddress = parseInterface('192.168.0.12/24');
if (!linkAddress.ok) throw new Error(linkAddress.reason);
const LOCAL: MeshLocal = { linkAddress: linkAddress.value, linkClusterAddresses: [parseIpv4('192.168.0.11')!] };
const ip = (text: string) => parseIpv4(text)!;

function msvc(name: string, spec: Partial<MeshServiceSpec>, creationTimestamp = '2026-01-01T00:00:00Z'): MeshServiceResource {
  return { apiVersion: 'kubelink.mandelsoft.org/v1alpha1', kind: 'MeshService', metadata: { name, namespace: 'default', creationTimestamp }, spec: { service: 'echo', ...spec } };
}

const ECHO: ServiceObject = {
  metadata: { name: 'echo', namespace: 'default' },
  spec: { ports: [{ name: 'http', protocol: 'TCP', port: 80 }, { name: 'dns', protocol: 'UDP', port: 53 }] },
};

function slice(name: string, endpoints: [string, boolean | undefined][], ports = [{ name: 'http', protocol: 'TCP', port: 8080 }, { name: 'dns', protocol: 'UDP', port: 5353 }]): EndpointSliceObject {
  return {
    metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': 'echo' } },
    addressType: 'IPv4',
    endpoints: endpoints.map(([address, ready]) => ({ addresses: [address], ...(ready === undefined ? {} : { conditions: { ready } }) })),
    ports,
  };
}

test('a mesh address without ports maps every Service port to the ready endpoints of all slices', () => {
  const plan = planMeshServices([msvc('echo', { meshAddress: '192.168.0.100' })], [ECHO], [
    slice('echo-a', [['100.96.1.3', true], ['100.96.1.9', false]]),
    slice('echo-b', [['100.96.1.2', undefined]]),
  ], LOCAL);
  const both = [{ address: ip('100.96.1.2') }, { address: ip('100.96.1.3') }];
  assert.deepEqual(plan.mappings, [{
    key: 'default/echo',
    address: ip('192.168.0.100'),
    rules: [
      { name: 'http', protocol: 'TCP', port: 80, endpoints: both.map((e) => ({ ...e, port: 8080 })) },
      { name: 'dns', protocol: 'UDP', port: 53, endpoints: both.map((e) => ({ ...e, port: 5353 })) },
    ],
  }]);
  assert.deepEqual(plan.published, [{ address: ip('192.168.0.100'), ports: [{ protocol: IPPROTO_TCP, port: 80 }, { protocol: IPPROTO_UDP, port: 53 }] }]);
  assert.deepEqual(plan.statuses.get('default/echo'), { state: 'Ok', message: 'default/echo published on 192.168.0.100 (80/TCP, 53/UDP)', address: '192.168.0.100' });
});

test('port mode maps cluster-address ports by targetPort number or name and publishes nothing for the inbound check', () => {
  const plan = planMeshServices([msvc('echo', { ports: [{ port: 8080, targetPort: 80 }, { port: 8053, protocol: 'UDP', targetPort: 'dns' }] })], [ECHO], [slice('echo-a', [['100.96.1.2', true]])], LOCAL);
  assert.deepEqual(plan.mappings[0]!.rules, [
    { name: 'http', protocol: 'TCP', port: 8080, endpoints: [{ address: ip('100.96.1.2'), port: 8080 }] },
    { name: 'dns', protocol: 'UDP', port: 8053, endpoints: [{ address: ip('100.96.1.2'), port: 5353 }] },
  ]);
  assert.equal(plan.mappings[0]!.address, ip('192.168.0.12'));
  assert.deepEqual(plan.published, []);
  assert.equal(plan.statuses.get('default/echo')!.address, '192.168.0.12');
});

test('a missing Service is Error "service default/x not found"; it maps nothing and publishes nothing', () => {
  const plan = planMeshServices([msvc('m', { service: 'x', meshAddress: '192.168.0.100' })], [ECHO], [], LOCAL);
  assert.deepEqual(plan.statuses.get('default/m'), { state: 'Error', message: 'service default/x not found', address: '192.168.0.100' });
  assert.deepEqual(plan.mappings, []);
  assert.deepEqual(plan.published, []);
});

test('a port the Service lacks is Error; no ready endpoint is Error but keeps the address published', () => {
  const missing = planMeshServices([msvc('m', { meshAddress: '192.168.0.100', ports: [{ port: 80, targetPort: 'https' }] })], [ECHO], [], LOCAL);
  assert.deepEqual(missing.statuses.get('default/m'), { state: 'Error', message: 'service default/echo has no TCP port "https"', address: '192.168.0.100' });
  const wrongProtocol = planMeshServices([msvc('m', { meshAddress: '192.168.0.100', ports: [{ port: 80, protocol: 'UDP' }] })], [ECHO], [], LOCAL);
  assert.equal(wrongProtocol.statuses.get('default/m')!.message, 'service default/echo has no UDP port 80');
  const noEndpoints = planMeshServices([msvc('m', { meshAddress: '192.168.0.100', ports: [{ port: 80 }] })], [ECHO], [slice('echo-a', [['100.96.1.2', false]])], LOCAL);
  assert.deepEqual(noEndpoints.statuses.get('default/m'), { state: 'Error', message: 'service default/echo has no ready endpoint for 80/TCP', address: '192.168.0.100' });
  assert.deepEqual(noEndpoints.mappings[0]!.rules[0]!.endpoints, []);
  assert.equal(noEndpoints.published.length, 1);
});

test('invalid MeshServices are reported Invalid and do not disturb the valid ones', () => {
  const plan = planMeshServices([
    msvc('first', { meshAddress: '192.168.0.100' }, '2026-01-01T00:00:00Z'),
    msvc('second', { meshAddress: '192.168.0.100' }, '2026-01-02T00:00:00Z'),
    msvc('badport', { meshAddress: '192.168.0.101', ports: [{ port: 99999 }] }),
  ], [ECHO], [slice('echo-a', [['100.96.1.2', true]])], LOCAL);
  assert.equal(plan.statuses.get('default/first')!.state, 'Ok');
  assert.deepEqual(plan.statuses.get('default/second'), { state: 'Invalid', message: 'spec.meshAddress "192.168.0.100": is already published by MeshService default/first' });
  assert.deepEqual(plan.statuses.get('default/badport'), { state: 'Invalid', message: 'spec.ports[0].port 99999: must be an integer 1..65535' });
  assert.deepEqual(plan.mappings.map((m) => m.key), ['default/first']);
});

test('slices of other services, other namespaces or IPv6 are not used', () => {
  const other = { ...slice('other', [['100.96.1.7', true]]), metadata: { name: 'other', namespace: 'default', labels: { 'kubernetes.io/service-name': 'other' } } };
  const elsewhere = { ...slice('echo-x', [['100.96.1.8', true]]), metadata: { name: 'echo-x', namespace: 'kube-system', labels: { 'kubernetes.io/service-name': 'echo' } } };
  const v6 = { ...slice('echo-v6', [['fd00::1', true]]), addressType: 'IPv6' };
  const plan = planMeshServices([msvc('m', { meshAddress: '192.168.0.100', ports: [{ port: 80 }] })], [ECHO], [other, elsewhere, v6, slice('echo-a', [['100.96.1.2', true]])], LOCAL);
  assert.deepEqual(plan.mappings[0]!.rules[0]!.endpoints, [{ address: ip('100.96.1.2'), port: 8080 }]);
});

test('names for the mesh DNS: only Ok MeshServices, each port named by the MeshService, else by the Service port, else unnamed', () => {
  const unnamed: ServiceObject = { metadata: { name: 'plain', namespace: 'default' }, spec: { ports: [{ protocol: 'TCP', port: 9000 }] } };
  const plainSlice: EndpointSliceObject = { ...slice('plain-a', [['100.96.1.4', true]], [{ name: '', protocol: 'TCP', port: 9000 }]), metadata: { name: 'plain-a', namespace: 'default', labels: { 'kubernetes.io/service-name': 'plain' } } };
  const plan = planMeshServices([
    msvc('echo', { meshAddress: '192.168.0.100', ports: [{ name: 'web', port: 80, targetPort: 'http' }, { port: 53, protocol: 'UDP', targetPort: 53 }] }),
    msvc('echo-port', { ports: [{ port: 8080, targetPort: 80 }] }),
    msvc('plain', { service: 'plain', meshAddress: '192.168.0.101' }),
    msvc('missing', { service: 'missing', meshAddress: '192.168.0.102' }),
    msvc('bad', { meshAddress: '10.0.0.1' }),
  ], [ECHO, unnamed], [slice('echo-a', [['100.96.1.2', true]]), plainSlice], LOCAL);
  assert.deepEqual(plan.names, [
    { namespace: 'default', name: 'echo', address: '192.168.0.100', ports: [{ name: 'web', protocol: 'TCP', port: 80 }, { name: 'dns', protocol: 'UDP', port: 53 }] },
    { namespace: 'default', name: 'echo-port', address: '192.168.0.12', ports: [{ name: 'http', protocol: 'TCP', port: 8080 }] },
    { namespace: 'default', name: 'plain', address: '192.168.0.101', ports: [{ protocol: 'TCP', port: 9000 }] },
  ]);
  assert.equal(plan.statuses.get('default/missing')!.state, 'Error');
  assert.equal(plan.statuses.get('default/bad')!.state, 'Invalid');

  const noEndpoint = planMeshServices([msvc('echo', { meshAddress: '192.168.0.100' })], [ECHO], [], LOCAL);
  assert.equal(noEndpoint.statuses.get('default/echo')!.state, 'Error');
  assert.deepEqual(noEndpoint.names, [], 'an Error MeshService (no ready endpoint) has no name');
});
