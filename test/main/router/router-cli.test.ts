// The real `kubelink --controllers=router` process (compiled cli.js) inside a network
// namespace standing in for a node, fed by a --links directory whose KubeLinks carry the
// status.gateway a broker would have written.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { ROUTER_ROUTE_PROTOCOL } from '../../../src/main/net/gateway-net.js';
import { parseLinkManifests } from '../../../src/main/links/links-file-source.js';
import { kubeLink } from '../../fixtures/kubelink-fixtures.js';
import { createNodeNamespace, waitFor, type NodeNamespace } from '../../helpers/node-namespace.js';

const CLI = fileURLToPath(new URL('../../../src/main/cli.js', import.meta.url));
const HTTP_PORT = 18080; // inside our own namespace: no clash with anything on the host
/** The router's default reconcile period is 10 s; a deleted route must be back well within this. */
const REPAIR_LIMIT_MS = 30_000;

/** A KubeLink as YAML, with the status a broker on `gateway` would have written. */
function manifest(name: string, cidr: string, clusterAddress: string, gateway: string): string {
  return stringify(kubeLink(name, cidr, clusterAddress, { state: 'Up', gateway }));
}

// The router needs status.gateway; a file source that drops status gives it nothing to route.
const statusPassedThrough = parseLinkManifests(manifest('probe', '100.64.16.0/20', '192.168.0.12/24', '10.250.0.2'), 'probe.yaml').resources[0]?.status?.gateway === '10.250.0.2';

let node: NodeNamespace;
let dir: string;

before(async () => {
  node = createNodeNamespace('rc', '10.250.0.3/24');
  node.ip('route', 'add', '100.96.1.0/24', 'via', '10.250.0.9', 'proto', 'static');
  node.ip('route', 'add', '172.20.0.0/16', 'via', '10.250.0.9');
  dir = await mkdtemp(path.join(os.tmpdir(), 'kubelink-router-'));
});

after(async () => {
  node.remove();
  await rm(dir, { recursive: true, force: true });
});

function startRouterProcess(): { child: ChildProcess; output: () => string } {
  const child = spawn(
    'ip',
    ['netns', 'exec', node.name, process.execPath, CLI, '--controllers=router', `--links=${dir}`, '--node-cidr=10.250.0.0/24', '--pod-cidr=100.96.0.0/11', `--server-port-http=${HTTP_PORT}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return { child, output: () => stderr };
}

function httpStatusInNamespace(urlPath: string): number {
  const script = `fetch('http://127.0.0.1:${HTTP_PORT}${urlPath}').then((r) => console.log(r.status), () => console.log(0))`;
  return Number(execFileSync('ip', ['netns', 'exec', node.name, process.execPath, '-e', script], { encoding: 'utf8' }).trim());
}

test(
  'kubelink --controllers=router keeps proto-212 routes via status.gateway: foreign routes stay, removed links and the gateway node lose theirs, deleted routes come back',
  { skip: statusPassedThrough ? false : 'the --links file source drops status, so status.gateway never reaches the router (src/main/links/links-file-source.ts)' },
  async () => {
    const ours = () => node.routes(ROUTER_ROUTE_PROTOCOL);
    const foreign = node.allRoutes().filter((r) => r.includes('via 10.250.0.9'));
    await writeFile(path.join(dir, 'cluster2.yaml'), manifest('cluster2', '100.64.16.0/20', '192.168.0.12/24', '10.250.0.2'));
    await writeFile(path.join(dir, 'cluster3.yaml'), manifest('cluster3', '100.64.32.0/20', '192.168.0.13/24', '10.250.0.2'));

    const { child, output } = startRouterProcess();
    const exited = once(child, 'exit');
    try {
      const want = ['100.64.16.0/20 via 10.250.0.2 dev eth0', '100.64.32.0/20 via 10.250.0.2 dev eth0', '192.168.0.0/24 via 10.250.0.2 dev eth0'];
      await waitFor('the routes of both links and the mesh', () => ours().length === 3);
      assert.deepEqual(ours(), want);
      assert.deepEqual(node.allRoutes().filter((r) => r.includes('via 10.250.0.9')), foreign, 'foreign and pod routes are untouched');
      await waitFor('/readyz', () => httpStatusInNamespace('/readyz') === 200);
      assert.equal(httpStatusInNamespace('/healthz'), 200);

      await rm(path.join(dir, 'cluster3.yaml'));
      await waitFor('the removed link to lose its route', () => !ours().some((r) => r.startsWith('100.64.32.0/20')));
      assert.deepEqual(ours(), [want[0], want[2]]);

      node.ip('route', 'del', '100.64.16.0/20', 'proto', String(ROUTER_ROUTE_PROTOCOL));
      await waitFor('the deleted route to come back with the periodic reconcile', () => ours().includes(want[0]!), REPAIR_LIMIT_MS, 200);

      // The broker moved to this node: it is now the gateway and the router steps aside.
      await writeFile(path.join(dir, 'cluster2.yaml'), manifest('cluster2', '100.64.16.0/20', '192.168.0.12/24', '10.250.0.3'));
      await waitFor('no routes of ours on the gateway node', () => ours().length === 0);
      assert.deepEqual(node.allRoutes().filter((r) => r.includes('via 10.250.0.9')), foreign);

      child.kill('SIGTERM');
      const [code] = await exited;
      assert.equal(code, 0, `clean exit on SIGTERM; output:\n${output()}`);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nrouter output:\n${output()}`, { cause: err });
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    }
  },
);
