// `kubelink status` against the test API server: the one-shot verdict, JSON, --watch
// printing on change, and the exit codes (the lab test runs it against real brokers).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runStatus, type StatusIo } from '../../../src/main/status/status-command.js';
import { ensureCrd } from '../../../src/main/k8s/ensure-crd.js';
import { silentLogger } from '../../../src/shared/log.js';
import { createLink, kubeLink, startEnv, waitFor } from '../k8s/api-server-env.js';
import type { ApiServerEnv } from '../k8s/api-server-env.js';
import { KUBELINK_GROUP, KUBELINK_PLURAL, KUBELINK_VERSION } from '../../../src/shared/types.js';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';

function capture(interrupted: Promise<unknown> = Promise.resolve()): StatusIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (t) => out.push(t), stderr: (t) => err.push(t), now: () => new Date(), interrupted };
}

describe('kubelink status on the test API server', () => {
  let env: ApiServerEnv;
  const setStatus = (name: string, status: object) =>
    env.custom.patchClusterCustomObjectStatus({ group: KUBELINK_GROUP, version: KUBELINK_VERSION, plural: KUBELINK_PLURAL, name, body: { status } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));

  before(async () => {
    env = await startEnv();
    await ensureCrd(env.kubeConfig, silentLogger);
  });
  after(async () => env.close());

  test('no KubeLinks: says so and exits 1', async () => {
    const io = capture();
    assert.equal(await runStatus(['--kubeconfig', env.server.kubeconfigPath], io), 1);
    assert.deepEqual(io.out, ['No KubeLinks found.\n']);
  });

  test('every link Up exits 0; one link not Up exits 1; JSON says the same', async () => {
    await createLink(env, kubeLink('c2', 2));
    await createLink(env, kubeLink('c3', 3));
    await setStatus('c2', { state: 'Up', gateway: '10.250.0.2', rttMs: 0.5, rxBytes: 100, txBytes: 200, statsTime: new Date().toISOString() });
    await setStatus('c3', { state: 'Up', gateway: '10.250.0.2' });
    const ok = capture();
    assert.equal(await runStatus(['--kubeconfig', env.server.kubeconfigPath], ok), 0);
    assert.match(ok.out.join(''), /^c2\s+Up\s+10\.250\.0\.2\s+0\.50ms\s+100B\s+200B/m);

    await setStatus('c3', { state: 'Down', message: 'peer gone' });
    const json = capture();
    assert.equal(await runStatus(['--kubeconfig', env.server.kubeconfigPath, '-o', 'json'], json), 1);
    const doc = JSON.parse(json.out.join('')) as { allUp: boolean; links: Array<{ name: string; state: string; message: string }> };
    assert.equal(doc.allUp, false);
    assert.deepEqual(doc.links.map((l) => [l.name, l.state, l.message]), [['c2', 'Up', ''], ['c3', 'Down', 'peer gone']]);
  });

  test('--watch prints the set again on every change and exits with the last verdict when interrupted', async () => {
    let interrupt = (): void => {};
    const io = capture(new Promise<void>((resolve) => (interrupt = resolve)));
    const running = runStatus(['--kubeconfig', env.server.kubeconfigPath, '--watch', '-o', 'json'], io);
    await waitFor('first document', () => io.out.length >= 1);
    assert.equal((JSON.parse(io.out[0]!) as { allUp: boolean }).allUp, false);
    await setStatus('c3', { state: 'Up', gateway: '10.250.0.2' });
    await waitFor('a document with every link Up', () => io.out.some((line) => (JSON.parse(line) as { allUp: boolean }).allUp));
    interrupt();
    assert.equal(await running, 0);
  });

  test('usage errors exit 2 with one line naming the flag; an unreachable API server exits 1', async () => {
    const bad = capture();
    assert.equal(await runStatus(['-o', 'yaml'], bad), 2);
    assert.deepEqual(bad.err, ['kubelink status: --output "yaml": expected table or json\n']);
    const missing = capture();
    assert.equal(await runStatus(['--kubeconfig', '/nonexistent/kubeconfig'], missing), 2);
    assert.match(missing.err.join(''), /--kubeconfig "\/nonexistent\/kubeconfig": no such file/);
    // A port nobody listens on (loopback): the list is refused.
    const file = path.join(env.dir, 'refused-kubeconfig');
    writeFileSync(file, readFileSync(env.server.kubeconfigPath, 'utf8').replace(/server: \S+/, 'server: http://127.0.0.1:1'));
    const refused = capture();
    assert.equal(await runStatus(['--kubeconfig', file], refused), 1);
    assert.match(refused.err.join(''), /^kubelink status: cannot list KubeLinks: /);
    const help = capture();
    assert.equal(await runStatus(['--help'], help), 0);
    assert.match(help.out.join(''), /^Usage: kubelink status/);
  });
});
