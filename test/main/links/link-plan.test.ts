import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meshNetworkOfLinks, planLinks, type PlanSettings } from '../../../src/main/links/link-plan.js';
import { wantedRouterRoutes } from '../../../src/main/router/router-routes.js';
import { formatPrefix } from '../../../src/shared/cidr.js';
import type { KubeLinkResource } from '../../../src/shared/types.js';
import { kubeLink } from '../../fixtures/kubelink-fixtures.js';
import { ip4, iface, prefix } from '../../helpers/ipv4-literals.js';

const settings = (over: Partial<PlanSettings> = {}): PlanSettings => ({
  linkAddress: iface('192.168.0.11/24'),
  serviceCidr: prefix('100.64.0.0/20'),
  servedLinks: 'all',
  capacity: { links: 16, routeEntries: 64 },
  ...over,
});

function created(resource: KubeLinkResource, iso: string): KubeLinkResource {
  return { ...resource, metadata: { ...resource.metadata, creationTimestamp: iso } };
}

test('broker and router keep the same one of two conflicting links: the older, although its name sorts last', () => {
  // "z-old" exists since January; "a-new" (sorts first by name) claims an overlapping cidr later.
  const older = created(kubeLink('z-old', '100.64.16.0/20', '192.168.0.12/24', { state: 'Up', gateway: '10.250.0.2' }), '2026-01-01T00:00:00Z');
  const newer = created(kubeLink('a-new', '100.64.16.0/24', '192.168.0.13/24', { state: 'Down', gateway: '10.250.0.2' }), '2026-02-01T00:00:00Z');
  const resources = [newer, older];

  const broker = planLinks(resources, settings(), new Set());
  assert.deepEqual(broker.served.map((l) => l.name), ['z-old']);
  assert.deepEqual(broker.invalid.map((i) => i.name), ['a-new']);

  // The router sees the same resources before the broker has written a-new's Invalid status.
  const router = wantedRouterRoutes(resources, ip4('10.250.0.3'));
  assert.deepEqual(router.skipped.map((s) => s.name), ['a-new'], 'the router skips the link the broker finds Invalid');
  assert.deepEqual(router.routes.map((r) => formatPrefix(r.destination)).sort(), ['100.64.16.0/20', '192.168.0.0/24']);
  assert.equal(router.skipped[0]!.reason, broker.invalid[0]!.message, 'with the same message');
});

test('the served-links filter leaves the other links to other brokers, valid and not Invalid', () => {
  const plan = planLinks(
    [kubeLink('c2', '100.64.16.0/20', '192.168.0.12/24'), kubeLink('c3', '100.64.32.0/20', '192.168.0.13/24')],
    settings({ servedLinks: ['c3'] }),
    new Set(),
  );
  assert.deepEqual(plan.served.map((l) => l.name), ['c3']);
  assert.deepEqual(plan.elsewhere.map((l) => l.name), ['c2']);
  assert.deepEqual(plan.invalid, []);
});

test('beyond the capacity, links served already keep their place and the rest are Invalid saying why', () => {
  const links = ['c2', 'c3', 'c4'].map((name, i) => kubeLink(name, `100.64.${16 * (i + 1)}.0/20`, `192.168.0.${12 + i}/24`));
  const plan = planLinks(links, settings({ capacity: { links: 2, routeEntries: 64 } }), new Set(['c4']));
  assert.deepEqual(plan.served.map((l) => l.name), ['c2', 'c4']);
  assert.deepEqual(plan.invalid, [{ name: 'c3', reason: 'this broker serves at most 2 links', message: 'this broker serves at most 2 links' }]);

  const entries = planLinks(links, settings({ capacity: { links: 16, routeEntries: 4 } }), new Set());
  assert.deepEqual(entries.served.map((l) => l.name), ['c2', 'c3'], 'two destinations each (cidr and cluster address)');
  assert.match(entries.invalid[0]!.message, /route table holds at most 4 destinations/);
});

test('validation failures are Invalid with the field and a status message', () => {
  const plan = planLinks([kubeLink('bad', '100.64.0.0/24', '192.168.0.12/24')], settings(), new Set());
  assert.equal(plan.served.length, 0);
  assert.equal(plan.invalid[0]!.field, 'spec.cidr');
  assert.match(plan.invalid[0]!.message, /^spec\.cidr "100\.64\.0\.0\/24": overlaps the local service network/);
});

test('the mesh network of a router without --link-address is the one most links agree on', () => {
  const links = [kubeLink('a', '100.64.16.0/20', '10.1.0.2/16'), kubeLink('b', '100.64.32.0/20', '192.168.0.12/24'), kubeLink('c', '100.64.48.0/20', '192.168.0.13/24')];
  assert.equal(formatPrefix(meshNetworkOfLinks(links)!), '192.168.0.0/24');
  assert.equal(meshNetworkOfLinks([]), undefined);
});
