import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadKubeConfig, SERVICE_ACCOUNT_DIR } from '../../../src/main/k8s/kube-config.js';

function kubeconfigYaml(server: string, context = 'c'): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    `current-context: ${context}`,
    'clusters:',
    `- name: ${context}`,
    `  cluster: { server: "${server}" }`,
    'users:',
    `- name: ${context}`,
    '  user: { token: abc }',
    'contexts:',
    `- name: ${context}`,
    `  context: { cluster: ${context}, user: ${context} }`,
    '',
  ].join('\n');
}

function withTempDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kl-kubeconfig-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const noEnv = (env: NodeJS.ProcessEnv = {}, homeDir?: string) => ({ env, homeDir, serviceAccountRoot: '/nonexistent' });

test('--kubeconfig wins over in-cluster and $KUBECONFIG', () => {
  withTempDir((dir) => {
    const file = path.join(dir, 'config');
    writeFileSync(file, kubeconfigYaml('http://127.0.0.1:6443'));
    const config = loadKubeConfig(file, noEnv({ KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBECONFIG: '/nope' }));
    assert.equal(config.getCurrentCluster()?.server, 'http://127.0.0.1:6443');
  });
});

test('a missing --kubeconfig file is an error naming the file and the flag', () => {
  assert.throws(() => loadKubeConfig('/nonexistent/kubeconfig', noEnv()), /kubeconfig \/nonexistent\/kubeconfig \(--kubeconfig\) does not exist/);
});

test('a kubeconfig without a current context is an error naming the file', () => {
  withTempDir((dir) => {
    const file = path.join(dir, 'config');
    writeFileSync(file, 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n');
    assert.throws(() => loadKubeConfig(file, noEnv()), new RegExp(`kubeconfig ${file} \\(--kubeconfig\\) has no current context`));
  });
});

test('inside a pod the service account is used', () => {
  withTempDir((root) => {
    const sa = path.join(root, SERVICE_ACCOUNT_DIR);
    mkdirSync(sa, { recursive: true });
    writeFileSync(path.join(sa, 'token'), 'tok');
    writeFileSync(path.join(sa, 'ca.crt'), '');
    writeFileSync(path.join(sa, 'namespace'), 'kube-system');
    const config = loadKubeConfig(undefined, { env: { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, homeDir: undefined, serviceAccountRoot: root });
    assert.equal(config.getCurrentCluster()?.server, 'https://10.0.0.1:443');
    assert.equal(config.getCurrentCluster()?.caFile, path.join(sa, 'ca.crt'));
  });
});

test('in-cluster without a mounted token says so', () => {
  assert.throws(
    () => loadKubeConfig(undefined, noEnv({ KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' })),
    /KUBERNETES_SERVICE_HOST is set but the service account token .*token is missing/,
  );
});

test('$KUBECONFIG files are merged and the first current-context wins', () => {
  withTempDir((dir) => {
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    writeFileSync(a, kubeconfigYaml('http://127.0.0.1:1111', 'first'));
    writeFileSync(b, kubeconfigYaml('http://127.0.0.1:2222', 'second'));
    const config = loadKubeConfig(undefined, noEnv({ KUBECONFIG: `${a}${path.delimiter}${b}` }));
    assert.equal(config.getCurrentCluster()?.server, 'http://127.0.0.1:1111');
    assert.equal(config.getContexts().length, 2);
  });
});

test('~/.kube/config is the last resort', () => {
  withTempDir((home) => {
    mkdirSync(path.join(home, '.kube'));
    writeFileSync(path.join(home, '.kube', 'config'), kubeconfigYaml('http://127.0.0.1:3333'));
    assert.equal(loadKubeConfig(undefined, noEnv({}, home)).getCurrentCluster()?.server, 'http://127.0.0.1:3333');
  });
});

test('with no configuration anywhere the error lists every place tried', () => {
  withTempDir((home) => {
    assert.throws(
      () => loadKubeConfig(undefined, noEnv({}, home)),
      (err: Error) =>
        /--kubeconfig \(not given\)/.test(err.message) &&
        /KUBERNETES_SERVICE_HOST not set/.test(err.message) &&
        /\$KUBECONFIG \(not set\)/.test(err.message) &&
        err.message.includes(path.join(home, '.kube', 'config')),
    );
  });
});
