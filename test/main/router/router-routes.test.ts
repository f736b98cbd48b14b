import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wantedRouterRoutes } from '../../../src/main/router/router-routes.js';
import type { RouteSpec } from '../../../src/main/net/gateway-net.js';
import { formatIpv4, formatPrefix } from '../../../src/shared/cidr.js';
import type { KubeLinkResource, KubeLinkStatus } from '../../../src/shared/types.js';
import { kubeLink } from '../../fixtures/kubelink-fixtures.js';
import { ip4, prefix } from '../../helpers/ipv4-literals.js';

/** Routes as text, e.g. "100.64.16.0/20 via 10.250.0.2", order-independent. */
function text(routes: RouteSpec[]): string[] {
  return routes.map((r) => `${formatPrefix(r.destination)} via ${formatIpv4(r.via!)}`).sort();
}

const NODE = ip4('10.250.0.3');
const GW = '10.250.0.2';
const up = (gateway = GW): KubeLinkStatus => ({ state: 'Up', gateway });

test('a node that is not the gateway routes each service CIDR and the mesh CIDR via the gateway', () => {
  const plan = wantedRouterRoutes(
    [kubeLink('c2', '100.64.16.0/20', '192.168.0.12/24', up()), kubeLink('c3', '100.64.32.0/20', '192.168.0.13/24', { state: 'Down', gateway: GW })],
    NODE,
  );
  assert.deepEqual(text(plan.routes), ['100.64.16.0/20 via 10.250.0.2', '100.64.32.0/20 via 10.250.0.2', '192.168.0.0/24 via 10.250.0.2']);
  assert.equal(plan.isGateway, false);
  assert.deepEqual(plan.meshCidr, prefix('192.168.0.0/24'));
  assert.deepEqual(plan.skipped, []);
});

test('the gateway node itself wants no route', () => {
  const plan = wantedRouterRoutes([kubeLink('c2', '100.64.16.0/20', '192.168.0.12/24', up('10.250.0.3'))], NODE);
  assert.deepEqual(plan.routes, []);
  assert.equal(plan.isGateway, true);
  assert.deepEqual(plan.skipped, [], 'links served here are not reported as skipped');
});

test('links without status.gateway, marked Invalid or with unparsable fields get no route and say why', () => {
  const plan = wantedRouterRoutes(
    [
      kubeLink('no-status', '100.64.16.0/20', '192.168.0.12/24'),
      kubeLink('invalid', '100.64.32.0/20', '192.168.0.13/24', { state: 'Invalid', message: 'spec.endpoint is missing', gateway: GW }),
      kubeLink('bad-gw', '100.64.48.0/20', '192.168.0.14/24', { gateway: 'node-1' }),
      kubeLink('bad-cidr', '100.64.64.1/20', '192.168.0.15/24', up()),
      kubeLink('ok', '100.64.80.0/20', '192.168.0.16/24', up()),
    ],
    NODE,
  );
  assert.deepEqual(text(plan.routes), ['100.64.80.0/20 via 10.250.0.2', '192.168.0.0/24 via 10.250.0.2']);
  assert.deepEqual(plan.skipped.map((s) => s.name), ['bad-cidr', 'bad-gw', 'invalid', 'no-status']);
  const reason = (name: string) => plan.skipped.find((s) => s.name === name)!.reason;
  assert.match(reason('no-status'), /no status\.gateway/);
  assert.match(reason('invalid'), /Invalid \(spec\.endpoint is missing\)/);
  assert.match(reason('bad-gw'), /status\.gateway "node-1" is not an IPv4 address/);
  assert.match(reason('bad-cidr'), /spec\.cidr/);
});

test('no usable link means no route at all, not even the mesh CIDR', () => {
  assert.deepEqual(wantedRouterRoutes([kubeLink('c2', '100.64.16.0/20', '192.168.0.12/24')], NODE).routes, []);
  assert.deepEqual(wantedRouterRoutes([], NODE).routes, []);
});

test('a link overlapping the node, pod or local service network, or routed via a gateway outside the node network, is skipped', () => {
  const networks = { nodeCidr: prefix('10.250.0.0/24'), podCidr: prefix('100.96.0.0/11'), serviceCidr: prefix('100.64.0.0/20') };
  const plan = wantedRouterRoutes(
    [
      kubeLink('pods', '100.96.0.0/16', '192.168.0.12/24', up()),
      kubeLink('local', '100.64.0.0/24', '192.168.0.13/24', up()),
      kubeLink('nodes', '10.250.0.128/25', '192.168.0.14/24', up()),
      kubeLink('far-gw', '100.64.48.0/20', '192.168.0.15/24', up('10.1.0.2')),
      kubeLink('ok', '100.64.16.0/20', '192.168.0.16/24', up()),
    ],
    NODE,
    networks,
  );
  assert.deepEqual(text(plan.routes), ['100.64.16.0/20 via 10.250.0.2', '192.168.0.0/24 via 10.250.0.2']);
  const reasons = Object.fromEntries(plan.skipped.map((s) => [s.name, s.reason]));
  assert.match(reasons.pods!, /overlaps the local pod network 100\.96\.0\.0\/11/);
  assert.match(reasons.local!, /overlaps the local service network/);
  assert.match(reasons.nodes!, /overlaps the local node network/);
  assert.match(reasons['far-gw']!, /outside the node network 10\.250\.0\.0\/24/);
});

test('the mesh CIDR comes from --link-address when given, else from the network most links agree on', () => {
  const links = [
    kubeLink('a', '100.64.16.0/20', '192.168.0.12/24', up()),
    kubeLink('b', '100.64.32.0/20', '192.168.0.13/24', up()),
    kubeLink('stray', '100.64.48.0/20', '172.31.0.14/24', up()),
  ];
  const derived = wantedRouterRoutes(links, NODE);
  assert.deepEqual(derived.meshCidr, prefix('192.168.0.0/24'));
  assert.deepEqual(derived.skipped.map((s) => s.name), ['stray']);
  assert.match(derived.skipped[0]!.reason, /outside the mesh network 192\.168\.0\.0\/24/);

  const given = wantedRouterRoutes(links, NODE, { meshCidr: prefix('172.31.0.0/24') });
  assert.deepEqual(text(given.routes), ['100.64.48.0/20 via 10.250.0.2', '172.31.0.0/24 via 10.250.0.2']);
});

test('conflicting links without creation times are resolved in name order: the later one is skipped', () => {
  const plan = wantedRouterRoutes(
    [
      kubeLink('b', '100.64.16.0/24', '192.168.0.13/24', up('10.250.0.9')),
      kubeLink('a', '100.64.16.0/20', '192.168.0.12/24', up()),
      kubeLink('c', '100.64.32.0/20', '192.168.0.12/24', up()),
    ],
    NODE,
  );
  assert.deepEqual(text(plan.routes), ['100.64.16.0/20 via 10.250.0.2', '192.168.0.0/24 via 10.250.0.2']);
  assert.deepEqual(
    plan.skipped.map((s) => s.name),
    ['b', 'c'],
  );
  assert.match(plan.skipped[0]!.reason, /overlaps cidr 100\.64\.16\.0\/20 of link "a"/);
  assert.match(plan.skipped[1]!.reason, /already the cluster address of link "a"/);
});

test('links served by brokers on different nodes: mesh CIDR via the busiest gateway, /32 cluster addresses via the others', () => {
  const links = [
    kubeLink('a', '100.64.16.0/20', '192.168.0.12/24', up('10.250.0.5')),
    kubeLink('b', '100.64.32.0/20', '192.168.0.13/24', up('10.250.0.2')),
    kubeLink('c', '100.64.48.0/20', '192.168.0.14/24', up('10.250.0.2')),
  ];
  assert.deepEqual(text(wantedRouterRoutes(links, NODE).routes), [
    '100.64.16.0/20 via 10.250.0.5',
    '100.64.32.0/20 via 10.250.0.2',
    '100.64.48.0/20 via 10.250.0.2',
    '192.168.0.0/24 via 10.250.0.2',
    '192.168.0.12/32 via 10.250.0.5',
  ]);

  // On the node serving a and b the TUN holds the mesh CIDR: only c's routes are wanted.
  const onGateway = wantedRouterRoutes(links.slice(0, 2).concat(kubeLink('c', '100.64.48.0/20', '192.168.0.14/24', up('10.250.0.7'))), ip4('10.250.0.5'));
  assert.equal(onGateway.isGateway, true);
  assert.deepEqual(text(onGateway.routes), ['100.64.32.0/20 via 10.250.0.2', '100.64.48.0/20 via 10.250.0.7', '192.168.0.13/32 via 10.250.0.2', '192.168.0.14/32 via 10.250.0.7']);
});

test('a tie between gateways picks the lowest address, whatever the input order', () => {
  const a = kubeLink('a', '100.64.16.0/20', '192.168.0.12/24', up('10.250.0.7'));
  const b = kubeLink('b', '100.64.32.0/20', '192.168.0.13/24', up('10.250.0.4'));
  const mesh = (links: KubeLinkResource[]) => text(wantedRouterRoutes(links, NODE).routes).filter((r) => r.startsWith('192.168.0.0/24'));
  assert.deepEqual(mesh([a, b]), ['192.168.0.0/24 via 10.250.0.4']);
  assert.deepEqual(mesh([b, a]), ['192.168.0.0/24 via 10.250.0.4']);
});

test('egress prefixes go via the gateway like service CIDRs; a link without cidr routes only its egress', () => {
  const c2 = kubeLink('c2', '', '192.168.0.12/24', up());
  delete c2.spec.cidr;
  c2.spec.egress = ['192.168.0.100/32', '10.9.0.0/16'];
  const c3 = kubeLink('c3', '100.64.32.0/20', '192.168.0.13/24', up());
  c3.spec.egress = ['192.168.0.110/32'];
  const plan = wantedRouterRoutes([c2, c3], NODE, { serviceCidr: prefix('100.64.0.0/20') });
  assert.deepEqual(text(plan.routes), [
    '10.9.0.0/16 via 10.250.0.2', '100.64.32.0/20 via 10.250.0.2', '192.168.0.0/24 via 10.250.0.2', '192.168.0.100/32 via 10.250.0.2', '192.168.0.110/32 via 10.250.0.2',
  ]);
  assert.deepEqual(plan.skipped, []);
});

test('egress that overlaps a local network or another link\'s destinations gets the link no route', () => {
  const local = kubeLink('c2', '100.64.16.0/20', '192.168.0.12/24', up());
  local.spec.egress = ['100.64.0.10/32'];
  const taken = kubeLink('c4', '100.64.48.0/20', '192.168.0.14/24', up());
  taken.spec.egress = ['100.64.32.0/24'];
  const plan = wantedRouterRoutes([local, kubeLink('c3', '100.64.32.0/20', '192.168.0.13/24', up()), taken], NODE, { serviceCidr: prefix('100.64.0.0/20') });
  assert.deepEqual(plan.skipped, [
    { name: 'c2', reason: 'spec.egress[0] "100.64.0.10/32": overlaps the local service network 100.64.0.0/20' },
    { name: 'c4', reason: 'spec.egress[0] "100.64.32.0/24": overlaps cidr 100.64.32.0/20 of link "c3"' },
  ]);
});
