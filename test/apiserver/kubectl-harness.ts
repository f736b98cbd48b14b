// Helpers for the end-to-end tests of the test API server: a server in a private
// temporary directory, the real kubectl pointed at it, and long-running kubectl
// processes (get -w) whose output can be awaited line by line.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startApiServer, type ApiServerOptions, type RunningApiServer } from '../../apiserver/server.js';

export const KUBECTL = process.env.KUBECTL ?? 'kubectl';

/** Works from dist*\/test/apiserver/ as well as from the sources: fixtures are not compiled. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`../../../test/fixtures/apiserver/${name}`, import.meta.url));
}

export interface KubectlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface TestCluster {
  server: RunningApiServer;
  dir: string;
  kubectl(args: string[], stdin?: string): Promise<KubectlResult>;
  /** kubectl that must succeed; returns stdout. */
  ok(args: string[], stdin?: string): Promise<string>;
  /** Starts a long-running kubectl (e.g. `get -w`). */
  spawnKubectl(args: string[]): LineCollector;
  /** Stops the server (the directory stays, for restarts) */
  stop(): Promise<void>;
  /** Stops the server and removes the directory. */
  dispose(): Promise<void>;
}

export class LineCollector {
  readonly lines: string[] = [];
  private partial = '';
  private waiters: Array<() => void> = [];
  private exited = false;
  stderr = '';

  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (this.partial + chunk).split('\n');
      this.partial = parts.pop()!;
      this.lines.push(...parts);
      this.wake();
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    child.on('exit', () => {
      this.exited = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves with the first line matching `pattern`; rejects when the process exits first or after `deadlineMs` (a hang guard, not a timing check). */
  async waitFor(pattern: RegExp, deadlineMs = 20_000): Promise<string> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const found = this.lines.find((l) => pattern.test(l));
      if (found !== undefined) return found;
      if (this.exited) throw new Error(`process exited before printing ${pattern}; stdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`no line matching ${pattern}; stdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  stop(): void {
    if (!this.exited) this.child.kill('SIGTERM');
  }
}

export function runKubectl(kubeconfig: string, cacheDir: string, args: string[], stdin?: string): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(KUBECTL, ['--kubeconfig', kubeconfig, '--cache-dir', cacheDir, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

/** A server whose kubeconfig, kubectl cache and (optionally) data file live in a fresh temporary directory. */
export async function startTestCluster(options: ApiServerOptions = {}, dir?: string): Promise<TestCluster> {
  const root = dir ?? mkdtempSync(join(tmpdir(), 'kl-apiserver-test-'));
  const server = await startApiServer({ kubeconfigPath: join(root, 'kubeconfig'), ...options });
  const cacheDir = join(root, 'kube-cache');
  const children: LineCollector[] = [];
  const kubectl = (args: string[], stdin?: string): Promise<KubectlResult> => runKubectl(server.kubeconfigPath, cacheDir, args, stdin);
  const stop = async (): Promise<void> => {
    for (const c of children) c.stop();
    await server.close();
  };
  return {
    server,
    dir: root,
    kubectl,
    async ok(args, stdin) {
      const r = await kubectl(args, stdin);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
      return r.stdout;
    },
    spawnKubectl(args) {
      const child = spawn(KUBECTL, ['--kubeconfig', server.kubeconfigPath, '--cache-dir', cacheDir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      const collector = new LineCollector(child);
      children.push(collector);
      return collector;
    },
    stop,
    async dispose() {
      await stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Splits `kubectl get` table output into header names and rows of cells (cells separated by 2+ spaces). */
export function parseTable(output: string): { header: string[]; rows: string[][] } {
  const lines = output.split('\n').filter((l) => l.trim() !== '');
  const [head, ...rest] = lines;
  const starts: number[] = [];
  const re = /\S+(?: \S+)*/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(head)) !== null) starts.push(m.index);
  const header = starts.map((s, i) => head.slice(s, starts[i + 1]).trim());
  const rows = rest.map((line) => starts.map((s, i) => line.slice(s, starts[i + 1]).trim()));
  return { header, rows };
}
