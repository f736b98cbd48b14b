// The MeshService NAT: rendering is pure; applying runs against iptables in a network
// namespace of its own (root, like the other gateway tests), removed even when a test fails.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MeshNat, meshRestoreInput, parseSavedNat, renderMeshRules } from '../../../src/main/mesh-services/mesh-nat.js';
import type { MeshMapping } from '../../../src/main/mesh-services/mesh-service-plan.js';
import { parseIpv4 } from '../../../src/shared/cidr.js';
import { runCommand } from '../../../src/main/net/run-command.js';

const ip = (text: string) => parseIpv4(text)!;
const ECHO: MeshMapping = {
  key: 'default/echo',
  address: ip('192.168.0.100'),
  rules: [
    { protocol: 'TCP', port: 80, endpoints: [{ address: ip('100.96.1.2'), port: 8080 }, { address: ip('100.96.1.3'), port: 8080 }, { address: ip('100.96.1.4'), port: 8080 }] },
    { protocol: 'UDP', port: 53, endpoints: [{ address: ip('100.96.1.2'), port: 5353 }] },
  ],
};
const PORT_MODE: MeshMapping = { key: 'default/pm', address: ip('192.168.0.12'), rules: [{ protocol: 'TCP', port: 8080, endpoints: [{ address: ip('100.96.1.2'), port: 8080 }] }] };
const NO_ENDPOINTS: MeshMapping = { key: 'default/none', address: ip('192.168.0.101'), rules: [{ protocol: 'TCP', port: 80, endpoints: [] }] };

test('rules spread over the ready endpoints like kube-proxy: 1/3, 1/2, then the last always; one MASQUERADE per address', () => {
  assert.deepEqual(renderMeshRules('kl0', [ECHO, PORT_MODE, NO_ENDPOINTS]), [
    '-A KL-MESH-kl0 -d 192.168.0.100/32 -p tcp -m tcp --dport 80 -m statistic --mode random --probability 0.33333333333 -j DNAT --to-destination 100.96.1.2:8080',
    '-A KL-MESH-kl0 -d 192.168.0.100/32 -p tcp -m tcp --dport 80 -m statistic --mode random --probability 0.50000000000 -j DNAT --to-destination 100.96.1.3:8080',
    '-A KL-MESH-kl0 -d 192.168.0.100/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 100.96.1.4:8080',
    '-A KL-MESH-kl0 -d 192.168.0.100/32 -p udp -m udp --dport 53 -j DNAT --to-destination 100.96.1.2:5353',
    '-A KL-MESH-kl0 -d 192.168.0.12/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 100.96.1.2:8080',
    '-A KL-MPOST-kl0 -m conntrack --ctstate DNAT --ctorigdst 192.168.0.12 -j MASQUERADE',
    '-A KL-MPOST-kl0 -m conntrack --ctstate DNAT --ctorigdst 192.168.0.100 -j MASQUERADE',
  ]);
});

test('nothing to restore when the saved table already holds the rules (probabilities compared rounded) or nothing is wanted and nothing is there', () => {
  const wanted = renderMeshRules('kl0', [ECHO]);
  const saved = [
    '*nat', ':PREROUTING ACCEPT [0:0]', ':KL-MESH-kl0 - [0:0]', ':KL-MPOST-kl0 - [0:0]',
    '-A PREROUTING -i kl0 -m comment --comment "kubelink-mesh:kl0" -j KL-MESH-kl0',
    '-A POSTROUTING -m comment --comment "kubelink-mesh:kl0" -j KL-MPOST-kl0',
    ...wanted.map((l) => l.replace('0.33333333333', '0.33333333349')),
    'COMMIT',
  ].join('\n');
  assert.equal(meshRestoreInput('kl0', parseSavedNat(saved, 'kl0'), wanted), undefined);
  assert.equal(meshRestoreInput('kl0', parseSavedNat('*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n', 'kl0'), []), undefined);
  assert.deepEqual(parseSavedNat(saved, 'other').hooks, [], 'another TUN\'s broker never touches ours');
});

describe('MeshNat in a network namespace', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
  const ns = `klmn${process.pid}`;
  const ipns = (...args: string[]) => runCommand(['ip', 'netns', 'exec', ns, ...args]);
  const save = async () => (await ipns('iptables-save', '-t', 'nat')).stdout.split('\n').filter((l) => !l.startsWith('#')).join('\n');

  before(async () => {
    await runCommand(['ip', 'netns', 'add', ns]);
    // A rule of someone else's that must stay untouched.
    await ipns('iptables', '-t', 'nat', '-A', 'POSTROUTING', '-o', 'eth9', '-j', 'MASQUERADE');
  });
  after(async () => {
    await runCommand(['ip', 'netns', 'del', ns]).catch(() => undefined);
  });

  test('applies the chains in one restore, changes nothing when repeated, follows endpoint changes, and leaves the table exactly as before when emptied', async () => {
    const before = await save();
    const calls: string[] = [];
    const nat = new MeshNat('kl0', {
      runner: (command, args, input) => {
        calls.push(command);
        return runCommand(['ip', 'netns', 'exec', ns, command, ...args], { input });
      },
    });
    assert.equal(await nat.reconcile([ECHO, PORT_MODE]), true);
    assert.deepEqual(calls, ['iptables-save', 'iptables-restore']);
    const applied = await save();
    assert.match(applied, /-A PREROUTING -i kl0 -m comment --comment "kubelink-mesh:kl0" -j KL-MESH-kl0/);
    assert.match(applied, /-A KL-MESH-kl0 -d 192\.168\.0\.100\/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 100\.96\.1\.4:8080/);
    assert.match(applied, /-A KL-MPOST-kl0 -m conntrack --ctstate DNAT --ctorigdst 192\.168\.0\.100 -j MASQUERADE/);
    calls.length = 0;
    assert.equal(await nat.reconcile([ECHO, PORT_MODE]), false, 'a second reconcile finds everything in place');
    assert.deepEqual(calls, ['iptables-save']);

    const moved: MeshMapping = { ...ECHO, rules: [{ protocol: 'TCP', port: 80, endpoints: [{ address: ip('100.96.1.7'), port: 8080 }] }] };
    assert.equal(await nat.reconcile([moved]), true);
    const after = await save();
    assert.doesNotMatch(after, /100\.96\.1\.[234]/, 'old endpoints are gone');
    assert.doesNotMatch(after, /192\.168\.0\.12/, 'the removed port-mode service is gone');
    assert.match(after, /--to-destination 100\.96\.1\.7:8080/);

    // Someone deletes our hook: the next reconcile puts it back.
    await ipns('iptables', '-t', 'nat', '-D', 'PREROUTING', '-i', 'kl0', '-m', 'comment', '--comment', 'kubelink-mesh:kl0', '-j', 'KL-MESH-kl0');
    assert.equal(await nat.reconcile([moved]), true);
    assert.match(await save(), /-A PREROUTING -i kl0 -m comment --comment "kubelink-mesh:kl0" -j KL-MESH-kl0/);

    assert.equal(await nat.remove(), true);
    assert.equal(await save(), before, 'iptables-save is identical to the table before the first MeshService');
    assert.equal(await nat.remove(), false);
  });
});
