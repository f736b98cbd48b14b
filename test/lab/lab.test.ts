// Tests of the lab itself (not of kubelink): topology, networking, paths, cleanup.
// Needs root, /dev/net/tun and `ip netns`; every lab here has a random prefix and is
// removed in after/finally.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Lab } from '../../loadtest/lab/lab.js';
import { assertPrerequisites, findMissingPrerequisites } from '../../loadtest/lab/preconditions.js';
import { hostsFile } from '../../loadtest/lab/network-builder.js';
import { allNamespaces, describeTopology } from '../../loadtest/lab/topology.js';
import { kubeLinkFor } from '../../loadtest/lab/kubelink-files.js';
import { parsePrefix, prefixesOverlap } from '../../src/shared/cidr.js';
import { assertNothingLeft, isAlive, pidsInLabNamespaces } from './lab-leftovers.js';

const LAB_MODULE_URL = new URL('../../loadtest/lab/lab.js', import.meta.url).href;

function randomPrefix(): string {
  return `kl${randomBytes(2).toString('hex')}`;
}

describe('lab topology (pure)', () => {
  test('sameServiceCidr gives every cluster 100.64.0.0/20 with echo at 100.64.0.100, links without cidr, and needs staticRoutes: false', () => {
    const t = describeTopology('kltest', 3, { sameServiceCidr: true });
    assert.ok(t.sameServiceCidr);
    assert.deepEqual(new Set(t.clusters.map((c) => `${c.serviceCidr} ${c.serviceIp}`)), new Set(['100.64.0.0/20 100.64.0.100']));
    assert.deepEqual(kubeLinkFor(t.clusters[1]!, { withCidr: false }).spec, { clusterAddress: '192.168.0.12/24', endpoint: 'broker.c2.kubelink.lab:8088' });
    assert.equal(kubeLinkFor(t.clusters[1]!).spec.cidr, '100.64.0.0/20', 'with cidr unless told');
    assert.equal(describeTopology('kltest', 2).sameServiceCidr, false);
    assert.throws(() => new Lab({ clusters: 2, sameServiceCidr: true }), /sameServiceCidr needs staticRoutes: false/);
  });

  test('names and addresses follow the brief for every cluster', () => {
    const t = describeTopology('kltest', 8);
    const c3 = t.clusters[2]!;
    assert.equal(c3.serviceCidr, '100.64.32.0/20');
    assert.equal(c3.serviceIp, '100.64.32.100');
    assert.equal(c3.dnsIp, '100.64.32.10', 'the cluster DNS at service CIDR + 10, as kube-dns');
    assert.equal(c3.clusterAddress, '192.168.0.13/24');
    assert.equal(c3.endpoint, 'broker.c3.kubelink.lab:8088');
    assert.equal(c3.gateway.internetIp, '172.31.0.13');
    assert.equal(c3.gateway.nodeIp, '10.250.0.2');
    assert.equal(c3.node2.nodeIp, '10.250.0.3');
    assert.equal(c3.pods.echo.node, 'node2');
  });

  test('service CIDRs of different clusters never overlap and stay clear of node, pod and mesh networks', () => {
    const t = describeTopology('kltest', 16);
    const parse = (text: string) => {
      const r = parsePrefix(text);
      assert.ok(r.ok, text);
      return r.value;
    };
    const services = t.clusters.map((c) => parse(c.serviceCidr));
    const others = [parse(t.meshCidr), parse(t.clusters[0]!.nodeCidr), parse(t.clusters[0]!.podCidr), parse(t.internet.cidr)];
    services.forEach((a, i) => {
      services.forEach((b, j) => i !== j && assert.equal(prefixesOverlap(a, b), false));
      others.forEach((o) => assert.equal(prefixesOverlap(a, o), false));
    });
  });

  test('namespace names are unique and carry the prefix; interface names fit IFNAMSIZ', () => {
    const t = describeTopology('kltest', 8);
    const names = allNamespaces(t);
    assert.equal(new Set(names).size, names.length);
    for (const ns of names) assert.ok(ns.startsWith('kltest-'), ns);
    for (const c of t.clusters) for (const p of Object.values(c.pods)) assert.ok(p.nodeVeth.length <= 15, p.nodeVeth);
  });

  test('cluster counts and prefixes outside the supported range are refused by name', () => {
    assert.throws(() => describeTopology('kltest', 0), /clusters must be/);
    assert.throws(() => describeTopology('kltest', 17), /clusters must be/);
    assert.throws(() => describeTopology('bad-prefix', 2), /prefix/);
  });

  test('the hosts file maps every broker endpoint to its gateway internet address', () => {
    const text = hostsFile(describeTopology('kltest', 3));
    assert.match(text, /^172\.31\.0\.12\tbroker\.c2\.kubelink\.lab$/m);
    assert.match(text, /^172\.31\.0\.13\tbroker\.c3\.kubelink\.lab$/m);
  });
});

describe('a two-cluster lab', () => {
  const lab = new Lab({ prefix: randomPrefix(), clusters: 2 });
  const c1 = lab.cluster(1);
  const c2 = lab.cluster(2);
  let destroyed = false;

  before(async () => {
    await lab.create();
  });
  after(async () => {
    if (!destroyed) await lab.destroy();
  });

  test('a pod on the gateway node reaches the echo pod on the other node through the service IP', async () => {
    const reply = await lab.requestEcho(c1.pods.client1, c1.serviceIp);
    assert.equal(reply.cluster, 'c1');
    assert.equal(reply.client, c1.pods.client1.ip, 'inside a cluster the pod IP is not translated');
  });

  test('a second pod on the echo pod\'s node reaches it through the service IP, in every cluster', async () => {
    for (const c of [c1, c2]) {
      const reply = await lab.requestEcho(c.pods.client2, c.serviceIp);
      assert.equal(reply.cluster, c.name);
      assert.equal(reply.client, c.pods.client2.ip);
    }
  });

  test('endpoint FQDNs resolve to the gateways\' internet addresses inside a gateway namespace', async () => {
    const { stdout } = await lab.exec(c1.gateway.ns, ['getent', 'hosts', c2.endpointHost]);
    assert.match(stdout, new RegExp(`^${c2.gateway.internetIp.replaceAll('.', '\\.')}\\s+${c2.endpointHost}`));
    await assert.rejects(lab.exec(c1.gateway.ns, ['getent', 'hosts', 'unknown.example']), 'unknown names fail (fast resolv.conf)');
  });

  test('without a path, a pod of cluster 1 cannot reach cluster 2\'s service IP', async () => {
    await assert.rejects(lab.requestEcho(c1.pods.client2, c2.serviceIp, 1000));
  });

  test('the raw path carries requests both ways, SNATed to the sender\'s cluster address, and goes away on down', async () => {
    const raw = lab.rawPath();
    await raw.up();
    try {
      const toC2 = await lab.requestEcho(c1.pods.client2, c2.serviceIp);
      assert.equal(toC2.cluster, 'c2');
      assert.equal(toC2.client, c1.clusterIp);
      const toC1 = await lab.requestEcho(c2.pods.client1, c1.serviceIp);
      assert.equal(toC1.cluster, 'c1');
      assert.equal(toC1.client, c2.clusterIp);
    } finally {
      await raw.down();
    }
    await assert.rejects(lab.requestEcho(c1.pods.client2, c2.serviceIp, 1000));
  });

  test('destroy leaves no namespaces, /etc/netns dirs, processes, state or work dir', async () => {
    const pids = await pidsInLabNamespaces(lab.prefix);
    assert.ok(pids.length >= 4, 'echo server and iperf3 -s run in both echo pods');
    await lab.destroy();
    destroyed = true;
    await assertNothingLeft(lab.prefix, pids, lab.workDir);
  });
});

test('destroyByPrefix removes a lab whose creating process was killed', async () => {
  const prefix = randomPrefix();
  const script = `
    import { Lab } from ${JSON.stringify(LAB_MODULE_URL)};
    const lab = new Lab({ prefix: ${JSON.stringify(prefix)}, clusters: 2 });
    await lab.create();
    process.stdout.write('ready ' + lab.workDir + '\\n');
    setInterval(() => {}, 60_000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let workDir = '';
  try {
    let output = '';
    child.stdout.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: string) => {
        output += chunk;
        const m = /ready (\S+)\n/.exec(output);
        if (m) {
          workDir = m[1]!;
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`lab child exited with ${code} before ready: ${output}`)));
    });
    child.kill('SIGKILL');
    await once(child, 'exit');
    const orphans = await pidsInLabNamespaces(prefix);
    assert.ok(orphans.length >= 4 && orphans.every(isAlive), 'the lab\'s processes outlive its creator');
    await Lab.destroyByPrefix(prefix);
    await assertNothingLeft(prefix, orphans, workDir);
  } finally {
    child.kill('SIGKILL');
    await Lab.destroyByPrefix(prefix);
  }
});

test('without root and without a TUN device the lab refuses to start and names both', async () => {
  await assert.rejects(
    assertPrerequisites({ uid: 1000, tunDevice: '/nonexistent/net/tun' }),
    (error: Error) => {
      assert.match(error.message, /^kubelink lab cannot run; missing: /);
      assert.match(error.message, /root privileges \(running as uid 1000/);
      assert.match(error.message, /\/nonexistent\/net\/tun \(the TUN device/);
      assert.doesNotMatch(error.message, /ip netns|iptables|iperf3/, 'only what is really missing is named');
      return true;
    },
  );
});

test('on this machine (root, TUN, ip netns) nothing is missing', async () => {
  assert.deepEqual(await findMissingPrerequisites(), []);
});
