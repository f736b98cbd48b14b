// Dial on demand through the real TUN reader thread (docs/architecture.md, "Route table and
// demand"): packets routed into the TUN for a link without a tunnel ring the main thread's
// doorbell (Atomics.waitAsync, no polling) and mark that link.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { LINK_ID, type DemandProbeReport } from '../../fixtures/datapath-demand-probe.js';

const prefix = `kl${randomBytes(2).toString('hex')}dd`;
const namespace = `${prefix}ns`;
let report: DemandProbeReport;

before(() => {
  execFileSync('ip', ['netns', 'add', namespace]);
  execFileSync('ip', ['netns', 'exec', namespace, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  execFileSync('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
  const probe = new URL('../../fixtures/datapath-demand-probe.js', import.meta.url).href;
  const script = 'import(process.argv[1]).then((probe) => probe.main(process.argv[2]));';
  const stdout = execFileSync('ip', ['netns', 'exec', namespace, process.execPath, '-e', script, probe, `${prefix}t`], { encoding: 'utf8', timeout: 60_000 });
  report = JSON.parse(stdout) as DemandProbeReport;
});

after(() => {
  spawnSync('ip', ['netns', 'del', namespace], { stdio: 'ignore' });
});

test('packets for a link without a tunnel ring the doorbell and mark only that link', () => {
  assert.deepEqual(report.taken, [LINK_ID]);
});

test('after a take, new packets for the link ring again', () => {
  assert.deepEqual(report.takenAgain, [LINK_ID]);
});
