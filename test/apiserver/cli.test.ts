// The documented command: node dist/apiserver/cli.js --listen ... --kubeconfig-out ... [--data-file ...]

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { LineCollector, runKubectl } from './kubectl-harness.js';

const CLI = fileURLToPath(new URL('../../apiserver/cli.js', import.meta.url));

interface Ready {
  event: string;
  url: string;
  port: number;
  kubeconfig: string;
}

async function startCli(args: string[]): Promise<{ out: LineCollector; ready: Ready }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = new LineCollector(child);
  const line = await out.waitFor(/"event":"ready"/);
  return { out, ready: JSON.parse(line) as Ready };
}

async function stop(out: LineCollector): Promise<number | null> {
  const exited = once(out.child, 'exit');
  out.child.kill('SIGTERM');
  const [code] = await exited;
  return code as number | null;
}

test('the CLI prints a ready line with the URL, writes a kubeconfig kubectl uses, and exits 0 on SIGTERM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kl-apiserver-cli-'));
  try {
    const kubeconfig = join(dir, 'kubeconfig');
    const { out, ready } = await startCli(['--listen', '127.0.0.1:0', '--kubeconfig-out', kubeconfig]);
    try {
      assert.equal(ready.kubeconfig, kubeconfig);
      assert.equal(ready.url, `http://127.0.0.1:${ready.port}`);
      assert.match(readFileSync(kubeconfig, 'utf8'), new RegExp(`server: ${ready.url}`));
      const r = await runKubectl(kubeconfig, join(dir, 'cache'), ['get', 'namespaces', '-o', 'name']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /namespace\/default/);
    } finally {
      assert.equal(await stop(out), 0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('restarting the CLI with the same --data-file keeps objects and continues resourceVersions', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kl-apiserver-cli-'));
  try {
    const kubeconfig = join(dir, 'kubeconfig');
    const dataFile = join(dir, 'data.json');
    const args = ['--listen', '127.0.0.1:0', '--kubeconfig-out', kubeconfig, '--data-file', dataFile];
    const first = await startCli(args);
    const kubectl = (a: string[]): ReturnType<typeof runKubectl> => runKubectl(kubeconfig, join(dir, 'cache'), a);
    let rv: string;
    try {
      assert.equal((await kubectl(['create', 'configmap', 'kept', '--from-literal=k=v'])).code, 0);
      rv = (await kubectl(['get', 'configmap', 'kept', '-o', 'jsonpath={.metadata.resourceVersion}'])).stdout;
    } finally {
      assert.equal(await stop(first.out), 0);
    }
    const second = await startCli(args);
    try {
      assert.equal((await kubectl(['get', 'configmap', 'kept', '-o', 'jsonpath={.metadata.resourceVersion}'])).stdout, rv);
      assert.equal((await kubectl(['label', 'configmap', 'kept', 'x=y'])).code, 0);
      const after = (await kubectl(['get', 'configmap', 'kept', '-o', 'jsonpath={.metadata.resourceVersion}'])).stdout;
      assert.equal(Number(after), Number(rv) + 1);
    } finally {
      assert.equal(await stop(second.out), 0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unknown flag exits 2 with the usage', async () => {
  const child = spawn(process.execPath, [CLI, '--bogus'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const [code] = await once(child, 'exit');
  assert.equal(code, 2);
  assert.match(stderr, /unknown flag --bogus/);
  assert.match(stderr, /--kubeconfig-out PATH/);
});
