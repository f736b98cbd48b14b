// The MeshService controller against the test API server, with its NAT applied in a
// network namespace of its own (root; removed even when a test fails): status, NAT and
// the published addresses follow MeshServices, Services and EndpointSlices.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DiscoveryV1Api } from '@kubernetes/client-node';
import { MeshServiceController } from '../../../src/main/mesh-services/mesh-service-controller.js';
import { MESHSERVICE_CRD } from '../../../src/main/mesh-services/mesh-service-crd.js';
import { ensureCrd } from '../../../src/main/k8s/ensure-crd.js';
import { runCommand } from '../../../src/main/net/run-command.js';
import { parseInterface, parseIpv4 } from '../../../src/shared/cidr.js';
import { IPPROTO_TCP, type PublishedAddress } from '../../../src/shared/inbound-filter.js';
import { silentLogger } from '../../../src/shared/log.js';
import type { MeshServiceResource } from '../../../src/shared/types.js';
import { startEnv, waitFor, type ApiServerEnv } from '../k8s/api-server-env.js';

const MSVC = { group: 'kubelink.mandelsoft.org', version: 'v1alpha1', plural: 'meshservices' };
const linkAddress = parseInterface('192.168.0.12/24');
if (!linkAddress.ok) throw new Error(linkAddress.reason);

describe('MeshServiceController', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
  const ns = `klmc${process.pid}`;
  const save = async () => (await runCommand(['ip', 'netns', 'exec', ns, 'iptables-save', '-t', 'nat'])).stdout.split('\n').filter((l) => !l.startsWith('#')).join('\n');
  let env: ApiServerEnv;
  let controller: MeshServiceController;
  let published: PublishedAddress[] = [];
  let discovery: DiscoveryV1Api;
  let before0 = '';

  const status = async (name: string) => ((await env.custom.getNamespacedCustomObject({ ...MSVC, namespace: 'default', name })) as MeshServiceResource).status ?? {};
  const createMsvc = (name: string, spec: Record<string, unknown>) =>
    env.custom.createNamespacedCustomObject({ ...MSVC, namespace: 'default', body: { apiVersion: 'kubelink.mandelsoft.org/v1alpha1', kind: 'MeshService', metadata: { name }, spec } });
  const echoService = () => env.core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'echo' }, spec: { ports: [{ name: 'http', protocol: 'TCP', port: 80 }] } } });
  const slice = (addresses: string[]) => ({
    metadata: { name: 'echo-1', labels: { 'kubernetes.io/service-name': 'echo' } },
    addressType: 'IPv4',
    endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })),
    ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
  });

  before(async () => {
    await runCommand(['ip', 'netns', 'add', ns]);
    before0 = await save();
    env = await startEnv();
    await ensureCrd(env.kubeConfig, silentLogger, {}, MESHSERVICE_CRD);
    discovery = env.kubeConfig.makeApiClient(DiscoveryV1Api);
    controller = new MeshServiceController({
      kubeConfig: env.kubeConfig,
      ifname: 'kl0',
      linkAddress: linkAddress.value,
      publish: (p) => (published = p),
      log: silentLogger,
      netns: ns,
    });
    controller.setLinks([{ name: 'c1', clusterAddress: parseIpv4('192.168.0.11')!, egress: [] }]);
    await controller.start();
  });
  after(async () => {
    await controller?.stop();
    await env?.close();
    await runCommand(['ip', 'netns', 'del', ns]).catch(() => undefined);
  });

  test('a MeshService of a missing Service is Error until the Service appears, then Ok with NAT and a published address', async () => {
    await createMsvc('echo', { service: 'echo', meshAddress: '192.168.0.100', ports: [{ port: 80, targetPort: 'http' }] });
    await waitFor('Error: service not found', async () => (await status('echo')).message === 'service default/echo not found');
    assert.equal((await status('echo')).state, 'Error');
    assert.equal((await status('echo')).address, '192.168.0.100');
    assert.deepEqual(published, []);

    await echoService();
    await discovery.createNamespacedEndpointSlice({ namespace: 'default', body: slice(['100.96.1.2']) });
    await waitFor('Ok', async () => (await status('echo')).state === 'Ok');
    await waitFor('DNAT to the endpoint', async () => (await save()).includes('-A KL-MESH-kl0 -d 192.168.0.100/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 100.96.1.2:8080'));
    assert.deepEqual(published, [{ address: parseIpv4('192.168.0.100'), ports: [{ protocol: IPPROTO_TCP, port: 80 }] }]);
  });

  test('the mapping follows endpoint changes', async () => {
    await discovery.replaceNamespacedEndpointSlice({ name: 'echo-1', namespace: 'default', body: slice(['100.96.1.5', '100.96.1.6']) });
    await waitFor('DNAT to the new endpoints', async () => {
      const nat = await save();
      return !nat.includes('100.96.1.2') && nat.includes('--probability 0.5') && nat.includes('--to-destination 100.96.1.5:8080') && nat.includes('--to-destination 100.96.1.6:8080');
    });
    await discovery.replaceNamespacedEndpointSlice({ name: 'echo-1', namespace: 'default', body: slice([]) });
    await waitFor('Error without ready endpoints', async () => (await status('echo')).message === 'service default/echo has no ready endpoint for 80/TCP');
    assert.ok(!(await save()).includes('-j DNAT'));
    await discovery.replaceNamespacedEndpointSlice({ name: 'echo-1', namespace: 'default', body: slice(['100.96.1.7']) });
    await waitFor('Ok again', async () => (await status('echo')).state === 'Ok');
  });

  test("a KubeLink whose spec.egress routes the mesh address to its peer makes the MeshService Invalid (no NAT, nothing published); without that egress it is Ok again", async () => {
    const c1 = { name: 'c1', clusterAddress: parseIpv4('192.168.0.11')!, egress: [] };
    controller.setLinks([c1, { name: 'c3', clusterAddress: parseIpv4('192.168.0.13')!, egress: [{ network: parseIpv4('192.168.0.100')!, prefixLength: 32 }] }]);
    await waitFor('Invalid', async () => (await status('echo')).message === 'spec.meshAddress "192.168.0.100": is routed to the linked cluster c3 by its KubeLink\'s spec.egress[0] 192.168.0.100/32');
    assert.equal((await status('echo')).state, 'Invalid');
    await waitFor('NAT removed', async () => !(await save()).includes('-j DNAT'));
    await waitFor('nothing published', () => published.length === 0);
    controller.setLinks([c1]);
    await waitFor('Ok again', async () => (await status('echo')).state === 'Ok');
    await waitFor('published again', () => published.length === 1);
  });

  test('bad MeshServices are Invalid with a message and leave the working one alone; deleting all leaves the nat table as before', async () => {
    await createMsvc('clash', { service: 'echo', meshAddress: '192.168.0.100' });
    await createMsvc('badport', { service: 'echo', meshAddress: '192.168.0.101', ports: [{ port: 70000 }] });
    await createMsvc('linkaddr', { service: 'echo', meshAddress: '192.168.0.11' });
    await waitFor('clash Invalid', async () => (await status('clash')).message === 'spec.meshAddress "192.168.0.100": is already published by MeshService default/echo');
    await waitFor('badport Invalid', async () => (await status('badport')).message === 'spec.ports[0].port 70000: must be an integer 1..65535');
    await waitFor('linkaddr Invalid', async () => (await status('linkaddr')).message === 'spec.meshAddress "192.168.0.11": is the cluster address of a linked cluster');
    assert.equal((await status('echo')).state, 'Ok');

    for (const name of ['echo', 'clash', 'badport', 'linkaddr']) await env.custom.deleteNamespacedCustomObject({ ...MSVC, namespace: 'default', name });
    await waitFor('NAT removed', async () => (await save()) === before0);
    await waitFor('nothing published', () => published.length === 0);
  });
});
