import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandPaths, formatLatencyTable, formatTable, formatUdpTable, parseVariant, summarizeCell } from '../../bench/tunnel-bench.js';

test('paths expand kubelink, accept tls and +variants, and refuse unknown names and undefined variants', () => {
  const variants = { aes: { extraArgs: ['--tls-ciphers', 'TLS_AES_128_GCM_SHA256'] } };
  assert.deepEqual(expandPaths('raw,tls,kubelink,kubelink-w1+aes', 2, variants), ['raw', 'tls', 'kubelink-w1', 'kubelink-w2', 'kubelink-w1+aes']);
  assert.throws(() => expandPaths('wireguard', 2), /unknown path "wireguard"/);
  assert.throws(() => expandPaths('kubelink-w1+nope', 2, variants), /names variant nope, but no --variant nope=/);
});

test('a variant is broker flags plus optional node= and entry= files that must exist', () => {
  assert.deepEqual(parseVariant('small=--ring-bytes 262144  --write-batch-bytes 65536'), ['small', { extraArgs: ['--ring-bytes', '262144', '--write-batch-bytes', '65536'] }]);
  assert.deepEqual(parseVariant(`n=node=${process.execPath}`), ['n', { extraArgs: [], nodeBinary: process.execPath }]);
  assert.throws(() => parseVariant('old=entry=/nonexistent/cli.js'), /\/nonexistent\/cli\.js does not exist/);
  assert.throws(() => parseVariant('=x'), /expected NAME=SPEC/);
});

test('a cell reduces its runs to medians and per-GB rates, and the tables show ratios to raw and tls', () => {
  const kubelink = summarizeCell('kubelink-w1', 'tcp', 4, 5, [
    { gbps: 2, cpuSec: { tx: 2, rx: 3 }, retransmits: 100, ping: { sent: 4, rttsMs: [1, 2, 3] } },
    { gbps: 4, cpuSec: { tx: 4, rx: 4 }, retransmits: 0, ping: { sent: 4, rttsMs: [1, 1, 1, 9] } },
    { gbps: 3, cpuSec: { tx: 3, rx: 3 }, retransmits: 50, ping: { sent: 4, rttsMs: [2, 2, 2, 2] } },
  ], { ringFull: 45, all: 90 });
  assert.equal(kubelink.medianGbps, 3);
  // 2+4+3 Gbit/s for 5 s = 45 Gbit = 5.625 GB.
  assert.equal(kubelink.retransmitsPerGB, 150 / 5.625);
  assert.equal(kubelink.ringDropsPerGB, 8);
  assert.equal(kubelink.dropsPerGB, 16);
  assert.deepEqual(kubelink.cpuPerGbit, { tx: 0.2, rx: 0.2 });
  assert.deepEqual(kubelink.loaded, { p50: 2, p99: 3, lossPercent: 0 });
  const raw = summarizeCell('raw', 'tcp', 4, 5, [{ gbps: 6, retransmits: 0 }]);
  const tls = summarizeCell('tls', 'tcp', 4, 5, [{ gbps: 4, cpuSec: { tx: 1, rx: 1 }, retransmits: 0 }]);
  const table = formatTable([raw, tls, kubelink, { path: 'kubelink-w2', protocol: 'tcp', streams: 4, runsGbps: [], failure: 'no broker' }]);
  assert.match(table, /\| kubelink-w1 \| 4 \| 3\.00 \| 2\.00 \/ 4\.00 \/ 3\.00 \| 0\.50x \| 0\.75x \| 0\.200 \/ 0\.200 \| 27 \| 8 \| 16 \| 2\.00 \/ 3\.00 \|/);
  assert.match(table, /\| raw \| 4 \| 6\.00 \| 6\.00 \| 1\.00x \| 1\.50x \| – \|/);
  assert.match(table, /\| kubelink-w2 \| 4 \| failed \| no broker \|/);
  const latency = formatLatencyTable([{ path: 'kubelink-w1', idle: { p50: 0.5, p99: 1, lossPercent: 0 } }, { path: 'tls' }], [kubelink]);
  assert.match(latency, /\| kubelink-w1 \| 0\.50 \/ 1\.00 \| 4 \| 2\.00 \/ 3\.00 \| 2\.50 ms \|/);
  assert.doesNotMatch(latency, /\| tls \|/);
  const udp = summarizeCell('kubelink-w1', 'udp', 1, 5, [{ gbps: 0.9, sentGbps: 1, retransmits: 0, lostPercent: 2 }, { gbps: 0.95, sentGbps: 1, retransmits: 0, lostPercent: 1 }, { gbps: 0.8, sentGbps: 0.9, retransmits: 0, lostPercent: 5 }]);
  assert.equal(udp.retransmitsPerGB, undefined);
  assert.match(formatUdpTable([kubelink, udp], '1G'), /\| kubelink-w1 \| 1G \| 1\.00 \| 0\.90 \| 0\.90 \/ 0\.95 \/ 0\.80 \| 2\.00 \| – \| – \|/);
});
