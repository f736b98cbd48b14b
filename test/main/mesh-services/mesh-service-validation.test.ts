import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meshServiceMessage, validateMeshServices, type MeshLocal, type MeshServiceValidation } from '../../../src/main/mesh-services/mesh-service-validation.js';
import { parseInterface, parseIpv4 } from '../../../src/shared/cidr.js';
import type { MeshServiceResource, MeshServiceSpec } from '../../../src/shared/types.js';

const linkAddress = parseInterface('192.168.0.12/24');
if (!linkAddress.ok) throw new Error(linkAddress.reason);
// We are c2 (192.168.0.12); c1 (192.168.0.11) and c3 (192.168.0.13) are linked.
const LOCAL: MeshLocal = { linkAddress: linkAddress.value, linkClusterAddresses: [parseIpv4('192.168.0.11')!, parseIpv4('192.168.0.13')!] };

function msvc(name: string, spec: Partial<MeshServiceSpec> | Record<string, unknown>, creationTimestamp?: string, namespace = 'default'): MeshServiceResource {
  return {
    apiVersion: 'kubelink.mandelsoft.org/v1alpha1',
    kind: 'MeshService',
    metadata: { name, namespace, ...(creationTimestamp ? { creationTimestamp } : {}) },
    spec: { service: 'echo', ...spec } as MeshServiceSpec,
  };
}

function one(spec: Partial<MeshServiceSpec> | Record<string, unknown>): MeshServiceValidation {
  return validateMeshServices([msvc('m', spec)], LOCAL)[0]!;
}

function message(v: MeshServiceValidation): string {
  assert.equal(v.ok, false, 'expected an invalid MeshService');
  return meshServiceMessage(v as Extract<MeshServiceValidation, { ok: false }>);
}

test('a mesh address without ports publishes every Service port; ports get protocol TCP and targetPort = port by default', () => {
  const all = one({ meshAddress: '192.168.0.100' });
  assert.ok(all.ok);
  assert.deepEqual(all.meshService, { key: 'default/m', namespace: 'default', name: 'm', service: 'echo', address: parseIpv4('192.168.0.100'), portMode: false });
  const some = one({ meshAddress: '192.168.0.100', ports: [{ port: 80 }, { name: 'dns', protocol: 'UDP', port: 53, targetPort: 'dns' }, { port: 8080, targetPort: '80' }] });
  assert.ok(some.ok);
  assert.deepEqual(some.meshService.ports, [
    { protocol: 'TCP', port: 80, targetPort: 80 },
    { name: 'dns', protocol: 'UDP', port: 53, targetPort: 'dns' },
    { protocol: 'TCP', port: 8080, targetPort: 80 },
  ]);
});

test('port mode publishes on the local cluster address and needs ports', () => {
  const v = one({ ports: [{ port: 8080, targetPort: 80 }] });
  assert.ok(v.ok);
  assert.equal(v.meshService.address, parseIpv4('192.168.0.12'));
  assert.equal(v.meshService.portMode, true);
  assert.equal(message(one({})), 'spec.ports "": port mode (no spec.meshAddress: published on the cluster address 192.168.0.12) needs ports');
  assert.equal(message(one({ ports: [] })), 'spec.ports []: port mode (no spec.meshAddress: published on the cluster address 192.168.0.12) needs ports');
});

test('the mesh address must be a host of the mesh network and no cluster address', () => {
  assert.equal(message(one({ meshAddress: '10.0.0.1' })), 'spec.meshAddress "10.0.0.1": is outside the mesh network 192.168.0.0/24');
  assert.equal(message(one({ meshAddress: '192.168.0.255' })), 'spec.meshAddress "192.168.0.255": is the network or broadcast address of the mesh network 192.168.0.0/24');
  assert.equal(message(one({ meshAddress: '192.168.0.12' })), 'spec.meshAddress "192.168.0.12": is the local cluster address; leave spec.meshAddress out to publish ports on it (port mode)');
  assert.equal(message(one({ meshAddress: '192.168.0.13' })), 'spec.meshAddress "192.168.0.13": is the cluster address of a linked cluster');
  assert.equal(message(one({ meshAddress: '192.168.0.100/32' })), 'spec.meshAddress "192.168.0.100/32": must be an IPv4 address (without prefix length)');
});

test('ports out of range, unknown protocols, bad target ports and duplicates are Invalid and name the field', () => {
  const at = (ports: unknown[]) => message(one({ meshAddress: '192.168.0.100', ports } as Record<string, unknown>));
  assert.equal(at([{ port: 0 }]), 'spec.ports[0].port 0: must be an integer 1..65535');
  assert.equal(at([{ port: 80 }, { port: 70000 }]), 'spec.ports[1].port 70000: must be an integer 1..65535');
  assert.equal(at([{ port: 80, protocol: 'SCTP' }]), 'spec.ports[0].protocol "SCTP": must be TCP or UDP');
  assert.equal(at([{ port: 80, protocol: 'tcp' }]), 'spec.ports[0].protocol "tcp": must be TCP or UDP');
  assert.equal(at([{ port: 80, targetPort: 0 }]), 'spec.ports[0].targetPort 0: must be a port number 1..65535 or the name of a Service port');
  assert.equal(at([{ port: 80, targetPort: 'Not_A_Name' }]), 'spec.ports[0].targetPort "Not_A_Name": must be a port number 1..65535 or the name of a Service port');
  assert.equal(at([{ port: 80 }, { port: 80, protocol: 'TCP' }]), 'spec.ports[1].port 80: TCP port 80 is already published by spec.ports[0]');
  assert.ok(one({ meshAddress: '192.168.0.100', ports: [{ port: 53 }, { port: 53, protocol: 'UDP' }] }).ok, 'TCP and UDP of one number are two ports');
  assert.equal(message(one({ service: 'Bad_Name' })), 'spec.service "Bad_Name": must be the name of a Service in the same namespace');
  assert.equal(message(one({ service: '' })), 'spec.service "": is missing');
});

test('one mesh address for two MeshServices: the older is Ok, the newer Invalid naming it; order of input does not matter', () => {
  const older = msvc('older', { meshAddress: '192.168.0.100' }, '2026-01-01T00:00:00Z', 'b');
  const newer = msvc('newer', { meshAddress: '192.168.0.100' }, '2026-01-02T00:00:00Z', 'a');
  for (const input of [[older, newer], [newer, older]]) {
    const results = validateMeshServices(input, LOCAL);
    const byName = new Map(results.map((r, i) => [input[i]!.metadata.name, r]));
    assert.ok(byName.get('older')!.ok);
    assert.equal(message(byName.get('newer')!), 'spec.meshAddress "192.168.0.100": is already published by MeshService b/older');
  }
});

test('port mode: a port of the cluster address is published once across MeshServices; other ports coexist', () => {
  const first = msvc('first', { ports: [{ port: 8080 }] }, '2026-01-01T00:00:00Z');
  const clash = msvc('clash', { service: 'other', ports: [{ port: 9090 }, { port: 8080, targetPort: 80 }] }, '2026-01-02T00:00:00Z');
  const udp = msvc('udp', { service: 'other', ports: [{ port: 8080, protocol: 'UDP' }] }, '2026-01-03T00:00:00Z');
  const results = validateMeshServices([clash, first, udp], LOCAL);
  assert.equal(message(results[0]!), 'spec.ports[1].port 8080: TCP port 8080 of the cluster address is already published by MeshService default/first');
  assert.ok(results[1]!.ok);
  assert.ok(results[2]!.ok);
});

test('an invalid MeshService does not block a valid one with the same address', () => {
  const broken = msvc('broken', { meshAddress: '192.168.0.100', ports: [{ port: -1 }] }, '2026-01-01T00:00:00Z');
  const good = msvc('good', { meshAddress: '192.168.0.100' }, '2026-01-02T00:00:00Z');
  const results = validateMeshServices([broken, good], LOCAL);
  assert.equal(results[0]!.ok, false);
  assert.ok(results[1]!.ok);
});

test('created in the same second: the one already accepted (status Ok or Error) keeps the address, whatever the names', () => {
  const working = { ...msvc('zeta', { meshAddress: '192.168.0.100' }, '2026-01-01T00:00:00Z'), status: { state: 'Ok' as const } };
  const newcomer = msvc('alpha', { meshAddress: '192.168.0.100' }, '2026-01-01T00:00:00Z');
  const results = validateMeshServices([newcomer, working], LOCAL);
  assert.equal(message(results[0]!), 'spec.meshAddress "192.168.0.100": is already published by MeshService default/zeta');
  assert.ok(results[1]!.ok);
});

test("a mesh address inside a KubeLink's spec.egress is Invalid, naming the link and the entry (the link keeps routing it to its peer); other addresses are unaffected", () => {
  const local: MeshLocal = {
    ...LOCAL,
    linkEgress: [
      { link: 'c1', index: 0, prefix: { network: parseIpv4('192.168.0.200')!, prefixLength: 32 } },
      { link: 'c3', index: 1, prefix: { network: parseIpv4('192.168.0.96')!, prefixLength: 28 } },
    ],
  };
  const [routed, inRange, free, portMode] = validateMeshServices([
    msvc('a', { meshAddress: '192.168.0.200' }),
    msvc('b', { meshAddress: '192.168.0.100' }),
    msvc('c', { meshAddress: '192.168.0.150' }),
    msvc('d', { ports: [{ port: 8080 }] }),
  ], local);
  assert.equal(message(routed!), `spec.meshAddress "192.168.0.200": is routed to the linked cluster c1 by its KubeLink's spec.egress[0] 192.168.0.200/32`);
  assert.equal(message(inRange!), `spec.meshAddress "192.168.0.100": is routed to the linked cluster c3 by its KubeLink's spec.egress[1] 192.168.0.96/28`);
  assert.ok(free!.ok);
  assert.ok(portMode!.ok, 'port mode uses the cluster address, which no egress may hold (link validation)');
  assert.ok(validateMeshServices([msvc('a', { meshAddress: '192.168.0.200' })], LOCAL)[0]!.ok, 'without that egress it is valid');
});
