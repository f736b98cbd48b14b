// The DNS benchmark: names through the mesh, from one pod, side by side in one run with the
// same pod asking its local cluster DNS. Two lab clusters on the Kubernetes path (API
// servers, brokers, routers, cluster DNS stand-ins), then per run, in turn:
//
//   local        c1 pod -> c1 cluster DNS: echo.default.svc.cluster.local (c2's domain is c2.local)
//   mesh-cached  c1 pod -> c1 cluster DNS -> c1 broker (answer in its cache): echo.default.svc.c2.kubelink
//   mesh-miss    c1 pod -> c1 cluster DNS -> c1 broker -> tunnel -> c2 cluster DNS: a new name each query
//   remote-dns   c2 pod -> c2 cluster DNS: a new name each query (the remote part of a miss)
//   tunnel RTT   ping from the c1 pod to c2's echo service IP, through the tunnel
//
// latency: one query at a time (p50, p99); qps: --concurrency queries in flight. Medians
// of --runs runs. Targets (issue 9): mesh-cached within 1.5x of local; mesh-miss p99
// within tunnel RTT p99 + remote-dns p99. Results are appended to bench/RESULTS.md.
//
//   flock /work/locks/lab.lock node dist/bench/dns-bench.js [--runs 3] [--count 400] [--concurrency 16] [--no-results]
import { appendFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab } from '../loadtest/lab/lab.js';
import { KubelinkKubernetesPath } from '../loadtest/lab/kubelink-k8s-path.js';
import { repoRoot } from '../loadtest/lab/repo-root.js';
import { DNS_BENCH_USAGE as USAGE, parseDnsBenchArgs } from './dns-bench-args.js';
import type { LabPod } from '../loadtest/lab/topology.js';
import { percentile, type LoadReport } from './dns-load.js';

const LOAD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'dns-load.js');

interface CaseResult { p50: number[]; p99: number[]; qps: number[]; lost: number }

const median = (xs: readonly number[]) => percentile([...xs].sort((a, b) => a - b), 50);

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseDnsBenchArgs>;
  try {
    parsed = parseDnsBenchArgs(process.argv.slice(2));
  } catch (err) {
    // A wrong flag is the user's mistake: say which, without a stack trace.
    process.stderr.write(`dns-bench: ${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (parsed === 'help') {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const { runs, count, concurrency } = parsed;
  const lab = new Lab({ clusters: 2, staticRoutes: false });
  const k8s = new KubelinkKubernetesPath(lab, { workers: 1, readyTimeoutMs: 90_000 });
  const [c1, c2] = [lab.cluster(1), lab.cluster(2)];
  const load = async (pod: LabPod, server: string, name: string, unique: boolean, n: number, conc: number): Promise<LoadReport> => {
    const argv = [lab.nodeBinary, LOAD, '--server', server, '--name', name, '--count', String(n), '--concurrency', String(conc), ...(unique ? ['--unique'] : [])];
    return JSON.parse((await lab.exec(pod.ns, argv, { timeoutMs: 120_000 })).stdout) as LoadReport;
  };
  const cases = {
    local: { pod: c1.pods.client2, server: c1.dnsIp, name: 'echo.default.svc.cluster.local', unique: false },
    'mesh-cached': { pod: c1.pods.client2, server: c1.dnsIp, name: `echo.default.svc.${c2.name}.kubelink`, unique: false },
    'mesh-miss': { pod: c1.pods.client2, server: c1.dnsIp, name: `default.svc.${c2.name}.kubelink`, unique: true },
    'remote-dns': { pod: c2.pods.client2, server: c2.dnsIp, name: `default.svc.${c2.clusterDomain}`, unique: true },
  } as const;
  const results: Record<string, CaseResult> = Object.fromEntries(Object.keys(cases).map((k) => [k, { p50: [], p99: [], qps: [], lost: 0 }]));
  const rtt: { p50: number[]; p99: number[] } = { p50: [], p99: [] };
  const loadBefore = os.loadavg()[0]!;
  await lab.create();
  try {
    await k8s.up();
    await load(c1.pods.client2, c1.dnsIp, cases['mesh-cached'].name, false, 5, 1); // warm the cache
    for (let run = 0; run < runs; run++) {
      for (const [key, c] of Object.entries(cases)) {
        const latency = await load(c.pod, c.server, c.name, c.unique, count, 1);
        const throughput = await load(c.pod, c.server, c.name, c.unique, count * 4, concurrency);
        results[key]!.p50.push(latency.p50Ms);
        results[key]!.p99.push(latency.p99Ms);
        results[key]!.qps.push(throughput.qps);
        results[key]!.lost += latency.lost + throughput.lost;
      }
      const { stdout } = await lab.exec(c1.pods.client2.ns, ['ping', '-c', '100', '-i', '0.01', '-W', '2', c2.serviceIp], { timeoutMs: 30_000 });
      const times = [...stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
      rtt.p50.push(percentile(times, 50));
      rtt.p99.push(percentile(times, 99));
    }
  } finally {
    await k8s.down().catch(() => undefined);
    await lab.destroy();
  }
  const m = (key: string, f: keyof Omit<CaseResult, 'lost'>) => median(results[key]![f]);
  const rows = Object.keys(cases).map((key) => {
    const r = results[key]!;
    return `| ${key} | ${m(key, 'p50').toFixed(2)} | ${m(key, 'p99').toFixed(2)} | ${Math.round(m(key, 'qps'))} | ${r.p50.map((x) => x.toFixed(2)).join(' / ')} | ${r.lost} |`;
  });
  const cachedRatio50 = m('mesh-cached', 'p50') / m('local', 'p50');
  const cachedRatio99 = m('mesh-cached', 'p99') / m('local', 'p99');
  const missBudget = median(rtt.p99) + m('remote-dns', 'p99');
  const text = [
    `## DNS benchmark, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Machine: nproc ${os.availableParallelism()}, Node ${process.version}; 1-min load average ${loadBefore.toFixed(2)} before, ${os.loadavg()[0]!.toFixed(2)} after the run`,
    '',
    `From one c1 pod over UDP; latency: ${count} queries one at a time; qps: ${count * 4} queries, ${concurrency} in flight; median of ${runs} run(s). ` +
      'local = the pod\'s cluster DNS (the lab stand-in, which reads the Service from the API server per query); mesh = the same cluster DNS forwarding kubelink. to the broker.',
    `Command: \`node dist/bench/dns-bench.js --runs ${runs} --count ${count} --concurrency ${concurrency}\``,
    '',
    '| case | p50 ms | p99 ms | qps | p50 per run (ms) | lost |',
    '|---|---:|---:|---:|---|---:|',
    ...rows,
    `| tunnel RTT (ping c1 pod -> c2 service) | ${median(rtt.p50).toFixed(2)} | ${median(rtt.p99).toFixed(2)} | | | |`,
    '',
    `mesh-cached vs local: p50 ${cachedRatio50.toFixed(2)}x, p99 ${cachedRatio99.toFixed(2)}x (target <= 1.5x). ` +
      `mesh-miss p99 ${m('mesh-miss', 'p99').toFixed(2)} ms vs tunnel RTT p99 + remote DNS p99 = ${missBudget.toFixed(2)} ms (target: within).`,
    '',
  ].join('\n');
  process.stdout.write(text + '\n');
  if (!parsed.noResults) await appendFile(path.join(repoRoot(), 'bench', 'RESULTS.md'), '\n' + text);
}

await main();
