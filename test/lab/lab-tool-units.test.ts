// Pure parts of the lab tool: tables, load-test scaling, /proc CPU parsing, process roles,
// profile summaries, flag checks. No root needed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTextTable } from '../../loadtest/tool/text-table.js';
import { cpuPerGbitText, formatLoadTable, formatScaling, type LoadRow } from '../../loadtest/tool/load-report.js';
import { formatThreadCpu, parseCpuTicks, startThreadCpuSample, threadCpuSeconds } from '../../loadtest/tool/process-cpu.js';
import { parsePingOutput, percentile } from '../../loadtest/lab/ping.js';
import { metricSum, metricValue } from '../../loadtest/lab/broker-metrics.js';
import { clusterOfNamespace, processRole } from '../../loadtest/tool/process-roles.js';
import { summarizeProfile } from '../../loadtest/tool/cpuprofile-summary.js';
import { parseLoadtestArgs } from '../../loadtest/tool/load-command.js';
import { parseProfileArgs, profiledArgv } from '../../loadtest/tool/profile-command.js';
import { Progress } from '../../loadtest/tool/progress.js';
import { parseKubeLinkList } from '../../loadtest/lab/kubelink-states.js';
import { kubectlArgv, shellQuote } from '../../loadtest/lab/kubectl.js';
import { brokerArgs } from '../../loadtest/lab/kubelink-files.js';
import { describeTopology } from '../../loadtest/lab/topology.js';
import { opensslFingerprint } from '../../loadtest/chaos/chaos-run.js';
import { parseChaosArgs } from '../../loadtest/tool/chaos-command.js';
import { processExitedError, type LabProcess } from '../../loadtest/lab/lab-process.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { judgeSoak } from '../../loadtest/soak/soak-run.js';
import { parseSoakArgs } from '../../loadtest/tool/soak-command.js';

function row(workers: number, peers: number, streams: number, totalGbps: number): LoadRow {
  return {
    workers, peers, streams, protocol: 'tcp', reverse: false, direction: 'c2 -> c1', durationSec: 5,
    totalGbps, perPeerGbps: [totalGbps], retransmits: 0, brokerCpuSec: { c1: 2 }, brokerCpuPercent: { c1: 40 }, wallSec: 5,
  };
}

test('text tables pad columns to the widest cell and right-align numeric columns', () => {
  assert.equal(formatTextTable(['name', 'n'], [['a', 1], ['long', 100]]), 'name    n\na       1\nlong  100');
});

test('the scaling summary compares each worker count with the smallest one at equal peers and streams', () => {
  const rows = [row(1, 1, 1, 1.0), row(1, 2, 1, 1.5), row(2, 1, 1, 1.8), row(2, 2, 1, 3.0)];
  assert.equal(
    formatScaling(rows),
    'Scaling with --workers:\n  peers 1, streams 1: --workers 2 gives 1.80x of --workers 1\n  peers 2, streams 1: --workers 2 gives 2.00x of --workers 1',
  );
  assert.equal(formatScaling([row(1, 1, 1, 1)]), '', 'one worker count: nothing to compare');
  assert.match(formatLoadTable(rows), /^workers\s+peers\s+streams\s+proto/);
});

test('CPU ticks are utime + stime, also when the command name holds spaces and parentheses', () => {
  const stat = '1234 (node (x) y) S 1 1234 1234 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 12 0 5000 1000 100';
  assert.equal(parseCpuTicks(stat), 300);
});

test('recorded processes are told apart by their argv, also a broker under a profiler', () => {
  assert.equal(processRole(['/usr/bin/node', '/r/dist/apiserver/cli.js', '--listen', 'x']), 'api-server');
  assert.equal(processRole(['env', 'NO_INSIGHT=1', 'node', 'clinic/bin.js', 'flame', '--', 'node', 'cli.js', '--controllers=broker']), 'broker');
  assert.equal(processRole(['node', 'cli.js', '--controllers=router']), 'router');
  assert.equal(processRole(['iperf3', '-s']), 'iperf3');
  assert.equal(clusterOfNamespace('kl12ab', 'kl12ab-c3-gw'), 'c3');
  assert.equal(clusterOfNamespace('kl12ab', 'kl12ab-inet'), '');
});

test('a CPU profile is summarized per thread by self time, idle left out', () => {
  const profile = {
    nodes: [
      { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 } },
      { id: 2, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
      { id: 3, callFrame: { functionName: 'publish', url: 'file:///r/dist/src/shared/spsc-ring.js', lineNumber: 187 } },
      { id: 4, callFrame: { functionName: 'run', url: 'file:///r/dist/src/workers/shard.js', lineNumber: 9 } },
    ],
    startTime: 0,
    endTime: 1000,
    samples: [3, 3, 2, 4, 3],
    timeDeltas: [0, 100, 100, 300, 100],
  };
  const summary = summarizeProfile('/x/CPU.20260101.000000.42.2.001.cpuprofile', profile);
  assert.equal(summary.thread, 'shard');
  // As DevTools does: a sample stands for the time until the next one.
  assert.deepEqual(summary.top.map((f) => [f.name, f.selfMs]), [['publish (src/shared/spsc-ring.js:188)', 0.2], ['run (src/workers/shard.js:10)', 0.1]]);
  assert.equal(summary.busyPercent, 30);
  assert.equal(summarizeProfile('/x/CPU.20260101.000000.42.0.001.cpuprofile', profile).thread, 'main');
});

test('the profiled broker runs under clinic with usage reporting and update checks off, or under --cpu-prof', () => {
  const argv = ['/usr/bin/node', '/r/dist/src/main/cli.js', '--controllers=broker'];
  const flame = profiledArgv('flame', argv, '/out');
  assert.deepEqual(flame.slice(0, 3), ['env', 'NO_INSIGHT=1', 'NO_UPDATE_NOTIFIER=1']);
  assert.deepEqual(flame.slice(5), ['flame', '--open=false', '--dest', '/out', '--', ...argv]);
  assert.deepEqual(profiledArgv('cpu-prof', argv, '/out'), ['/usr/bin/node', '--cpu-prof', '--cpu-prof-dir', '/out', '/r/dist/src/main/cli.js', '--controllers=broker']);
});

test('load-test and profile flags are checked with messages naming the flag', () => {
  assert.throws(() => parseLoadtestArgs(['--workers', '1,2']), /need --matrix/);
  assert.throws(() => parseLoadtestArgs(['--matrix', '--lab', 'kllab']), /builds its own lab/);
  assert.throws(() => parseLoadtestArgs(['--from', 'c1', '--to', 'c1']), /different clusters/);
  assert.throws(() => parseLoadtestArgs(['--peers', '0']), /--peers 0: expected an integer 1\.\.7/);
  const matrix = parseLoadtestArgs(['--matrix', '--workers', '1,2', '--peers', '3,1']);
  assert.deepEqual([matrix.workers, matrix.peers, matrix.streams, matrix.durationSec], [[1, 2], [1, 3], [1, 4], 5]);
  assert.equal(parseLoadtestArgs(['--udp']).bitrate, '500M');
  assert.throws(() => parseProfileArgs(['--tool', 'perf']), /--tool perf: expected flame, doctor, cpu-prof/);
  assert.deepEqual(parseProfileArgs(['--tool', 'cpu-prof,flame']).tools, ['cpu-prof', 'flame']);
});

test('progress lines carry the seconds since start', () => {
  let now = 1000;
  let out = '';
  const progress = new Progress({ write: (t) => (out += t), now: () => now });
  now = 3500;
  progress.step('links: 2/2 Up');
  assert.equal(out, '[  2.5s] links: 2/2 Up\n');
});

test('kubectl output of KubeLinks becomes rows sorted by name, empty status as empty strings', () => {
  const rows = parseKubeLinkList(JSON.stringify({
    items: [
      { metadata: { name: 'c3' }, spec: { cidr: '100.64.32.0/20', clusterAddress: '192.168.0.13/24', endpoint: 'e3' } },
      { metadata: { name: 'c2' }, spec: { cidr: '100.64.16.0/20', clusterAddress: '192.168.0.12/24', endpoint: 'e2' }, status: { state: 'Up', gateway: '10.250.0.2', message: 'ok' } },
    ],
  }));
  assert.deepEqual(rows.map((r) => [r.name, r.state, r.gateway]), [['c2', 'Up', '10.250.0.2'], ['c3', '', '']]);
});

test('lab kubectl runs in the cluster\'s control-plane namespace with its own kubeconfig and cache', () => {
  const c2 = describeTopology('kltest', 2).clusters[1]!;
  assert.deepEqual(kubectlArgv('/w', c2, ['get', 'klink']), ['ip', 'netns', 'exec', 'kltest-c2-api', 'kubectl', '--kubeconfig', '/w/c2/kubeconfig', '--cache-dir', '/w/c2/kubectl-cache', 'get', 'klink']);
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
});

test('a lab broker reads links from --kubeconfig and certificates from --secret, or both from files', () => {
  const c1 = describeTopology('kltest', 2).clusters[0]!;
  const k8s = brokerArgs('node', 'cli.js', c1, { workers: 2, kubeconfig: '/w/c1/kubeconfig', secret: 'kubelink' });
  assert.ok(k8s.join(' ').includes('--kubeconfig /w/c1/kubeconfig --secret kubelink --namespace kube-system --workers 2'));
  assert.ok(!k8s.includes('--links') && !k8s.includes('--certfile'));
  assert.throws(() => brokerArgs('node', 'cli.js', c1, { workers: 1, linksDir: '/l', kubeconfig: '/k', certDir: '/c' }), /exactly one of linksDir and kubeconfig/);
});

test('core-seconds per Gbit divide each broker\'s CPU by the Gbit the whole run carried', () => {
  // 2 CPU seconds over 5 s at 1.0 Gbit/s = 5 Gbit carried.
  assert.equal(cpuPerGbitText(row(1, 1, 1, 1.0)), 'c1 0.400');
  assert.equal(cpuPerGbitText({ ...row(1, 1, 1, 0), totalGbps: undefined }), '');
});

test('per-thread CPU of this process names its threads and never goes backwards', () => {
  const sample = startThreadCpuSample(process.pid);
  let x = 0;
  for (let i = 0; i < 2e7; i++) x += i;
  assert.ok(x > 0);
  const threads = sample.stop();
  assert.ok(threads.some((t) => t.tid === process.pid), 'the main thread is listed by its tid (= pid)');
  assert.ok(threads.every((t) => t.seconds >= 0 && t.name.length > 0));
  assert.deepEqual(threadCpuSeconds(2 ** 22 + 12345), [], 'a process that does not exist has no threads');
  assert.match(formatThreadCpu([{ tid: 7, name: 'kl-shard-0', seconds: 0.5 }, { tid: 8, name: 'node', seconds: 0 }], 1), /total 0\.50 s = 50% .*\n\s+kl-shard-0\s+tid 7\s+0\.50 s\s+50% of a core$/);
});

test('ping output gives one RTT per reply and the sent count; percentiles are nearest-rank', () => {
  const text = [
    'PING 100.64.16.10 (100.64.16.10) 56(84) bytes of data.',
    '64 bytes from 100.64.16.10: icmp_seq=1 ttl=62 time=0.512 ms',
    '64 bytes from 100.64.16.10: icmp_seq=3 ttl=62 time=12.0 ms',
    '',
    '--- 100.64.16.10 ping statistics ---',
    '3 packets transmitted, 2 received, 33.3333% packet loss, time 40ms',
  ].join('\n');
  assert.deepEqual(parsePingOutput(text), { sent: 3, rttsMs: [0.512, 12] });
  assert.throws(() => parsePingOutput('ping: unknown host'), /no summary/);
  const values = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(values, 50), 50);
  assert.equal(percentile(values, 99), 99);
  assert.equal(percentile([3], 99), 3);
  assert.equal(percentile([], 50), undefined);
});

test('metric sums add every labelled series of one family and nothing of its neighbours', () => {
  const text = [
    '# HELP kubelink_dropped_packets_total x',
    'kubelink_dropped_packets_total{reason="ring-full"} 3',
    'kubelink_dropped_packets_total{reason="no-route"} 4',
    'kubelink_dropped_packets_totalx 100',
  ].join('\n');
  assert.equal(metricSum(text, 'kubelink_dropped_packets_total'), 7);
  assert.equal(metricValue(text, 'kubelink_dropped_packets_total', { reason: 'ring-full' }), 3);
  assert.equal(metricValue(text, 'kubelink_absent'), 0);
});

test('chaos reads the served certificate from openssl output and checks its flags', () => {
  assert.equal(opensslFingerprint('sha256 Fingerprint=ab:CD:01\n'), 'AB:CD:01');
  assert.equal(opensslFingerprint('SHA256 Fingerprint=AB:CD:01'), 'AB:CD:01');
  assert.equal(opensslFingerprint('unable to load certificate\n'), '');
  assert.deepEqual(parseChaosArgs([]), { prefix: 'klchaos', json: false });
  assert.deepEqual(parseChaosArgs(['--prefix', 'klx', '--json']), { prefix: 'klx', json: true });
  assert.throws(() => parseChaosArgs(['--minutes', '3']), /minutes/);
});

test('a lab process that exited is reported with the end of its log (the work dir is removed by the cleanup)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kl-exited-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const logFile = join(dir, 'cluster-dns.log');
  writeFileSync(logFile, `${Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\n')}\n`);
  const dead = { argv: ['node', 'standin.js', '--kubeconfig', 'k'], ns: 'klx-c2-n2', logFile } as unknown as LabProcess;
  const message = processExitedError(dead).message;
  assert.match(message, /^standin\.js --kubeconfig in klx-c2-n2 exited, see .*cluster-dns\.log; its last lines:\nline 15\n/);
  assert.ok(message.endsWith('line 29'));
  assert.doesNotMatch(message, /line 14\n/);
  assert.match(processExitedError({ ...dead, logFile: join(dir, 'none.log') } as LabProcess).message, /log unreadable/);
});

test('soak judges growth from the first sample to the median of the last three, against its bounds', () => {
  const at = (rssMb: number, fds: number) => ({ atSec: 0, rssMb, fds });
  const steady = [at(80, 40), at(95, 41), at(84, 40), at(86, 41), at(85, 40)];
  assert.deepEqual(judgeSoak(steady, {}, true), { rssGrowthMb: 5, fdGrowth: 0, problems: [] }, 'one GC outlier (95) does not decide');
  const leaking = [at(80, 40), at(100, 44), at(120, 48), at(140, 52)];
  assert.deepEqual(judgeSoak(leaking, {}, true).problems, ['RSS grew 40 MB (bound 30 MB)', 'open fds grew by 8 (bound 4)']);
  assert.deepEqual(judgeSoak(leaking, { maxRssGrowthMb: 50, maxFdGrowth: 8 }, true).problems, []);
  assert.deepEqual(judgeSoak([at(80, 40)], {}, false).problems, ["cluster 1's broker died"]);
  assert.throws(() => judgeSoak([], {}, true), /no samples/);
  assert.deepEqual(parseSoakArgs(['--minutes', '2']), { minutes: 2, maxRssGrowthMb: undefined, maxFdGrowth: undefined, prefix: 'klsoak', json: false });
  assert.throws(() => parseSoakArgs([]), /--minutes N is required/);
});
