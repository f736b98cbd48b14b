// `kubelink status` against a running three-cluster lab with the controllers on Kubernetes
// (per cluster the test API server, brokers with --kubeconfig): every link Up with RTT and
// bytes from the brokers' status writes, then one peer's broker stopped. Needs root.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Lab } from '../../loadtest/lab/lab.js';
import { KubelinkKubernetesPath } from '../../loadtest/lab/kubelink-k8s-path.js';
import type { LabCluster } from '../../loadtest/lab/topology.js';
import { CommandError } from '../../src/main/net/run-command.js';
import { kubernetesLabHooks } from '../helpers/kubernetes-lab.js';

interface StatusDocument {
  allUp: boolean;
  links: Array<{ name: string; state: string; message: string; gateway: string | null; rttMs: number | null; rxBytes: number | null; txBytes: number | null; lastTransitionTime: string | null }>;
}

describe('kubelink status on a three-cluster lab', () => {
  const lab = new Lab({ clusters: 3, staticRoutes: false });
  // Stats every second, so the test need not wait a minute for RTT and bytes.
  const k8s = new KubelinkKubernetesPath(lab, { workers: 1, extraBrokerArgs: ['--status-stats-interval=1'], readyTimeoutMs: 90_000 });
  const [c1, c2, c3] = [lab.cluster(1), lab.cluster(2), lab.cluster(3)];

  /** `kubelink status` in the cluster's control-plane namespace (where kubectl runs), with its exit code. */
  async function status(cluster: LabCluster, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const argv = [lab.nodeBinary, lab.kubelinkEntry, 'status', '--kubeconfig', k8s.apiServer(cluster.index)!.files.kubeconfig, ...args];
    try {
      const r = await lab.exec(cluster.controlPlane.ns, argv);
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      if (err instanceof CommandError && err.exitCode !== undefined) return { code: err.exitCode, stdout: err.stdout, stderr: err.stderr };
      throw err;
    }
  }
  const statusJson = async (cluster: LabCluster) => {
    const r = await status(cluster, ['-o', 'json']);
    return { code: r.code, doc: JSON.parse(r.stdout) as StatusDocument };
  };

  kubernetesLabHooks(lab, k8s);

  test('with every peer up: each link Up with the gateway, RTT and bytes both ways; exit 0; the table says the same', async () => {
    await lab.requestEcho(c1.pods.client2, c2.serviceIp);
    await lab.requestEcho(c1.pods.client2, c3.serviceIp);
    const doc = await lab.retry('stats in the status of both links', { timeoutMs: 30_000, intervalMs: 500 }, async () => {
      const { code, doc } = await statusJson(c1);
      assert.equal(code, 0, JSON.stringify(doc));
      assert.equal(doc.allUp, true);
      assert.deepEqual(doc.links.map((l) => l.name), [c2.name, c3.name]);
      for (const l of doc.links) {
        assert.ok(l.rttMs !== null && l.rttMs > 0, `${l.name} rtt`);
        assert.ok((l.rxBytes ?? 0) > 0 && (l.txBytes ?? 0) > 0, `${l.name} bytes both ways`);
      }
      return doc;
    });
    for (const l of doc.links) {
      assert.equal(l.state, 'Up');
      assert.equal(l.gateway, c1.gateway.nodeIp);
      assert.match(l.lastTransitionTime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    const table = await status(c1, []);
    assert.equal(table.code, 0);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^NAME\s+STATE\s+GATEWAY\s+RTT\s+RX\s+TX\s+SINCE\s+STATS\s+MESSAGE$/);
    for (const [i, peer] of [c2, c3].entries()) assert.match(lines[i + 1]!, new RegExp(`^${peer.name}\\s+Up\\s+${c1.gateway.nodeIp.replaceAll('.', '\\.')}\\s+[0-9.]+ms\\s+\\S+B\\s+\\S+B\\s`));
  });

  test('with one peer\'s broker stopped: that link is reported not Up with the reason, the other stays Up; exit 1', async () => {
    const stoppedAt = Math.floor(Date.now() / 1000) * 1000;
    await k8s.broker(c3.index)!.stop(5000);
    const { doc } = await lab.retry(`${c1.name}/${c3.name} no longer Up`, { timeoutMs: 60_000, intervalMs: 500 }, async () => {
      const result = await statusJson(c1);
      assert.equal(result.code, 1, JSON.stringify(result.doc));
      return result;
    });
    assert.equal(doc.allUp, false);
    const [toC2, toC3] = doc.links;
    assert.equal(toC2!.state, 'Up');
    assert.notEqual(toC3!.state, 'Up');
    assert.ok(toC3!.message.length > 0, 'the broker says why');
    assert.ok(Date.parse(toC3!.lastTransitionTime!) >= stoppedAt, 'lastTransitionTime is the change just made');
    const table = await status(c1, []);
    assert.equal(table.code, 1);
    assert.match(table.stdout, new RegExp(`^${c3.name}\\s+(Down|Error)\\s`, 'm'));
  });

  test('--watch prints on every change and ends with the verdict of the last one', async () => {
    const argv = [lab.nodeBinary, lab.kubelinkEntry, 'status', '--watch', '-o', 'json', '--kubeconfig', k8s.apiServer(c1.index)!.files.kubeconfig];
    const logFile = path.join(lab.workDir, 'status-watch.log');
    const watch = await lab.spawn(c1.controlPlane.ns, argv, { logFile });
    try {
      const documents = async () => (await readFile(logFile, 'utf8')).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as StatusDocument);
      await lab.retry('first document', { timeoutMs: 20_000, intervalMs: 300 }, async () => assert.equal((await documents())[0]?.allUp, false));
      // The stopped peer's KubeLink goes away: what is left is all Up.
      await lab.kubectl(c1.index, ['delete', 'klink', c3.name]);
      await lab.retry('a document without the stopped peer', { timeoutMs: 20_000, intervalMs: 300 }, async () => {
        const last = (await documents()).at(-1)!;
        assert.deepEqual(last.links.map((l) => l.name), [c2.name]);
        assert.equal(last.allUp, true);
      });
    } finally {
      const exit = await watch.stop(5000);
      assert.equal(exit.code, 0, 'exit status of the last verdict (all Up)');
    }
  });
});
