// The lab tool (`node dist/loadtest/cli.js`, `node dist/loadtest/demo.js`) end to end, as
// people run it: real namespaces, API servers, brokers, routers and kubectl. Needs root,
// TUN and `ip netns`; every lab has a random prefix and is removed in after/finally.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Lab, defaultLabWorkDir } from '../../loadtest/lab/lab.js';
import { listNamespaces } from '../../loadtest/lab/cleanup.js';
import type { LabStatus } from '../../loadtest/tool/status-command.js';
import { assertNothingLeft, isAlive, pidsInLabNamespaces } from './lab-leftovers.js';

const CLI = fileURLToPath(new URL('../../loadtest/cli.js', import.meta.url));
const DEMO = fileURLToPath(new URL('../../loadtest/demo.js', import.meta.url));

function randomPrefix(): string {
  return `kl${randomBytes(2).toString('hex')}`;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a lab tool entry to completion (bounded), with its output. */
function runTool(script: string, args: string[], timeoutMs = 180_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    // 'close', not 'exit': the output may still be in the pipes when the process exits.
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Nothing of lab `prefix` is left (its work dir is the default one). */
function assertLabGone(prefix: string, formerPids: number[]): Promise<void> {
  return assertNothingLeft(prefix, formerPids, defaultLabWorkDir(prefix));
}

describe('kubelink-lab up / status / kubectl / down with three clusters', () => {
  const prefix = randomPrefix();
  after(async () => {
    await Lab.destroyByPrefix(prefix);
  });

  test('up builds a full mesh of three clusters whose KubeLinks are all Up, and says how to use it', async () => {
    const run = await runTool(CLI, ['up', '--clusters', '3', '--workers', '1', '--prefix', prefix]);
    assert.equal(run.code, 0, `up failed:\n${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /links: 6\/6 Up/);
    assert.match(run.stdout, new RegExp(`lab ${prefix} is up: 3 clusters`));
    assert.match(run.stdout, /bin\/kubectl-c1 get klink -o wide/);
    assert.doesNotMatch(run.stdout, /"level":/, 'JSON logs go to files, not to the terminal');
  });

  test('status (another process) lists every cluster\'s running API server, broker and router and six links Up', async () => {
    const run = await runTool(CLI, ['status', '--prefix', prefix, '--json']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const [status] = JSON.parse(run.stdout) as LabStatus[];
    assert.ok(status);
    assert.deepEqual(status.clusters.map((c) => c.name), ['c1', 'c2', 'c3']);
    for (const cluster of status.clusters) {
      assert.deepEqual(cluster.links.map((l) => [l.name, l.state]), status.clusters.filter((c) => c.name !== cluster.name).map((c) => [c.name, 'Up']));
      for (const role of ['api-server', 'broker', 'router']) {
        assert.ok(status.processes.some((p) => p.cluster === cluster.name && p.role === role && p.alive), `${cluster.name} ${role} runs`);
      }
    }
    assert.equal(status.namespaces.present, status.namespaces.expected);
    const text = await runTool(CLI, ['status', '--prefix', prefix]);
    assert.match(text.stdout, /c3\s+c2\s+100\.64\.16\.0\/20\s+broker\.c2\.kubelink\.lab:8088\s+10\.250\.0\.2\s+Up/);
  });

  test('every ordered pair of clusters exchanges HTTP through the service IP, from pods on both nodes', async () => {
    const lab = await Lab.attach(prefix);
    for (const from of lab.clusters) {
      for (const to of lab.clusters) {
        if (from === to) continue;
        for (const pod of [from.pods.client1, from.pods.client2]) {
          const reply = await lab.requestEcho(pod, to.serviceIp);
          assert.equal(reply.cluster, to.name, `${pod.ns} -> ${to.serviceIp}`);
          assert.equal(reply.client, from.clusterIp, 'requests arrive SNATed to the sender\'s cluster address');
        }
      }
    }
  });

  test('the kubectl command runs the real kubectl against one cluster\'s API server', async () => {
    const run = await runTool(CLI, ['kubectl', '--prefix', prefix, 'c2', 'get', 'klink', 'c3', '-o', 'jsonpath={.status.state} {.status.gateway}']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'Up 10.250.0.2');
  });

  test('down removes every namespace, process, file and record of the lab', async () => {
    const pids = await pidsInLabNamespaces(prefix);
    assert.ok(pids.length >= 3 * 5, 'API server, broker, router, echo and iperf3 in each cluster');
    const run = await runTool(CLI, ['down', '--prefix', prefix]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, new RegExp(`lab ${prefix} removed`));
    await assertLabGone(prefix, pids);
  });
});

test('down after up was killed midway leaves no namespaces or processes', async () => {
  const prefix = randomPrefix();
  const child = spawn(process.execPath, [CLI, 'up', '--clusters', '2', '--workers', '1', '--prefix', prefix], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    let output = '';
    child.stdout.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: string) => {
        output += chunk;
        // Midway: brokers and routers run, the KubeLinks are not applied yet.
        if (/c2: router on node 2/.test(output)) resolve();
      });
      child.once('exit', (code) => reject(new Error(`up exited with ${code} before the routers started:\n${output}`)));
    });
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const orphans = await pidsInLabNamespaces(prefix);
    assert.ok(orphans.length >= 2 * 4 && orphans.every(isAlive), 'the lab\'s processes outlive the killed up');
    const run = await runTool(CLI, ['down', '--prefix', prefix]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    await assertLabGone(prefix, orphans);
  } finally {
    child.kill('SIGKILL');
    await Lab.destroyByPrefix(prefix);
  }
});

test('the demo shows both clusters\' KubeLinks, wget both ways by service IP and by mesh name, and an iperf3 figure, then removes everything', async () => {
  const prefix = randomPrefix();
  try {
    const run = await runTool(DEMO, ['--prefix', prefix, '--iperf', '2', '--workers', '1']);
    assert.equal(run.code, 0, `demo failed:\n${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /c1\$ kubectl get klink\n\s+NAME\s+CIDR\s+ADDRESS\s+ENDPOINT\s+GATEWAY\s+STATE\s+AGE\n\s+c2\s+100\.64\.16\.0\/20\s+192\.168\.0\.12\/24\s+broker\.c2\.kubelink\.lab:8088\s+10\.250\.0\.2\s+Up/);
    assert.match(run.stdout, /c2\$ kubectl get klink -o wide\n\s+NAME.*MESSAGE/);
    assert.match(run.stdout, /c1\/client2\$ wget -q -T 5 -O - http:\/\/100\.64\.16\.100\/\n\s+\{"cluster":"c2","client":"192\.168\.0\.11"/);
    assert.match(run.stdout, /c2\/client2\$ wget -q -T 5 -O - http:\/\/100\.64\.0\.100\/\n\s+\{"cluster":"c1","client":"192\.168\.0\.12"/);
    assert.match(run.stdout, /c1\/client2\$ wget -q -T 5 -O - http:\/\/echo\.default\.svc\.c2\.kubelink\/\n\s+\{"cluster":"c2","client":"192\.168\.0\.11"/);
    assert.match(run.stdout, /\d+\.\d\d Gbit\/s received/);
    assert.match(run.stdout, /demo done: everything removed/);
    await assertLabGone(prefix, []);
  } finally {
    await Lab.destroyByPrefix(prefix);
  }
});

/** Runs argv as user nobody (uid 65534); exit code and output. */
function runAsNobody(argv: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...argv], (error, out, err) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 127) : 0, stdout: out, stderr: err }),
    );
  });
}

test('without root the tool names what is missing and exits non-zero before touching anything', async (t) => {
  if ((await runAsNobody(['test', '-r', CLI])).code !== 0) {
    t.skip(`user nobody cannot read ${CLI} (checkout not world-readable) or setpriv is missing`);
    return;
  }
  const prefix = randomPrefix();
  const { stdout, code } = await runAsNobody([process.execPath, CLI, 'up', '--prefix', prefix]);
  assert.equal(code, 3);
  assert.match(stdout, /^kubelink lab cannot run on this machine; missing:\n {2}- root privileges \(running as uid 65534/);
  assert.deepEqual((await listNamespaces()).filter((ns) => ns.startsWith(`${prefix}-`)), []);
});
