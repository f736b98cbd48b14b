import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allUp, formatBytes, formatDuration, formatRtt, linkStatusRows, statusJson, statusTable } from '../../../src/main/status/link-status-rows.js';
import { StatusUsageError, parseStatusOptions } from '../../../src/main/status/status-options.js';
import type { KubeLinkResource, KubeLinkStatus } from '../../../src/shared/types.js';

const NOW = new Date('2026-11-29T12:00:00Z');
function link(name: string, status?: KubeLinkStatus): KubeLinkResource {
  return {
    apiVersion: 'kubelink.mandelsoft.org/v1alpha1',
    kind: 'KubeLink',
    metadata: { name },
    spec: { cidr: '100.64.16.0/20', clusterAddress: '192.168.0.12/24', endpoint: `${name}.example.com` },
    status,
  };
}

const up = link('c2', { state: 'Up', message: 'tunnel up', gateway: '10.250.0.2', rttMs: 0.42, rxBytes: 1536, txBytes: 5 * 1024 * 1024, statsTime: '2026-11-29T11:59:30Z', lastTransitionTime: '2026-11-29T10:58:00Z' });
const down = link('c3', { state: 'Down', message: 'dial broker.c3:8088: connection refused', gateway: '10.250.0.2', lastTransitionTime: '2026-11-29T11:59:15Z' });
const fresh = link('c4');

test('rows are sorted by name and carry state, gateway, stats and the ages; a KubeLink without status is Unknown', () => {
  const rows = linkStatusRows([fresh, down, up], NOW);
  assert.deepEqual(rows.map((r) => [r.name, r.state, r.sinceSeconds, r.statsAgeSeconds]), [
    ['c2', 'Up', 3720, 30],
    ['c3', 'Down', 45, null],
    ['c4', 'Unknown', null, null],
  ]);
  assert.equal(rows[0]!.rxBytes, 1536);
  assert.equal(rows[1]!.rttMs, null);
});

test('healthy means at least one KubeLink and all of them Up', () => {
  assert.equal(allUp(linkStatusRows([up], NOW)), true);
  assert.equal(allUp(linkStatusRows([up, down], NOW)), false);
  assert.equal(allUp(linkStatusRows([up, fresh], NOW)), false);
  assert.equal(allUp([]), false);
});

test('durations, bytes and RTT read like kubectl', () => {
  assert.deepEqual([0, 59, 90, 3720, 7300, 200000].map(formatDuration), ['0s', '59s', '1m30s', '1h2m', '2h1m', '2d7h']);
  assert.equal(formatDuration(null), '-');
  assert.deepEqual([0, 1023, 1536, 5 * 1024 * 1024, 300 * 1024 ** 3].map(formatBytes), ['0B', '1023B', '1.5KiB', '5.0MiB', '300GiB']);
  assert.deepEqual([0.42, 12.6, null].map(formatRtt), ['0.42ms', '13ms', '-']);
});

test('the table has one header and one line per link, the message last', () => {
  const lines = statusTable(linkStatusRows([up, down], NOW)).trimEnd().split('\n');
  assert.match(lines[0]!, /^NAME\s+STATE\s+GATEWAY\s+RTT\s+RX\s+TX\s+SINCE\s+STATS\s+MESSAGE$/);
  assert.match(lines[1]!, /^c2\s+Up\s+10\.250\.0\.2\s+0\.42ms\s+1\.5KiB\s+5\.0MiB\s+1h2m\s+30s\s+tunnel up$/);
  assert.match(lines[2]!, /^c3\s+Down\s+10\.250\.0\.2\s+-\s+-\s+-\s+45s\s+-\s+dial broker\.c3:8088: connection refused$/);
  assert.equal(statusTable([]), 'No KubeLinks found.\n');
});

test('JSON has the verdict and every field, in raw units', () => {
  const doc = JSON.parse(statusJson(linkStatusRows([up, down], NOW), NOW)) as { allUp: boolean; links: Array<Record<string, unknown>> };
  assert.equal(doc.allUp, false);
  assert.deepEqual(doc.links[0], {
    name: 'c2', state: 'Up', message: 'tunnel up', gateway: '10.250.0.2', rttMs: 0.42, rxBytes: 1536, txBytes: 5242880,
    statsTime: '2026-11-29T11:59:30Z', lastTransitionTime: '2026-11-29T10:58:00Z', sinceSeconds: 3720, statsAgeSeconds: 30,
  });
});

test('options: defaults, short forms, and usage errors naming the flag and the value', () => {
  assert.deepEqual(parseStatusOptions([]), { help: false, kubeconfig: undefined, watch: false, output: 'table' });
  assert.deepEqual(parseStatusOptions(['-w', '-o', 'json', '--kubeconfig=/k']), { help: false, kubeconfig: '/k', watch: true, output: 'json' });
  assert.throws(() => parseStatusOptions(['-o', 'yaml']), (err: Error) => err instanceof StatusUsageError && err.message === '--output "yaml": expected table or json');
  assert.throws(() => parseStatusOptions(['--bogus']), (err: Error) => err instanceof StatusUsageError && /--bogus/.test(err.message));
  assert.throws(() => parseStatusOptions(['extra']), StatusUsageError);
  assert.throws(() => parseStatusOptions(['--kubeconfig']), (err: Error) => err instanceof StatusUsageError && /--kubeconfig/.test(err.message));
});
