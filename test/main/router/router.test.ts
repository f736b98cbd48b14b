// The router controller against a real network namespace standing in for a node, with
// the links handed in by a fake link source (the file-backed run of the real binary is in
// router-cli.test.ts).
import { after, before, beforeEach, test } from 'node:test';
import { FakeClock } from '../../helpers/fake-clock.js';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { parseFlags } from '../../../src/main/flags.js';
import { GatewayNet, ROUTER_ROUTE_PROTOCOL } from '../../../src/main/net/gateway-net.js';
import { silentLogger } from '../../../src/shared/log.js';
import { Router } from '../../../src/main/router/router.js';
import type { KubeLinkResource, LinkSource } from '../../../src/shared/types.js';
import { kubeLink } from '../../fixtures/kubelink-fixtures.js';
import { createNodeNamespace, waitFor, type NodeNamespace } from '../../helpers/node-namespace.js';

const RECONCILE_MS = 200;

/** A link source whose links the test sets. */
class FakeLinkSource implements LinkSource {
  private onChange?: (resources: KubeLinkResource[]) => void;
  constructor(private links: KubeLinkResource[]) {}
  async start(onChange: (resources: KubeLinkResource[]) => void): Promise<void> {
    this.onChange = onChange;
    onChange(this.links);
  }
  async stop(): Promise<void> {
    this.onChange = undefined;
  }
  async reportStatus(): Promise<void> {}
  set(links: KubeLinkResource[]): void {
    this.links = links;
    this.onChange?.(links);
  }
}

const GATEWAY = '10.250.0.2';
const c2 = (gateway = GATEWAY) => kubeLink('cluster2', '100.64.16.0/20', '192.168.0.12/24', { state: 'Up', gateway });
const c3 = (gateway = GATEWAY) => kubeLink('cluster3', '100.64.32.0/20', '192.168.0.13/24', { state: 'Down', gateway });

let node: NodeNamespace;

before(() => {
  node = createNodeNamespace('rt', '10.250.0.3/24');
  // A CNI-style pod route and an unrelated static route: never ours to touch.
  node.ip('route', 'add', '100.96.1.0/24', 'via', '10.250.0.9', 'proto', 'static');
  node.ip('route', 'add', '172.20.0.0/16', 'via', '10.250.0.9');
});

after(() => node.remove());

// Each test starts without routes of ours (a stopped router leaves its routes on purpose).
beforeEach(() => {
  node.ip('route', 'flush', 'table', 'main', 'proto', String(ROUTER_ROUTE_PROTOCOL));
});

async function startRouter(source: LinkSource, extraFlags: string[] = []) {
  const http = extraFlags.some((f) => f.startsWith('--server-port-http')) ? [] : ['--server-port-http=0'];
  const config = parseFlags(['--controllers=router', '--node-cidr=10.250.0.0/24', '--pod-cidr=100.96.0.0/11', ...http, ...extraFlags]);
  const router = new Router(config, silentLogger, { linkSource: source, net: new GatewayNet({ netns: node.name }), reconcileIntervalMs: RECONCILE_MS });
  await router.start();
  return router;
}

const ours = () => node.routes(ROUTER_ROUTE_PROTOCOL);
const foreignRoutes = () => node.allRoutes().filter((r) => r.startsWith('100.96.1.0/24') || r.startsWith('172.20.0.0/16'));

test('routes to the service CIDRs and the mesh CIDR appear via the gateway with proto 212, foreign routes stay', async () => {
  const foreign = foreignRoutes();
  const router = await startRouter(new FakeLinkSource([c2(), c3()]));
  try {
    assert.deepEqual(ours(), [
      '100.64.16.0/20 via 10.250.0.2 dev eth0',
      '100.64.32.0/20 via 10.250.0.2 dev eth0',
      '192.168.0.0/24 via 10.250.0.2 dev eth0',
    ]);
    assert.deepEqual(foreignRoutes(), foreign);
    assert.equal(foreign.length, 2);
  } finally {
    await router.stop();
  }
});

test('a removed link loses its route; a link without gateway or marked Invalid gets none', async () => {
  const source = new FakeLinkSource([c2(), c3()]);
  const router = await startRouter(source);
  try {
    source.set([c2(), kubeLink('cluster4', '100.64.48.0/20', '192.168.0.14/24'), kubeLink('cluster5', '100.64.64.0/20', '192.168.0.15/24', { state: 'Invalid', gateway: GATEWAY })]);
    await waitFor('the route of cluster3 to disappear', () => !ours().some((r) => r.startsWith('100.64.32.0/20')));
    await router.reconcileNow();
    assert.deepEqual(ours(), ['100.64.16.0/20 via 10.250.0.2 dev eth0', '192.168.0.0/24 via 10.250.0.2 dev eth0']);
    assert.equal(foreignRoutes().length, 2);
  } finally {
    await router.stop();
  }
});

test('a deleted route comes back with the next periodic reconcile, and a moved gateway moves the routes', async () => {
  const source = new FakeLinkSource([c2()]);
  const router = await startRouter(source);
  try {
    node.ip('route', 'del', '100.64.16.0/20', 'proto', String(ROUTER_ROUTE_PROTOCOL));
    assert.ok(!ours().some((r) => r.startsWith('100.64.16.0/20')));
    await waitFor('the deleted route to come back', () => ours().includes('100.64.16.0/20 via 10.250.0.2 dev eth0'));

    source.set([c2('10.250.0.4')]);
    await waitFor('the routes to follow the new gateway', () => ours().every((r) => r.includes('via 10.250.0.4')) && ours().length === 2);
  } finally {
    await router.stop();
  }
});

test('on the gateway node nothing is installed and earlier routes of ours are removed', async () => {
  node.ip('route', 'replace', '100.64.16.0/20', 'via', '10.250.0.2', 'proto', String(ROUTER_ROUTE_PROTOCOL));
  const router = await startRouter(new FakeLinkSource([c2('10.250.0.3'), c3('10.250.0.3')]));
  try {
    assert.deepEqual(ours(), []);
    assert.equal(foreignRoutes().length, 2);
  } finally {
    await router.stop();
  }
});

test('--node-ip overrides the address found in --node-cidr', async () => {
  const router = await startRouter(new FakeLinkSource([c2('10.250.0.7')]), ['--node-ip=10.250.0.7']);
  try {
    assert.deepEqual(ours(), [], 'this node is 10.250.0.7, the gateway');
  } finally {
    await router.stop();
  }
});

test('a router without --node-ip or --node-cidr refuses to start', async () => {
  const config = parseFlags(['--controllers=router', '--server-port-http=0']);
  assert.throws(() => new Router(config, silentLogger, { linkSource: new FakeLinkSource([]) }), /--node-ip or --node-cidr/);
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('health, readiness and metrics are served on --server-port-http', async () => {
  const port = await freePort();
  const router = await startRouter(new FakeLinkSource([c2()]), [`--server-port-http=${port}`]);
  try {
    const base = `http://127.0.0.1:${port}`;
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /^kubelink_router_routes_wanted 2$/m);
    assert.match(metrics, /^kubelink_router_node_is_gateway 0$/m);
  } finally {
    await router.stop();
  }
});

test('/healthz fails once no reconcile has succeeded for three periods, /readyz until the first one succeeds', async () => {
  const port = await freePort();
  const clock = new FakeClock(1_000_000);
  const unreachable = async () => Promise.reject(new Error('netlinkOpen: socket: Address family not supported by protocol (EAFNOSUPPORT)'));
  const brokenIp = new GatewayNet({
    routes: { dumpRoutes: unreachable, linkIndexes: unreachable, linkNames: unreachable, apply: unreachable, close: () => {} },
  });
  const config = parseFlags(['--controllers=router', '--node-ip=10.250.0.3', `--server-port-http=${port}`]);
  const router = new Router(config, silentLogger, { linkSource: new FakeLinkSource([c2()]), net: brokenIp, reconcileIntervalMs: 60_000, clock });
  await router.start();
  try {
    const status = async (path: string) => (await fetch(`http://127.0.0.1:${port}${path}`)).status;
    assert.equal(await status('/readyz'), 503);
    assert.equal(await status('/healthz'), 200, 'within the grace of three periods');
    await clock.advance(3 * 60_000 + 1);
    assert.equal(await status('/healthz'), 503);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /^kubelink_router_reconcile_errors_total [1-9]/m);
  } finally {
    await router.stop();
  }
});

test('a link source that fails to start fails the router start and closes its HTTP port', async () => {
  const port = await freePort();
  const failing: LinkSource = {
    start: async () => Promise.reject(new Error('KubeLinks cannot be listed')),
    stop: async () => {},
    reportStatus: async () => {},
  };
  const config = parseFlags(['--controllers=router', '--node-ip=10.250.0.3', `--server-port-http=${port}`]);
  const router = new Router(config, silentLogger, { linkSource: failing, net: new GatewayNet({ netns: node.name }) });
  await assert.rejects(router.start(), (err: Error) => /cannot read KubeLinks/.test(err.message) && /cannot be listed/.test(String((err.cause as Error)?.message)));
  await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'nothing listens any more');
});
